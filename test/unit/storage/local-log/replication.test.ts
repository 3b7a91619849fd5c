/**
 * The local log's replication operations: follower appends at the leader's offsets,
 * truncation (to an offset, and fully to a new start), and the stored high watermark.
 *
 * Crash safety of truncation is checked by crashing the disk at every filesystem step a
 * truncation takes, then reopening. Invariants after every such crash:
 *  - the log is a prefix of the log before the truncation: whole batches, contiguous
 *    offsets, each record the one that was at its offset;
 *  - it is never shorter than the truncation point (nothing below it is lost);
 *  - if the truncation had resolved, the log ends exactly at the truncation point;
 *  - the stored high watermark never exceeds the log end, and once anything at or above
 *    the truncation point is gone it is at most the truncation point;
 *  - the log takes appends again and a second truncation works.
 */
import { describe, expect, it } from 'vitest';
import type { FileHandle, FileSystem, OpenMode } from '../../../../src/common/fs.ts';
import { readBatchHeader, setBaseOffset, setPartitionLeaderEpoch } from '../../../../src/protocol/record-batch.ts';
import { LocalLog } from '../../../../src/storage/local-log/index.ts';
import { OffsetOutOfRangeError, StorageError, type LogConfig } from '../../../../src/storage/partition-log.ts';
import { DIR, ProcessFileSystem, append, batch, config, harness, readAll, records, seededRandom } from './helpers.ts';

const SEED_BASE = Number(process.env.FLOE_SEED ?? Date.now() % 1_000_000);

/** A batch as a leader would send it: baseOffset and leader epoch already set. */
function replicated(tag: string, base: number, recordCount = 1, epoch = 7): { buf: Buffer; header: ReturnType<typeof readBatchHeader> } {
  const b = batch(tag, recordCount, { valueBytes: 40 });
  setBaseOffset(b.buf, base);
  setPartitionLeaderEpoch(b.buf, epoch);
  return { buf: b.buf, header: readBatchHeader(b.buf) };
}

/** Appends `n` batches of 1–3 records (by `random`) and returns each batch's [base, next). */
async function fill(log: LocalLog, n: number, random: () => number, prefix = 'r'): Promise<{ base: number; next: number }[]> {
  const out: { base: number; next: number }[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const count = 1 + Math.floor(random() * 3);
    const r = append(log, `${prefix}${i}`, count, { valueBytes: 30 + Math.floor(random() * 60) });
    out.push({ base: r.baseOffset, next: r.baseOffset + count });
    pending.push(r.leaderDurable);
  }
  await Promise.all(pending);
  return out;
}

describe('LocalLog follower appends', () => {
  it('keeps the leader\'s base offset and leader epoch, and refuses an append that is not at the log end', async () => {
    const h = harness();
    const log = await h.open();
    const first = replicated('a', 0, 3, 9);
    await log.appendAsFollower(first.buf, first.header).leaderDurable;
    const second = replicated('b', 3, 2, 11);
    const r = log.appendAsFollower(second.buf, second.header);
    expect(r.baseOffset).toBe(3);
    await r.leaderDurable;
    expect(log.logEndOffset()).toBe(5);
    const read = await log.read(0, 1 << 20, 5);
    const epochs: number[] = [];
    for (const chunk of read.chunks) {
      for (let at = 0; at < chunk.length; ) {
        const h2 = readBatchHeader(chunk, at);
        epochs.push(h2.partitionLeaderEpoch);
        at += h2.sizeBytes;
      }
    }
    expect(epochs).toEqual([9, 11]);
    expect(records(read).map((x) => x.offset)).toEqual([0, 1, 2, 3, 4]);
    const gap = replicated('c', 7);
    expect(() => log.appendAsFollower(gap.buf, gap.header)).toThrow(RangeError);
    const behind = replicated('d', 4);
    expect(() => log.appendAsFollower(behind.buf, behind.header)).toThrow(RangeError);
    await log.close();
  });
});

