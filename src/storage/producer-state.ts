/**
 * Idempotent-producer state of one partition: for each producer id, its epoch and the
 * last few batches it wrote (sequence range and offset). Pure logic, no I/O: the
 * partition asks `check` before appending and calls `record` once the offset is known;
 * after a restart or failover the table is rebuilt by replaying batch headers.
 *
 * Rules (Kafka's, as real clients expect them):
 *  - producerId -1: not idempotent, never checked.
 *  - an exact resend of one of the remembered batches (same epoch, base and last
 *    sequence) is a duplicate: answered with the original offset, not appended again —
 *    never DUPLICATE_SEQUENCE, which kafkajs treats as fatal;
 *  - an older epoch: INVALID_PRODUCER_EPOCH; a newer epoch must start at sequence 0
 *    (librdkafka bumps its epoch locally and restarts at 0), else OUT_OF_ORDER;
 *  - same epoch: the base sequence must follow the last one (wrapping at 2^31−1),
 *    else OUT_OF_ORDER_SEQUENCE_NUMBER;
 *  - an unknown producer must start at sequence 0.
 */
import { ErrorCode } from '../protocol/errors.ts';
import type { BatchHeader } from '../protocol/record-batch.ts';

const INT32_MAX = 0x7fffffff;
/** Batches remembered per producer and partition: Kafka's 5 (max.in.flight.requests.per.connection for idempotence). */
export const PRODUCER_BATCHES_REMEMBERED = 5;

export interface RememberedBatch {
  baseSequence: number;
  lastSequence: number;
  baseOffset: number;
}

export interface ProducerEntry {
  epoch: number;
  /** Oldest first; at most BrokerLimits.producerBatchesRemembered. */
  batches: RememberedBatch[];
}

/** The table as plain data: what storage engines persist (by producer id). */
export type ProducerSnapshot = Record<string, ProducerEntry>;

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'error'; errorCode: ErrorCode; message: string };

export function lastSequenceOf(h: Pick<BatchHeader, 'baseSequence' | 'recordCount'>): number {
  // Sequences wrap to 0 after INT32_MAX, as Kafka's DefaultRecordBatch.incrementSequence.
  const last = h.baseSequence + h.recordCount - 1;
  return last > INT32_MAX ? last - INT32_MAX - 1 : last;
}

function nextSequence(last: number): number {
  return last === INT32_MAX ? 0 : last + 1;
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  entry(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  check(h: BatchHeader): SequenceCheck {
    if (h.producerId < 0) return { kind: 'append' };
    const entry = this.producers.get(h.producerId);
    if (!entry) {
      return h.baseSequence === 0
        ? { kind: 'append' }
        : { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `unknown producer ${h.producerId} must start at sequence 0, got ${h.baseSequence}` };
    }
    if (h.producerEpoch < entry.epoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: `epoch ${h.producerEpoch} is older than ${entry.epoch}` };
    }
    if (h.producerEpoch > entry.epoch) {
      return h.baseSequence === 0
        ? { kind: 'append' }
        : { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `new epoch ${h.producerEpoch} must start at sequence 0` };
    }
    const last = lastSequenceOf(h);
    for (const b of entry.batches) {
      if (b.baseSequence === h.baseSequence && b.lastSequence === last) return { kind: 'duplicate', baseOffset: b.baseOffset };
    }
    const newest = entry.batches[entry.batches.length - 1];
    const expected = newest ? nextSequence(newest.lastSequence) : 0;
    if (h.baseSequence !== expected) {
      return {
        kind: 'error',
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${h.producerId} expected sequence ${expected}, got ${h.baseSequence}`,
      };
    }
    return { kind: 'append' };
  }

  /** Records an appended (or replayed) batch. Call after `check` said append. */
  record(h: BatchHeader, baseOffset: number): void {
    if (h.producerId < 0) return;
    let entry = this.producers.get(h.producerId);
    if (!entry || h.producerEpoch > entry.epoch) {
      entry = { epoch: h.producerEpoch, batches: [] };
      this.producers.set(h.producerId, entry);
    }
    entry.batches.push({ baseSequence: h.baseSequence, lastSequence: lastSequenceOf(h), baseOffset });
    if (entry.batches.length > PRODUCER_BATCHES_REMEMBERED) entry.batches.shift();
  }

  clear(): void {
    this.producers.clear();
  }

  /** A plain copy of the table (for snapshots and tests). */
  toJSON(): ProducerSnapshot {
    return Object.fromEntries([...this.producers].map(([id, e]) => [String(id), { epoch: e.epoch, batches: e.batches.map((b) => ({ ...b })) }]));
  }

  /** Replaces the table with a snapshot taken by toJSON(). */
  load(snapshot: ProducerSnapshot): void {
    this.producers.clear();
    for (const [id, e] of Object.entries(snapshot)) {
      this.producers.set(Number(id), { epoch: e.epoch, batches: e.batches.slice(-PRODUCER_BATCHES_REMEMBERED).map((b) => ({ ...b })) });
    }
  }
}
