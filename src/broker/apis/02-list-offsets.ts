// ListOffsets (2), v1–5 (v0's multi-offset shape is not advertised). Timestamp -1 asks for
// the latest offset (the high watermark, which is also the last stable offset since floe
// has no transactions), -2 for the earliest (log start), and t ≥ 0 for the first offset
// whose record timestamp is at least t (offset -1 when there is none).
import type { ResponseOf } from '../../protocol/api.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { ListOffsets } from '../../protocol/messages/02-list-offsets.ts';
import { kafkaCodeOf } from '../errors.ts';
import { defineHandler } from '../registry.ts';

type PartitionResponse = ResponseOf<typeof ListOffsets>['topics'][number]['partitions'][number];

const LATEST = -1;
const EARLIEST = -2;

export const listOffsetsHandler = defineHandler({
  api: ListOffsets,
  minVersion: 1,
  maxVersion: 5,
  async handle(ctx, req) {
    const broker = ctx.broker;
    const topics = await Promise.all(
      req.topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(async (p): Promise<PartitionResponse> => {
            const answer = (errorCode: number, offset = -1, timestamp = -1, leaderEpoch = -1): PartitionResponse => ({
              partitionIndex: p.partitionIndex,
              errorCode,
              oldStyleOffsets: offset >= 0 ? [offset] : [],
              timestamp,
              offset,
              leaderEpoch,
            });
            const lookup = broker.partition(t.name, p.partitionIndex);
            if (!lookup.ok) return answer(lookup.errorCode);
            const part = lookup.partition;
            if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== part.leaderEpoch) {
              return answer(p.currentLeaderEpoch < part.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH);
            }
            if (p.timestamp === LATEST) return answer(ErrorCode.NONE, part.log.highWatermark(), -1, part.leaderEpoch);
            if (p.timestamp === EARLIEST) return answer(ErrorCode.NONE, part.log.logStartOffset(), -1, part.leaderEpoch);
            if (p.timestamp < 0) return answer(ErrorCode.INVALID_REQUEST);
            try {
              const found = await part.offsetForTimestamp(p.timestamp);
              return found ? answer(ErrorCode.NONE, found.offset, found.timestamp, part.leaderEpoch) : answer(ErrorCode.NONE, -1, -1, part.leaderEpoch);
            } catch (err) {
              return answer(kafkaCodeOf(err));
            }
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
});
