// DescribeGroups (15), v0–5: state, protocol and members of each group this broker
// coordinates (another broker's group: NOT_COORDINATOR for that group). An unknown group
// is described as Dead with no error, as Kafka does.
import { DescribeGroups } from '../../protocol/messages/15-describe-groups.ts';
import { groupCoordinatorOf } from '../groups/coordinator.ts';
import { defineHandler } from '../registry.ts';

/** Kafka's "authorized operations were not requested / are not known" value. */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export const describeGroupsHandler = defineHandler({
  api: DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  handle(ctx, req) {
    const coordinator = groupCoordinatorOf(ctx.broker);
    const groups = req.groups.map((groupId) => {
      const routed = coordinator.route(groupId, true);
      if (!routed.ok) {
        return { errorCode: routed.errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED };
      }
      const d = routed.partition.describe(groupId);
      return {
        errorCode: 0,
        groupId,
        groupState: d.state,
        protocolType: d.protocolType,
        protocolData: d.protocolData,
        members: d.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: m.metadata,
          memberAssignment: m.assignment,
        })),
        authorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
      };
    });
    return { throttleTimeMs: 0, groups };
  },
});
