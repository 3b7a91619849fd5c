import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as net from 'node:net';
import { WalClient } from '../../../wal/client.ts';
import { readLog, recoverLog, trimLog } from '../../../wal/recovery.ts';
import type { RecoveredLog } from '../../../wal/recovery.ts';
import { WalFencedError, WalQuorumUnavailableError } from '../../../wal/errors.ts';
import { reachable, startInProcessCluster } from '../../helpers/wal-inprocess.ts';
import type { InProcessCluster } from '../../helpers/wal-inprocess.ts';
import { payloadFor, prng, testSeed } from '../../helpers/wal-random.ts';
import { GatedFileSystem } from '../../helpers/wal-gated-fs.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const logId = 'broker-7';

async function cluster(): Promise<InProcessCluster> {
  const c = await startInProcessCluster(3);
  cleanups.push(() => c.stop());
  return c;
}

async function writer(c: InProcessCluster, epoch: number, nextEntryId: number): Promise<WalClient> {
  const w = await WalClient.open({ nodes: c.nodes, ackQuorum: 2, logId, epoch, nextEntryId });
  cleanups.push(() => w.close());
  return w;
}

function text(r: RecoveredLog): string[] {
  return r.entries.map((e) => `${e.entryId}:${e.payload.toString()}`);
}

async function writeAll(w: WalClient, values: string[]): Promise<void> {
  await Promise.all(values.map((v) => w.append(Buffer.from(v)).quorumDurable));
}

