/**
 * One partition this broker serves: the storage engine's log, the idempotent-producer
 * table, and the consumers waiting for new data.
 *
 * Produce happens in two steps. `append` is synchronous — checks, producer sequence,
 * offset assignment, hand-off to the log — so that requests are ordered exactly as they
 * arrived. Durability is then awaited per acks level through the promises the log
 * returns. If the log fails an append, that batch and every later one are gone from the
 * log; the producer table is rebuilt from the log before the next idempotent write is
 * accepted, so sequences never point at records that do not exist.
 *
 * A partition led in a replicated shared-nothing cluster also has `replication` (its log
 * is a ReplicatedLog): followers read from it up to the committed end, and consumers are
 * woken by every high-watermark advance, including those a follower's fetch causes.
 */
import type { Logger } from 'pino';
import { ErrorCode, type ErrorCode as ErrorCodeT } from '../protocol/errors.ts';
import { crc32c } from '../protocol/crc32c.ts';
import { BatchAttr, type BatchHeader, lastOffsetOf, readBatchHeader, setPartitionLeaderEpoch } from '../protocol/record-batch.ts';
import { decodeRecordBatch } from '../protocol/records.ts';
import { OffsetOutOfRangeError, StorageError, type PartitionLog } from '../storage/partition-log.ts';
import { kafkaCodeOf } from './errors.ts';
import { ProducerStateTable } from '../storage/producer-state.ts';
import type { LeaderReplication } from './replication/replicated-log.ts';
import type { TopicSettings } from './topic-config.ts';

export interface ProduceOutcome {
  errorCode: ErrorCodeT;
  errorMessage: string | null;
  baseOffset: number;
  logAppendTimeMs: number;
}

export interface AppendAccepted {
  kind: 'appended' | 'duplicate';
  baseOffset: number;
  logAppendTimeMs: number;
  leaderDurable: Promise<void>;
  fullyDurable: Promise<void>;
}

export type AppendDecision = AppendAccepted | { kind: 'error'; errorCode: ErrorCodeT; message: string };

export interface FetchSlice {
  errorCode: ErrorCodeT;
  highWatermark: number;
  logStartOffset: number;
  chunks: Buffer[];
  bytes: number;
}

const RESOLVED = Promise.resolve();

export class Partition {
  readonly producers = new ProducerStateTable();
  private readonly waiters = new Set<() => void>();
  /** Resends waiting for the high watermark; rejected when an append fails. */
  private readonly hwWaits = new Set<(err: Error) => void>();
  /** Idempotent appends not yet fully durable, by base offset: what a resend waits for. */
  private readonly inFlight = new Map<number, { leaderDurable: Promise<void>; fullyDurable: Promise<void> }>();
  /** Set while the producer table is being rebuilt after a failed append. */
  private rebuilding: Promise<void> | null = null;
  private closed = false;

  readonly topic: string;
  /** The topic's id: a topic deleted and re-created under the same name is another topic. */
  readonly topicId: string;
  readonly index: number;
  readonly log: PartitionLog;
  settings: TopicSettings;
  leaderEpoch: number;
  /** Set when followers replicate this partition (shared-nothing with a controller). */
  readonly replication: LeaderReplication | null;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(opts: {
    topic: string;
    topicId: string;
    index: number;
    log: PartitionLog;
    settings: TopicSettings;
    leaderEpoch: number;
    logger: Logger;
    now: () => number;
    replication?: LeaderReplication;
  }) {
    this.topic = opts.topic;
    this.topicId = opts.topicId;
    this.index = opts.index;
    this.log = opts.log;
    this.settings = opts.settings;
    this.leaderEpoch = opts.leaderEpoch;
    this.logger = opts.logger;
    this.now = opts.now;
    this.replication = opts.replication ?? null;
    // A follower's fetch can move the high watermark with no append of ours resolving:
    // consumers waiting for data are woken by the log itself.
    if (this.replication !== null) this.log.onHighWatermark(() => this.wakeWaiters());
  }

  /**
   * Rebuilds the producer table (open, failover): the engine's newest snapshot, then the
   * headers of every batch after it.
   */
  async loadProducerState(): Promise<void> {
    try {
      const { snapshot, fromOffset } = await this.log.producerSnapshot();
      if (snapshot) this.producers.load(snapshot);
      else this.producers.clear();
      await this.log.scanHeaders(fromOffset, (h) => {
        // A snapshot may already hold the first batches of the scan (it covers whole sections).
        const known = this.producers.entry(h.producerId)?.batches.some((b) => b.baseOffset === h.baseOffset) ?? false;
        if (!known) this.producers.record(h, h.baseOffset);
      });
    } catch (err) {
      if (!(err instanceof StorageError) || err.code !== 'FLOE_ERR_STORAGE_CORRUPT') throw err;
      // Stored data failed its checks: serve the partition (reads of the damaged range
      // report the corruption) rather than make it unavailable; producers whose state was
      // lost start over.
      this.logger.error({ err, topic: this.topic, partition: this.index }, 'producer table rebuilt from damaged data: opening without it');
      this.producers.clear();
    }
  }

