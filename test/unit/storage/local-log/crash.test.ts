/**
 * Crash safety and failure injection on the simulated filesystem.
 *
 * Invariants checked after every crash and reopen:
 *  - the log holds whole batches with contiguous offsets from its start;
 *  - each record at offset o is the one appended at o before the crash (nothing invented,
 *    nothing moved), or — after a reopen and new appends — one of those new appends;
 *  - with per-batch fsync, every append whose leaderDurable resolved is there.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalLog } from '../../../../src/storage/local-log/index.ts';
import { StorageError } from '../../../../src/storage/partition-log.ts';
import { append, harness, readAll, seededRandom } from './helpers.ts';

const SEED_BASE = Number(process.env.FLOE_SEED ?? Date.now() % 1_000_000);

interface Appended {
  tag: string;
  base: number;
  records: number;
  acked: boolean;
}

/** Appends `n` batches in bursts, awaiting some bursts, and returns what was appended. */
async function workload(log: LocalLog, random: () => number, n: number, prefix: string): Promise<Appended[]> {
  const out: Appended[] = [];
  for (let i = 0; i < n; ) {
    const burst = 1 + Math.floor(random() * 8);
    const pending: Promise<void>[] = [];
    for (let j = 0; j < burst && i < n; j++, i++) {
      const records = 1 + Math.floor(random() * 3);
      const tag = `${prefix}${i}`;
      const r = append(log, tag, records, { valueBytes: 10 + Math.floor(random() * 300) });
      const entry: Appended = { tag, base: r.baseOffset, records, acked: false };
      r.leaderDurable.then(
        () => (entry.acked = true),
        () => undefined,
      );
      out.push(entry);
      pending.push(r.leaderDurable);
    }
    // Leave the last bursts in flight sometimes: the crash then hits them mid-write.
    if (random() < 0.7) await Promise.all(pending);
  }
  return out;
}

/** Checks the reopened log against what was appended; returns the offsets it holds. */
async function checkConsistent(log: LocalLog, appended: Appended[]): Promise<void> {
  const all = await readAll(log, 0);
  expect(all.map((r) => r.offset)).toEqual(Array.from({ length: log.logEndOffset() }, (_, i) => i));
  const byOffset = new Map<number, string>();
  for (const a of appended) for (let k = 0; k < a.records; k++) byOffset.set(a.base + k, `${a.tag}:${k}`);
  for (const r of all) expect(r.value).toBe(byOffset.get(r.offset));
  // Whole batches only: the end falls on a batch boundary.
  const end = log.logEndOffset();
  expect(end === 0 || appended.some((a) => a.base + a.records === end)).toBe(true);
}

