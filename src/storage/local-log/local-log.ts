/**
 * LocalLog: floe's local segmented log, one directory per partition — the storage of the
 * shared-nothing baseline. See recovery.ts for what opening a directory does after a
 * crash, segment.ts and indexes.ts for the files.
 *
 * The append path: `append` assigns the offset and patches baseOffset synchronously, puts
 * the batch into the tail cache and into the open append group, and returns the group's
 * promise. A single writer loop takes one group at a time, writes all its batches with
 * one vectored write at the end of the active segment and — under per-batch fsync — one
 * datasync for the whole group (group commit), then commits it: index entries, high
 * watermark, promise. Appends arriving meanwhile gather in the next group. A group never
 * spans segments: when an append would overflow segment.bytes or segment.ms, it opens a
 * new group marked to roll first.
 *
 * Fsync policies (what `leaderDurable` promises):
 *  - per-batch: the batch is written and fdatasynced; it survives power loss.
 *  - interval: the batch is written (in the OS page cache); a timer fdatasyncs what was
 *    committed at most `intervalMs` later. A process crash loses nothing; power loss can
 *    lose up to one interval.
 *  - never: the batch is written; only a segment roll, `flush` and `close` fdatasync.
 * Whatever the policy, the log reopens consistent: whole batches, contiguous offsets.
 *
 * A failed write or fsync rejects its group and every group queued after it with a
 * StorageError (FLOE_ERR_STORAGE_FULL for ENOSPC, FLOE_ERR_STORAGE_IO otherwise), sets
 * the log end back to the group's first offset, and truncates the segment back to the
 * last committed byte; the log then takes appends again at that offset. If even the
 * truncation fails, the log refuses appends (FLOE_ERR_STORAGE_IO) until it is reopened.
 *
 * Reads: from the tail cache when the offset is still there (always for batches not yet
 * committed), otherwise from one segment: binary search for the segment, the sparse
 * index for a position at or before the offset, a header walk to the batch containing
 * it, then one read of whole batches. A read never spans two segments or disk and cache;
 * the caller reads again from where it stopped.
 *
 * Checkpoints: the recovery point and the active segment's index entries are persisted
 * on roll, `flush`, `close` and each `maintain` (whatever the fsync policy: they only
 * ever cover data already fsynced), so a restart checks only what came after.
 *
 * `onHighWatermark` listeners run synchronously in the writer loop right after each
 * commit, before the group's promises resolve.
 *
 * Replication (shared-nothing followers) adds three operations:
 *  - `appendAsFollower` appends a batch at the offsets the leader gave it: its baseOffset
 *    must be the log end, and neither baseOffset nor partitionLeaderEpoch is patched;
 *  - `truncateTo(offset)` durably removes every batch at or above the batch containing
 *    `offset`, and `truncateFullyAndStartAt(offset)` empties the log and restarts it at
 *    `offset`. Both wait for the writer to be idle and refuse appends meanwhile. Their
 *    steps are ordered so that a crash at any point reopens as a prefix of the log before
 *    the call, never shorter than the truncation point: the stored high watermark and
 *    the recovery point are lowered first (recovery then checks what follows instead of
 *    trusting it), whole segments are deleted newest first (each deletion made durable
 *    before the next, so no gap can appear), and a segment cut in the middle gets its
 *    indexes rewritten before its log file is truncated and fdatasynced (an index never
 *    points past its segment's end). The caller must not report the log end to anyone
 *    before the call resolves;
 *  - a stored high watermark (`storedHighWatermark`, `checkpointHighWatermark`): where
 *    the replication layer starts checking this log against a leader's after a restart.
 */
import * as path from 'node:path';
import type { Clock } from '../../common/clock.ts';
import type { FileSystem } from '../../common/fs.ts';
import { BATCH_HEADER_BYTES, readBatchHeader, setBaseOffset, type BatchHeader } from '../../protocol/record-batch.ts';
import {
  OffsetOutOfRangeError,
  StorageError,
  type AppendResult,
  type LogConfig,
  type PartitionLog,
  type ReadResult,
} from '../partition-log.ts';
import { NO_BATCH_AT_START, corrupt, readBatches, toStorageError, walkHeaders } from './batch-io.ts';
import type { Checkpoint } from './checkpoint.ts';
import {
  PIPELINED_WRITES_MAX,
  BATCH_BYTES_MAX,
  FSYNC_INTERVAL_MS_MIN,
  INDEX_INTERVAL_BYTES_MIN,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
  SEGMENT_RELATIVE_OFFSET_MAX,
  TAIL_CACHE_BYTES_DEFAULT,
} from './limits.ts';
import { silentLogger, type LocalLogLogger } from './logger.ts';
import { CheckpointFile, TEMP_FILE_PATTERN, recoverLog, type RecoveredLog } from './recovery.ts';
import { SEGMENT_FILE_PATTERN, Segment, SegmentFile, unlinkIfPresent } from './segment.ts';
import { TailCache, type TailBatch } from './tail-cache.ts';

export interface LocalLogOptions {
  /** The partition's directory; created if absent. */
  dir: string;
  fs: FileSystem;
  clock: Clock;
  config: LogConfig;
  logger?: LocalLogLogger;
  /** Bytes of committed batches kept in memory for tail reads (default TAIL_CACHE_BYTES_DEFAULT). */
  tailCacheBytes?: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: StorageError) => void;
}

