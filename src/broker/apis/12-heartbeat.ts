// Heartbeat (12), v0–4: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it
// to rejoin. While the coordinator is loading its partition it answers NONE, as Kafka
// does: the member is not yet known to be alive or dead, and an error would make it
// abandon a generation the loaded group may still hold.
import { ErrorCode } from '../../protocol/errors.ts';
import { Heartbeat } from '../../protocol/messages/12-heartbeat.ts';
import { groupCoordinatorOf } from '../groups/coordinator.ts';
import { defineHandler } from '../registry.ts';

export const heartbeatHandler = defineHandler({
  api: Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  handle(ctx, req) {
    const routed = groupCoordinatorOf(ctx.broker).route(req.groupId, false);
    if (!routed.ok) {
      return { throttleTimeMs: 0, errorCode: routed.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? ErrorCode.NONE : routed.errorCode };
    }
    return { throttleTimeMs: 0, errorCode: routed.partition.heartbeat({ groupId: req.groupId, generationId: req.generationId, memberId: req.memberId }) };
  },
});
