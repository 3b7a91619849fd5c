/**
 * The controller's durable metadata: an append-only log of entries (each one change,
 * opaque bytes to this module) plus periodic snapshots, in one directory.
 *
 *   log-<first seq>.seg        frames, one per entry, in seq order
 *   snapshot-<seq>.snap        one frame holding the state after entry <seq>
 *
 * A frame is `u32 payload bytes | u32 CRC-32C of (seq, payload) | u64 seq | payload`.
 *
 * Appends are group-committed: every append made while an fsync is in flight is
 * written with the next single writev + fdatasync, so the cost per change stays near one
 * fsync shared by all changes of the moment (the object index will commit several times
 * per second per broker through here). `append` resolves only when its entry is durable.
 *
 * Snapshots: when due, the state after the last appended entry S is written atomically
 * (temp file, fsync, rename, fsync dir) while new appends already go to a fresh segment
 * `log-<S+1>`; once the snapshot is durable, older segments and snapshots are deleted.
 *
 * Faults this file handles on open (what kill -9 or power loss can leave):
 *  - a torn or zero-filled tail of the last segment (an append not yet fsynced): the
 *    valid prefix is kept, the tail is truncated durably and reported;
 *  - a newer segment that was created but never received a durable frame;
 *  - leftovers of an interrupted atomic snapshot write (temp files): deleted;
 *  - segments wholly covered by the snapshot (deleted or not before the crash): skipped.
 * A bad frame followed by valid frames in a later segment, or a gap in the sequence,
 * cannot come from a crash: MetadataLogCorruptError.
 * A failed write or fsync is final (MetadataLogWriteError for that append and every
 * later one): after an fsync error the page cache state is unknown, so the process must
 * restart and recover from what is on disk.
 */
import * as path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import type { FileHandle, FileSystem } from '../src/common/fs.ts';
import { MetadataLogCorruptError, MetadataLogWriteError } from './errors.ts';
import { ControllerLimits } from './limits.ts';

const HEADER_BYTES = 16;
const SEGMENT = /^log-(\d{20})\.seg$/;
const SNAPSHOT = /^snapshot-(\d{20})\.snap$/;

export interface LogEntry {
  seq: number;
  payload: Buffer;
}

export interface Recovered {
  snapshot: LogEntry | null;
  /** Entries after the snapshot, in order. */
  entries: LogEntry[];
  /** Bytes of torn tail cut off the last segment (0 after a clean stop). */
  truncatedBytes: number;
}

export interface MetadataLogOptions {
  fs: FileSystem;
  dir: string;
  /** Monotonic milliseconds, to time fsyncs. */
  monotonic: () => number;
  /** Called after each group commit. */
  onCommit?: (c: { entries: number; bytes: number; fsyncSeconds: number }) => void;
  snapshotEveryEntries?: number;
  snapshotEveryBytes?: number;
}