interface AppendGroup {
  readonly kind: 'group';
  readonly first: number;
  next: number;
  bytes: number;
  readonly batches: TailBatch[];
  /** When set, the writer rolls to a new segment with this base offset before writing. */
  readonly rollTo: number | null;
  readonly rollAtMs: number;
  readonly done: Promise<void>;
  readonly waiter: Waiter;
}

interface SyncRequest {
  readonly kind: 'sync';
  /** fdatasync the active segment's unsynced bytes. */
  readonly syncData: boolean;
  /** Persist index entries of synced data and the recovery point. */
  readonly checkpoint: boolean;
  readonly waiter: Waiter | null;
}

type WriterOp = AppendGroup | SyncRequest;

function deferred(): { promise: Promise<void>; waiter: Waiter } {
  let waiter: Waiter | undefined;
  const promise = new Promise<void>((resolve, reject) => {
    waiter = { resolve, reject };
  });
  // A caller may ignore these promises (acks=0 ignores both): a rejection nobody awaits
  // must not become an unhandled rejection that ends the process. Awaiting still throws.
  promise.catch(() => undefined);
  return { promise, waiter: waiter! };
}

function checkConfig(c: LogConfig): void {
  const fail = (what: string): never => {
    throw new RangeError(`invalid log config: ${what}`);
  };
  if (!Number.isInteger(c.segmentBytes) || c.segmentBytes < SEGMENT_BYTES_MIN || c.segmentBytes > SEGMENT_BYTES_MAX) {
    fail(`segmentBytes ${c.segmentBytes} outside [${SEGMENT_BYTES_MIN}, ${SEGMENT_BYTES_MAX}]`);
  }
  if (!(c.segmentMs > 0)) fail(`segmentMs ${c.segmentMs} must be positive`);
  if (!(c.retentionMs >= -1)) fail(`retentionMs ${c.retentionMs} must be -1 or more`);
  if (!(c.retentionBytes >= -1)) fail(`retentionBytes ${c.retentionBytes} must be -1 or more`);
  if (!Number.isInteger(c.indexIntervalBytes) || c.indexIntervalBytes < INDEX_INTERVAL_BYTES_MIN) {
    fail(`indexIntervalBytes ${c.indexIntervalBytes} must be an integer ≥ ${INDEX_INTERVAL_BYTES_MIN}`);
  }
  if (c.fsync.kind === 'interval' && !(c.fsync.intervalMs >= FSYNC_INTERVAL_MS_MIN)) {
    fail(`fsync intervalMs ${c.fsync.intervalMs} must be ≥ ${FSYNC_INTERVAL_MS_MIN}`);
  }
}

export class LocalLog implements PartitionLog {
  private readonly dir: string;
  private readonly fs: FileSystem;
  private readonly clock: Clock;
  private readonly config: LogConfig;
  private readonly logger: LocalLogLogger;
  private readonly tailCacheBytes: number;
  private readonly perBatch: boolean;

  private segments: Segment[];
  private active: Segment;
  private logStart: number;
  private logEnd: number;
  private hw: number;
  private totalBytes: number;
  private readonly tail = new TailCache();
  private readonly logStartCheckpoint: Checkpoint;
  private readonly recoveryCheckpoint: Checkpoint;
  private readonly highWatermarkCheckpoint: Checkpoint;
  private storedHw: number | null;
  /** Truncations called and not yet settled: appends are refused meanwhile. */
  private truncating = 0;

  private ops: WriterOp[] = [];
  /** Writes under way (no per-batch fsync), oldest first; see canPipeline. */
  private writes: { group: AppendGroup; position: number; done: Promise<unknown> }[] = [];
  private openGroup: AppendGroup | null = null;
  private writerRunning = false;
  /** The active segment as appends see it: bytes queued for it, its base and when it started counting segment.ms. */
  private projected: { bytes: number; base: number; rollAtMs: number };
  private fatal: StorageError | null = null;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private closing: Promise<void> | null = null;
  private cancelFlushTimer: (() => void) | null = null;
  private readonly hwListeners = new Set<(highWatermark: number) => void>();
  /** Retention and DeleteRecords run one at a time. */
  private maintenance: Promise<void> = Promise.resolve();

  private constructor(opts: LocalLogOptions, recovered: RecoveredLog) {
    this.dir = opts.dir;
    this.fs = opts.fs;
    this.clock = opts.clock;
    this.config = opts.config;
    this.logger = opts.logger ?? silentLogger;
    this.tailCacheBytes = opts.tailCacheBytes ?? TAIL_CACHE_BYTES_DEFAULT;
    this.perBatch = opts.config.fsync.kind === 'per-batch';
    this.segments = recovered.segments;
    this.active = recovered.segments.at(-1)!;
    this.logStart = recovered.logStartOffset;
    this.logEnd = this.active.endOffset;
    // Recovery synced everything it kept: all of it is as durable as it will get.
    this.hw = this.logEnd;
    this.totalBytes = recovered.segments.reduce((n, s) => n + s.bytes, 0);
    this.logStartCheckpoint = recovered.logStartCheckpoint;
    this.recoveryCheckpoint = recovered.recoveryPointCheckpoint;
    this.highWatermarkCheckpoint = recovered.highWatermarkCheckpoint;
    this.storedHw = recovered.storedHighWatermark;
    this.projected = { bytes: this.active.bytes, base: this.active.base, rollAtMs: this.active.rollAtMs };
  }

