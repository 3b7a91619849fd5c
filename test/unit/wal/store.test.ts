import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { ManualClock } from '../../../src/common/clock.ts';
import { SimulatedFileSystem } from '../../../src/common/sim-fs.ts';
import type { FileSystem } from '../../../src/common/fs.ts';
import { WalStore } from '../../../wal/store.ts';
import type { WalStoreOptions } from '../../../wal/store.ts';
import { WalMetrics } from '../../../wal/metrics.ts';
import { encodeRecordHead } from '../../../wal/record.ts';
import { GatedFileSystem, IncarnationFs } from '../../helpers/wal-gated-fs.ts';
import { prng, testSeed } from '../../helpers/wal-random.ts';

const dir = '/wal';

function open(fs: FileSystem, opts: Partial<WalStoreOptions> = {}): Promise<WalStore> {
  return WalStore.open({ dataDir: dir, fs, ...opts });
}

async function ids(store: WalStore, log = 'log'): Promise<number[]> {
  return (await store.read(log, 0, 1 << 30)).entries.map((e) => e.entryId);
}

function b(s: string): Buffer {
  return Buffer.from(s);
}

describe('WalStore durability', () => {
  it('acknowledges an append only after its fdatasync, and a crash before it loses the entry', async () => {
    const sim = new SimulatedFileSystem();
    const gated = new GatedFileSystem(sim);
    const store = await open(gated);
    gated.hold();
    let acked = false;
    const p = store.append('log', 1, 0, b('unsynced')).then(() => {
      acked = true;
    });
    await gated.syncArrived();
    // Written to the file, fdatasync not yet done: no answer, and a reader does not see it.
    expect(acked).toBe(false);
    expect(await ids(store)).toEqual([]);
    sim.crash();
    gated.release();
    await expect(p).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_STORAGE' });
    expect(acked).toBe(false);
    const reopened = await open(sim);
    expect(await ids(reopened)).toEqual([]);
  });

  it('keeps an acknowledged entry through a crash', async () => {
    const sim = new SimulatedFileSystem();
    const store = await open(sim);
    await store.append('log', 1, 0, b('synced'));
    sim.crash(prng(1));
    const reopened = await open(sim);
    const r = await reopened.read('log', 0);
    expect(r.entries.map((e) => [e.entryId, e.epoch, e.payload.toString()])).toEqual([[0, 1, 'synced']]);
  });

  it('group-commits the appends of one turn under one fdatasync', async () => {
    const gated = new GatedFileSystem(new SimulatedFileSystem());
    const store = await open(gated);
    const before = gated.datasyncs;
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.append('log', 1, i, b(`e${i}`))));
    expect(gated.datasyncs - before).toBe(1);
    expect(await ids(store)).toHaveLength(50);
  });

  it('waits groupCommitDelayMs (on the injected clock) before committing', async () => {
    const clock = new ManualClock();
    const gated = new GatedFileSystem(new SimulatedFileSystem());
    const store = await open(gated, { clock, groupCommitDelayMs: 5 });
    const before = gated.datasyncs;
    let acked = false;
    const p = store.append('log', 1, 0, b('x')).then(() => {
      acked = true;
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(gated.datasyncs - before).toBe(0);
    expect(acked).toBe(false);
    clock.advance(5);
    await p;
    expect(gated.datasyncs - before).toBe(1);
  });

  it('continues after many appends are committed while a sync is outstanding', async () => {
    const gated = new GatedFileSystem(new SimulatedFileSystem());
    const store = await open(gated);
    gated.hold();
    const first = store.append('log', 1, 0, b('a'));
    await gated.syncArrived();
    const rest = Array.from({ length: 10 }, (_, i) => store.append('log', 1, i + 1, b('b')));
    const before = gated.datasyncs;
    gated.release();
    await Promise.all([first, ...rest]);
    // The ten that arrived during the first commit share the second one.
    expect(gated.datasyncs - before).toBe(1);
  });
});