export function encodeFrame(seq: number, payload: Buffer): Buffer {
  if (payload.length === 0 || payload.length > ControllerLimits.logEntryBytesMax) {
    throw new RangeError(`a metadata log entry must have 1 to ${ControllerLimits.logEntryBytesMax} bytes, got ${payload.length}`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeBigUInt64BE(BigInt(seq), 8);
  payload.copy(frame, HEADER_BYTES);
  frame.writeUInt32BE(crc32c(frame.subarray(8)) >>> 0, 4);
  return frame;
}

/** The frame at `pos`, or null when the bytes there are not a whole valid frame. */
export function decodeFrame(buf: Buffer, pos: number): (LogEntry & { end: number }) | null {
  if (buf.length - pos < HEADER_BYTES) return null;
  const length = buf.readUInt32BE(pos);
  if (length === 0 || length > ControllerLimits.logEntryBytesMax) return null;
  const end = pos + HEADER_BYTES + length;
  if (end > buf.length) return null;
  if ((crc32c(buf.subarray(pos + 8, end)) >>> 0) !== buf.readUInt32BE(pos + 4)) return null;
  return { seq: Number(buf.readBigUInt64BE(pos + 8)), payload: buf.subarray(pos + HEADER_BYTES, end), end };
}

const pad = (seq: number): string => String(seq).padStart(20, '0');

interface Segment {
  firstSeq: number;
  file: string;
  handle: FileHandle | null;
  /** Bytes of valid frames written (where the next frame goes). */
  size: number;
  /** Whether the segment's directory entry is known durable. */
  linked: boolean;
}

interface Pending {
  seq: number;
  frame: Buffer;
  segment: Segment;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

export class MetadataLog {
  private segments: Segment[];
  private active: Segment;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private failure: MetadataLogWriteError | null = null;
  private last: number;
  private tail: Promise<number>;
  private sinceSnapshot: { entries: number; bytes: number };
  private snapshotting: Promise<void> | null = null;
  private readonly everyEntries: number;
  private readonly everyBytes: number;

  private constructor(
    private readonly opts: MetadataLogOptions,
    segments: Segment[],
    lastSeq: number,
    sinceSnapshot: { entries: number; bytes: number },
  ) {
    this.last = lastSeq;
    this.tail = Promise.resolve(lastSeq);
    this.segments = segments;
    this.sinceSnapshot = sinceSnapshot;
    const active = segments[segments.length - 1];
    if (active) this.active = active;
    else {
      this.active = this.newSegment(lastSeq + 1);
      this.segments.push(this.active);
    }
    this.everyEntries = opts.snapshotEveryEntries ?? ControllerLimits.snapshotEveryEntries;
    this.everyBytes = opts.snapshotEveryBytes ?? ControllerLimits.snapshotEveryBytes;
  }

  private newSegment(firstSeq: number): Segment {
    return { firstSeq, file: path.join(this.opts.dir, `log-${pad(firstSeq)}.seg`), handle: null, size: 0, linked: false };
  }

  /** Opens the log in `dir` (creating it), recovering what a crash left behind. */
  static async open(opts: MetadataLogOptions): Promise<{ log: MetadataLog; recovered: Recovered }> {
    const { fs, dir } = opts;
    await fs.mkdirp(dir);
    const names = await fs.readdir(dir);
    for (const n of names) if (n.includes('.tmp')) await fs.unlink(path.join(dir, n));

    let snapshot: LogEntry | null = null;
    const snapshots = names.flatMap((n) => (SNAPSHOT.exec(n) ? [{ n, seq: Number(SNAPSHOT.exec(n)?.[1]) }] : [])).sort((a, b) => b.seq - a.seq);
    for (const s of snapshots) {
      const buf = await fs.readFile(path.join(dir, s.n));
      const f = decodeFrame(buf, 0);
      if (f && f.end === buf.length && f.seq === s.seq) {
        snapshot = { seq: f.seq, payload: Buffer.from(f.payload) };
        break;
      }
    }
    if (snapshots.length > 0 && !snapshot) throw new MetadataLogCorruptError(`no readable snapshot among ${snapshots.map((s) => s.n).join(', ')} in ${dir}`);

    const segFiles = names.flatMap((n) => (SEGMENT.exec(n) ? [{ n, firstSeq: Number(SEGMENT.exec(n)?.[1]) }] : [])).sort((a, b) => a.firstSeq - b.firstSeq);
    const bodies: Buffer[] = [];
    for (const s of segFiles) bodies.push(await fs.readFile(path.join(dir, s.n)));

    const entries: LogEntry[] = [];
    let lastSeq = snapshot?.seq ?? 0;
    let truncatedBytes = 0;
    const segments: Segment[] = [];
    for (let i = 0; i < segFiles.length; i++) {
      const s = segFiles[i];
      const buf = bodies[i];
      if (!s || !buf) break;
      const file = path.join(dir, s.n);
      let pos = 0;
      for (let f = decodeFrame(buf, pos); f; f = decodeFrame(buf, pos)) {
        if (f.seq > (snapshot?.seq ?? 0)) {
          if (f.seq !== lastSeq + 1) throw new MetadataLogCorruptError(`${file}: entry ${f.seq} follows ${lastSeq}`);
          entries.push({ seq: f.seq, payload: Buffer.from(f.payload) });
          lastSeq = f.seq;
        }
        pos = f.end;
      }
      segments.push({ firstSeq: s.firstSeq, file, handle: null, size: pos, linked: true });
      if (pos === buf.length) continue;
      // An invalid frame: a crash's torn tail only if nothing valid follows it.
      for (let j = i + 1; j < segFiles.length; j++) {
        const later = bodies[j];
        if (later && decodeFrame(later, 0)) throw new MetadataLogCorruptError(`${file}: bad frame at byte ${pos}, but ${segFiles[j]?.n} holds valid entries after it`);
      }
      truncatedBytes = buf.length - pos;
      const h = await fs.open(file, 'write');
      try {
        await h.truncate(pos);
        await h.datasync();
      } finally {
        await h.close();
      }
      for (let j = i + 1; j < segFiles.length; j++) await fs.unlink(path.join(dir, segFiles[j]?.n ?? ''));
      await fs.syncDir(dir);
      break;
    }
    const bytes = segments.reduce((n, s) => n + s.size, 0);
    const log = new MetadataLog(opts, segments, lastSeq, { entries: entries.length, bytes });
    return { log, recovered: { snapshot, entries, truncatedBytes } };
  }

  get lastSeq(): number {
    return this.last;
  }

  /** The error that stopped the log, if any. */
  get failed(): MetadataLogWriteError | null {
    return this.failure;
  }

  /**
   * Appends one entry; its seq is taken at once (appends are ordered by call), and the
   * promise resolves with it once the entry is durable.
   */
  append(payload: Buffer): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.last + 1;
    const frame = encodeFrame(seq, payload);
    this.last = seq;
    this.sinceSnapshot.entries++;
    this.sinceSnapshot.bytes += frame.length;
    const done = new Promise<number>((resolve, reject) => this.queue.push({ seq, frame, segment: this.active, resolve, reject }));
    this.tail = done;
    this.flushing ??= this.flushLoop();
    return done;
  }

  /** Resolves when everything appended so far is durable. */
  async barrier(): Promise<void> {
    await this.tail;
  }

  private async flushLoop(): Promise<void> {
    // Let the appends of the current tick join the first batch too.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const segment = this.queue[0]?.segment;
      let n = 0;
      while (n < this.queue.length && this.queue[n]?.segment === segment) n++;
      const batch = this.queue.splice(0, n);
      if (!segment) break;
      try {
        segment.handle ??= await this.opts.fs.open(segment.file, 'write');
        const frames = batch.map((b) => b.frame);
        const bytes = frames.reduce((s, f) => s + f.length, 0);
        await segment.handle.write(frames, segment.size);
        segment.size += bytes;
        const t0 = this.opts.monotonic();
        await segment.handle.datasync();
        if (!segment.linked) {
          // A new segment's name must be durable before its entries count as durable.
          await this.opts.fs.syncDir(this.opts.dir);
          segment.linked = true;
        }
        this.opts.onCommit?.({ entries: batch.length, bytes, fsyncSeconds: (this.opts.monotonic() - t0) / 1000 });
        for (const b of batch) b.resolve(b.seq);
      } catch (err) {
        this.failure = new MetadataLogWriteError(`cannot write the metadata log ${segment.file}`, { cause: err });
        const all = [...batch, ...this.queue];
        this.queue = [];
        for (const b of all) b.reject(this.failure);
      }
    }
    this.flushing = null;
  }

  snapshotDue(): boolean {
    return !this.failure && this.snapshotting === null && (this.sinceSnapshot.entries >= this.everyEntries || this.sinceSnapshot.bytes >= this.everyBytes);
  }

  /**
   * Writes `state`, which must be the state after the last appended entry, as a
   * snapshot. New appends go to a fresh segment from now on; older segments are deleted
   * once the snapshot is durable. Resolves when done; a failure leaves the log intact.
   */
  snapshot(state: Buffer): Promise<void> {
    if (this.snapshotting) return this.snapshotting;
    const seq = this.last;
    const older = this.segments;
    const tail = this.tail;
    this.active = this.newSegment(seq + 1);
    this.segments = [...older, this.active];
    this.sinceSnapshot = { entries: 0, bytes: 0 };
    const run = async (): Promise<void> => {
      const file = path.join(this.opts.dir, `snapshot-${pad(seq)}.snap`);
      await this.opts.fs.writeFileAtomic(file, encodeFrame(seq, state));
      // The older segments may still be finishing their last group commit.
      await tail;
      for (const s of older) {
        await s.handle?.close();
        s.handle = null;
        if (await this.opts.fs.exists(s.file)) await this.opts.fs.unlink(s.file);
      }
      this.segments = this.segments.filter((s) => !older.includes(s));
      for (const n of await this.opts.fs.readdir(this.opts.dir)) {
        const m = SNAPSHOT.exec(n);
        if (m && Number(m[1]) < seq) await this.opts.fs.unlink(path.join(this.opts.dir, n));
      }
      await this.opts.fs.syncDir(this.opts.dir);
    };
    const p = run().finally(() => {
      this.snapshotting = null;
    });
    this.snapshotting = p;
    return p;
  }

  /** Waits for pending appends and snapshots, then closes the files. */
  async close(): Promise<void> {
    await this.tail.catch(() => undefined);
    await this.snapshotting?.catch(() => undefined);
    for (const s of this.segments) {
      await s.handle?.close();
      s.handle = null;
    }
  }
}