  /** Opens (creating or recovering) the log in `dir`. */
  static async open(opts: LocalLogOptions): Promise<LocalLog> {
    checkConfig(opts.config);
    const logger = opts.logger ?? silentLogger;
    try {
      const recovered = await recoverLog({ fs: opts.fs, dir: opts.dir, config: opts.config, nowMs: opts.clock.now(), logger });
      return new LocalLog(opts, recovered);
    } catch (err) {
      throw toStorageError(err, `opening the log in ${opts.dir} failed`);
    }
  }

  logStartOffset(): number {
    return this.logStart;
  }
  logEndOffset(): number {
    return this.logEnd;
  }
  highWatermark(): number {
    return this.hw;
  }
  sizeBytes(): number {
    return this.totalBytes;
  }
  /** Base offsets of the segments, oldest first (the last is the active one). */
  segmentBaseOffsets(): number[] {
    return this.segments.map((s) => s.base);
  }

  /** The local log keeps no producer snapshots: the table is rebuilt from every header. */
  producerSnapshot(): Promise<{ snapshot: null; fromOffset: number }> {
    return Promise.resolve({ snapshot: null, fromOffset: this.logStart });
  }

  onHighWatermark(listener: (highWatermark: number) => void): () => void {
    this.hwListeners.add(listener);
    return () => this.hwListeners.delete(listener);
  }

  // ---------------------------------------------------------------- append path

  append(batch: Buffer, header: BatchHeader): AppendResult {
    const refused = this.refusal(batch, header);
    if (refused !== null) return refused;
    setBaseOffset(batch, this.logEnd);
    return this.enter(batch, header);
  }

  /**
   * Appends a batch replicated from the leader as it is: its baseOffset must be the log end
   * (a RangeError otherwise: the caller checks), and neither it nor the partition leader
   * epoch is patched. Otherwise as `append`.
   */
  appendAsFollower(batch: Buffer, header: BatchHeader): AppendResult {
    const refused = this.refusal(batch, header);
    if (refused !== null) return refused;
    if (header.baseOffset !== this.logEnd) throw new RangeError(`follower append at offset ${header.baseOffset}, but the log ends at ${this.logEnd}`);
    return this.enter(batch, header);
  }

  /** The refused result when the log takes no appends now, else null; throws on a malformed header. */
  private refusal(batch: Buffer, header: BatchHeader): AppendResult | null {
    if (this.state !== 'open') return this.refuse(new StorageError('FLOE_ERR_STORAGE_CLOSED', `log ${this.dir} is closed`));
    if (this.truncating > 0) return this.refuse(new StorageError('FLOE_ERR_STORAGE_CLOSED', `log ${this.dir} is being truncated`));
    if (this.fatal !== null) return this.refuse(this.fatal);
    const size = batch.length;
    if (header.sizeBytes !== size || size < BATCH_HEADER_BYTES || size > BATCH_BYTES_MAX || header.lastOffsetDelta < 0) {
      throw new RangeError(`append of a batch of ${size} bytes whose header says ${header.sizeBytes} bytes, lastOffsetDelta ${header.lastOffsetDelta}`);
    }
    return null;
  }

  /** Puts a batch whose baseOffset is the log end into the tail cache and the open group. */
  private enter(batch: Buffer, header: BatchHeader): AppendResult {
    const size = batch.length;
    const base = this.logEnd;
    const next = base + header.lastOffsetDelta + 1;
    this.logEnd = next;
    const entry: TailBatch = { base, next, buf: batch, maxTimestamp: header.maxTimestamp };
    this.tail.push(entry);

    const p = this.projected;
    const now = this.clock.now();
    const roll =
      p.bytes > 0 &&
      (p.bytes + size > this.config.segmentBytes || now - p.rollAtMs >= this.config.segmentMs || next - 1 - p.base > SEGMENT_RELATIVE_OFFSET_MAX);
    if (roll) this.projected = { bytes: 0, base, rollAtMs: now };
    this.projected.bytes += size;

    let group = this.openGroup;
    if (group === null || roll) {
      const { promise, waiter } = deferred();
      group = { kind: 'group', first: base, next, bytes: 0, batches: [], rollTo: roll ? base : null, rollAtMs: now, done: promise, waiter };
      this.enqueue(group);
      this.openGroup = group;
    }
    group.batches.push(entry);
    group.bytes += size;
    group.next = next;
    return { baseOffset: base, leaderDurable: group.done, fullyDurable: group.done };
  }

  private refuse(err: StorageError): AppendResult {
    const { promise, waiter } = deferred();
    waiter.reject(err);
    return { baseOffset: this.logEnd, leaderDurable: promise, fullyDurable: promise };
  }

