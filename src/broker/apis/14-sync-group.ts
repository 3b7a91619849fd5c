// SyncGroup (14), v0–4: the leader hands in the assignment (stored in the group's record
// before anyone gets it); every member gets its own. The assignment field is always
// present: empty bytes on an error or when a member was given nothing, never null.
// While the coordinator is loading it answers REBALANCE_IN_PROGRESS, as Kafka does: the
// rebalance in flight is lost, and the member rejoins without looking for the
// coordinator again (older clients do not expect COORDINATOR_LOAD_IN_PROGRESS here).
import { ErrorCode } from '../../protocol/errors.ts';
import { SyncGroup } from '../../protocol/messages/14-sync-group.ts';
import { groupCoordinatorOf } from '../groups/coordinator.ts';
import { EMPTY_BYTES } from '../groups/group.ts';
import { defineHandler } from '../registry.ts';

export const syncGroupHandler = defineHandler({
  api: SyncGroup,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    const routed = groupCoordinatorOf(ctx.broker).route(req.groupId, false);
    if (!routed.ok) {
      const errorCode = routed.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? ErrorCode.REBALANCE_IN_PROGRESS : routed.errorCode;
      return { throttleTimeMs: 0, errorCode, assignment: EMPTY_BYTES };
    }
    const r = await routed.partition.sync({ groupId: req.groupId, generationId: req.generationId, memberId: req.memberId, assignments: req.assignments });
    return { throttleTimeMs: 0, errorCode: r.errorCode, assignment: r.assignment };
  },
});
