// FindCoordinator (10), v0–4 (v4 asks for many keys at once). A group's coordinator is
// the broker serving its __consumer_offsets partition, answered from metadata (the topic
// is created by the first FindCoordinator). Transaction coordinators (key type 1) do not
// exist in floe: INVALID_REQUEST, which clients treat as fatal rather than retrying.
import type { ResponseOf } from '../../protocol/api.ts';
import { ErrorCode, errorName } from '../../protocol/errors.ts';
import { FindCoordinator } from '../../protocol/messages/10-find-coordinator.ts';
import { groupCoordinatorOf, type CoordinatorLookup } from '../groups/coordinator.ts';
import { defineHandler } from '../registry.ts';

type Coordinator = ResponseOf<typeof FindCoordinator>['coordinators'][number];

const KEY_TYPE_GROUP = 0;

export const findCoordinatorHandler = defineHandler({
  api: FindCoordinator,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req, version) {
    const coordinator = groupCoordinatorOf(ctx.broker);
    const lookup = (key: string): Promise<CoordinatorLookup> =>
      req.keyType === KEY_TYPE_GROUP
        ? coordinator.findCoordinator(key)
        : Promise.resolve({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `key type ${req.keyType}: floe has only group coordinators`, node: null });
    const answer = (key: string, r: CoordinatorLookup): Coordinator => ({
      key,
      nodeId: r.node?.id ?? -1,
      host: r.node?.host ?? '',
      port: r.node?.port ?? -1,
      errorCode: r.errorCode,
      errorMessage: r.errorCode === ErrorCode.NONE ? null : (r.errorMessage ?? errorName(r.errorCode)),
    });
    if (version >= 4) {
      const coordinators = await Promise.all(req.coordinatorKeys.map(async (key) => answer(key, await lookup(key))));
      return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, nodeId: -1, host: '', port: -1, coordinators };
    }
    const one = answer(req.key, await lookup(req.key));
    return { throttleTimeMs: 0, errorCode: one.errorCode, errorMessage: one.errorMessage, nodeId: one.nodeId, host: one.host, port: one.port, coordinators: [] };
  },
});
