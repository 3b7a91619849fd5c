/**
 * Keeping an offsets partition's log bounded, and reading it back.
 *
 * The log of a __consumer_offsets partition only grows: every commit appends a record.
 * Kafka compacts it (keeps the latest record per key). floe's storage engines only trim
 * a log from its start, so the coordinator does the equivalent itself: it tracks the
 * latest record of every live key (LiveRecords) and, once the log holds at least
 * `offsets.rewrite.min.records` records and at least twice as many as are live, appends
 * the live records again as a rewrite and, when every rewrite batch is fully durable,
 * moves the log start to the first of them. A crash between the two steps leaves the old
 * records and the rewrite in the log; replaying both gives the same state, because the
 * rewrite repeats the latest value of every key. Keys without a value (tombstones) are
 * not rewritten: the records they delete are dropped with them.
 *
 * LiveRecords follows the log as appended (not as acknowledged): a record counts from
 * the moment it is handed to the log. If an append fails, the log drops that batch and
 * every later one, so the coordinator reloads the partition from the log (and this
 * bookkeeping with it) rather than guess which records survived.
 */
import type { Logger } from 'pino';
import { BatchAttr, lastOffsetOf, scanBatches } from '../../protocol/record-batch.ts';
import { decodeRecordBatch } from '../../protocol/records.ts';
import type { PartitionLog } from '../../storage/partition-log.ts';
import { decodeOffsetsRecord, encodeOffsetsBatch, encodeKey, encodeValue, recordKey, type OffsetsRecord } from './records.ts';

export class LiveRecords {
  private readonly byKey = new Map<string, OffsetsRecord>();
  /** Records in the log from its (logical) start, rewrites included. */
  private recordsInLog = 0;

  apply(record: OffsetsRecord): void {
    const k = recordKey(record);
    if (record.value === null) this.byKey.delete(k);
    else this.byKey.set(k, record);
    this.recordsInLog++;
  }

  get liveCount(): number {
    return this.byKey.size;
  }

  get logCount(): number {
    return this.recordsInLog;
  }

  /** Whether a rewrite would at least halve the log (and the log is worth the trouble). */
  shouldRewrite(minRecords: number): boolean {
    return this.recordsInLog >= minRecords && this.recordsInLog >= 2 * this.byKey.size;
  }

  /**
   * The live records, to be appended as the rewrite. From now on the log counts as
   * holding just them; if the rewrite fails the partition is reloaded and recounted.
   */
  takeSnapshot(): OffsetsRecord[] {
    const records = [...this.byKey.values()];
    this.recordsInLog = records.length;
    return records;
  }
}

/**
 * Encodes records as batches of at most `batchBytesMax` each (a single record larger
 * than that gets a batch of its own), in order.
 */
export function encodeBatches(records: readonly OffsetsRecord[], nowMs: number, batchBytesMax: number): Buffer[] {
  const batches: Buffer[] = [];
  let current: OffsetsRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    // Key and value plus a generous allowance for the record's varint framing.
    const size = encodeKey(r).length + (encodeValue(r)?.length ?? 0) + 32;
    if (current.length > 0 && bytes + size > batchBytesMax) {
      batches.push(encodeOffsetsBatch(current, nowMs));
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) batches.push(encodeOffsetsBatch(current, nowMs));
  return batches;
}

export interface ReplayedRecord {
  offset: number;
  record: OffsetsRecord;
}

/**
 * Reads the records of an offsets partition from `fromOffset` up to `endOffset` (the log
 * end when loading: as the partition's owner, its whole log is the truth), in order.
 * Compressed or control batches (not written by the coordinator) and records that cannot
 * be decoded are skipped and logged: one bad record must not keep every group of the
 * partition from loading.
 */
export async function readOffsetsLog(
  log: PartitionLog,
  range: { fromOffset: number; endOffset: number; readBytesMax: number },
  visit: (r: ReplayedRecord) => void,
  logger: Logger,
): Promise<void> {
  let offset = range.fromOffset;
  while (offset < range.endOffset) {
    const { chunks } = await log.read(offset, range.readBytesMax, range.endOffset);
    if (chunks.length === 0) break;
    let next = offset;
    for (const chunk of chunks) {
      scanBatches(chunk, (h, at) => {
        next = Math.max(next, lastOffsetOf(h) + 1);
        if ((h.attributes & (BatchAttr.CODEC_MASK | BatchAttr.CONTROL)) !== 0) {
          logger.warn({ baseOffset: h.baseOffset }, 'skipping a compressed or control batch in an offsets partition');
          return;
        }
        for (const rec of decodeRecordBatch(chunk, at)) {
          if (rec.offset < offset || rec.offset >= range.endOffset) continue;
          try {
            visit({ offset: rec.offset, record: decodeOffsetsRecord(rec.key, rec.value) });
          } catch (err) {
            logger.warn({ err, offset: rec.offset }, 'skipping an offsets record that cannot be decoded');
          }
        }
      });
    }
    // A read always returns at least one whole batch when one is there; no progress
    // means the log ends before endOffset (it was trimmed or truncated meanwhile).
    if (next <= offset) break;
    offset = next;
  }
}