  private enqueue(op: WriterOp): void {
    this.ops.push(op);
    if (this.writerRunning) return;
    this.writerRunning = true;
    // Started from a microtask so that appends made in the same turn join the first group.
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    let op: WriterOp | undefined;
    try {
      for (;;) {
        op = this.ops.shift();
        if (op === undefined) {
          // Appends made while the last writes settle are queued behind them: look again.
          if (this.writes.length === 0) break;
          await this.settleWrites();
          continue;
        }
        if (op === this.openGroup) this.openGroup = null;
        if (op.kind === 'group' && this.canPipeline(op)) {
          this.startWrite(op);
          if (this.writes.length >= PIPELINED_WRITES_MAX) await this.settleOldestWrite();
          continue;
        }
        await this.settleWrites();
        if (op.kind === 'group') await this.commitGroup(op);
        else await this.runSync(op);
      }
    } catch (err) {
      // commitGroup and runSync handle operating errors; reaching here is a bug.
      this.fatal = toStorageError(err, 'the log writer failed unexpectedly');
      this.logger.error({ err, dir: this.dir }, 'log writer failed; the log refuses appends until reopened');
      op?.waiter?.reject(this.fatal);
      for (const w of this.writes.splice(0)) w.group.waiter.reject(this.fatal);
      this.rejectQueued(this.fatal);
    } finally {
      this.writerRunning = false;
    }
  }

  /**
   * Without per-batch fsync, the writes of consecutive groups into the same segment need
   * not wait for one another: positions are known in advance, so up to
   * PIPELINED_WRITES_MAX of them run at once in the thread pool (what a page-cache write
   * costs is mostly the trip there and back). They are committed strictly in order; if
   * one fails, it and every group after it are abandoned, as when they run one at a time.
   */
  private canPipeline(g: AppendGroup): boolean {
    return !this.perBatch && g.rollTo === null && this.fatal === null;
  }

  private startWrite(g: AppendGroup): void {
    const last = this.writes[this.writes.length - 1];
    const position = last ? last.position + last.group.bytes : this.active.bytes;
    const done = this.active.handle.write(
      g.batches.map((b) => b.buf),
      position,
    ).then(
      () => null,
      (err: unknown) => err,
    );
    this.writes.push({ group: g, position, done });
  }

  /** Commits (or fails) the oldest write under way. */
  private async settleOldestWrite(): Promise<void> {
    const w = this.writes.shift();
    if (!w) return;
    const err = await w.done;
    if (err === null && this.fatal === null) {
      this.finishGroup(w.group);
      return;
    }
    // The writes after it may have landed, but after a hole: wait for them, abandon them
    // with it, and cut the file back to where it started.
    const later = this.writes.splice(0);
    await Promise.all(later.map((l) => l.done));
    const error = toStorageError(err ?? this.fatal, `append at offset ${w.group.first} to ${this.dir} failed`);
    for (const l of later) l.group.waiter.reject(error);
    if (this.fatal !== null) this.abandon(w.group, this.fatal);
    else await this.failGroup(w.group, err);
  }

  private async settleWrites(): Promise<void> {
    while (this.writes.length > 0) await this.settleOldestWrite();
  }

  private async commitGroup(g: AppendGroup): Promise<void> {
    if (this.fatal !== null) {
      this.abandon(g, this.fatal);
      return;
    }
    try {
      if (g.rollTo !== null) await this.roll(g.rollTo, g.rollAtMs);
      await this.active.handle.write(
        g.batches.map((b) => b.buf),
        this.active.bytes,
      );
      if (this.perBatch) await this.active.handle.datasync();
    } catch (err) {
      await this.failGroup(g, err);
      return;
    }
    this.finishGroup(g);
  }

  /** The group's bytes are in the active segment (and synced under per-batch): commit it. */
  private finishGroup(g: AppendGroup): void {
    const seg = this.active;
    let at = seg.bytes;
    for (const b of g.batches) {
      seg.noteBatch(b.base, b.next, at, b.buf.length, b.maxTimestamp);
      at += b.buf.length;
    }
    this.totalBytes += g.bytes;
    if (this.perBatch) seg.markSynced();
    this.setHighWatermark(g.next);
    g.waiter.resolve();
    if (this.config.fsync.kind === 'interval' && this.cancelFlushTimer === null && this.state === 'open') {
      this.cancelFlushTimer = this.clock.setTimer(this.config.fsync.intervalMs, () => {
        this.cancelFlushTimer = null;
        this.enqueue({ kind: 'sync', syncData: true, checkpoint: false, waiter: null });
      });
    }
  }

  /** Seals the active segment (synced, indexes on disk) and starts a new one at `base`. */
  private async roll(base: number, rollAtMs: number): Promise<void> {
    const old = this.active;
    if (base !== old.endOffset) throw new Error(`roll to ${base} but the active segment ends at ${old.endOffset}`);
    // Every sealed segment is synced, whatever the policy: only the active one holds unsynced bytes.
    if (old.needsSync()) {
      await old.handle.datasync();
      old.markSynced();
    }
    old.sealTimeIndex();
    await old.persistIndexes(this.fs);
    const seg = await Segment.create(this.fs, this.dir, base, rollAtMs, this.config.indexIntervalBytes);
    try {
      // The new file must be durable before acknowledged data goes into it. (The
      // checkpoint below also syncs the directory, but not when its value is unchanged.)
      await this.fs.syncDir(this.dir);
      await this.recoveryCheckpoint.write(base);
    } catch (err) {
      await seg.retire().catch(() => undefined);
      await seg.removeFiles(this.fs).catch(() => undefined);
      throw err;
    }
    this.segments.push(seg);
    this.active = seg;
    await old.closeIndexFiles().catch((err: unknown) => this.logger.warn({ err, dir: this.dir }, 'closing index files failed'));
  }