  /**
   * Checks and appends one batch (already validated by checkProducedBatch). Synchronous:
   * offsets are assigned before this returns.
   */
  append(batch: Buffer, header: BatchHeader): AppendDecision {
    if (this.closed) return { kind: 'error', errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: 'partition closed' };
    if (batch.length > this.settings.maxMessageBytes) {
      return { kind: 'error', errorCode: ErrorCode.MESSAGE_TOO_LARGE, message: `batch of ${batch.length} bytes exceeds max.message.bytes ${this.settings.maxMessageBytes}` };
    }
    const idempotent = header.producerId >= 0;
    if (idempotent && this.rebuilding) {
      return { kind: 'error', errorCode: ErrorCode.KAFKA_STORAGE_ERROR, message: 'recovering from a failed append; retry' };
    }
    const seq = this.producers.check(header);
    if (seq.kind === 'error') return { kind: 'error', errorCode: seq.errorCode, message: seq.message };
    if (seq.kind === 'duplicate') {
      // An exact resend: answered with the original offset, once the original is as
      // durable as this request asks. It may still be in flight, or its first attempt may
      // have been answered with an error while the engine kept it (a WAL entry that
      // became durable later): then the resend waits for the high watermark to pass it.
      const original = this.inFlight.get(seq.baseOffset);
      const end = seq.baseOffset + header.recordCount;
      const durable = original ? original.fullyDurable : this.untilHighWatermark(end);
      return {
        kind: 'duplicate',
        baseOffset: seq.baseOffset,
        logAppendTimeMs: -1,
        leaderDurable: original ? original.leaderDurable : durable,
        fullyDurable: durable,
      };
    }

    const stored = ownedCopy(batch);
    setPartitionLeaderEpoch(stored, this.leaderEpoch);
    let logAppendTimeMs = -1;
    if (this.settings.logAppendTime) {
      logAppendTimeMs = this.now();
      stampLogAppendTime(stored, logAppendTimeMs);
    }
    const result = this.log.append(stored, header);
    const appended = { ...header, baseOffset: result.baseOffset };
    this.producers.record(appended, result.baseOffset);
    if (idempotent) {
      this.inFlight.set(result.baseOffset, result);
      const forget = (): void => void this.inFlight.delete(result.baseOffset);
      result.fullyDurable.then(forget, forget);
    }
    result.fullyDurable.then(
      () => this.wakeWaiters(),
      () => undefined, // reported through leaderDurable below
    );
    result.leaderDurable.catch((err: unknown) => this.onAppendFailed(err, lastOffsetOf(appended)));
    return { kind: 'appended', baseOffset: result.baseOffset, logAppendTimeMs, leaderDurable: result.leaderDurable, fullyDurable: result.fullyDurable };
  }

  /**
   * Resolves once the high watermark reaches `offset`. A failed append (which gives offsets
   * back to the log) rejects every such wait: the offset may then hold other records.
   */
  private untilHighWatermark(offset: number): Promise<void> {
    if (this.log.highWatermark() >= offset) return RESOLVED;
    return new Promise<void>((resolve, reject) => {
      const stop = this.log.onHighWatermark((hw) => {
        if (hw < offset) return;
        stop();
        this.hwWaits.delete(fail);
        resolve();
      });
      const fail = (err: Error): void => {
        stop();
        reject(err);
      };
      this.hwWaits.add(fail);
    });
  }

  private onAppendFailed(err: unknown, lastOffset: number): void {
    const failure = err instanceof Error ? err : new Error(String(err));
    for (const fail of [...this.hwWaits]) fail(failure);
    this.hwWaits.clear();
    if (this.rebuilding || this.closed) return;
    this.logger.warn({ err, topic: this.topic, partition: this.index, lastOffset }, 'append failed; rebuilding producer state');
    this.rebuilding = this.loadProducerState()
      .catch((e: unknown) => this.logger.error({ err: e, topic: this.topic, partition: this.index }, 'producer state rebuild failed'))
      .finally(() => {
        this.rebuilding = null;
      });
  }

  async read(offset: number, maxBytes: number): Promise<FetchSlice> {
    const hw = this.log.highWatermark();
    const logStartOffset = this.log.logStartOffset();
    const base = { highWatermark: hw, logStartOffset, chunks: [] as Buffer[], bytes: 0 };
    // Fetching at the high watermark is a normal, empty answer; beyond it, or below the
    // log start, the consumer must reset. A replicated leader answers offsets up to its log
    // end with no records, as Kafka does: a new leader's high watermark may trail the one
    // consumers saw from the old leader until its followers fetch again.
    if (offset < logStartOffset) return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
    if (offset > hw && !(this.replication !== null && offset <= this.log.logEndOffset())) return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
    if (offset >= hw) return { ...base, errorCode: ErrorCode.NONE };
    try {
      const r = await this.log.read(offset, maxBytes, hw);
      return { ...base, errorCode: ErrorCode.NONE, chunks: r.chunks, bytes: r.bytes };
    } catch (err) {
      if (err instanceof OffsetOutOfRangeError) return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
      return { ...base, errorCode: kafkaCodeOf(err) };
    }
  }