describe('LocalLog crash safety', () => {
  beforeAll(() => console.log(`local-log crash tests: FLOE_SEED=${SEED_BASE}`));

  for (const torn of [false, true]) {
    it(`per-batch fsync: every acknowledged append survives a crash${torn ? ' that tears unsynced writes' : ''}`, async () => {
      for (let run = 0; run < 20; run++) {
        const seed = SEED_BASE + run;
        const random = seededRandom(seed);
        const h = harness();
        const log = await h.open({ segmentBytes: 4096, indexIntervalBytes: 512 });
        const appended = await workload(log, random, 40 + Math.floor(random() * 60), 'a');
        const acked = appended.filter((a) => a.acked);
        h.crash(torn ? random : undefined);
        const reopened = await h.open({ segmentBytes: 4096, indexIntervalBytes: 512 });
        try {
          const lastAcked = acked.at(-1);
          if (lastAcked) expect(reopened.logEndOffset(), `seed ${seed}`).toBeGreaterThanOrEqual(lastAcked.base + lastAcked.records);
          await checkConsistent(reopened, appended);
        } catch (err) {
          console.log(`crash test failed with seed ${seed} (FLOE_SEED=${SEED_BASE})`);
          throw err;
        }
        await reopened.close();
      }
    });
  }

  it('never fsync: a crash may lose the unsynced tail, and the log reopens consistent', async () => {
    let truncations = 0;
    for (let run = 0; run < 20; run++) {
      const seed = SEED_BASE + 100 + run;
      const random = seededRandom(seed);
      const h = harness();
      const cfg = { segmentBytes: 4096, indexIntervalBytes: 512, fsync: { kind: 'never' } as const };
      const log = await h.open(cfg);
      const appended = await workload(log, random, 60, 'n');
      h.crash(random);
      const reopened = await h.open(cfg);
      try {
        await checkConsistent(reopened, appended);
      } catch (err) {
        console.log(`never-fsync crash test failed with seed ${seed} (FLOE_SEED=${SEED_BASE})`);
        throw err;
      }
      truncations += h.logger.messages().filter((m) => m === 'truncating a torn tail').length;
      await reopened.close();
    }
    // Torn crashes of unsynced appends leave partial batches behind, and recovery cut them.
    expect(truncations).toBeGreaterThan(0);
  });

  it('a torn tail cut by recovery never comes back, even across a second crash', async () => {
    for (let run = 0; run < 20; run++) {
      const seed = SEED_BASE + 200 + run;
      const random = seededRandom(seed);
      const h = harness();
      const never = { segmentBytes: 1 << 20, fsync: { kind: 'never' } as const };
      const log = await h.open(never);
      const first = await workload(log, random, 30, 'old');
      h.crash(random);
      const reopened = await h.open({ segmentBytes: 1 << 20 });
      const cutAt = reopened.logEndOffset();
      // New appends reuse the offsets of the cut batches, fsynced one by one.
      const second: Appended[] = [];
      for (let i = 0; i < 5; i++) {
        const r = append(reopened, `new${i}`, 1, { valueBytes: 20 });
        await r.leaderDurable;
        second.push({ tag: `new${i}`, base: r.baseOffset, records: 1, acked: true });
      }
      h.crash(random);
      const third = await h.open({ segmentBytes: 1 << 20 });
      try {
        const all = await readAll(third, 0);
        expect(all.length).toBe(cutAt + 5);
        expect(all.slice(cutAt).map((r) => r.value)).toEqual(second.map((s) => `${s.tag}:0`));
        await checkConsistent(third, [...first.filter((a) => a.base < cutAt), ...second]);
      } catch (err) {
        console.log(`resurrection test failed with seed ${seed} (FLOE_SEED=${SEED_BASE})`);
        throw err;
      }
    }
  });

  it('recovery cuts a damaged segment after the recovery point and deletes every later one', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    for (let i = 0; i < 40; i++) await append(log, `s${i}`, 1, { valueBytes: 40 }).leaderDurable;
    await log.close();
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(3);
    // Damage a byte early in the second segment, lose its indexes and the recovery point:
    // nothing vouches for that segment any more, so recovery checks every batch of it.
    const victim = `/data/topic-0/${String(bases[1]).padStart(20, '0')}.log`;
    const data = await h.fs.readFile(victim);
    const handle = await h.fs.open(victim, 'write');
    await handle.write(Buffer.from([data[100]! ^ 0xff]), 100);
    await handle.datasync();
    for (const f of ['.index', '.timeindex']) await h.fs.unlink(victim.replace('.log', f));
    await h.fs.unlink('/data/topic-0/recovery-point.checkpoint');
    await h.fs.syncDir('/data/topic-0');
    const reopened = await h.open({ segmentBytes: 1024 });
    expect(reopened.segmentBaseOffsets()).toEqual(bases.slice(0, 2));
    expect(reopened.logEndOffset()).toBeGreaterThanOrEqual(bases[1]!);
    expect(reopened.logEndOffset()).toBeLessThan(bases[2]!);
    expect(h.logger.messages()).toContain('truncating a torn tail');
    expect((await h.fs.readdir('/data/topic-0')).filter((n) => n.endsWith('.log'))).toHaveLength(2);
    await checkConsistent(reopened, Array.from({ length: 40 }, (_, i) => ({ tag: `s${i}`, base: i, records: 1, acked: true })));
  });

  it('reports damage below the recovery point as corruption instead of cutting fsynced data', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    for (let i = 0; i < 40; i++) await append(log, `s${i}`, 1, { valueBytes: 40 }).leaderDurable;
    await log.close();
    const bases = log.segmentBaseOffsets();
    const victim = `/data/topic-0/${String(bases[0]).padStart(20, '0')}.log`;
    // Both the data and its index are damaged: the index can no longer vouch for the segment.
    await h.fs.unlink(victim.replace('.log', '.timeindex'));
    const handle = await h.fs.open(victim, 'write');
    await handle.write(Buffer.from([0xff]), 100);
    await handle.datasync();
    await h.fs.syncDir('/data/topic-0');
    await expect(h.open({ segmentBytes: 1024 })).rejects.toMatchObject({ code: 'FLOE_ERR_STORAGE_CORRUPT' });
  });
});