  /**
   * Takes back a group that will not be committed and everything queued after it:
   * synchronously, before anything else can append, since later appends reuse its offsets.
   */
  private abandon(g: AppendGroup, error: StorageError): void {
    this.logEnd = g.first;
    this.tail.truncateFrom(g.first);
    const seg = this.active;
    this.projected = { bytes: seg.bytes, base: seg.base, rollAtMs: seg.rollAtMs };
    g.waiter.reject(error);
    this.rejectQueued(error);
  }

  private async failGroup(g: AppendGroup, err: unknown): Promise<void> {
    const error = toStorageError(err, `append at offset ${g.first} to ${this.dir} failed`);
    this.logger.warn({ err, dir: this.dir, offset: g.first }, 'append failed; rejecting it and every append queued after it');
    this.abandon(g, error);
    const seg = this.active;
    try {
      // Cut whatever part of the group reached the file.
      if ((await seg.handle.size()) === seg.bytes) return;
      await seg.handle.truncate(seg.bytes);
    } catch (cause) {
      this.fatal = new StorageError('FLOE_ERR_STORAGE_IO', `${this.dir}: could not truncate after a failed append; refusing appends until reopened`, {
        cause,
      });
      this.logger.error({ err: cause, dir: this.dir }, 'truncation after a failed append failed');
      return;
    }
    seg.truncatedUnsynced = true;
    try {
      // Durably, so that the cut bytes cannot resurface after a crash. If this fails, the
      // next fdatasync of the segment (which also persists its size) does it.
      await seg.handle.datasync();
      seg.markSynced();
    } catch (cause) {
      this.logger.warn({ err: cause, dir: this.dir }, 'fsync after truncating a failed append failed; retrying with the next fsync');
    }
  }

  private rejectQueued(error: StorageError): void {
    const queued = this.ops;
    this.ops = [];
    this.openGroup = null;
    for (const op of queued) op.waiter?.reject(error);
  }

  private async runSync(op: SyncRequest): Promise<void> {
    if (this.fatal !== null) {
      op.waiter?.reject(this.fatal);
      return;
    }
    const seg = this.active;
    try {
      if (op.syncData && seg.needsSync()) {
        await seg.handle.datasync();
        seg.markSynced();
      }
      if (op.checkpoint) {
        if (seg.syncedBytes === seg.bytes) seg.sealTimeIndex();
        await seg.persistIndexes(this.fs);
        await this.recoveryCheckpoint.write(seg.syncedOffset);
      }
      op.waiter?.resolve();
    } catch (err) {
      const error = toStorageError(err, `flushing ${this.dir} failed`);
      if (op.waiter !== null) op.waiter.reject(error);
      else this.logger.error({ err, dir: this.dir }, 'periodic fsync failed');
    }
  }

  private requestSync(syncData: boolean, checkpoint: boolean): Promise<void> {
    const { promise, waiter } = deferred();
    // Appends after this point go into a new group behind the sync.
    this.openGroup = null;
    this.enqueue({ kind: 'sync', syncData, checkpoint, waiter });
    return promise;
  }

  private setHighWatermark(hw: number): void {
    this.hw = hw;
    this.tail.evict(hw, this.tailCacheBytes);
    for (const listener of this.hwListeners) {
      try {
        listener(hw);
      } catch (err) {
        this.logger.error({ err, dir: this.dir }, 'high watermark listener threw');
      }
    }
  }

