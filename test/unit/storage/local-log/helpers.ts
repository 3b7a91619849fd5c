/**
 * Shared pieces of the local-log tests: batches with recognisable contents, a default
 * config, and opening a log on a simulated filesystem.
 */
import { ManualClock } from '../../../../src/common/clock.ts';
import type { FileHandle, FileSystem, OpenMode } from '../../../../src/common/fs.ts';
import { SimulatedFileSystem } from '../../../../src/common/sim-fs.ts';
import { readBatchHeader, type BatchHeader } from '../../../../src/protocol/record-batch.ts';
import { decodeRecordBatch, encodeRecordBatch } from '../../../../src/protocol/records.ts';
import { LocalLog } from '../../../../src/storage/local-log/index.ts';
import type { LocalLogLogger } from '../../../../src/storage/local-log/index.ts';
import type { LogConfig, ReadResult } from '../../../../src/storage/partition-log.ts';

export const DIR = '/data/topic-0';
export const T0 = 1_700_000_000_000;

export function config(overrides: Partial<LogConfig> = {}): LogConfig {
  return {
    segmentBytes: 64 * 1024,
    segmentMs: 7 * 24 * 3600 * 1000,
    retentionMs: -1,
    retentionBytes: -1,
    indexIntervalBytes: 256,
    fsync: { kind: 'per-batch' },
    ...overrides,
  };
}

/**
 * A batch of `records` records whose values are `<tag>:<i>` padded to `valueBytes`, so a
 * read can be checked against what was appended.
 */
export function batch(tag: string, records = 1, opts: { valueBytes?: number; timestamp?: number } = {}): { buf: Buffer; header: BatchHeader } {
  const valueBytes = opts.valueBytes ?? 16;
  const buf = encodeRecordBatch(
    Array.from({ length: records }, (_, i) => ({ value: Buffer.from(`${tag}:${i}`.padEnd(valueBytes, '.')) })),
    { baseTimestamp: opts.timestamp ?? T0 },
  );
  return { buf, header: readBatchHeader(buf) };
}

/** Appends a fresh batch and returns its result. */
export function append(log: LocalLog, tag: string, records = 1, opts: { valueBytes?: number; timestamp?: number } = {}): ReturnType<LocalLog['append']> {
  const b = batch(tag, records, opts);
  return log.append(b.buf, b.header);
}

/** The (offset, value tag) of every record in a read result. */
export function records(r: ReadResult): { offset: number; value: string }[] {
  const out: { offset: number; value: string }[] = [];
  for (const chunk of r.chunks) {
    let at = 0;
    while (at < chunk.length) {
      const h = readBatchHeader(chunk, at);
      for (const rec of decodeRecordBatch(chunk, at)) out.push({ offset: rec.offset, value: (rec.value ?? Buffer.alloc(0)).toString().replace(/\.+$/, '') });
      at += h.sizeBytes;
    }
  }
  return out;
}

/** Every record from `from` to the high watermark, read in steps of `maxBytes`. */
export async function readAll(log: LocalLog, from = log.logStartOffset(), maxBytes = 1 << 20): Promise<{ offset: number; value: string }[]> {
  const out: { offset: number; value: string }[] = [];
  let offset = from;
  while (offset < log.highWatermark()) {
    const r = await log.read(offset, maxBytes, log.highWatermark());
    const recs = records(r);
    if (recs.length === 0) throw new Error(`empty read at ${offset}`);
    out.push(...recs.filter((x) => x.offset >= offset));
    offset = recs.at(-1)!.offset + 1;
  }
  return out;
}

/** Collects warnings so a test can assert that recovery said what it did. */
export class RecordingLogger implements LocalLogLogger {
  readonly lines: { level: string; message: string; fields: object }[] = [];
  info(fields: object, message: string): void {
    this.lines.push({ level: 'info', message, fields });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', message, fields });
  }
  messages(level = 'warn'): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

function dead(): NodeJS.ErrnoException {
  return Object.assign(new Error('EBADF: the process that opened this was killed'), { code: 'EBADF' });
}

/**
 * The filesystem as one process sees it. `kill()` is kill -9: every later call through it,
 * or through a handle it opened, rejects. Without it, a log object left over from before a
 * simulated crash would keep writing into the world after the crash, which no real
 * process can do.
 */
export class ProcessFileSystem implements FileSystem {
  private killed = false;
  constructor(private readonly inner: FileSystem) {}

  kill(): void {
    this.killed = true;
  }
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.killed) throw dead();
    const result = await fn();
    if (this.killed) throw dead();
    return result;
  }
  async open(file: string, mode: OpenMode): Promise<FileHandle> {
    const h = await this.run(() => this.inner.open(file, mode));
    return {
      path: h.path,
      write: (data, position) => this.run(() => h.write(data, position)),
      read: (into, offset, length, position) => this.run(() => h.read(into, offset, length, position)),
      datasync: () => this.run(() => h.datasync()),
      truncate: (length) => this.run(() => h.truncate(length)),
      size: () => this.run(() => h.size()),
      close: () => this.run(() => h.close()),
    };
  }
  readdir(dir: string): Promise<string[]> {
    return this.run(() => this.inner.readdir(dir));
  }
  mkdirp(dir: string): Promise<void> {
    return this.run(() => this.inner.mkdirp(dir));
  }
  unlink(file: string): Promise<void> {
    return this.run(() => this.inner.unlink(file));
  }
  rename(from: string, to: string): Promise<void> {
    return this.run(() => this.inner.rename(from, to));
  }
  exists(file: string): Promise<boolean> {
    return this.run(() => this.inner.exists(file));
  }
  syncDir(dir: string): Promise<void> {
    return this.run(() => this.inner.syncDir(dir));
  }
  readFile(file: string): Promise<Buffer> {
    return this.run(() => this.inner.readFile(file));
  }
  writeFileAtomic(file: string, data: Buffer): Promise<void> {
    return this.run(() => this.inner.writeFileAtomic(file, data));
  }
}

export interface Harness {
  /** The disk, shared by every process of the test. */
  fs: SimulatedFileSystem;
  clock: ManualClock;
  logger: RecordingLogger;
  /** Starts a "process" and opens the log in it. */
  open(overrides?: Partial<LogConfig>, opts?: { tailCacheBytes?: number }): Promise<LocalLog>;
  /** Power loss: kills every process and crashes the disk (`random` tears unsynced writes). */
  crash(random?: () => number): void;
}

export function harness(): Harness {
  const fs = new SimulatedFileSystem();
  const clock = new ManualClock(T0);
  const logger = new RecordingLogger();
  const processes: ProcessFileSystem[] = [];
  return {
    fs,
    clock,
    logger,
    open: (overrides = {}, opts = {}) => {
      const pfs = new ProcessFileSystem(fs);
      processes.push(pfs);
      return LocalLog.open({ dir: DIR, fs: pfs, clock, config: config(overrides), logger, ...opts });
    },
    crash: (random) => {
      for (const p of processes) p.kill();
      fs.crash(random);
    },
  };
}

/** A seeded generator in [0, 1) (mulberry32), for torn crashes and random workloads. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