describe('LocalLog failure injection', () => {
  for (const op of ['write', 'datasync'] as const) {
    it(`a failed ${op} rejects its group and every later append, and the log continues at the same offset`, async () => {
      const h = harness();
      const log = await h.open();
      await append(log, 'a', 2).leaderDurable;
      await append(log, 'b', 1).leaderDurable;
      h.fs.failNext(op, '.log');
      const failed = append(log, 'c', 2);
      const sameGroup = append(log, 'd', 1);
      await Promise.resolve(); // the writer takes the group
      const queued = append(log, 'e', 1); // queued behind the failing group
      expect(failed.baseOffset).toBe(3);
      expect(queued.baseOffset).toBe(6);
      const err = await failed.leaderDurable.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StorageError);
      expect(err).toMatchObject({ code: 'FLOE_ERR_STORAGE_IO', cause: { code: 'EIO' } });
      await expect(sameGroup.fullyDurable).rejects.toMatchObject({ code: 'FLOE_ERR_STORAGE_IO' });
      await expect(queued.leaderDurable).rejects.toMatchObject({ code: 'FLOE_ERR_STORAGE_IO' });
      expect(log.logEndOffset()).toBe(3);
      expect(log.highWatermark()).toBe(3);

      const retry = append(log, 'f', 1);
      expect(retry.baseOffset).toBe(3);
      await retry.leaderDurable;
      expect((await readAll(log)).map((r) => r.value)).toEqual(['a:0', 'a:1', 'b:0', 'f:0']);
      h.crash();
      const reopened = await h.open();
      expect((await readAll(reopened)).map((r) => r.value)).toEqual(['a:0', 'a:1', 'b:0', 'f:0']);
    });
  }

  it('a full disk rejects with FLOE_ERR_STORAGE_FULL, loses nothing, and appends resume once space is freed', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 4096 });
    const acked: string[] = [];
    for (let i = 0; i < 10; i++) {
      await append(log, `ok${i}`, 1, { valueBytes: 100 }).leaderDurable;
      acked.push(`ok${i}:0`);
    }
    h.fs.capacityBytes = h.fs.usedBytes() + 500;
    // A few fit; the group that does not is rejected with everything queued behind it.
    const outcomes: PromiseSettledResult<void>[] = [];
    for (let i = 0; i < 10; i++) {
      const burst = [append(log, `full${i}a`, 1, { valueBytes: 100 }), append(log, `full${i}b`, 1, { valueBytes: 100 })];
      outcomes.push(...(await Promise.allSettled(burst.map((r) => r.leaderDurable))));
    }
    const firstRejected = outcomes.findIndex((o) => o.status === 'rejected');
    expect(firstRejected).toBeGreaterThanOrEqual(0);
    // Whole groups fail: the first failure is the first batch of a burst, and its partner fails with it.
    expect(firstRejected % 2).toBe(0);
    expect(outcomes[firstRejected + 1]!.status).toBe('rejected');
    const reason = (outcomes[firstRejected] as PromiseRejectedResult).reason as StorageError;
    expect(reason).toBeInstanceOf(StorageError);
    expect(reason.code).toBe('FLOE_ERR_STORAGE_FULL');
    expect(reason.cause).toMatchObject({ code: 'ENOSPC' });
    for (let i = 0; i < firstRejected; i++) acked.push(`full${Math.floor(i / 2)}${i % 2 === 0 ? 'a' : 'b'}:0`);
    expect(log.logEndOffset()).toBe(acked.length);
    expect((await readAll(log)).map((r) => r.value)).toEqual(acked);

    // Still full: the next append fails the same way, at the same offset.
    const stillFull = append(log, 'again', 1, { valueBytes: 600 });
    expect(stillFull.baseOffset).toBe(acked.length);
    await expect(stillFull.leaderDurable).rejects.toMatchObject({ code: 'FLOE_ERR_STORAGE_FULL' });

    h.fs.capacityBytes = Infinity;
    const resumed = append(log, 'resumed', 1);
    expect(resumed.baseOffset).toBe(acked.length);
    await resumed.leaderDurable;
    acked.push('resumed:0');
    h.crash();
    const reopened = await h.open({ segmentBytes: 4096 });
    expect((await readAll(reopened)).map((r) => r.value)).toEqual(acked);
  });

  it('a full disk during a segment roll leaves the old segment active and the log usable', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    const acked: string[] = [];
    for (let i = 0; i < 7; i++) {
      await append(log, `ok${i}`, 1, { valueBytes: 60 }).leaderDurable;
      acked.push(`ok${i}:0`);
    }
    const segmentsBefore = log.segmentBaseOffsets();
    // Room for index entries but not for the checkpoint the roll writes (nor the batch).
    h.fs.capacityBytes = h.fs.usedBytes() + 20;
    let rollFailed: StorageError | null = null;
    for (let i = 0; i < 20 && rollFailed === null; i++) {
      const r = append(log, `x${i}`, 1, { valueBytes: 60 });
      rollFailed = await r.leaderDurable.then(
        () => null,
        (e: unknown) => e as StorageError,
      );
      if (rollFailed === null) acked.push(`x${i}:0`);
    }
    expect(rollFailed?.code).toBe('FLOE_ERR_STORAGE_FULL');
    expect(log.segmentBaseOffsets()).toEqual(segmentsBefore);
    h.fs.capacityBytes = Infinity;
    for (let i = 0; i < 10; i++) {
      await append(log, `after${i}`, 1, { valueBytes: 60 }).leaderDurable;
      acked.push(`after${i}:0`);
    }
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(segmentsBefore.length);
    expect((await readAll(log)).map((r) => r.value)).toEqual(acked);
    h.crash();
    const reopened = await h.open({ segmentBytes: 1024 });
    expect((await readAll(reopened)).map((r) => r.value)).toEqual(acked);
  });

  it('a failed flush rejects the flush only; the log stays usable', async () => {
    const h = harness();
    const log = await h.open({ fsync: { kind: 'never' } });
    await append(log, 'a').leaderDurable;
    h.fs.failNext('datasync', '.log');
    await expect(log.flush()).rejects.toMatchObject({ code: 'FLOE_ERR_STORAGE_IO' });
    await append(log, 'b').leaderDurable;
    await log.flush();
    h.crash();
    const reopened = await h.open({ fsync: { kind: 'never' } });
    expect((await readAll(reopened)).map((r) => r.value)).toEqual(['a:0', 'b:0']);
  });

  it('an append nobody awaits can fail without an unhandled rejection', async () => {
    const h = harness();
    const log = await h.open();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      h.fs.failNext('write', '.log');
      append(log, 'ignored'); // acks=0: neither promise is looked at
      await append(log, 'next').leaderDurable.catch(() => undefined);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