  /**
   * A follower's fetch (replica `replicaId`) at `offset` is its progress report: the
   * leader records it when the offset is one the follower can hold (see readForFollower).
   */
  recordFollowerFetch(replicaId: number, offset: number): void {
    const r = this.replication;
    if (r === null || this.closed || !r.validFetchOffset(offset)) return;
    r.followerFetched(replicaId, offset);
  }

  /**
   * Whole batches from `offset` up to the committed end, for follower `replicaId`.
   * OFFSET_OUT_OF_RANGE outside [log start, committed end], with the high watermark and
   * log start the follower needs to decide what to do.
   */
  async readForFollower(replicaId: number, offset: number, maxBytes: number): Promise<FetchSlice> {
    const r = this.replication;
    const base = { highWatermark: this.log.highWatermark(), logStartOffset: this.log.logStartOffset(), chunks: [] as Buffer[], bytes: 0 };
    if (r === null || this.closed || !r.replicas().includes(replicaId)) return { ...base, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
    if (!r.validFetchOffset(offset)) return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
    try {
      const read = await r.readForFollower(offset, maxBytes);
      return { ...base, highWatermark: this.log.highWatermark(), errorCode: ErrorCode.NONE, chunks: read.chunks, bytes: read.bytes };
    } catch (err) {
      if (err instanceof OffsetOutOfRangeError) return { ...base, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
      return { ...base, errorCode: kafkaCodeOf(err) };
    }
  }

  /** Registers a callback for the next advance of the committed end (followers' long-poll); returns its cancel. */
  onFollowerData(fn: () => void): () => void {
    if (this.replication === null) return () => undefined;
    let cancel: (() => void) | null = null;
    cancel = this.replication.onFollowerData(() => {
      cancel?.();
      fn();
    });
    return cancel;
  }

  /**
   * Kafka's ListOffsets by time: the first offset whose record timestamp is at least
   * `timestamp`, below the high watermark; null when there is none. The log finds the
   * batch; within an uncompressed batch the record is found by its own timestamp.
   */
  async offsetForTimestamp(timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
    const offset = await this.log.offsetForTimestamp(timestamp);
    const hw = this.log.highWatermark();
    if (offset === null || offset >= hw) return null;
    const { chunks } = await this.log.read(offset, 1, hw);
    const batch = chunks[0];
    if (!batch) return { offset, timestamp: -1 };
    const h = readBatchHeader(batch);
    if ((h.attributes & BatchAttr.CODEC_MASK) !== 0 || (h.attributes & BatchAttr.TIMESTAMP_LOG_APPEND) !== 0) {
      return { offset: Math.max(offset, h.baseOffset), timestamp: h.maxTimestamp };
    }
    for (const r of decodeRecordBatch(batch)) {
      if (r.offset >= offset && r.timestamp >= timestamp) return { offset: r.offset, timestamp: r.timestamp };
    }
    return { offset, timestamp: h.maxTimestamp };
  }

  /** Registers a callback for the next high-watermark advance; returns its cancel. */
  onData(fn: () => void): () => void {
    const once = (): void => {
      this.waiters.delete(once);
      fn();
    };
    this.waiters.add(once);
    return () => this.waiters.delete(once);
  }

  private wakeWaiters(): void {
    for (const w of [...this.waiters]) w();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeWaiters();
    for (const fail of [...this.hwWaits]) fail(new Error('partition closed'));
    await this.log.close();
  }

  async destroy(): Promise<void> {
    this.closed = true;
    this.wakeWaiters();
    await this.log.destroy();
  }
}

/**
 * A batch decoded from a request is a view into a socket chunk (often 64 KiB). Keeping a
 * small view alive would pin the whole chunk in the log's tail cache, so a batch that
 * shares its memory with much more than itself is copied once, here.
 */
function ownedCopy(batch: Buffer): Buffer {
  if (batch.buffer.byteLength <= batch.length * 2) return batch;
  const copy = Buffer.allocUnsafe(batch.length);
  batch.copy(copy);
  return copy;
}

/** LogAppendTime topics: the broker sets the timestamp type and maxTimestamp, then re-signs. */
function stampLogAppendTime(batch: Buffer, nowMs: number): void {
  const attributes = batch.readInt16BE(21) | BatchAttr.TIMESTAMP_LOG_APPEND;
  batch.writeInt16BE(attributes, 21);
  const hi = Math.floor(nowMs / 2 ** 32);
  batch.writeInt32BE(hi, 35);
  batch.writeUInt32BE(nowMs - hi * 2 ** 32, 39);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
}
