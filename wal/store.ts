/**
 * WalStore: one WAL node's storage engine, built on the FileSystem seam so that crash
 * tests run on SimulatedFileSystem. It performs no network I/O.
 *
 * Layout of the data directory:
 *   00000000000000000001.wal …   segments, shared by every log on the node (one fdatasync
 *                                commits the appends of all logs), records as in record.ts
 *   checkpoint.json              per-log fence epoch, trim point and truncation marker
 *
 * Guarantees:
 *  - An append is answered only after the fdatasync that covers it (group commit: the
 *    appends that arrive while one commit runs, or within groupCommitDelayMs, share the
 *    next write and fdatasync). Reads and log state see only durable entries.
 *  - A fence, truncation or trim is answered only after every append accepted before it
 *    is durable and the checkpoint holding it is durable: a recoverer that fenced a node
 *    and then reads it sees every entry the node will ever acknowledge at an older epoch.
 *  - Appends with an epoch older than the log's fence are refused (WalFencedError).
 *  - Restart recovery parses every segment; a torn tail (only the newest segment holding
 *    data can have one, because a segment is rolled only between fully synced commits) is
 *    cut off with truncate + fdatasync before anything new is written, and writing then
 *    continues in a fresh segment. So bytes of a truncated entry can never come back: they
 *    are gone from the file before any later write exists that a later crash could keep.
 *    A bad record in an older segment is corruption, and the node refuses to start.
 *  - For each (log, entry id) the node keeps the version with the newest epoch (at equal
 *    epochs the later one); that is the version reads return.
 *  - A trim deletes whole segments once every entry in them is below its log's trim point.
 *  - Appends that would take the segments past diskLimitBytes are refused with
 *    WalDiskFullError (a clear, typed error), as is a write the disk itself refuses with
 *    ENOSPC; the node keeps serving reads, fences and trims so that space can be freed.
 *  - Any other write or fdatasync failure makes the store refuse all further writes
 *    (WalStorageError) and calls onFatal: after a failed fdatasync the kernel may have
 *    dropped the dirty pages, so only a restart (and its recovery) knows what is on disk.
 */
