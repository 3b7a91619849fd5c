// DeleteRecords (21), v0–2: moves a partition's log start offset forward (-1: to the high
// watermark). Offsets beyond the high watermark are OFFSET_OUT_OF_RANGE.
import { ErrorCode } from '../../protocol/errors.ts';
import { DeleteRecords } from '../../protocol/messages/21-delete-records.ts';
import { kafkaCodeOf } from '../errors.ts';
import { defineHandler } from '../registry.ts';

export const deleteRecordsHandler = defineHandler({
  api: DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const topics = await Promise.all(
      req.topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(async (p) => {
            const lookup = ctx.broker.partition(t.name, p.partitionIndex);
            if (!lookup.ok) return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: lookup.errorCode };
            const log = lookup.partition.log;
            const target = p.offset === -1 ? log.highWatermark() : p.offset;
            if (target < 0 || target > log.highWatermark()) {
              return { partitionIndex: p.partitionIndex, lowWatermark: log.logStartOffset(), errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
            }
            try {
              if (target > log.logStartOffset()) await log.advanceLogStart(target);
              return { partitionIndex: p.partitionIndex, lowWatermark: log.logStartOffset(), errorCode: ErrorCode.NONE };
            } catch (err) {
              return { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: kafkaCodeOf(err) };
            }
          }),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
});