describe('LocalLog truncation', () => {
  it('cuts at the start of the batch containing the offset, and reads, appends and reopens from there', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 128 });
    // Batches of three records: offset 31 lies inside the batch [30, 33).
    for (let i = 0; i < 20; i++) await append(log, `t${i}`, 3, { valueBytes: 40 }).leaderDurable;
    expect(log.logEndOffset()).toBe(60);
    const segmentsBefore = log.segmentBaseOffsets().length;
    expect(await log.truncateTo(31)).toBe(30);
    expect(log.logEndOffset()).toBe(30);
    expect(log.highWatermark()).toBe(30);
    expect(log.segmentBaseOffsets().length).toBeLessThan(segmentsBefore);
    await expect(log.read(31, 1 << 20, 60)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    const kept = await readAll(log, 0);
    expect(kept.map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(kept.at(-1)?.value).toBe('t9:2');
    // The log continues at the cut: local appends and follower appends alike.
    expect(append(log, 'after', 2).baseOffset).toBe(30);
    const f = replicated('leader', 32, 2);
    await log.appendAsFollower(f.buf, f.header).leaderDurable;
    await log.close();
    const reopened = await h.open({ segmentBytes: 1024, indexIntervalBytes: 128 });
    const all = await readAll(reopened, 0);
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 34 }, (_, i) => i));
    expect(all.slice(30).map((r) => r.value)).toEqual(['after:0', 'after:1', 'leader:0', 'leader:1']);
    // The rewritten indexes still find every offset and timestamp.
    for (const o of [0, 7, 29, 31, 33]) expect(records(await reopened.read(o, 1, 34))[0]!.offset).toBeLessThanOrEqual(o);
    expect(await reopened.offsetForTimestamp(0)).toBe(0);
    expect(h.logger.messages()).not.toContain('truncating a torn tail');
    await reopened.close();
  });

  it('a cut on a segment\'s first batch removes that segment and starts a fresh active one there', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    for (let i = 0; i < 40; i++) await append(log, `s${i}`, 1, { valueBytes: 40 }).leaderDurable;
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(3);
    const at = bases[2]!;
    expect(await log.truncateTo(at)).toBe(at);
    expect(log.segmentBaseOffsets()).toEqual([bases[0], bases[1], at]);
    const names = (await h.fs.readdir(DIR)).filter((n) => n.endsWith('.log'));
    expect(names).toHaveLength(3);
    await append(log, 'next', 1).leaderDurable;
    await log.close();
    const reopened = await h.open({ segmentBytes: 1024 });
    expect((await readAll(reopened, 0)).map((r) => r.value)).toEqual([...Array.from({ length: at }, (_, i) => `s${i}:0`), 'next:0']);
    await reopened.close();
  });

  it('waits for appends already made, refuses appends while it runs, and is a no-op at or beyond the end', async () => {
    const h = harness();
    const log = await h.open({ fsync: { kind: 'never' } });
    const before = Array.from({ length: 10 }, (_, i) => append(log, `w${i}`, 1));
    const truncated = log.truncateTo(4);
    const during = append(log, 'during', 1);
    await expect(during.leaderDurable).rejects.toMatchObject({ code: 'FLOE_ERR_STORAGE_CLOSED' });
    // Appends made before the call were written first, then cut.
    await Promise.all(before.map((b) => b.leaderDurable));
    expect(await truncated).toBe(4);
    expect(await log.truncateTo(4)).toBe(4);
    expect(await log.truncateTo(100)).toBe(4);
    expect((await readAll(log, 0)).map((r) => r.value)).toEqual(['w0:0', 'w1:0', 'w2:0', 'w3:0']);
    expect(append(log, 'again', 1).baseOffset).toBe(4);
    await log.close();
    await expect(log.truncateTo(1)).rejects.toBeInstanceOf(StorageError);
  });

  it('at or below the log start empties the log and restarts it there', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    for (let i = 0; i < 30; i++) await append(log, `d${i}`, 1, { valueBytes: 40 }).leaderDurable;
    await log.advanceLogStart(12);
    expect(await log.truncateTo(5)).toBe(5);
    expect([log.logStartOffset(), log.logEndOffset()]).toEqual([5, 5]);
    expect(append(log, 'fresh', 1).baseOffset).toBe(5);
    await log.close();
    const reopened = await h.open({ segmentBytes: 1024 });
    expect([reopened.logStartOffset(), reopened.logEndOffset()]).toEqual([5, 6]);
    await reopened.close();
  });

  it('truncateFullyAndStartAt empties the log and restarts it at any offset, durably', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    for (let i = 0; i < 30; i++) await append(log, `f${i}`, 1, { valueBytes: 40 }).leaderDurable;
    await log.truncateFullyAndStartAt(1000);
    expect([log.logStartOffset(), log.logEndOffset(), log.sizeBytes()]).toEqual([1000, 1000, 0]);
    expect(log.storedHighWatermark()).toBe(1000);
    const f = replicated('far', 1000, 2);
    await log.appendAsFollower(f.buf, f.header).leaderDurable;
    h.crash();
    const reopened = await h.open({ segmentBytes: 1024 });
    expect([reopened.logStartOffset(), reopened.logEndOffset()]).toEqual([1000, 1002]);
    expect((await h.fs.readdir(DIR)).filter((n) => n.endsWith('.log'))).toEqual(['00000000000000001000.log']);
    await reopened.close();
  });
});

