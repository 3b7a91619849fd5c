// OffsetFetch (9), v1–8. v1–7 ask for one group, v8 for many. Null topics (v2+) means
// every partition the group has committed. A partition without a commit answers offset
// -1 and metadata "" (not null: clients read it as a string). Coordinator errors: per
// partition in v1, top-level from v2, per group in v8.
import type { RequestOf, ResponseOf } from '../../protocol/api.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { OffsetFetch } from '../../protocol/messages/09-offset-fetch.ts';
import { groupCoordinatorOf, type GroupCoordinator } from '../groups/coordinator.ts';
import { defineHandler } from '../registry.ts';

type Response = ResponseOf<typeof OffsetFetch>;
type TopicResponse = Response['topics'][number];
type Topics = RequestOf<typeof OffsetFetch>['topics'];

const GROUPS_ARRAY_SINCE = 8;
const TOP_LEVEL_ERROR_SINCE = 2;

/** One group's offsets, or the coordinator error that stands for them. */
function fetchGroup(coordinator: GroupCoordinator, groupId: string, topics: Topics): { errorCode: ErrorCode; topics: TopicResponse[] } {
  const routed = coordinator.route(groupId, true);
  if (!routed.ok) return { errorCode: routed.errorCode, topics: [] };
  const asked = topics === null ? null : topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes }));
  const fetched = routed.partition.fetchOffsets(groupId, asked);
  return {
    errorCode: ErrorCode.NONE,
    topics: fetched.map((t) => ({
      name: t.topic,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, committedOffset: p.offset, committedLeaderEpoch: p.leaderEpoch, metadata: p.metadata, errorCode: ErrorCode.NONE })),
    })),
  };
}

export const offsetFetchHandler = defineHandler({
  api: OffsetFetch,
  minVersion: 1,
  maxVersion: 8,
  handle(ctx, req, version) {
    const coordinator = groupCoordinatorOf(ctx.broker);
    if (version >= GROUPS_ARRAY_SINCE) {
      const groups = req.groups.map((g) => ({ groupId: g.groupId, ...fetchGroup(coordinator, g.groupId, g.topics) }));
      return { throttleTimeMs: 0, topics: [], errorCode: 0, groups };
    }
    const r = fetchGroup(coordinator, req.groupId, req.topics);
    if (r.errorCode !== ErrorCode.NONE && version < TOP_LEVEL_ERROR_SINCE) {
      // v1 has no top-level error: every partition asked for carries it.
      const topics = (req.topics ?? []).map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: r.errorCode })),
      }));
      return { throttleTimeMs: 0, topics, errorCode: r.errorCode, groups: [] };
    }
    return { throttleTimeMs: 0, topics: r.topics, errorCode: r.errorCode, groups: [] };
  },
});
