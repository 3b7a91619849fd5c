// ListGroups (16), v0–4: the groups this broker coordinates (clients ask every broker);
// v4 filters by state, case-insensitively. COORDINATOR_LOAD_IN_PROGRESS (with the groups
// already loaded) while any of its offsets partitions is still loading.
import { ListGroups } from '../../protocol/messages/16-list-groups.ts';
import { groupCoordinatorOf } from '../groups/coordinator.ts';
import { defineHandler } from '../registry.ts';

export const listGroupsHandler = defineHandler({
  api: ListGroups,
  minVersion: 0,
  maxVersion: 4,
  handle(ctx, req) {
    const { errorCode, groups } = groupCoordinatorOf(ctx.broker).listGroups(req.statesFilter);
    return { throttleTimeMs: 0, errorCode, groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state })) };
  },
});
