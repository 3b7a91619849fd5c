// LeaveGroup (13), v0–4. v0–2 name one member and answer its error at the top level;
// v3+ name a list and answer per member (top-level errors are about the group).
import { ErrorCode } from '../../protocol/errors.ts';
import { LeaveGroup } from '../../protocol/messages/13-leave-group.ts';
import { groupCoordinatorOf } from '../groups/coordinator.ts';
import { defineHandler } from '../registry.ts';

const MEMBER_LIST_SINCE = 3;

export const leaveGroupHandler = defineHandler({
  api: LeaveGroup,
  minVersion: 0,
  maxVersion: 4,
  handle(ctx, req, version) {
    const routed = groupCoordinatorOf(ctx.broker).route(req.groupId, false);
    if (!routed.ok) return { throttleTimeMs: 0, errorCode: routed.errorCode, members: [] };
    const members = version >= MEMBER_LIST_SINCE ? req.members : [{ memberId: req.memberId, groupInstanceId: null }];
    const r = routed.partition.leave(req.groupId, members);
    if (version >= MEMBER_LIST_SINCE) return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
    const memberError = r.members[0]?.errorCode ?? ErrorCode.NONE;
    return { throttleTimeMs: 0, errorCode: r.errorCode !== ErrorCode.NONE ? r.errorCode : memberError, members: [] };
  },
});
