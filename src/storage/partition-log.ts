/**
 * The partition-log seam: what the broker's Kafka layer needs from a storage engine for
 * one partition. Engines: the local segmented log (src/storage/local-log/, the
 * shared-nothing baseline's storage) and, later, the shared-storage log on the quorum WAL
 * and object storage.
 *
 * Offsets: every batch occupies [baseOffset, baseOffset + recordCount); batches are
 * stored opaque, exactly as produced, with only baseOffset (and partition leader epoch)
 * patched. Offset ranges in this interface are half-open [lo, hi).
 *
 * Ordering: `append` assigns offsets synchronously, in call order, so the caller can
 * answer requests in order without awaiting I/O first; durability is reported through
 * the returned promises, which resolve in offset order.
 *
 * Errors: operating failures reject with StorageError (its `code` says which, its `cause`
 * holds the filesystem's error); offsets outside the log reject with OffsetOutOfRangeError.
 */
import type { BatchHeader } from '../protocol/record-batch.ts';
import type { ProducerSnapshot } from './producer-state.ts';

export interface AppendResult {
  /** The offset given to the batch's first record. */
  baseOffset: number;
  /**
   * Resolves when the batch meets the acks=1 promise of this engine (local log: written
   * to the leader's log, and fsynced when the fsync policy is per batch; shared storage:
   * fsynced on one WAL node). Rejects with a StorageError if the append failed; the
   * batch and every batch appended after it are then not in the log.
   */
  leaderDurable: Promise<void>;
  /**
   * Resolves when the batch meets the acks=all promise of this engine. An engine with a
   * single replica may return the same promise as `leaderDurable`. Both promises are
   * already marked handled: ignoring them (acks=0) never causes an unhandled rejection.
   */
  fullyDurable: Promise<void>;
}

export interface ReadResult {
  /** Whole batches, in offset order, as views or fresh buffers (caller must not mutate). */
  chunks: Buffer[];
  bytes: number;
}

export interface PartitionLog {
  /** First offset that can still be read (retention and DeleteRecords move it forward). */
  logStartOffset(): number;
  /** The offset the next appended record gets. */
  logEndOffset(): number;
  /** Offsets below this are fully durable; only they are served to consumers. */
  highWatermark(): number;
  /** Bytes held by the log (for retention.bytes and DescribeLogDirs-style reporting). */
  sizeBytes(): number;

  /**
   * Appends one validated batch (its CRC checked by the caller) and patches its
   * baseOffset to logEndOffset(). The log keeps the buffer: the caller must not reuse it.
   */
  append(batch: Buffer, header: BatchHeader): AppendResult;

  /**
   * Reads whole batches starting with the batch that contains `offset`, stopping before
   * the first batch that does not end at or below `maxOffset` (usually the high
   * watermark: a batch is returned only when all its records are below it) and once
   * `maxBytes` would be exceeded — but always at least one batch when one is available,
   * so that a consumer can make progress past a batch larger than its limit.
   * `offset` must be in [logStartOffset(), logEndOffset()]; otherwise OffsetOutOfRangeError.
   * Reading at logEndOffset(), or at or above `maxOffset`, gives an empty result.
   */
  read(offset: number, maxBytes: number, maxOffset: number): Promise<ReadResult>;

  /**
   * The first offset whose batch has maxTimestamp ≥ `timestamp` (Kafka's ListOffsets by
   * time), or null when no such batch exists.
   */
  offsetForTimestamp(timestamp: number): Promise<number | null>;

  /**
   * Visits the headers of the batches from the one containing `fromOffset` (at least
   * logStartOffset()) to the end, in offset order (producer state rebuild).
   */
  scanHeaders(fromOffset: number, visit: (h: BatchHeader) => void): Promise<void>;

  /**
   * Where rebuilding the idempotent-producer table starts: the newest snapshot the engine
   * keeps (null: none) and the offset from which batch headers must be replayed on top of
   * it. Engines without snapshots answer `{ snapshot: null, fromOffset: logStartOffset() }`.
   */
  producerSnapshot(): Promise<{ snapshot: ProducerSnapshot | null; fromOffset: number }>;

  /**
   * Moves logStartOffset forward to `offset` (DeleteRecords), durably; whole segments below
   * it are removed. An offset at or below the log start changes nothing; one above the high
   * watermark rejects with OffsetOutOfRangeError.
   */
  advanceLogStart(offset: number): Promise<void>;

  /** Applies retention (time and size) as of `nowMs`. */
  maintain(nowMs: number): Promise<void>;

  /**
   * Calls `listener` with the new high watermark each time it advances (to wake fetches
   * waiting for data). Called synchronously from the engine's write path: keep it short;
   * a listener that throws is logged and ignored. Returns a function that unsubscribes.
   */
  onHighWatermark(listener: (highWatermark: number) => void): () => void;

  /** Makes everything appended so far durable (clean shutdown, fsync=interval ticks). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Closes the log and removes its data (topic deletion). */
  destroy(): Promise<void>;
}

/**
 * Operating failures of a storage engine, converted to Kafka codes in one place
 * (src/broker/errors.ts):
 *  - IO, FULL: the local disk failed or is full;
 *  - CLOSED: the log is closed (the partition moved away);
 *  - CORRUPT: stored bytes failed their checks; they are never served;
 *  - UNAVAILABLE: too few replicas (WAL nodes) can acknowledge now;
 *  - FENCED: another writer took over (this broker is a zombie for that data);
 *  - BACKLOG: data that cannot reach object storage has filled the bounded tail.
 */
export type StorageErrorCode =
  | 'FLOE_ERR_STORAGE_IO'
  | 'FLOE_ERR_STORAGE_FULL'
  | 'FLOE_ERR_STORAGE_CLOSED'
  | 'FLOE_ERR_STORAGE_CORRUPT'
  | 'FLOE_ERR_STORAGE_UNAVAILABLE'
  | 'FLOE_ERR_STORAGE_FENCED'
  | 'FLOE_ERR_STORAGE_BACKLOG';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}

export class OffsetOutOfRangeError extends Error {
  readonly code = 'FLOE_ERR_OFFSET_OUT_OF_RANGE';
  constructor(
    readonly offset: number,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(`offset ${offset} outside [${logStartOffset}, ${logEndOffset}]`);
    this.name = 'OffsetOutOfRangeError';
  }
}

/** When the local log fsyncs: Kafka's default is never (flush.messages = Long.MAX). */
export type FsyncPolicy = { kind: 'never' } | { kind: 'per-batch' } | { kind: 'interval'; intervalMs: number };

/** Per-partition settings an engine honours (Kafka topic config names in comments). */
export interface LogConfig {
  /** segment.bytes */
  segmentBytes: number;
  /** segment.ms */
  segmentMs: number;
  /** retention.ms (-1: unlimited) */
  retentionMs: number;
  /** retention.bytes (-1: unlimited) */
  retentionBytes: number;
  /** index.interval.bytes: one sparse index entry per this many bytes */
  indexIntervalBytes: number;
  fsync: FsyncPolicy;
}
