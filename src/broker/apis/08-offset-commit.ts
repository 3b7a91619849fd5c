// OffsetCommit (8), v2–8 (librdkafka's balanced consumer needs a range overlapping 1–2;
// 2 does). Commits are records in the group's __consumer_offsets partition, answered
// once fully durable. Kafka's rules of who may commit (src/broker/groups/): members of
// the current generation, or anyone with generation -1 and no member id while the group
// has no members ("simple" commits). Negative offsets are stored as given (kafkajs
// commits -1/-2 after OFFSET_OUT_OF_RANGE); retention_time_ms -1 (v2–4) means the
// broker's offsets.retention.minutes. Partitions that do not exist:
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers.
import type { RequestOf, ResponseOf } from '../../protocol/api.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { OffsetCommit } from '../../protocol/messages/08-offset-commit.ts';
import { groupCoordinatorOf } from '../groups/coordinator.ts';
import type { CommitErrorCode, CommitRequest } from '../groups/state-machine.ts';
import { defineHandler } from '../registry.ts';

type TopicResponse = ResponseOf<typeof OffsetCommit>['topics'][number];

/** Versions whose request carries retention_time_ms. */
const RETENTION_VERSION_MIN = 2;
const RETENTION_VERSION_MAX = 4;

export const offsetCommitHandler = defineHandler({
  api: OffsetCommit,
  minVersion: 2,
  maxVersion: 8,
  async handle(ctx, req: RequestOf<typeof OffsetCommit>, version) {
    const sameForAll = (errorCode: number): TopicResponse[] =>
      req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
    const routed = groupCoordinatorOf(ctx.broker).route(req.groupId, true);
    if (!routed.ok) return { throttleTimeMs: 0, topics: sameForAll(routed.errorCode) };

    const topics = ctx.broker.view.topics;
    const offsets: CommitRequest['offsets'][number][] = [];
    // Where each requested partition's answer comes from: a fixed code, or the commit's nth result.
    const slots = req.topics.map((t) =>
      t.partitions.map((p): { code: CommitErrorCode } | { index: number } => {
        const known = topics.get(t.name)?.partitions[p.partitionIndex] !== undefined;
        if (!known) return { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        offsets.push({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch, metadata: p.committedMetadata, commitTimestamp: p.commitTimestamp });
        return { index: offsets.length - 1 };
      }),
    );
    const retentionTimeMs = version >= RETENTION_VERSION_MIN && version <= RETENTION_VERSION_MAX ? req.retentionTimeMs : -1;
    const errors =
      offsets.length === 0 ? [] : await routed.partition.commit({ groupId: req.groupId, generationId: req.generationId, memberId: req.memberId, retentionTimeMs, offsets });
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t, ti) => ({
        name: t.name,
        partitions: t.partitions.map((p, pi) => {
          const slot = slots[ti]![pi]!;
          return { partitionIndex: p.partitionIndex, errorCode: 'code' in slot ? slot.code : (errors[slot.index] ?? ErrorCode.UNKNOWN_SERVER_ERROR) };
        }),
      })),
    };
  },
});