describe('recoverLog', () => {
  it('returns every quorum-durable entry, re-written at the new epoch, and a second recovery returns the same', async () => {
    const c = await cluster();
    const w1 = await writer(c, 1, 0);
    await writeAll(w1, ['a', 'b', 'c']);
    const r2 = await recoverLog({ nodes: c.nodes, logId, newEpoch: 2, ackQuorum: 2 });
    expect(text(r2)).toEqual(['0:a', '1:b', '2:c']);
    expect(r2).toMatchObject({ nextEntryId: 3, trimmedUpTo: 0 });
    // The tail now lives at epoch 2 on a quorum (at least two nodes).
    const atTwo = [0, 1, 2].filter((i) => c.store(i).state(logId).fenceEpoch === 2);
    expect(atTwo).toHaveLength(3);
    const rewritten = await Promise.all([0, 1, 2].map(async (i) => (await c.store(i).read(logId, 0)).entries.filter((e) => e.epoch === 2).length));
    expect(rewritten.filter((n) => n === 3).length).toBeGreaterThanOrEqual(2);

    const r3 = await recoverLog({ nodes: c.nodes, logId, newEpoch: 3, ackQuorum: 2 });
    expect(text(r3)).toEqual(text(r2));

    // The next owner writes at the recovery's epoch from nextEntryId; its entries are recovered too.
    const w3 = await writer(c, 3, r3.nextEntryId);
    await writeAll(w3, ['d']);
    // An epoch is a recovery's own: it cannot be used twice.
    await expect(recoverLog({ nodes: c.nodes, logId, newEpoch: 3, ackQuorum: 2 })).rejects.toBeInstanceOf(WalFencedError);
    const r4 = await recoverLog({ nodes: c.nodes, logId, newEpoch: 4, ackQuorum: 2 });
    expect(text(r4)).toEqual(['0:a', '1:b', '2:c', '3:d']);
    await expect(w3.append(Buffer.from('e')).quorumDurable).rejects.toBeInstanceOf(WalFencedError);
  });

  it('leaves a zombie writer not one commit after the fence', async () => {
    const c = await cluster();
    const zombie = await writer(c, 1, 0);
    await writeAll(zombie, ['a', 'b']);
    const reported: number[] = [];
    const inFlight = Array.from({ length: 50 }, (_, i) => zombie.append(Buffer.from(`z${i}`)));
    for (const a of inFlight) void a.quorumDurable.then(() => reported.push(a.entryId), () => undefined);
    const r = await recoverLog({ nodes: c.nodes, logId, newEpoch: 2, ackQuorum: 2 });
    const after = Array.from({ length: 20 }, () => {
      try {
        return zombie.append(Buffer.from('after')).quorumDurable;
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    await Promise.allSettled([...inFlight.map((a) => a.quorumDurable), ...after]);
    // Everything the zombie ever reported is in the recovered log, and nothing after it.
    const recovered = new Set(r.entries.map((e) => e.entryId));
    for (const id of reported) expect(recovered.has(id)).toBe(true);
    expect(zombie.quorumDurableEnd()).toBeLessThanOrEqual(r.nextEntryId);
    for (const p of after) await expect(p).rejects.toBeInstanceOf(WalFencedError);
  });

  it('never brings back an entry a finished recovery cut off', async () => {
    const c = await cluster();
    const w1 = await writer(c, 1, 0);
    await writeAll(w1, ['a', 'b']);
    // Nodes 1 and 2 die; the writer's next entries reach node 0 only.
    await c.crash(1);
    await c.crash(2);
    await reachable(w1, 1);
    await Promise.all(['lost-1', 'lost-2'].map((v) => w1.append(Buffer.from(v)).oneDurable));
    await w1.close();
    // Node 0 goes away (its data stays); 1 and 2 come back; recovery at 2 cuts the log at 2.
    const node0 = c.sims[0]!;
    await c.crash(0);
    await c.restart(1);
    await c.restart(2);
    const r2 = await recoverLog({ nodes: c.nodes, logId, newEpoch: 2, ackQuorum: 2 });
    expect(text(r2)).toEqual(['0:a', '1:b']);
    // The writer at 2 adds one entry, on nodes 1 and 2.
    const w2 = await writer(c, 2, r2.nextEntryId);
    await writeAll(w2, ['c']);
    await w2.close();
    // Node 0 is back with its stale 2@1 and 3@1; node 1 is down: recovery reads 0 and 2.
    expect(node0).toBe(c.sims[0]);
    await c.restart(0);
    await c.crash(1);
    const r3 = await recoverLog({ nodes: c.nodes, logId, newEpoch: 3, ackQuorum: 2 });
    expect(text(r3)).toEqual(['0:a', '1:b', '2:c']);
    // And without the writer at 2 having written anything past the mark: still cut.
    await c.restart(1);
    const r4 = await recoverLog({ nodes: c.nodes, logId, newEpoch: 4, ackQuorum: 2 });
    expect(text(r4)).toEqual(['0:a', '1:b', '2:c']);
  });

  it('fails with the distinct error when fewer than a fence quorum answer', async () => {
    const c = await cluster();
    const w = await writer(c, 1, 0);
    await writeAll(w, ['a']);
    await c.crash(1);
    await c.crash(2);
    const err = await recoverLog({ nodes: c.nodes, logId, newEpoch: 2, ackQuorum: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalQuorumUnavailableError);
    expect(err).toMatchObject({ code: 'FLOE_ERR_WAL_QUORUM_UNAVAILABLE', reachable: 1, required: 2 });
  });

  it('does not wait for a node that accepts connections but never answers', async () => {
    const c = await cluster();
    const sockets = new Set<net.Socket>();
    const blackhole = net.createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          blackhole.close(() => resolve());
        }),
    );
    const nodes = [c.nodes[0]!, c.nodes[1]!, { host: '127.0.0.1', port: (blackhole.address() as net.AddressInfo).port }];
    const w = await WalClient.open({ nodes, ackQuorum: 2, logId, epoch: 1, nextEntryId: 0, requestTimeoutMs: 120_000, connectTimeoutMs: 120_000 });
    cleanups.push(() => w.close());
    await writeAll(w, ['a', 'b']);
    // With timeouts far beyond the test's own, only the straggler rule can finish these.
    const r = await recoverLog({ nodes, logId, newEpoch: 2, ackQuorum: 2, requestTimeoutMs: 120_000, connectTimeoutMs: 120_000 });
    expect(text(r)).toEqual(['0:a', '1:b']);
    expect(text(await readLog({ nodes, logId, requestTimeoutMs: 120_000, connectTimeoutMs: 120_000 }))).toEqual(['0:a', '1:b']);
  });

  it('starts at the trim point', async () => {
    const c = await cluster();
    const w = await writer(c, 1, 0);
    await writeAll(w, ['a', 'b', 'c', 'd', 'e']);
    await w.trim(3);
    const r = await recoverLog({ nodes: c.nodes, logId, newEpoch: 2, ackQuorum: 2 });
    expect(text(r)).toEqual(['3:d', '4:e']);
    expect(r).toMatchObject({ trimmedUpTo: 3, nextEntryId: 5 });
  });

  it('returns an empty log for a log never written', async () => {
    const c = await cluster();
    const r = await recoverLog({ nodes: c.nodes, logId: 'fresh', newEpoch: 1, ackQuorum: 2 });
    expect(r).toEqual({ entries: [], nextEntryId: 0, trimmedUpTo: 0 });
  });
});

describe('trimLog', () => {
  it('trims a recovered log without a writer, and refuses a superseded epoch', async () => {
    const c = await cluster();
    const w = await writer(c, 1, 0);
    await writeAll(w, ['a', 'b', 'c']);
    const r = await recoverLog({ nodes: c.nodes, logId, newEpoch: 2, ackQuorum: 2 });
    await expect(trimLog({ nodes: c.nodes, logId, epoch: 1, upTo: 3 })).rejects.toBeInstanceOf(WalFencedError);
    expect(await trimLog({ nodes: c.nodes, logId, epoch: 2, upTo: r.nextEntryId })).toBe(3);
    for (let i = 0; i < 3; i++) expect(c.store(i).state(logId)).toMatchObject({ trimmedUpTo: 3, entryCount: 0 });
    const again = await recoverLog({ nodes: c.nodes, logId, newEpoch: 3, ackQuorum: 2 });
    expect(again).toEqual({ entries: [], nextEntryId: 3, trimmedUpTo: 3 });
  });
});

describe('readLog', () => {
  it('reads a live log without fencing it', async () => {
    const c = await cluster();
    const w = await writer(c, 1, 0);
    await writeAll(w, ['a', 'b', 'c']);
    const r = await readLog({ nodes: c.nodes, logId, fromEntryId: 1 });
    expect(text(r)).toEqual(['1:b', '2:c']);
    expect(r.nextEntryId).toBe(3);
    await writeAll(w, ['d']);
  });
});

describe('recovery under random faults (seeded)', () => {
  // Invariants after every finished recovery: every entry any writer reported
  // quorum-durable is returned, with its bytes; every entry returned by an earlier finished
  // recovery is returned again, with its bytes; every returned entry holds bytes some
  // writer appended under that id.
  it('returns every reported entry and never changes or drops a recovered one', async () => {
    const seed = testSeed('wal recovery property');
    type Step =
      | { kind: 'append'; count: number }
      | { kind: 'crash'; node: number; torn: boolean }
      | { kind: 'restart'; node: number }
      | { kind: 'turns'; n: number }
      | { kind: 'recover' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 8 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('crash' as const), node: fc.integer({ min: 0, max: 2 }), torn: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), node: fc.integer({ min: 0, max: 2 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('turns' as const), n: fc.integer({ min: 0, max: 3 }) }) },
      { weight: 2, arbitrary: fc.constant({ kind: 'recover' as const }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 24 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (steps, runSeed) => {
        const random = prng(runSeed);
        const c = await startInProcessCluster(3, {
          wrapFs: (_i, sim) => {
            const g = new GatedFileSystem(sim);
            g.delayTurns = () => Math.floor(random() * 4);
            return g;
          },
        });
        try {
          let epoch = 1;
          let w = await WalClient.open({ nodes: c.nodes, ackQuorum: 2, logId, epoch, nextEntryId: 0, requestTimeoutMs: 2000 });
          // Each writer's payloads are derived from its epoch, so a stale version is recognisable.
          const written = new Map<number, Set<string>>();
          const reported = new Map<number, string>();
          let lastRecovered: RecoveredLog | null = null;
          const appendSome = (count: number): void => {
            for (let i = 0; i < count; i++) {
              let a;
              try {
                a = w.append(payloadFor(epoch, w.nextEntryId(), 16));
              } catch {
                return;
              }
              const hex = payloadFor(epoch, a.entryId, 16).toString('hex');
              const set = written.get(a.entryId) ?? new Set<string>();
              set.add(hex);
              written.set(a.entryId, set);
              const id = a.entryId;
              void a.quorumDurable.then(
                () => void reported.set(id, hex),
                () => undefined,
              );
            }
          };
          for (const s of [...steps, { kind: 'recover' as const }]) {
            switch (s.kind) {
              case 'append':
                appendSome(s.count);
                break;
              case 'crash':
                if (c.isUp(s.node)) await c.crash(s.node, s.torn ? random : undefined);
                break;
              case 'restart':
                if (!c.isUp(s.node)) await c.restart(s.node);
                break;
              case 'turns':
                for (let i = 0; i < s.n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
                break;
              case 'recover': {
                // The writer dies: whatever it reported so far is what must survive.
                await w.close();
                const mustSurvive = new Map(reported);
                // Bring nodes back until a recovery at a fresh epoch succeeds.
                let r: RecoveredLog | null = null;
                for (let attempt = 0; r === null; attempt++) {
                  epoch++;
                  try {
                    r = await recoverLog({ nodes: c.nodes, logId, newEpoch: epoch, ackQuorum: 2, stragglerMs: 20, connectTimeoutMs: 500 });
                  } catch (err) {
                    if (!(err instanceof WalQuorumUnavailableError)) throw err;
                    const downs = [0, 1, 2].filter((i) => !c.isUp(i));
                    const down = downs[Math.floor(random() * downs.length)];
                    if (down === undefined || attempt > 5) throw err;
                    await c.restart(down);
                  }
                }
                const got = new Map(r.entries.map((e) => [e.entryId, e.payload.toString('hex')]));
                for (const [id, hex] of mustSurvive) if (id >= r.trimmedUpTo) expect(got.get(id), `reported entry ${id}`).toBe(hex);
                if (lastRecovered) for (const e of lastRecovered.entries) expect(got.get(e.entryId), `recovered entry ${e.entryId}`).toBe(e.payload.toString('hex'));
                for (const [id, hex] of got) expect(written.get(id)?.has(hex), `entry ${id} holds bytes written under its id`).toBe(true);
                expect(r.entries.map((e) => e.entryId)).toEqual(r.entries.map((_, i) => r.trimmedUpTo + i));
                lastRecovered = r;
                // The writer at the new epoch continues the log; reports of dead writers are settled.
                reported.clear();
                for (const [id, hex] of got) reported.set(id, hex);
                w = await WalClient.open({ nodes: c.nodes, ackQuorum: 2, logId, epoch, nextEntryId: r.nextEntryId, requestTimeoutMs: 2000 });
                break;
              }
              default: {
                const never: never = s;
                throw new Error(String(never));
              }
            }
          }
          await w.close();
        } finally {
          await c.stop();
        }
      }),
      { seed, numRuns: 50 },
    );
  });
});