describe('LocalLog stored high watermark', () => {
  it('is null until stored, survives reopening, is capped at the log end, and truncation lowers it', async () => {
    const h = harness();
    const log = await h.open();
    expect(log.storedHighWatermark()).toBeNull();
    for (let i = 0; i < 10; i++) await append(log, `h${i}`, 1).leaderDurable;
    await log.checkpointHighWatermark(8);
    expect(log.storedHighWatermark()).toBe(8);
    await log.checkpointHighWatermark(50);
    expect(log.storedHighWatermark()).toBe(10);
    await log.truncateTo(6);
    expect(log.storedHighWatermark()).toBe(6);
    await log.close();
    const reopened = await h.open();
    expect(reopened.storedHighWatermark()).toBe(6);
    await reopened.destroy();
    expect(await h.fs.readdir(DIR)).toEqual([]);
  });

  it('reopens capped at what survived a crash', async () => {
    const h = harness();
    const log = await h.open({ fsync: { kind: 'never' } });
    for (let i = 0; i < 10; i++) await append(log, `h${i}`, 1).leaderDurable;
    await log.flush();
    for (let i = 10; i < 20; i++) await append(log, `h${i}`, 1).leaderDurable;
    await log.checkpointHighWatermark(20);
    h.crash();
    const reopened = await h.open({ fsync: { kind: 'never' } });
    expect(reopened.logEndOffset()).toBe(10);
    expect(reopened.storedHighWatermark()).toBe(10);
    await reopened.close();
  });
});

/**
 * The filesystem as one process sees it, crashing the disk (and killing the process) on
 * its `crashAt`-th mutating call, before that call happens.
 */
class CrashingFileSystem implements FileSystem {
  private steps = 0;
  crashAt = Infinity;
  constructor(
    private readonly inner: ProcessFileSystem,
    private readonly onCrash: () => void,
  ) {}
  get stepsTaken(): number {
    return this.steps;
  }
  private step(): void {
    if (++this.steps === this.crashAt) this.onCrash();
  }
  async open(file: string, mode: OpenMode): Promise<FileHandle> {
    const h = await this.inner.open(file, mode);
    return {
      path: h.path,
      write: (data, position) => (this.step(), h.write(data, position)),
      read: (into, offset, length, position) => h.read(into, offset, length, position),
      datasync: () => (this.step(), h.datasync()),
      truncate: (length) => (this.step(), h.truncate(length)),
      size: () => h.size(),
      close: () => h.close(),
    };
  }
  readdir(dir: string): Promise<string[]> {
    return this.inner.readdir(dir);
  }
  mkdirp(dir: string): Promise<void> {
    return this.inner.mkdirp(dir);
  }
  unlink(file: string): Promise<void> {
    this.step();
    return this.inner.unlink(file);
  }
  rename(from: string, to: string): Promise<void> {
    this.step();
    return this.inner.rename(from, to);
  }
  exists(file: string): Promise<boolean> {
    return this.inner.exists(file);
  }
  syncDir(dir: string): Promise<void> {
    this.step();
    return this.inner.syncDir(dir);
  }
  readFile(file: string): Promise<Buffer> {
    return this.inner.readFile(file);
  }
  writeFileAtomic(file: string, data: Buffer): Promise<void> {
    this.step();
    return this.inner.writeFileAtomic(file, data);
  }
}