import * as path from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Clock } from '../src/common/clock.ts';
import { systemClock } from '../src/common/clock.ts';
import type { FileHandle, FileSystem } from '../src/common/fs.ts';
import { checkEntryId, checkEpoch, encodeLogId, payloadParts } from './codec.ts';
import { checkpointFileName, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
import type { LogCheckpoint } from './checkpoint.ts';
import type { Deferred } from './deferred.ts';
import { deferred } from './deferred.ts';
import {
  asError,
  WalClosedError,
  WalCorruptError,
  WalDiskFullError,
  WalEntryTooLargeError,
  WalFencedError,
  WalInvalidArgumentError,
  WalStorageError,
} from './errors.ts';
import { entryBytesMax, groupCommitBytesMax, groupCommitDelayMsMax, readBytesMax, segmentBytesDefault, segmentBytesMin } from './limits.ts';
import type { WalMetrics } from './metrics.ts';
import { encodeRecordHead, parseOne, parseRecords, recordBytes } from './record.ts';

export interface WalStoreOptions {
  dataDir: string;
  fs: FileSystem;
  clock?: Clock;
  /** How long the first append of a commit waits for company before the write and fdatasync (0: the next turn of the event loop). */
  groupCommitDelayMs?: number;
  /** A segment is rolled once a commit would grow it past this. */
  segmentBytes?: number;
  /** Appends that would take the segments past this are refused with WalDiskFullError. */
  diskLimitBytes?: number;
  metrics?: WalMetrics;
  logger?: Logger;
  /** Called once when a storage failure stops the store from taking writes. */
  onFatal?: (err: Error) => void;
}

export interface LogState {
  fenceEpoch: number;
  trimmedUpTo: number;
  truncEpoch: number;
  truncFrom: number;
  /** One past the highest entry id held (0 when none). */
  endEntryId: number;
  /** Entries held (ids may have gaps). */
  entryCount: number;
}

export interface StoredEntry {
  entryId: number;
  epoch: number;
  /** A fresh buffer (or a view of one) owned by the caller. */
  payload: Buffer;
}

export interface ReadResult {
  entries: StoredEntry[];
  /** Whether entries with larger ids exist beyond this answer. */
  more: boolean;
  state: LogState;
}

interface Segment {
  seq: number;
  path: string;
  handle: FileHandle;
  /** Bytes of whole, durable records. */
  size: number;
  /** For each log with records here, the highest entry id among them (decides when a trim frees the segment). */
  maxIds: Map<string, number>;
}

interface Location {
  epoch: number;
  segment: Segment;
  position: number;
  bytes: number;
}

interface LogMeta extends LogCheckpoint {
  logId: string;
  idBytes: Buffer;
  /** Entry ids held, ascending. */
  ids: number[];
  locs: Map<number, Location>;
}

interface AppendOp {
  kind: 'append';
  log: LogMeta;
  epoch: number;
  entryId: number;
  buffers: Buffer[];
  bytes: number;
  startedAt: number;
  done: Deferred<void>;
}

interface MetaOp {
  kind: 'meta';
  done: Deferred<void>;
  /** Runs after the checkpoint is durable, still inside the commit loop (segment deletion). */
  after?: () => Promise<void>;
}

type Op = AppendOp | MetaOp;

const segmentPattern = /^(\d{20})\.wal$/;

function segmentName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.wal`;
}

function isNoSpace(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'ENOSPC';
}

/** Index of the first element ≥ value in an ascending array. */
function lowerBound(a: readonly number[], value: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class WalStore {
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly clock: Clock;
  private readonly delayMs: number;
  private readonly segmentBytes: number;
  private readonly diskLimitBytes: number;
  private readonly metrics: WalMetrics | undefined;
  private readonly log: Logger;
  private readonly onFatal: ((err: Error) => void) | undefined;

  private readonly logs = new Map<string, LogMeta>();
  private readonly segments = new Map<number, Segment>();
  private active!: Segment;
  private usedBytes = 0;

  private queue: Op[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private cancelTimer: (() => void) | null = null;
  private committing = false;
  private idle: Deferred<void> | null = null;
  private checkpointDirty = false;
  private failure: Error | null = null;
  private closed = false;

  private constructor(opts: WalStoreOptions) {
    this.fs = opts.fs;
    this.dir = opts.dataDir;
    this.clock = opts.clock ?? systemClock;
    this.delayMs = opts.groupCommitDelayMs ?? 0;
    this.segmentBytes = opts.segmentBytes ?? segmentBytesDefault;
    this.diskLimitBytes = opts.diskLimitBytes ?? Infinity;
    this.metrics = opts.metrics;
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.onFatal = opts.onFatal;
    if (!(this.delayMs >= 0 && this.delayMs <= groupCommitDelayMsMax)) {
      throw new WalInvalidArgumentError(`groupCommitDelayMs must be in [0, ${groupCommitDelayMsMax}], got ${this.delayMs}`);
    }
    if (!(this.segmentBytes >= segmentBytesMin)) throw new WalInvalidArgumentError(`segmentBytes must be ≥ ${segmentBytesMin}, got ${this.segmentBytes}`);
    if (!(this.diskLimitBytes > 0)) throw new WalInvalidArgumentError(`diskLimitBytes must be positive, got ${this.diskLimitBytes}`);
  }

  /** Opens (creating if needed) the store in `dataDir`, recovering whatever a crash left. */
  static async open(opts: WalStoreOptions): Promise<WalStore> {
    const store = new WalStore(opts);
    await store.recover();
    return store;
  }

  // ---------------------------------------------------------------------------------------
  // Recovery

  private async recover(): Promise<void> {
    const fs = this.fs;
    await fs.mkdirp(this.dir);
    const names = await fs.readdir(this.dir);
    for (const n of names) {
      // An interrupted checkpoint write leaves its temporary file; the old checkpoint stands.
      if (n.startsWith(`${checkpointFileName}.tmp`)) await fs.unlink(path.join(this.dir, n));
    }
    if (names.includes(checkpointFileName)) {
      const file = path.join(this.dir, checkpointFileName);
      for (const [logId, cp] of decodeCheckpoint(await fs.readFile(file), file)) Object.assign(this.logFor(logId), cp);
    }
    const seqs = names.flatMap((n) => {
      const m = segmentPattern.exec(n);
      return m ? [Number(m[1])] : [];
    });
    seqs.sort((a, b) => a - b);

    const loaded: { seq: number; file: string; data: Buffer }[] = [];
    for (const seq of seqs) {
      const file = path.join(this.dir, segmentName(seq));
      loaded.push({ seq, file, data: await fs.readFile(file) });
    }
    // Only the newest segment holding data may end in a torn write.
    let lastWithData = -1;
    loaded.forEach((s, i) => {
      if (s.data.length > 0) lastWithData = i;
    });

    for (let i = 0; i < loaded.length; i++) {
      const { seq, file, data } = loaded[i]!;
      const handle = await fs.open(file, 'write');
      const parsed = parseRecords(data);
      if (parsed.tornReason !== null) {
        if (i < lastWithData) {
          await handle.close();
          throw new WalCorruptError(
            `segment ${file} holds ${parsed.tornReason} at byte ${parsed.validBytes} but newer segments follow it: refusing to start on corrupt data`,
          );
        }
        this.log.warn({ segment: file, validBytes: parsed.validBytes, droppedBytes: data.length - parsed.validBytes, reason: parsed.tornReason }, 'truncating a torn tail');
        // The cut must be durable before anything new is written anywhere (see the header).
        await handle.truncate(parsed.validBytes);
        await handle.datasync();
      }
      const seg: Segment = { seq, path: file, handle, size: parsed.validBytes, maxIds: new Map() };
      this.segments.set(seq, seg);
      this.usedBytes += seg.size;
      for (const r of parsed.records) {
        const log = this.logFor(r.logId);
        if (r.epoch > log.fenceEpoch) log.fenceEpoch = r.epoch;
        seg.maxIds.set(r.logId, Math.max(seg.maxIds.get(r.logId) ?? -1, r.entryId));
        this.indexEntry(log, r.entryId, r.epoch, seg, r.offset, r.bytes);
      }
    }
    const nextSeq = (seqs.length > 0 ? seqs[seqs.length - 1]! : 0) + 1;
    this.active = await this.createSegment(nextSeq);
    await this.deleteObsoleteSegments();
    this.updateGauges();
  }

  private async createSegment(seq: number): Promise<Segment> {
    const file = path.join(this.dir, segmentName(seq));
    const handle = await this.fs.open(file, 'write');
    // The file's directory entry must be durable before any entry in it is acknowledged.
    await this.fs.syncDir(this.dir);
    const seg: Segment = { seq, path: file, handle, size: 0, maxIds: new Map() };
    this.segments.set(seq, seg);
    return seg;
  }

  // ---------------------------------------------------------------------------------------
  // The index

  private logFor(logId: string): LogMeta {
    let log = this.logs.get(logId);
    if (!log) {
      log = { logId, idBytes: encodeLogId(logId), fenceEpoch: 0, trimmedUpTo: 0, truncEpoch: 0, truncFrom: 0, ids: [], locs: new Map() };
      this.logs.set(logId, log);
    }
    return log;
  }

  /** Records where a durable version of an entry lives, unless a newer one, a trim or a truncation marker supersedes it. */
  private indexEntry(log: LogMeta, entryId: number, epoch: number, segment: Segment, position: number, bytes: number): void {
    if (entryId < log.trimmedUpTo) return;
    if (epoch < log.truncEpoch && entryId >= log.truncFrom) return;
    const existing = log.locs.get(entryId);
    if (existing && existing.epoch > epoch) return;
    log.locs.set(entryId, { epoch, segment, position, bytes });
    if (existing) return;
    const ids = log.ids;
    if (ids.length === 0 || ids[ids.length - 1]! < entryId) ids.push(entryId);
    else ids.splice(lowerBound(ids, entryId), 0, entryId);
  }

  private unindexBelow(log: LogMeta, upTo: number): void {
    const n = lowerBound(log.ids, upTo);
    for (const id of log.ids.splice(0, n)) log.locs.delete(id);
  }

  private unindexTruncated(log: LogMeta): void {
    const from = lowerBound(log.ids, log.truncFrom);
    const kept: number[] = log.ids.slice(0, from);
    for (let i = from; i < log.ids.length; i++) {
      const id = log.ids[i]!;
      if (log.locs.get(id)!.epoch < log.truncEpoch) log.locs.delete(id);
      else kept.push(id);
    }
    log.ids = kept;
  }

  // ---------------------------------------------------------------------------------------
  // Requests

  private refuseIfUnusable(): Error | null {
    if (this.closed) return new WalClosedError('the WAL store is closed');
    if (this.failure) return new WalStorageError(`the WAL store stopped taking writes after a storage failure: ${this.failure.message}`, { cause: this.failure });
    return null;
  }

  /**
   * Appends one entry; resolves once it is durable. Rejects with WalFencedError (epoch older
   * than the log's fence), WalDiskFullError, WalStorageError, WalClosedError, or
   * WalEntryTooLargeError / WalInvalidArgumentError for arguments outside the limits.
   * An entry below the log's trim point is acknowledged without being stored.
   * The store keeps the payload buffers until the write: the caller must not reuse them.
   */
  append(logId: string, epoch: number, entryId: number, payload: Buffer | readonly Buffer[]): Promise<void> {
    try {
      checkEpoch(epoch, 'epoch');
      checkEntryId(entryId, 'entryId');
      const unusable = this.refuseIfUnusable();
      if (unusable) return Promise.reject(unusable);
      const { parts, bytes: payloadBytes } = payloadParts(payload);
      if (payloadBytes > entryBytesMax) throw new WalEntryTooLargeError(`an entry of ${payloadBytes} bytes exceeds entryBytesMax (${entryBytesMax})`);
      const log = this.logFor(logId);
      if (epoch < log.fenceEpoch) {
        this.metrics?.fencedAppends.inc();
        return Promise.reject(new WalFencedError(`log ${logId} is fenced at epoch ${log.fenceEpoch}; an append at epoch ${epoch} is refused`, log.fenceEpoch));
      }
      if (entryId < log.trimmedUpTo) return Promise.resolve();
      const bytes = recordBytes(log.idBytes.length, payloadBytes);
      if (this.usedBytes + this.queuedBytes + bytes > this.diskLimitBytes) {
        this.metrics?.diskFullRejections.inc();
        return Promise.reject(
          new WalDiskFullError(
            `disk-usage limit reached: ${this.usedBytes} bytes in segments and ${this.queuedBytes} queued, an entry of ${bytes} bytes would pass the limit of ${this.diskLimitBytes} bytes; trim logs to free space`,
          ),
        );
      }
      // An append at a newer epoch raises the fence: the writer at that epoch exists only
      // after a recovery at that epoch, so older writers are superseded. It is durable
      // with the entry itself (a restart takes the newest epoch found in the segments).
      if (epoch > log.fenceEpoch) log.fenceEpoch = epoch;
      const head = encodeRecordHead(log.idBytes, epoch, entryId, parts, payloadBytes);
      const op: AppendOp = { kind: 'append', log, epoch, entryId, buffers: [head, ...parts], bytes, startedAt: this.clock.monotonic(), done: deferred() };
      this.enqueue(op);
      return op.done.promise;
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /**
   * Raises the log's fence to `epoch`, which must be newer than its current fence (a fence
   * is a recoverer's promise that its epoch is unique). Resolves, once every append
   * accepted before it is durable and the fence is too, with the log's state.
   */
  fence(logId: string, epoch: number): Promise<LogState> {
    try {
      checkEpoch(epoch, 'epoch');
      const unusable = this.refuseIfUnusable();
      if (unusable) return Promise.reject(unusable);
      const log = this.logFor(logId);
      if (epoch <= log.fenceEpoch) {
        return Promise.reject(new WalFencedError(`log ${logId} is already at epoch ${log.fenceEpoch}; a fence needs a newer epoch than ${epoch}`, log.fenceEpoch));
      }
      log.fenceEpoch = epoch;
      this.metrics?.fences.inc();
      return this.enqueueMeta().then(() => this.state(logId));
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /**
   * Records a recovery's truncation marker: entries with id ≥ fromEntryId written at an
   * epoch older than `epoch` are discarded now and after any restart. Raises the fence to
   * `epoch`; refused with WalFencedError when the log's fence is newer.
   */
  truncate(logId: string, epoch: number, fromEntryId: number): Promise<void> {
    try {
      checkEpoch(epoch, 'epoch');
      checkEntryId(fromEntryId, 'fromEntryId');
      const unusable = this.refuseIfUnusable();
      if (unusable) return Promise.reject(unusable);
      const log = this.logFor(logId);
      if (epoch < log.fenceEpoch) {
        return Promise.reject(new WalFencedError(`log ${logId} is fenced at epoch ${log.fenceEpoch}; a truncation at epoch ${epoch} is refused`, log.fenceEpoch));
      }
      log.fenceEpoch = epoch;
      if (epoch >= log.truncEpoch) {
        log.truncEpoch = epoch;
        log.truncFrom = fromEntryId;
        this.unindexTruncated(log);
        this.metrics?.truncations.inc();
      }
      return this.enqueueMeta();
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /**
   * Declares entries with id < upTo no longer needed (they are in object storage); whole
   * segments holding only such entries are deleted. Refused with WalFencedError when
   * `epoch` is older than the log's fence, so a superseded writer cannot trim entries a
   * recoverer still has to read.
   */
  trim(logId: string, epoch: number, upTo: number): Promise<void> {
    try {
      checkEpoch(epoch, 'epoch');
      checkEntryId(upTo, 'upTo');
      const unusable = this.refuseIfUnusable();
      if (unusable) return Promise.reject(unusable);
      const log = this.logFor(logId);
      if (epoch < log.fenceEpoch) {
        return Promise.reject(new WalFencedError(`log ${logId} is fenced at epoch ${log.fenceEpoch}; a trim at epoch ${epoch} is refused`, log.fenceEpoch));
      }
      if (upTo <= log.trimmedUpTo) return Promise.resolve();
      log.trimmedUpTo = upTo;
      this.unindexBelow(log, upTo);
      this.metrics?.trims.inc();
      return this.enqueueMeta(() => this.deleteObsoleteSegments());
    } catch (err) {
      return Promise.reject(asError(err));
    }
  }

  /** The log's state as of the last commit (entries not yet durable are not counted). */
  state(logId: string): LogState {
    const log = this.logs.get(logId);
    if (!log) return { fenceEpoch: 0, trimmedUpTo: 0, truncEpoch: 0, truncFrom: 0, endEntryId: 0, entryCount: 0 };
    const last = log.ids[log.ids.length - 1];
    return {
      fenceEpoch: log.fenceEpoch,
      trimmedUpTo: log.trimmedUpTo,
      truncEpoch: log.truncEpoch,
      truncFrom: log.truncFrom,
      endEntryId: last === undefined ? 0 : last + 1,
      entryCount: log.ids.length,
    };
  }

  /**
   * Reads durable entries with id ≥ fromEntryId in id order, up to `maxBytes` of records
   * but always at least one when one exists. Each record's CRC is checked again.
   */
  async read(logId: string, fromEntryId: number, maxBytes: number = readBytesMax): Promise<ReadResult> {
    checkEntryId(fromEntryId, 'fromEntryId');
    const log = this.logs.get(logId);
    const state = this.state(logId);
    if (!log) return { entries: [], more: false, state };
    // Pick the locations first, synchronously, so that later index changes do not matter.
    const picks: { entryId: number; loc: Location }[] = [];
    let total = 0;
    let i = lowerBound(log.ids, fromEntryId);
    for (; i < log.ids.length; i++) {
      const id = log.ids[i]!;
      const loc = log.locs.get(id)!;
      if (picks.length > 0 && total + loc.bytes > Math.min(maxBytes, readBytesMax)) break;
      picks.push({ entryId: id, loc });
      total += loc.bytes;
    }
    const more = i < log.ids.length;
    const entries: StoredEntry[] = [];
    // Records that lie back to back in one segment are read with one call.
    let k = 0;
    while (k < picks.length) {
      const first = picks[k]!.loc;
      let end = k + 1;
      let span = first.bytes;
      while (end < picks.length) {
        const next = picks[end]!.loc;
        if (next.segment !== first.segment || next.position !== first.position + span) break;
        span += next.bytes;
        end++;
      }
      const buf = Buffer.allocUnsafe(span);
      let got: number;
      try {
        got = await first.segment.handle.read(buf, 0, span, first.position);
      } catch (err) {
        throw new WalStorageError(`reading ${first.segment.path} failed`, { cause: err });
      }
      if (got !== span) throw new WalCorruptError(`short read of ${first.segment.path} at ${first.position}: ${got} of ${span} bytes`);
      let o = 0;
      for (let j = k; j < end; j++) {
        const { entryId, loc } = picks[j]!;
        const r = parseOne(buf, o);
        if (typeof r === 'string' || r.bytes !== loc.bytes || r.entryId !== entryId || r.logId !== logId) {
          throw new WalCorruptError(`record of ${logId}/${entryId} in ${loc.segment.path} at ${loc.position} is unreadable: ${typeof r === 'string' ? r : 'it names another entry'}`);
        }
        entries.push({ entryId, epoch: r.epoch, payload: buf.subarray(r.payloadOffset, r.payloadOffset + r.payloadBytes) });
        o += r.bytes;
      }
      k = end;
    }
    return { entries, more, state };
  }

  diskUsageBytes(): number {
    return this.usedBytes;
  }

  segmentCount(): number {
    return this.segments.size;
  }

  /** The failure that stopped the store from taking writes, if any. */
  failed(): Error | null {
    return this.failure;
  }

  /** Finishes what was accepted, then closes every file. Later calls are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.scheduled) {
      this.cancelTimer?.();
      this.cancelTimer = null;
      this.scheduled = false;
      void this.runCommits();
    }
    if (this.committing) {
      this.idle ??= deferred();
      await this.idle.promise;
    }
    for (const seg of this.segments.values()) await seg.handle.close().catch(() => undefined);
  }

  // ---------------------------------------------------------------------------------------
  // Group commit

  private enqueue(op: Op): void {
    this.queue.push(op);
    if (op.kind === 'append') this.queuedBytes += op.bytes;
    this.schedule();
  }

  private enqueueMeta(after?: () => Promise<void>): Promise<void> {
    this.checkpointDirty = true;
    const op: MetaOp = after ? { kind: 'meta', done: deferred(), after } : { kind: 'meta', done: deferred() };
    this.enqueue(op);
    return op.done.promise;
  }

  private schedule(): void {
    if (this.committing) return;
    const now = this.delayMs === 0 || this.queuedBytes >= groupCommitBytesMax;
    if (this.scheduled && !now) return;
    if (this.scheduled) this.cancelTimer?.();
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      this.cancelTimer = null;
      void this.runCommits();
    };
    if (now) {
      // setImmediate lets every request decoded from the same socket reads join the commit.
      const t = setImmediate(run);
      this.cancelTimer = () => clearImmediate(t);
    } else {
      this.cancelTimer = this.clock.setTimer(this.delayMs, run);
    }
  }

  private async runCommits(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      // Ops that arrive during a commit already waited one fdatasync: no further delay.
      while (this.queue.length > 0) await this.commit(this.takeBatch());
    } finally {
      this.committing = false;
      if (this.idle) {
        this.idle.resolve();
        this.idle = null;
      }
    }
  }

  private takeBatch(): Op[] {
    let bytes = 0;
    let n = 0;
    for (const op of this.queue) {
      if (op.kind === 'append') {
        if (n > 0 && bytes + op.bytes > groupCommitBytesMax) break;
        bytes += op.bytes;
      }
      n++;
    }
    const batch = this.queue.slice(0, n);
    this.queue = this.queue.slice(n);
    this.queuedBytes -= bytes;
    return batch;
  }

  private fail(err: unknown, what: string): Error {
    const failure = new WalStorageError(`${what} failed; the node stops taking writes until it restarts`, { cause: err });
    if (!this.failure) {
      this.failure = failure;
      this.log.error({ err }, failure.message);
      this.onFatal?.(failure);
    }
    return failure;
  }

  /** Makes one batch durable and settles its ops. Never throws. */
  private async commit(batch: Op[]): Promise<void> {
    const appends: AppendOp[] = [];
    const metas: MetaOp[] = [];
    for (const op of batch) {
      if (op.kind === 'append') appends.push(op);
      else metas.push(op);
    }
    let appendError: Error | null = this.failure;
    if (appends.length > 0 && !appendError) appendError = await this.writeAppends(appends);
    for (const a of appends) {
      if (appendError) a.done.reject(appendError);
      else {
        this.metrics?.appendLatency.observe((this.clock.monotonic() - a.startedAt) / 1000);
        a.done.resolve();
      }
    }
    if (metas.length === 0) return;
    let metaError: Error | null = this.failure;
    if (!metaError && this.checkpointDirty) {
      this.checkpointDirty = false;
      try {
        await this.fs.writeFileAtomic(path.join(this.dir, checkpointFileName), encodeCheckpoint(this.logs));
      } catch (err) {
        metaError = isNoSpace(err) ? new WalDiskFullError('the disk is full: the checkpoint could not be written', { cause: err }) : this.fail(err, 'writing the checkpoint');
        this.checkpointDirty = true;
      }
    }
    for (const m of metas) {
      if (metaError) m.done.reject(metaError);
      else m.done.resolve();
    }
    for (const m of metas) {
      if (!metaError && m.after) await m.after().catch((err: unknown) => this.log.warn({ err }, 'post-commit cleanup failed'));
    }
    this.updateGauges();
  }

  /** Writes and syncs the appends of one commit; returns the error that failed them, if any. */
  private async writeAppends(appends: AppendOp[]): Promise<Error | null> {
    let bytes = 0;
    for (const a of appends) bytes += a.bytes;
    if (this.active.size > 0 && this.active.size + bytes > this.segmentBytes) {
      try {
        // The active segment holds only synced records (commits are serial), so rolling
        // keeps "only the newest segment can be torn" true.
        this.active = await this.createSegment(this.active.seq + 1);
      } catch (err) {
        return isNoSpace(err) ? new WalDiskFullError('the disk is full: no new segment could be created', { cause: err }) : this.fail(err, 'creating a segment');
      }
    }
    const seg = this.active;
    const position = seg.size;
    const buffers: Buffer[] = [];
    for (const a of appends) for (const b of a.buffers) buffers.push(b);
    try {
      await seg.handle.write(buffers, position);
    } catch (err) {
      if (!isNoSpace(err)) return this.fail(err, `writing ${seg.path}`);
      // A write the disk refused may have left a partial record: cut it off before the
      // next commit writes behind it.
      try {
        await seg.handle.truncate(position);
      } catch (cutErr) {
        return this.fail(cutErr, `truncating ${seg.path} after ENOSPC`);
      }
      this.metrics?.diskFullRejections.inc(appends.length);
      return new WalDiskFullError(`the disk is full: writing ${bytes} bytes to ${seg.path} failed with ENOSPC`, { cause: err });
    }
    const t0 = this.clock.monotonic();
    try {
      await seg.handle.datasync();
    } catch (err) {
      return this.fail(err, `fdatasync of ${seg.path}`);
    }
    this.metrics?.fsyncLatency.observe((this.clock.monotonic() - t0) / 1000);
    this.metrics?.groupCommitEntries.observe(appends.length);
    this.metrics?.appendEntries.inc(appends.length);
    this.metrics?.appendBytes.inc(bytes);
    seg.size = position + bytes;
    this.usedBytes += bytes;
    let p = position;
    for (const a of appends) {
      seg.maxIds.set(a.log.logId, Math.max(seg.maxIds.get(a.log.logId) ?? -1, a.entryId));
      this.indexEntry(a.log, a.entryId, a.epoch, seg, p, a.bytes);
      p += a.bytes;
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------
  // Trimming

  private isObsolete(seg: Segment): boolean {
    for (const [logId, maxId] of seg.maxIds) {
      const log = this.logs.get(logId);
      if (!log || maxId >= log.trimmedUpTo) return false;
    }
    return true;
  }

  /** Deletes every segment but the active one whose entries are all trimmed. */
  private async deleteObsoleteSegments(): Promise<void> {
    let deleted = 0;
    for (const seg of [...this.segments.values()]) {
      if (seg === this.active || !this.isObsolete(seg)) continue;
      this.segments.delete(seg.seq);
      this.usedBytes -= seg.size;
      await seg.handle.close().catch(() => undefined);
      await this.fs.unlink(seg.path);
      deleted++;
    }
    if (deleted > 0) {
      await this.fs.syncDir(this.dir);
      this.metrics?.segmentsDeleted.inc(deleted);
      this.log.info({ deleted }, 'deleted trimmed segments');
    }
    this.updateGauges();
  }

  private updateGauges(): void {
    if (!this.metrics) return;
    this.metrics.diskUsage.set(this.usedBytes);
    this.metrics.segments.set(this.segments.size);
    this.metrics.logs.set(this.logs.size);
  }
}
