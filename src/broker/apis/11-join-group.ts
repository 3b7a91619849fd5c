// JoinGroup (11), v0–6. Kafka's classic rebalance protocol (src/broker/groups/): v4+
// members without an id get MEMBER_ID_REQUIRED with one to rejoin with; the answer waits
// until the rebalance completes (every member rejoined, or the rebalance timeout).
// v0 has no rebalance timeout: the session timeout is both. group.instance.id (v5+) is
// kept and reported, but such members are treated as dynamic ones: static membership
// (replacing a restarted instance without a rebalance, FENCED_INSTANCE_ID) is not built.
import { JoinGroup } from '../../protocol/messages/11-join-group.ts';
import { clientHostOf, groupCoordinatorOf } from '../groups/coordinator.ts';
import { defineHandler } from '../registry.ts';

/** The first JoinGroup version at which an unknown member must first ask for an id. */
const MEMBER_ID_REQUIRED_SINCE = 4;

export const joinGroupHandler = defineHandler({
  api: JoinGroup,
  minVersion: 0,
  maxVersion: 6,
  async handle(ctx, req, version) {
    const routed = groupCoordinatorOf(ctx.broker).route(req.groupId, false);
    if (!routed.ok) {
      return { throttleTimeMs: 0, errorCode: routed.errorCode, generationId: -1, protocolName: '', leader: '', memberId: req.memberId, members: [] };
    }
    const r = await routed.partition.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: ctx.header.clientId ?? '',
      clientHost: clientHostOf(ctx.remote),
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: version === 0 || req.rebalanceTimeoutMs < 0 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      // As in Kafka, only dynamic members (no group.instance.id) must first ask for an id.
      requireKnownMemberId: version >= MEMBER_ID_REQUIRED_SINCE && req.groupInstanceId === null,
    });
    return { throttleTimeMs: 0, errorCode: r.errorCode, generationId: r.generationId, protocolName: r.protocolName ?? '', leader: r.leader, memberId: r.memberId, members: r.members };
  },
});