describe('LocalLog truncation crash safety', () => {
  const cfg: LogConfig = config({ segmentBytes: 1024, indexIntervalBytes: 128 });

  /** Where to truncate, given the batches: named cases that reach every branch. */
  const targets: { name: string; pick: (b: { base: number; next: number }[], segs: number[]) => number }[] = [
    { name: 'inside a batch of an older segment', pick: (b, segs) => (b.find((x) => x.base > segs[1]! && x.next - x.base > 1)?.base ?? segs[1]!) + 1 },
    { name: 'on a segment boundary', pick: (_b, segs) => segs[2]! },
    { name: 'inside the active segment', pick: (b) => b.at(-3)!.base },
    { name: 'inside the first segment', pick: (b) => b[2]!.base },
  ];

  for (const target of targets) {
    it(`a crash at any step of a truncation ${target.name} reopens as a prefix no shorter than the cut`, async () => {
      const seed = SEED_BASE + targets.indexOf(target);
      let completedAt = -1;
      for (let crashAt = 1; completedAt < 0; crashAt++) {
        const random = seededRandom(seed * 1000 + crashAt);
        const h = harness();
        let pfs = new ProcessFileSystem(h.fs);
        const fs = new CrashingFileSystem(pfs, () => {
          pfs.kill();
          h.fs.crash(random);
        });
        const log = await LocalLog.open({ dir: DIR, fs, clock: h.clock, config: cfg, logger: h.logger });
        const batches = await fill(log, 60, seededRandom(seed));
        const before = await readAll(log, 0);
        const originalEnd = log.logEndOffset();
        await log.checkpointHighWatermark(originalEnd);
        const offset = target.pick(batches, log.segmentBaseOffsets());
        const boundary = batches.find((b) => b.base <= offset && offset < b.next)!.base;
        expect(boundary).toBeGreaterThan(0);
        fs.crashAt = fs.stepsTaken + crashAt;
        let resolved = false;
        try {
          expect(await log.truncateTo(offset)).toBe(boundary);
          resolved = true;
        } catch (err) {
          expect(err).toBeInstanceOf(StorageError);
        }
        if (resolved) {
          completedAt = crashAt;
          pfs.kill();
          h.fs.crash(random);
        }
        pfs = new ProcessFileSystem(h.fs);
        const reopened = await LocalLog.open({ dir: DIR, fs: pfs, clock: h.clock, config: cfg, logger: h.logger });
        try {
          const end = reopened.logEndOffset();
          const all = await readAll(reopened, 0);
          expect(all).toEqual(before.slice(0, end));
          expect(end).toBeGreaterThanOrEqual(boundary);
          expect(batches.some((b) => b.next === end) || end === boundary).toBe(true);
          if (resolved) expect(end).toBe(boundary);
          const hw = reopened.storedHighWatermark();
          expect(hw).not.toBeNull();
          expect(hw!).toBeLessThanOrEqual(end);
          if (end < originalEnd) expect(hw!).toBeLessThanOrEqual(boundary);
          // The log works on: appends, then another truncation.
          const more = await fill(reopened, 5, random, 'm');
          expect(more[0]!.base).toBe(end);
          expect(await reopened.truncateTo(boundary)).toBe(boundary);
          expect((await readAll(reopened, 0)).length).toBe(boundary);
          await reopened.close();
        } catch (err) {
          console.log(`truncation crash test (${target.name}) failed at step ${crashAt}, FLOE_SEED=${SEED_BASE}`);
          throw err;
        }
      }
      // Every step of the truncation was crashed at once before one run completed.
      expect(completedAt).toBeGreaterThan(3);
    });
  }

  it('a crash at any step of truncateFullyAndStartAt reopens as the old log or the empty new one', async () => {
    let completedAt = -1;
    for (let crashAt = 1; completedAt < 0; crashAt++) {
      const random = seededRandom(SEED_BASE + 50 + crashAt);
      const h = harness();
      let pfs = new ProcessFileSystem(h.fs);
      const fs = new CrashingFileSystem(pfs, () => {
        pfs.kill();
        h.fs.crash(random);
      });
      const log = await LocalLog.open({ dir: DIR, fs, clock: h.clock, config: cfg, logger: h.logger });
      await fill(log, 40, seededRandom(SEED_BASE));
      const before = await readAll(log, 0);
      fs.crashAt = fs.stepsTaken + crashAt;
      let resolved = false;
      try {
        await log.truncateFullyAndStartAt(5000);
        resolved = true;
      } catch (err) {
        expect(err).toBeInstanceOf(StorageError);
      }
      if (resolved) {
        completedAt = crashAt;
        pfs.kill();
        h.fs.crash(random);
      }
      pfs = new ProcessFileSystem(h.fs);
      const reopened = await LocalLog.open({ dir: DIR, fs: pfs, clock: h.clock, config: cfg, logger: h.logger });
      const start = reopened.logStartOffset();
      if (start === 5000) {
        expect(reopened.logEndOffset()).toBe(5000);
      } else {
        expect(resolved).toBe(false);
        expect(start).toBe(0);
        const all = await readAll(reopened, 0);
        expect(all).toEqual(before.slice(0, all.length));
      }
      await reopened.close();
    }
    expect(completedAt).toBeGreaterThan(2);
  });
});
