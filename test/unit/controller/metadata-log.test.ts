import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetadataLogCorruptError, MetadataLogWriteError } from '../../../controller/errors.ts';
import { MetadataLog, decodeFrame, encodeFrame, type MetadataLogOptions } from '../../../controller/metadata-log.ts';
import { SimulatedFileSystem } from '../../../src/common/sim-fs.ts';

const dir = '/data/metadata';
const entry = (i: number): Buffer => Buffer.from(JSON.stringify({ entry: i, pad: 'x'.repeat(i % 7) }));
const texts = (entries: { payload: Buffer }[]): string[] => entries.map((e) => e.payload.toString());

function options(fs: SimulatedFileSystem, extra: Partial<MetadataLogOptions> = {}): MetadataLogOptions {
  return { fs, dir, monotonic: () => 0, ...extra };
}

/** A seeded random source in [0, 1), so that a failing case can be replayed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe('frames', () => {
  it('round-trip, and reject a changed byte, a short buffer and a zero length', () => {
    const f = encodeFrame(42, Buffer.from('hello'));
    expect(decodeFrame(f, 0)).toMatchObject({ seq: 42, end: f.length });
    expect(decodeFrame(f, 0)?.payload.toString()).toBe('hello');
    for (let i = 0; i < f.length; i++) {
      const bad = Buffer.from(f);
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      expect(decodeFrame(bad, 0)).toBeNull();
    }
    expect(decodeFrame(f.subarray(0, f.length - 1), 0)).toBeNull();
    expect(decodeFrame(Buffer.alloc(32), 0)).toBeNull();
  });
});

describe('MetadataLog', () => {
  it('replays what it appended, in order, after a clean close', async () => {
    const fs = new SimulatedFileSystem();
    const { log } = await MetadataLog.open(options(fs));
    expect(await Promise.all([1, 2, 3].map((i) => log.append(entry(i))))).toEqual([1, 2, 3]);
    await log.close();
    const { log: again, recovered } = await MetadataLog.open(options(fs));
    expect(recovered.snapshot).toBeNull();
    expect(recovered.entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(texts(recovered.entries)).toEqual([1, 2, 3].map((i) => entry(i).toString()));
    expect(recovered.truncatedBytes).toBe(0);
    expect(await again.append(entry(4))).toBe(4);
  });

  it('group-commits the appends made while an fsync is in flight', async () => {
    const fs = new SimulatedFileSystem();
    const commits: number[] = [];
    const { log } = await MetadataLog.open(options(fs, { onCommit: (c) => commits.push(c.entries) }));
    const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(entry(i))));
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(commits.reduce((a, b) => a + b, 0)).toBe(50);
    expect(commits).toEqual([50]);
  });

  it('loses nothing acknowledged when the machine crashes, and cuts a torn tail', async () => {
    let torn = 0;
    let beyond = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 2 ** 31 }), async (acked, unacked, seed) => {
        const fs = new SimulatedFileSystem();
        const { log } = await MetadataLog.open(options(fs));
        for (let i = 1; i <= acked; i++) await log.append(entry(i));
        // The next batch is written but its fsync fails: on disk, but not durable.
        fs.failNext('datasync', 'log-');
        const pending = Array.from({ length: unacked }, (_, i) => log.append(entry(acked + 1 + i)).catch((err: unknown) => err));
        for (const p of await Promise.all(pending)) expect(p).toBeInstanceOf(MetadataLogWriteError);
        fs.crash(seeded(seed));
        const { log: again, recovered } = await MetadataLog.open(options(fs));
        const n = recovered.entries.length;
        if (recovered.truncatedBytes > 0) torn++;
        if (n > acked) beyond++;
        // A valid prefix: every acknowledged entry, then some of the unacknowledged ones.
        expect(n).toBeGreaterThanOrEqual(acked);
        expect(n).toBeLessThanOrEqual(acked + unacked);
        expect(texts(recovered.entries)).toEqual(Array.from({ length: n }, (_, i) => entry(i + 1).toString()));
        expect(await again.append(entry(999))).toBe(n + 1);
        await again.close();
        const { recovered: third } = await MetadataLog.open(options(fs));
        expect(third.entries.map((e) => e.seq)).toEqual(Array.from({ length: n + 1 }, (_, i) => i + 1));
        expect(third.truncatedBytes).toBe(0);
      }),
      // A fixed seed: the coverage checked below must not depend on luck.
      { numRuns: 60, seed: 20261123 },
    );
    // The runs did cover both torn frames and whole unacknowledged frames surviving.
    expect(torn).toBeGreaterThan(0);
    expect(beyond).toBeGreaterThan(0);
  });

  it('cuts a zero-filled tail (what some filesystems leave after a crash)', async () => {
    const fs = new SimulatedFileSystem();
    const { log } = await MetadataLog.open(options(fs));
    await log.append(entry(1));
    await log.close();
    const [seg] = (await fs.readdir(dir)).filter((n) => n.endsWith('.seg'));
    const h = await fs.open(`${dir}/${seg}`, 'write');
    await h.write(Buffer.alloc(100), await h.size());
    await h.datasync();
    const { recovered } = await MetadataLog.open(options(fs));
    expect(recovered.entries.map((e) => e.seq)).toEqual([1]);
    expect(recovered.truncatedBytes).toBe(100);
  });

  it('fails every later append after a write error (the process must restart)', async () => {
    const fs = new SimulatedFileSystem();
    const { log } = await MetadataLog.open(options(fs));
    await log.append(entry(1));
    fs.failNext('write', 'log-');
    await expect(log.append(entry(2))).rejects.toBeInstanceOf(MetadataLogWriteError);
    expect(log.failed).toBeInstanceOf(MetadataLogWriteError);
    await expect(log.append(entry(3))).rejects.toMatchObject({ code: 'FLOE_ERR_METADATA_LOG_WRITE' });
  });

  it('snapshots, continues in a new segment, deletes what the snapshot covers, and replays from it', async () => {
    const fs = new SimulatedFileSystem();
    const { log } = await MetadataLog.open(options(fs, { snapshotEveryEntries: 3 }));
    for (let i = 1; i <= 3; i++) await log.append(entry(i));
    expect(log.snapshotDue()).toBe(true);
    const snap = log.snapshot(Buffer.from('state-after-3'));
    expect(log.snapshotDue()).toBe(false);
    await Promise.all([log.append(entry(4)), log.append(entry(5)), snap]);
    expect(await fs.readdir(dir)).toEqual([`log-${'4'.padStart(20, '0')}.seg`, `snapshot-${'3'.padStart(20, '0')}.snap`]);
    await log.close();
    fs.crash();
    const { recovered } = await MetadataLog.open(options(fs, { snapshotEveryEntries: 3 }));
    expect(recovered.snapshot?.seq).toBe(3);
    expect(recovered.snapshot?.payload.toString()).toBe('state-after-3');
    expect(recovered.entries.map((e) => e.seq)).toEqual([4, 5]);
  });

  it('keeps the whole log when a snapshot cannot be written', async () => {
    const fs = new SimulatedFileSystem();
    const { log } = await MetadataLog.open(options(fs, { snapshotEveryEntries: 2 }));
    await log.append(entry(1));
    await log.append(entry(2));
    fs.failNext('datasync', 'snapshot');
    const snap = log.snapshot(Buffer.from('state'));
    await log.append(entry(3));
    await expect(snap).rejects.toThrow();
    await log.close();
    fs.crash();
    const { recovered } = await MetadataLog.open(options(fs));
    expect(recovered.snapshot).toBeNull();
    expect(recovered.entries.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('deletes leftovers of an interrupted snapshot write', async () => {
    const fs = new SimulatedFileSystem();
    await fs.mkdirp(dir);
    await fs.writeFileAtomic(`${dir}/x.tmp`, Buffer.from('junk'));
    await MetadataLog.open(options(fs));
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it('refuses a bad frame followed by valid entries: that is corruption, not a crash', async () => {
    const fs = new SimulatedFileSystem();
    const { log } = await MetadataLog.open(options(fs, { snapshotEveryEntries: 1_000 }));
    await log.append(entry(1));
    await log.append(entry(2));
    await log.snapshot(Buffer.from('s'));
    await log.append(entry(3));
    await log.close();
    // Put back an old segment whose first frame is damaged ahead of the live one.
    const h = await fs.open(`${dir}/log-${'0'.padStart(20, '0')}.seg`, 'write');
    const bad = encodeFrame(1, Buffer.from('x'));
    bad[bad.length - 1] = 0;
    await h.write(bad, 0);
    await h.datasync();
    await expect(MetadataLog.open(options(fs))).rejects.toBeInstanceOf(MetadataLogCorruptError);
  });

  it('refuses a gap in the sequence', async () => {
    const fs = new SimulatedFileSystem();
    await fs.mkdirp(dir);
    const h = await fs.open(`${dir}/log-${'1'.padStart(20, '0')}.seg`, 'write');
    const a = encodeFrame(1, Buffer.from('a'));
    await h.write([a, encodeFrame(3, Buffer.from('c'))], 0);
    await h.datasync();
    await expect(MetadataLog.open(options(fs))).rejects.toMatchObject({ code: 'FLOE_ERR_METADATA_LOG_CORRUPT' });
  });
});