describe('WalStore restart recovery', () => {
  it('truncates a torn tail and never resurrects the entries after it, even after later writes and another crash', async () => {
    const sim = new SimulatedFileSystem();
    await sim.mkdirp(dir);
    const id = Buffer.from('log');
    const rec = (entryId: number, payload: string): Buffer => {
      const p = b(payload);
      return Buffer.concat([encodeRecordHead(id, 1, entryId, [p], p.length), p]);
    };
    const r0 = rec(0, 'kept');
    const r1 = rec(1, 'torn-torn-torn');
    const r2 = rec(2, 'complete but behind a torn record');
    // A disk may persist pages out of order: a complete record behind a torn one.
    const h = await sim.open(`${dir}/00000000000000000001.wal`, 'write');
    await h.write([r0, r1.subarray(0, 10), r2], 0);
    await h.datasync();
    await sim.syncDir(dir);

    const s1 = await open(sim);
    expect(await ids(s1)).toEqual([0]);
    // The writer re-uses nothing: its next entry has a new id and different bytes.
    await s1.append('log', 1, 3, b('after restart'));
    sim.crash(prng(7));
    const s2 = await open(sim);
    const got = (await s2.read('log', 0)).entries.map((e) => [e.entryId, e.payload.toString()]);
    expect(got).toEqual([
      [0, 'kept'],
      [3, 'after restart'],
    ]);
    // The cut is physical: the segment now ends where its valid records end.
    expect((await sim.readFile(`${dir}/00000000000000000001.wal`)).length).toBe(r0.length);
  });

  it('refuses to start when a segment other than the newest is corrupt', async () => {
    const sim = new SimulatedFileSystem();
    const store = await open(sim, { segmentBytes: 4096 });
    for (let i = 0; i < 20; i++) await store.append('log', 1, i, Buffer.alloc(1000, i));
    await store.close();
    const names = (await sim.readdir(dir)).filter((n) => n.endsWith('.wal'));
    expect(names.length).toBeGreaterThan(2);
    const h = await sim.open(`${dir}/${names[0]}`, 'write');
    await h.write(Buffer.from([0xff, 0xff]), 20);
    await h.datasync();
    await expect(open(sim)).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_CORRUPT' });
  });

  it('checks the CRC again when reading', async () => {
    const sim = new SimulatedFileSystem();
    const store = await open(sim);
    await store.append('log', 1, 0, b('precious bytes'));
    const seg = (await sim.readdir(dir)).filter((n) => n.endsWith('.wal')).at(-1)!;
    const h = await sim.open(`${dir}/${seg}`, 'write');
    await h.write(b('X'), 30);
    await expect(store.read('log', 0)).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_CORRUPT' });
  });

  it('keeps the newest epoch of an entry id across restarts', async () => {
    const sim = new SimulatedFileSystem();
    const store = await open(sim);
    await store.append('log', 1, 0, b('old'));
    await store.append('log', 2, 0, b('new'));
    await expect(store.append('log', 1, 0, b('older writer'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_FENCED' });
    sim.crash();
    const reopened = await open(sim);
    const r = await reopened.read('log', 0);
    expect(r.entries.map((e) => [e.entryId, e.epoch, e.payload.toString()])).toEqual([[0, 2, 'new']]);
  });

  it('reads in pages of at most maxBytes, but at least one entry', async () => {
    const store = await open(new SimulatedFileSystem());
    for (let i = 0; i < 10; i++) await store.append('log', 1, i, Buffer.alloc(100, i));
    const first = await store.read('log', 0, 350);
    expect(first.entries.map((e) => e.entryId)).toEqual([0, 1]);
    expect(first.more).toBe(true);
    const one = await store.read('log', 5, 1);
    expect(one.entries.map((e) => e.entryId)).toEqual([5]);
    const last = await store.read('log', 8, 1 << 20);
    expect(last.entries.map((e) => e.entryId)).toEqual([8, 9]);
    expect(last.more).toBe(false);
  });
});

describe('WalStore fencing', () => {
  it('refuses appends older than the fence, durably across a crash', async () => {
    const sim = new SimulatedFileSystem();
    const metrics = new WalMetrics(new Registry());
    const store = await open(sim, { metrics });
    await store.append('log', 1, 0, b('a'));
    const state = await store.fence('log', 2);
    expect(state).toMatchObject({ fenceEpoch: 2, endEntryId: 1, entryCount: 1 });
    await expect(store.append('log', 1, 1, b('zombie'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_FENCED', fenceEpoch: 2 });
    expect((await metrics.fencedAppends.get()).values[0]!.value).toBe(1);
    sim.crash(prng(3));
    const reopened = await open(sim);
    await expect(reopened.append('log', 1, 1, b('zombie'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_FENCED' });
    await reopened.append('log', 2, 1, b('new writer'));
    expect(await ids(reopened)).toEqual([0, 1]);
  });

  it('needs a strictly newer epoch to fence', async () => {
    const store = await open(new SimulatedFileSystem());
    await store.fence('log', 3);
    await expect(store.fence('log', 3)).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_FENCED', fenceEpoch: 3 });
    await expect(store.fence('log', 2)).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_FENCED' });
  });

  it('raises the fence durably when an append comes at a newer epoch', async () => {
    const sim = new SimulatedFileSystem();
    const store = await open(sim);
    await store.append('log', 5, 0, b('a'));
    sim.crash();
    const reopened = await open(sim);
    expect(reopened.state('log').fenceEpoch).toBe(5);
    await expect(reopened.append('log', 4, 1, b('old'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_FENCED' });
  });

  it('answers a fence only after the appends accepted before it are durable, and shows them', async () => {
    const gated = new GatedFileSystem(new SimulatedFileSystem());
    const store = await open(gated);
    gated.hold();
    const order: string[] = [];
    const a = store.append('log', 1, 0, b('in flight')).then(() => order.push('append'));
    await gated.syncArrived();
    const f = store.fence('log', 2).then((s) => {
      order.push('fence');
      return s;
    });
    gated.release();
    const [, state] = await Promise.all([a, f]);
    expect(order).toEqual(['append', 'fence']);
    expect(state.endEntryId).toBe(1);
  });

  it('applies a truncation marker to older epochs only, durably', async () => {
    const sim = new SimulatedFileSystem();
    const store = await open(sim);
    for (let i = 0; i < 5; i++) await store.append('log', 1, i, b(`old${i}`));
    await store.truncate('log', 2, 3);
    expect(await ids(store)).toEqual([0, 1, 2]);
    await store.append('log', 2, 3, b('new3'));
    await expect(store.append('log', 1, 4, b('zombie'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_FENCED' });
    sim.crash();
    const reopened = await open(sim);
    const r = await reopened.read('log', 0);
    expect(r.entries.map((e) => `${e.entryId}@${e.epoch}:${e.payload.toString()}`)).toEqual(['0@1:old0', '1@1:old1', '2@1:old2', '3@2:new3']);
    expect(r.state).toMatchObject({ truncEpoch: 2, truncFrom: 3, fenceEpoch: 2 });
  });
});

describe('WalStore trims and limits', () => {
  it('deletes whole segments below the trim point, durably', async () => {
    const sim = new SimulatedFileSystem();
    const store = await open(sim, { segmentBytes: 4096 });
    for (let i = 0; i < 40; i++) await store.append('a', 1, i, Buffer.alloc(500, i));
    await store.append('b', 1, 0, b('other log, early'));
    for (let i = 40; i < 60; i++) await store.append('a', 1, i, Buffer.alloc(500, i));
    const segmentsBefore = store.segmentCount();
    const usedBefore = store.diskUsageBytes();
    await store.trim('a', 1, 30);
    expect(store.segmentCount()).toBeLessThan(segmentsBefore);
    expect(store.diskUsageBytes()).toBeLessThan(usedBefore);
    expect((await ids(store, 'a'))[0]).toBe(30);
    // The segment holding log b's entry stays until b is trimmed too.
    expect(await ids(store, 'b')).toEqual([0]);
    await expect(store.trim('a', 0, 50)).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_FENCED' });
    sim.crash();
    const reopened = await open(sim, { segmentBytes: 4096 });
    expect((await ids(reopened, 'a'))[0]).toBe(30);
    expect(reopened.state('a').trimmedUpTo).toBe(30);
    expect(await ids(reopened, 'b')).toEqual([0]);
  });

  it('refuses appends past the disk-usage limit with a clear error, and takes them again after a trim', async () => {
    const sim = new SimulatedFileSystem();
    const metrics = new WalMetrics(new Registry());
    const store = await open(sim, { segmentBytes: 4096, diskLimitBytes: 16_384, metrics });
    let i = 0;
    let refusal: unknown = null;
    for (; i < 100; i++) {
      try {
        await store.append('log', 1, i, Buffer.alloc(1000, i));
      } catch (err) {
        refusal = err;
        break;
      }
    }
    expect(refusal).toMatchObject({ code: 'FLOE_ERR_WAL_DISK_FULL' });
    expect(String((refusal as Error).message)).toMatch(/disk-usage limit reached.*16384 bytes.*trim/);
    expect(store.diskUsageBytes()).toBeLessThanOrEqual(16_384);
    expect((await metrics.diskFullRejections.get()).values[0]!.value).toBe(1);
    await store.trim('log', 1, i);
    await store.append('log', 1, i, Buffer.alloc(1000, 1));
    expect(await ids(store)).toEqual([i]);
  });

  it('reports ENOSPC from the disk as disk full and keeps working', async () => {
    const sim = new SimulatedFileSystem();
    const store = await open(sim);
    await store.append('log', 1, 0, b('fits'));
    sim.capacityBytes = sim.usedBytes() + 100;
    await expect(store.append('log', 1, 1, Buffer.alloc(500))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_DISK_FULL' });
    await store.append('log', 1, 1, Buffer.alloc(10));
    expect(await ids(store)).toEqual([0, 1]);
  });

  it('stops taking writes after a failed fdatasync, and recovers on reopen', async () => {
    const sim = new SimulatedFileSystem();
    const fatal: Error[] = [];
    const store = await open(sim, { onFatal: (e) => fatal.push(e) });
    await store.append('log', 1, 0, b('a'));
    sim.failNext('datasync', '.wal');
    await expect(store.append('log', 1, 1, b('b'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_STORAGE' });
    expect(fatal).toHaveLength(1);
    await expect(store.append('log', 1, 2, b('c'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_STORAGE' });
    sim.crash();
    const reopened = await open(sim);
    expect(await ids(reopened)).toEqual([0]);
    await reopened.append('log', 1, 1, b('b'));
  });

  it('refuses arguments outside the limits', async () => {
    const store = await open(new SimulatedFileSystem());
    await expect(store.append('x'.repeat(256), 1, 0, b('a'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_INVALID_ARGUMENT' });
    await expect(store.append('log', 1, -1, b('a'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_INVALID_ARGUMENT' });
    await expect(store.append('log', 2 ** 32, 0, b('a'))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_INVALID_ARGUMENT' });
    await expect(store.append('log', 1, 0, Buffer.alloc(16 * 1024 * 1024 + 1))).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_ENTRY_TOO_LARGE' });
  });
});

describe('WalStore under random crashes (seeded)', () => {
  it('keeps every acknowledged entry, invents nothing and resurrects nothing', async () => {
    const seed = testSeed('wal store crash property');
    type Step = { kind: 'append'; count: number; bytes: number } | { kind: 'turns'; n: number } | { kind: 'settle' } | { kind: 'crash' } | { kind: 'trim' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 6 }), bytes: fc.integer({ min: 0, max: 700 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('turns' as const), n: fc.integer({ min: 0, max: 4 }) }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'settle' as const }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'crash' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'trim' as const }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (steps, tornSeed) => {
        const random = prng(tornSeed);
        const sim = new SimulatedFileSystem();
        const opts = { segmentBytes: 4096 };
        // Each life of the store gets its own view of the disk: the one before a crash can
        // still be finishing work (a segment deletion), which a dead process would not do.
        let life = new IncarnationFs(sim);
        const crashAndReopen = async (): Promise<void> => {
          life.kill();
          sim.crash(random);
          life = new IncarnationFs(sim);
          store = await open(life, opts);
        };
        let store = await open(life, opts);
        const payloads = new Map<number, Buffer>();
        const acked = new Set<number>();
        let pending: Promise<void>[] = [];
        let nextId = 0;
        let trimmedUpTo = 0;
        let present = new Set<number>();
        let appendedSinceReopen = new Set<number>();
        const verify = async (): Promise<void> => {
          const r = await store.read('log', 0, 1 << 30);
          const now = new Set<number>();
          for (const e of r.entries) {
            expect(e.payload.equals(payloads.get(e.entryId)!), `entry ${e.entryId} has its own bytes`).toBe(true);
            now.add(e.entryId);
          }
          for (const id of acked) if (id >= trimmedUpTo) expect(now.has(id), `acknowledged entry ${id} survived`).toBe(true);
          for (const id of now) expect(present.has(id) || appendedSinceReopen.has(id), `entry ${id} was not resurrected`).toBe(true);
          present = now;
          appendedSinceReopen = new Set();
        };
        for (const s of steps) {
          switch (s.kind) {
            case 'append':
              for (let i = 0; i < s.count; i++) {
                const id = nextId++;
                const p = Buffer.alloc(s.bytes, id & 0xff);
                payloads.set(id, p);
                appendedSinceReopen.add(id);
                pending.push(
                  store.append('log', 1, id, p).then(
                    () => void acked.add(id),
                    () => undefined,
                  ),
                );
              }
              break;
            case 'turns':
              for (let i = 0; i < s.n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
              break;
            case 'settle':
              await Promise.all(pending);
              pending = [];
              break;
            case 'trim': {
              const upTo = Math.floor(random() * (nextId + 1));
              await store.trim('log', 1, upTo).then(
                () => void (trimmedUpTo = Math.max(trimmedUpTo, upTo)),
                () => undefined,
              );
              break;
            }
            case 'crash': {
              const before = pending;
              pending = [];
              await crashAndReopen();
              // Whatever resolves now was durable before the crash (its fdatasync returned).
              await Promise.all(before);
              await verify();
              break;
            }
            default: {
              const never: never = s;
              throw new Error(String(never));
            }
          }
        }
        await Promise.all(pending);
        await crashAndReopen();
        await verify();
      }),
      { seed, numRuns: 60 },
    );
  });
});