  flush(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new StorageError('FLOE_ERR_STORAGE_CLOSED', `log ${this.dir} is closed`));
    return this.requestSync(true, true);
  }

  // ---------------------------------------------------------------- read path

  private checkReadable(): void {
    if (this.state === 'closed') throw new StorageError('FLOE_ERR_STORAGE_CLOSED', `log ${this.dir} is closed`);
  }

  /** The segment holding `offset` (the last whose base is ≤ it). */
  private segmentFor(offset: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid]!.base <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo]!;
  }

  private pin(seg: Segment): void {
    if (!seg.acquire()) throw new StorageError('FLOE_ERR_STORAGE_CLOSED', `segment ${seg.base} of ${this.dir} is gone`);
  }

  /**
   * Position of the committed batch containing `offset` in `seg` (or the segment's end).
   * The index only says where to start; the batch found there must be the one the index
   * names, or the index is distrusted and the segment scanned from its start.
   */
  private async locate(seg: Segment, offset: number): Promise<number> {
    const start = seg.lookup(offset);
    let first = true;
    let found = -1;
    let indexWrong = false;
    const stop = await walkHeaders(
      seg.handle,
      start.position,
      seg.bytes,
      (h, at) => {
        if (first) {
          first = false;
          if (h.baseOffset !== start.baseOffset) {
            indexWrong = true;
            return false;
          }
        }
        if (h.baseOffset + h.lastOffsetDelta >= offset) {
          found = at;
          return false;
        }
        return true;
      },
      { startUnverified: start.position > 0 },
    );
    if (indexWrong || stop === NO_BATCH_AT_START) {
      this.logger.warn({ file: seg.path(SegmentFile.INDEX), offset }, 'offset index points at the wrong batch; scanning this segment from its start');
      seg.indexSuspect = true;
      return this.locate(seg, offset);
    }
    return found >= 0 ? found : stop;
  }

  async read(offset: number, maxBytes: number, maxOffset: number): Promise<ReadResult> {
    this.checkReadable();
    if (offset < this.logStart || offset > this.logEnd) throw new OffsetOutOfRangeError(offset, this.logStart, this.logEnd);
    if (offset >= this.logEnd || offset >= maxOffset) return { chunks: [], bytes: 0 };
    const cached = this.tail.read(offset, maxBytes, maxOffset);
    if (cached !== null) return cached;
    const seg = this.segmentFor(offset);
    this.pin(seg);
    try {
      const position = await this.locate(seg, offset);
      return await readBatches(seg.handle, position, seg.bytes, maxBytes, maxOffset);
    } catch (err) {
      throw toStorageError(err, `reading offset ${offset} of ${this.dir} failed`);
    } finally {
      seg.release();
    }
  }

  async offsetForTimestamp(timestamp: number): Promise<number | null> {
    this.checkReadable();
    for (const seg of this.segments.slice()) {
      if (seg.maxTimestamp < timestamp || seg.endOffset <= this.logStart || !seg.acquire()) continue;
      try {
        const from = Math.max(seg.base + seg.timeIndex.startRelFor(timestamp), this.logStart);
        if (from >= seg.endOffset) continue;
        const position = await this.locate(seg, from);
        let found: number | null = null;
        await walkHeaders(seg.handle, position, seg.bytes, (h) => {
          if (h.maxTimestamp < timestamp || h.baseOffset + h.lastOffsetDelta < this.logStart) return true;
          found = Math.max(h.baseOffset, this.logStart);
          return false;
        });
        if (found !== null) return found;
      } catch (err) {
        throw toStorageError(err, `searching ${this.dir} by timestamp failed`);
      } finally {
        seg.release();
      }
    }
    // Batches not yet committed to a segment are only in the tail cache.
    const committedEnd = this.active.endOffset;
    for (let i = this.tail.find(committedEnd); i >= 0 && i < this.tail.end(); i++) {
      const b = this.tail.at(i)!;
      if (b.maxTimestamp >= timestamp) return Math.max(b.base, this.logStart);
    }
    return null;
  }

  async scanHeaders(fromOffset: number, visit: (h: BatchHeader) => void): Promise<void> {
    this.checkReadable();
    let cursor = Math.max(fromOffset, this.logStart);
    while (cursor < this.logEnd) {
      const cacheStart = this.tail.firstBase();
      if (cacheStart !== null && cursor >= cacheStart) {
        // Synchronous from here to the end: nothing can change under the walk.
        for (let i = this.tail.find(cursor); i >= 0 && i < this.tail.end(); i++) visit(readBatchHeader(this.tail.at(i)!.buf));
        return;
      }
      // Older than the cache means committed, so the segment holds batches past the cursor.
      const seg = this.segmentFor(cursor);
      const from = cursor;
      // An exception from `visit` is the caller's, not a storage failure: it passes through as is.
      let visitorFailure: { error: unknown } | null = null;
      this.pin(seg);
      try {
        const position = await this.locate(seg, from);
        await walkHeaders(seg.handle, position, seg.bytes, (h) => {
          const next = h.baseOffset + h.lastOffsetDelta + 1;
          try {
            if (next > from) visit(h);
          } catch (error) {
            visitorFailure = { error };
            return false;
          }
          cursor = next;
          return true;
        });
      } catch (err) {
        throw toStorageError(err, `scanning headers of ${this.dir} failed`);
      } finally {
        seg.release();
      }
      if (visitorFailure !== null) {
        const { error } = visitorFailure as { error: unknown };
        throw error instanceof Error ? error : new Error(String(error));
      }
      if (cursor <= from) throw new StorageError('FLOE_ERR_STORAGE_CORRUPT', `${this.dir}: segment ${seg.base} holds no batch at offset ${from}`);
    }
  }

  // ---------------------------------------------------------------- retention

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.maintenance.then(task);
    this.maintenance = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async advanceLogStart(offset: number): Promise<void> {
    this.checkReadable();
    return this.serialize(async () => {
      if (offset <= this.logStart) return;
      if (offset > this.hw) throw new OffsetOutOfRangeError(offset, this.logStart, this.hw);
      try {
        await this.logStartCheckpoint.write(offset);
        this.logStart = offset;
        let n = 0;
        while (n < this.segments.length - 1 && this.segments[n + 1]!.base <= offset) n++;
        await this.removeOldest(n);
      } catch (err) {
        throw toStorageError(err, `advancing the log start of ${this.dir} failed`);
      }
    });
  }

  async maintain(nowMs: number): Promise<void> {
    this.checkReadable();
    return this.serialize(async () => {
      const { retentionMs, retentionBytes } = this.config;
      let size = this.totalBytes;
      let n = 0;
      // Oldest first, never the active segment, stopping at the first one to keep.
      for (; n < this.segments.length - 1; n++) {
        const seg = this.segments[n]!;
        const belowStart = this.segments[n + 1]!.base <= this.logStart;
        const expired = retentionMs >= 0 && seg.maxTimestamp >= 0 && nowMs - seg.maxTimestamp > retentionMs;
        const oversize = retentionBytes >= 0 && size - seg.bytes >= retentionBytes;
        if (!belowStart && !expired && !oversize) break;
        size -= seg.bytes;
      }
      try {
        if (n > 0) {
          const newStart = Math.max(this.logStart, this.segments[n]!.base);
          // The log start is durable before any file goes, so a crash in between cannot
          // bring deleted records back.
          await this.logStartCheckpoint.write(newStart);
          this.logStart = newStart;
          await this.removeOldest(n);
        }
      } catch (err) {
        throw toStorageError(err, `retention of ${this.dir} failed`);
      }
      if (this.state === 'open') await this.requestSync(false, true);
    });
  }

  private async removeOldest(count: number): Promise<void> {
    if (count === 0) return;
    const victims = this.segments.splice(0, count);
    for (const v of victims) this.totalBytes -= v.bytes;
    for (const v of victims) {
      await v.retire();
      await v.removeFiles(this.fs);
    }
    await this.fs.syncDir(this.dir);
  }

  // ---------------------------------------------------------------- replication

  /** The high watermark last stored by checkpointHighWatermark (null: never), at most the log end. */
  storedHighWatermark(): number | null {
    return this.storedHw;
  }

  /**
   * Durably stores the replicated high watermark (capped at the log end): where this
   * replica starts checking its log against a leader's after a restart. Serialized with
   * truncation, which lowers it.
   */
  async checkpointHighWatermark(offset: number): Promise<void> {
    this.checkReadable();
    return this.serialize(async () => {
      const value = Math.min(offset, this.logEnd);
      try {
        await this.highWatermarkCheckpoint.write(value);
      } catch (err) {
        throw toStorageError(err, `storing the high watermark of ${this.dir} failed`);
      }
      this.storedHw = value;
    });
  }

  /**
   * Removes every batch at or after the one containing `offset`, durably (see the top of
   * this file for the crash argument), and resolves with the new log end: `offset` when it
   * is a batch boundary, else the base of the batch containing it. An offset at or beyond
   * the log end changes nothing; one at or below the log start empties the log (which
   * then restarts at `offset`, or at the log start when the batch containing `offset`
   * began before it). Appends are refused until it resolves. Rejects with StorageError.
   */
  async truncateTo(offset: number): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`truncateTo(${offset})`);
    this.checkReadable();
    return this.exclusively(async () => {
      if (offset >= this.logEnd) return this.logEnd;
      if (offset <= this.logStart) return this.startFreshAt(offset);
      const cut = await this.cutPoint(offset);
      if (cut.boundary <= this.logStart) return this.startFreshAt(this.logStart);
      await this.lowerCheckpoints(cut.boundary);
      await this.removeNewest((s) => s.base >= cut.boundary);
      if (cut.position > 0) {
        await this.cutSegment(cut.segment, cut.position, cut.boundary);
      } else {
        // The cut fell on a segment's first batch: that segment is gone, and a fresh
        // active segment continues the log there.
        await this.pushSegment(cut.boundary);
      }
      this.afterTruncation(cut.boundary);
      return cut.boundary;
    });
  }

  /**
   * Empties the log and restarts it at `offset` (log start and end), durably: what a
   * follower does when the leader no longer has the offsets it would fetch from. Appends
   * are refused until it resolves. Rejects with StorageError.
   */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`truncateFullyAndStartAt(${offset})`);
    this.checkReadable();
    return this.exclusively(async () => {
      await this.startFreshAt(offset);
    });
  }

  /**
   * Runs `task` with the writer idle, serialized with retention. Appends are refused from
   * the call on (not only once it runs), so that none can slip in between.
   */
  private exclusively<T>(task: () => Promise<T>): Promise<T> {
    this.truncating++;
    return this.serialize(async () => {
      if (this.state !== 'open') throw new StorageError('FLOE_ERR_STORAGE_CLOSED', `log ${this.dir} is closed`);
      // Behind every queued group: when it settles the writer is idle, and every committed
      // byte is synced (a cut segment is then the only unsynced change).
      await this.requestSync(true, true);
      return await task();
    })
      .catch((err: unknown) => {
        throw toStorageError(err, `truncating ${this.dir} failed`);
      })
      .finally(() => {
        this.truncating--;
      });
  }

  /** Where a truncation to `offset` (inside the log, above its start) cuts: the containing batch's start. */
  private async cutPoint(offset: number): Promise<{ segment: Segment; position: number; boundary: number }> {
    const seg = this.segmentFor(offset);
    if (seg.base === offset) return { segment: seg, position: 0, boundary: offset };
    const position = await this.locate(seg, offset);
    if (position >= seg.bytes) throw corrupt(`${this.dir}: segment ${seg.base} ends at ${seg.endOffset}, before offset ${offset}`);
    let boundary = -1;
    await walkHeaders(seg.handle, position, seg.bytes, (h) => {
      boundary = h.baseOffset;
      return false;
    });
    if (boundary < 0 || boundary > offset) throw corrupt(`${this.dir}: no batch holds offset ${offset} in segment ${seg.base}`);
    return { segment: seg, position, boundary };
  }

  /** First steps of every truncation: nothing at or above `end` is trusted or claimed after a crash. */
  private async lowerCheckpoints(end: number): Promise<void> {
    if (this.storedHw !== null && this.storedHw > end) {
      await this.highWatermarkCheckpoint.write(end);
      this.storedHw = end;
    }
    const rp = this.recoveryCheckpoint.value;
    if (rp === null || rp > end) await this.recoveryCheckpoint.write(end);
  }

  /** Deletes the newest segments while `doomed` says so, each deletion durable before the next. */
  private async removeNewest(doomed: (s: Segment) => boolean): Promise<void> {
    while (this.segments.length > 0 && doomed(this.segments.at(-1)!)) {
      const seg = this.segments.pop()!;
      this.totalBytes -= seg.bytes;
      await seg.retire();
      await seg.removeFiles(this.fs);
      await this.fs.syncDir(this.dir);
    }
  }

  /** Creates an empty segment at `base` and makes it the active one, durably. */
  private async pushSegment(base: number): Promise<void> {
    const seg = await Segment.create(this.fs, this.dir, base, this.clock.now(), this.config.indexIntervalBytes);
    this.segments.push(seg);
    await this.fs.syncDir(this.dir);
  }

  /**
   * Cuts `seg` (now the newest segment) at `position`, where the batch starting at
   * `boundary` begins: rebuilds its in-memory state from its last usable index entry,
   * rewrites its index files, then truncates and fdatasyncs the log file.
   */
  private async cutSegment(seg: Segment, position: number, boundary: number): Promise<void> {
    const o = seg.offsetIndex;
    const t = seg.timeIndex;
    const rel = boundary - seg.base;
    // Resume at the last offset entry before the cut that the time index also covers, so
    // the running maximum timestamp is that time entry's plus what the walk finds.
    let from = { position: 0, offset: seg.base };
    let maxTimestamp = -1;
    let keepOffsetEntries = 0;
    let keepTimeEntries = 0;
    const lastTime = t.countUpToRel(rel) - 1;
    if (lastTime >= 0) {
      const i = Math.min(o.floor(t.relAt(lastTime)), o.countBelowPosition(position) - 1);
      if (i >= 0) {
        from = { position: o.posAt(i), offset: seg.base + o.relAt(i) };
        maxTimestamp = t.timestampAt(lastTime);
        keepOffsetEntries = i + 1;
        keepTimeEntries = t.countUpToRel(o.relAt(i));
      }
    }
    o.truncate(keepOffsetEntries);
    t.truncate(keepTimeEntries);
    seg.resumeAt(from.position, from.offset, maxTimestamp);
    if (from.position < position) {
      await walkHeaders(seg.handle, from.position, position, (h, at) => {
        seg.noteBatch(h.baseOffset, h.baseOffset + h.lastOffsetDelta + 1, at, h.sizeBytes, h.maxTimestamp);
        return true;
      });
    }
    if (seg.endOffset !== boundary || seg.bytes !== position) {
      throw corrupt(`${seg.path(SegmentFile.LOG)}: batches before position ${position} end at offset ${seg.endOffset}, not ${boundary}`);
    }
    await seg.rewriteIndexes(this.fs);
    await seg.handle.truncate(position);
    await seg.handle.datasync();
    seg.markSynced();
  }

  /** Empties the log and restarts it at `offset` (inside `exclusively`). Resolves with `offset`. */
  private async startFreshAt(offset: number): Promise<number> {
    await this.lowerCheckpoints(offset);
    // A log start beyond the surviving end makes recovery restart the log empty there, so
    // a crash after this point but before the last deletion loses nothing it should keep.
    await this.logStartCheckpoint.write(offset);
    this.logStart = offset;
    await this.removeNewest(() => true);
    await this.pushSegment(offset);
    // Nothing below `offset` is left here, and the leader's high watermark is at least its
    // log start: the stored high watermark moves to the new start, so that a restart does
    // not truncate an empty log again.
    if (this.storedHw !== offset) {
      await this.highWatermarkCheckpoint.write(offset);
      this.storedHw = offset;
    }
    this.afterTruncation(offset);
    return offset;
  }

  /** The in-memory side of a truncation to `end`: the active segment, the tail cache, the counters. */
  private afterTruncation(end: number): void {
    this.active = this.segments.at(-1)!;
    this.logEnd = end;
    this.hw = end;
    this.tail.truncateFrom(end);
    this.totalBytes = this.segments.reduce((n, s) => n + s.bytes, 0);
    const seg = this.active;
    this.projected = { bytes: seg.bytes, base: seg.base, rollAtMs: seg.rollAtMs };
  }

  // ---------------------------------------------------------------- lifecycle

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    this.cancelFlushTimer?.();
    this.cancelFlushTimer = null;
    await this.maintenance;
    let failure: StorageError | null = null;
    // Behind every queued group: when it settles, the writer has nothing left to do.
    const flushed = this.requestSync(true, true);
    try {
      await flushed;
    } catch (err) {
      if (this.fatal === null) failure = toStorageError(err, `closing ${this.dir} failed`);
    }
    this.state = 'closed';
    this.hwListeners.clear();
    for (const seg of this.segments) {
      try {
        await seg.retire();
      } catch (err) {
        failure ??= toStorageError(err, `closing ${this.dir} failed`);
      }
    }
    if (failure !== null) throw failure;
  }

  async destroy(): Promise<void> {
    try {
      await this.close();
    } catch (err) {
      this.logger.warn({ err, dir: this.dir }, 'close before destroy failed; removing the files anyway');
    }
    try {
      const checkpoints = new Set<string>(Object.values(CheckpointFile));
      for (const name of await this.fs.readdir(this.dir)) {
        if (SEGMENT_FILE_PATTERN.test(name) || checkpoints.has(name) || TEMP_FILE_PATTERN.test(name)) {
          await unlinkIfPresent(this.fs, path.join(this.dir, name));
        }
      }
      await this.fs.syncDir(this.dir);
    } catch (err) {
      throw toStorageError(err, `removing ${this.dir} failed`);
    }
  }
}
