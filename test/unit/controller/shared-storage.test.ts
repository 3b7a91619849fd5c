/**
 * The Controller in shared-storage mode, in process, with a ManualClock, a
 * SimulatedFileSystem, a MemoryObjectStore and a stub WAL recovery: hand-over state
 * transitions (complete, owner dies, target dies, timeout, re-target), WAL epochs across
 * registrations and crashes, the WAL recovery before a failover (durable epoch first,
 * owned()/commit() as the dead broker, retries keeping partitions offline, a new process
 * waiting meanwhile, skipped after a clean shutdown), garbage and orphan collection, and
 * the index across a crash. Time moves only by clock.advance(); `settle()` lets promise
 * chains on the simulated filesystem and store finish.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Controller, type ControllerOptions } from '../../../controller/controller.ts';
import { ControllerLimits } from '../../../controller/limits.ts';
import { ControllerMetrics } from '../../../controller/metrics.ts';
import { objectIndexToJson } from '../../../controller/object-index.ts';
import type { RecoverBrokerWal, RecoverBrokerWalOptions } from '../../../controller/wal-recovery.ts';
import { FaultyObjectStore } from '../../../objectstore/faulty-object-store.ts';
import { MemoryObjectStore } from '../../../objectstore/memory-object-store.ts';
import type { ObjectStore } from '../../../objectstore/object-store.ts';
import { ManualClock } from '../../../src/common/clock.ts';
import { SimulatedFileSystem } from '../../../src/common/sim-fs.ts';
import type { CommitObjectRequest, ObjectSection, WireView } from '../../../src/metadata/controller-api.ts';

const LEASE_MS = 3000;
const GRACE_MS = 10_000;
const HANDOVER_MS = 5_000;
const PREFIX = 'floe/';

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Harness {
  controller: Controller;
  clock: ManualClock;
  fs: SimulatedFileSystem;
  registry: Registry;
  store: MemoryObjectStore;
}

const opened: Controller[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close().catch(() => undefined);
});

interface OpenOptions {
  fs?: SimulatedFileSystem;
  clock?: ManualClock;
  store?: MemoryObjectStore;
  /** The store the controller uses, when it wraps `store` (fault injection). */
  storeSeen?: ObjectStore;
  recover?: RecoverBrokerWal;
  extra?: Partial<ControllerOptions>;
}

async function open(o: OpenOptions = {}): Promise<Harness> {
  const fs = o.fs ?? new SimulatedFileSystem();
  const clock = o.clock ?? new ManualClock();
  const store = o.store ?? new MemoryObjectStore(clock);
  const registry = new Registry();
  let n = 0;
  const controller = await Controller.open({
    fs,
    dataDir: '/controller',
    clock,
    logger: pino({ level: 'silent' }),
    metrics: new ControllerMetrics(registry),
    mode: 'shared-storage',
    leaseMs: LEASE_MS,
    defaults: { partitions: 1, replicationFactor: 1 },
    newTopicId: () => `topic-id-${++n}`,
    objectStore: o.storeSeen ?? store,
    objectPrefix: PREFIX,
    objectGraceMs: GRACE_MS,
    orphanScanIntervalMs: 0,
    handoverTimeoutMs: HANDOVER_MS,
    ...(o.recover ? { walRecovery: { recover: o.recover, walNodes: [{ host: '127.0.0.1', port: 1 }] } } : {}),
    ...o.extra,
  });
  opened.push(controller);
  return { controller, clock, fs, registry, store };
}

/**
 * kill -9: whatever was not fsynced is gone. The crashed instance is then stopped so that
 * it does nothing more (a killed process has no timers; this one shares the clock and the
 * store with its successor).
 */
async function crash(h: Harness): Promise<void> {
  h.fs.crash();
  await h.controller.close().catch(() => undefined);
}

const register = (c: Controller, id: number, incarnation = `inc-${id}`) => c.register({ id, incarnation, host: '127.0.0.1', port: 9000 + id, rack: null });
const view = (c: Controller): WireView => JSON.parse(c.view.json) as WireView;
const part = (h: Harness, topic: string, index: number) => h.controller.metadata.topics.get(topic)?.partitions[index];

/** Advances time in heartbeat-sized steps; the brokers in `beating` heartbeat at each step. */
async function run(h: Harness, ms: number, beating: number[]): Promise<void> {
  const step = h.controller.heartbeatMs;
  for (let t = 0; t < ms; t += step) {
    for (const id of beating) h.controller.heartbeat({ id, incarnation: `inc-${id}` });
    h.clock.advance(Math.min(step, ms - t));
    await settle();
  }
}

async function metric(h: Harness, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await h.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

/** Brokers 1..n and topic `t` with one partition per broker id given (t-i owned by owners[i]). */
async function cluster(h: Harness, brokers: number[], partitions: number): Promise<void> {
  for (const id of brokers) await register(h.controller, id);
  const { results } = await h.controller.createTopics([{ name: 't', numPartitions: partitions, replicationFactor: -1, config: {} }], false);
  expect(results[0]?.errorCode).toBe(0);
}

/** Puts an object in the store and commits it as the partition's owner; returns its key. */
async function upload(h: Harness, topic: string, index: number, count: number, key = `${PREFIX}obj-${Math.random().toString(16).slice(2)}`): Promise<string> {
  const p = part(h, topic, index);
  const t = h.controller.metadata.topics.get(topic);
  if (!p || !t) throw new Error(`no ${topic}-${index}`);
  await h.store.put(key, Buffer.alloc(100));
  const { endOffset } = await h.controller.partitionObjects(topic, index);
  const section: ObjectSection & { leaderEpoch: number } = { topic, topicId: t.id, partition: index, startOffset: endOffset, endOffset: endOffset + count, position: 0, length: 100, leaderEpoch: p.leaderEpoch };
  const r = await h.controller.commitObject({ brokerId: p.leader, key, size: 100, sections: [section] });
  expect(r).toEqual({ errorCode: 0, errorMessage: null });
  return key;
}

describe('hand-over', () => {
  it('completes when the owner releases at the index end: ownership moves with the epoch bumped, and the old owner is fenced', async () => {
    const h = await open();
    await cluster(h, [1, 2], 2);
    const t0 = part(h, 't', 0);
    expect(t0?.leader).toBe(1);
    await upload(h, 't', 0, 10);
    const v = h.controller.view.version;
    const moving = await h.controller.reassign('t', 0, { owner: 2 });
    expect(moving).toMatchObject({ leader: 1, leaderEpoch: 0, handoverTo: 2 });
    // Brokers see the hand-over at once (a new version), and the owner may still commit.
    expect(h.controller.view.version).toBe(v + 1);
    expect(view(h.controller).topics[0]?.partitions[0]).toMatchObject({ leader: 1, handoverTo: 2 });
    await upload(h, 't', 0, 5);
    const release = { brokerId: 1, topic: 't', partition: 0, leaderEpoch: 0, endOffset: 10 };
    expect(await h.controller.release(release)).toMatchObject({ errorCode: 42, errorMessage: expect.stringMatching(/commit everything first/) as unknown });
    expect(await h.controller.release({ ...release, brokerId: 2, endOffset: 15 })).toMatchObject({ errorCode: 6 });
    expect(await h.controller.release({ ...release, leaderEpoch: 7, endOffset: 15 })).toMatchObject({ errorCode: 74 });
    expect(await h.controller.release({ ...release, partition: 9 })).toMatchObject({ errorCode: 3 });
    const done = await h.controller.release({ ...release, endOffset: 15 });
    expect(done).toEqual({ errorCode: 0, errorMessage: null, version: h.controller.view.version });
    expect(part(h, 't', 0)).toEqual({ index: 0, leader: 2, leaderEpoch: 1, partitionEpoch: 1, replicas: [2], isr: [2] });
    expect(await metric(h, 'floe_controller_handovers_total', { outcome: 'completed' })).toBe(1);
    // The old owner's late upload is refused; the new owner continues from the end.
    const late: CommitObjectRequest = { brokerId: 1, key: `${PREFIX}late`, size: 10, sections: [{ topic: 't', topicId: 'topic-id-1', partition: 0, startOffset: 15, endOffset: 16, position: 0, length: 10, leaderEpoch: 0 }] };
    expect((await h.controller.commitObject(late)).errorCode).toBe(6);
    await upload(h, 't', 0, 1);
    expect((await h.controller.partitionObjects('t', 0)).endOffset).toBe(16);
    expect(await h.controller.release({ ...release, brokerId: 2, leaderEpoch: 1, endOffset: 16 })).toMatchObject({ errorCode: 42, errorMessage: expect.stringMatching(/not being handed over/) as unknown });
  });

  it('is abandoned after the timeout (the owner keeps the partition), also when the controller restarted meanwhile', async () => {
    const h = await open();
    await cluster(h, [1, 2], 2);
    await h.controller.reassign('t', 0, { owner: 2 });
    await run(h, HANDOVER_MS - h.controller.heartbeatMs, [1, 2]);
    expect(part(h, 't', 0)?.handoverTo).toBe(2);
    await run(h, h.controller.heartbeatMs, [1, 2]);
    expect(part(h, 't', 0)).toEqual({ index: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] });
    expect(await metric(h, 'floe_controller_handovers_total', { outcome: 'timed_out' })).toBe(1);
    expect((await h.controller.release({ brokerId: 1, topic: 't', partition: 0, leaderEpoch: 0, endOffset: 0 })).errorCode).toBe(42);

    // A hand-over under way when the controller crashes gets a whole timeout after the restart.
    await h.controller.reassign('t', 0, { owner: 2 });
    await run(h, HANDOVER_MS / 2, [1, 2]);
    await crash(h);
    const h2 = await open({ fs: h.fs, clock: h.clock, store: h.store });
    expect(part(h2, 't', 0)?.handoverTo).toBe(2);
    await run(h2, HANDOVER_MS - h2.controller.heartbeatMs, [1, 2]);
    expect(part(h2, 't', 0)?.handoverTo).toBe(2);
    await run(h2, h2.controller.heartbeatMs, [1, 2]);
    expect(part(h2, 't', 0)?.handoverTo).toBeUndefined();
  });

  it('goes to the target through the normal failover when the owner dies meanwhile', async () => {
    const h = await open();
    await cluster(h, [1, 2, 3], 3);
    await h.controller.reassign('t', 0, { owner: 3 });
    expect(part(h, 't', 0)).toMatchObject({ leader: 1, handoverTo: 3 });
    await run(h, LEASE_MS, [2, 3]);
    // Offline, then (no WAL recovery configured here) owned by the hand-over's target.
    expect(part(h, 't', 0)).toEqual({ index: 0, leader: 3, leaderEpoch: 2, partitionEpoch: 2, replicas: [3], isr: [3] });
    expect(await metric(h, 'floe_controller_handovers_total', { outcome: 'owner_died' })).toBe(1);
  });

  it('is dropped when the target dies: the owner keeps the partition at its epoch', async () => {
    const h = await open();
    await cluster(h, [1, 2], 2);
    await h.controller.reassign('t', 0, { owner: 2 });
    await run(h, LEASE_MS, [1]);
    expect(part(h, 't', 0)).toEqual({ index: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] });
    expect(await metric(h, 'floe_controller_handovers_total', { outcome: 'target_died' })).toBe(1);
  });

  it('is re-targeted by another move and cancelled by a move back to the owner; drains and rebalances hand over too', async () => {
    const h = await open();
    await cluster(h, [1, 2, 3], 3);
    await h.controller.reassign('t', 0, { owner: 2 });
    await h.controller.reassign('t', 0, { owner: 3 });
    expect(part(h, 't', 0)).toMatchObject({ leader: 1, handoverTo: 3 });
    await h.controller.reassign('t', 0, { owner: 1 });
    expect(part(h, 't', 0)).not.toHaveProperty('handoverTo');
    expect(await metric(h, 'floe_controller_handovers_total', { outcome: 'retargeted' })).toBe(1);
    expect(await metric(h, 'floe_controller_handovers_total', { outcome: 'cancelled' })).toBe(1);
    const { moves } = await h.controller.drain(3);
    expect(moves).toHaveLength(1);
    expect(part(h, 't', 2)).toMatchObject({ leader: 3, handoverTo: moves[0]?.to });
    // Draining the target as well re-targets the hand-over to a broker that stays.
    await h.controller.drain(moves[0]?.to ?? -1);
    const p2 = part(h, 't', 2);
    expect(p2?.leader).toBe(3);
    expect(p2?.handoverTo).toBe(6 - 3 - (moves[0]?.to ?? 0));
  });
});

describe('WAL epochs', () => {
  it('are bumped for each new incarnation and kept for the same live one, across a controller crash', async () => {
    const h = await open();
    expect((await register(h.controller, 1)).walEpoch).toBe(1);
    expect((await register(h.controller, 1)).walEpoch).toBe(1);
    expect((await register(h.controller, 2)).walEpoch).toBe(1);
    await crash(h);
    const h2 = await open({ fs: h.fs, clock: h.clock });
    // The brokers re-register after the controller restart: same process, same epoch.
    expect((await register(h2.controller, 1)).walEpoch).toBe(1);
    // A new process for id 2 (the old one's lease ran out).
    await run(h2, LEASE_MS, [1]);
    expect((await register(h2.controller, 2, 'second')).walEpoch).toBe(2);
    // A process declared dead and coming back (its log may have been fenced): bumped.
    await run(h2, LEASE_MS, [2]);
    expect(h2.controller.metadata.brokers.get(1)?.alive).toBe(false);
    expect((await register(h2.controller, 1)).walEpoch).toBe(2);
  });

  it('never go back, whatever a crash cut off', async () => {
    const h = await open();
    const acknowledged: number[] = [];
    for (let i = 0; i < 6; i++) {
      await run(h, LEASE_MS, []);
      acknowledged.push((await register(h.controller, 1, `p${i}`)).walEpoch ?? -1);
    }
    expect(acknowledged).toEqual([1, 2, 3, 4, 5, 6]);
    // One more registration in flight when the power goes: maybe durable, maybe not.
    await run(h, LEASE_MS, []);
    void register(h.controller, 1, 'lost').catch(() => undefined);
    await crash(h);
    const h2 = await open({ fs: h.fs, clock: h.clock });
    expect(h2.controller.metadata.walEpochs.get(1)).toBeGreaterThanOrEqual(6);
    await run(h2, LEASE_MS, []);
    expect((await register(h2.controller, 1, 'after')).walEpoch).toBeGreaterThan(6);
  });

  it('are not given in shared-nothing mode (which takes no object store or WAL nodes)', async () => {
    await expect(open({ extra: { mode: 'shared-nothing' } })).rejects.toMatchObject({ code: 'FLOE_ERR_CONTROLLER_CONFIG' });
    const fs = new SimulatedFileSystem();
    const c = await Controller.open({ fs, dataDir: '/c', clock: new ManualClock(), logger: pino({ level: 'silent' }), metrics: new ControllerMetrics(new Registry()), mode: 'shared-nothing', leaseMs: LEASE_MS, defaults: { partitions: 1, replicationFactor: 1 } });
    opened.push(c);
    expect(await register(c, 1)).not.toHaveProperty('walEpoch');
  });
});

describe('WAL recovery before a failover', () => {
  interface Call {
    opts: RecoverBrokerWalOptions;
    durableEpoch: number | undefined;
  }

  /** A recovery that records its calls and, when `tail` is given, commits that many offsets per owned partition. */
  function stub(h: () => Harness, behaviour: { fail?: number; tail?: number; hang?: boolean } = {}) {
    const calls: Call[] = [];
    let failures = behaviour.fail ?? 0;
    const recover: RecoverBrokerWal = async (opts) => {
      calls.push({ opts, durableEpoch: h().controller.metadata.walEpochs.get(opts.brokerId) });
      if (failures-- > 0) throw new Error('WAL quorum unreachable');
      const sections: ObjectSection[] = [];
      if (behaviour.tail !== undefined) {
        for (const t of h().controller.metadata.topics.values()) {
          for (const p of t.partitions) {
            const owned = opts.owned(t.name, p.index);
            if (!owned) continue;
            const key = `${opts.keyPrefix}recovered/b${opts.brokerId}/e${opts.newEpoch}-${t.name}-${p.index}`;
            await opts.objectStore.put(key, Buffer.alloc(10));
            const section = { topic: t.name, topicId: owned.topicId, partition: p.index, startOffset: owned.endOffset, endOffset: owned.endOffset + behaviour.tail, position: 0, length: 10 };
            const r = await opts.commit({ brokerId: opts.brokerId, key, size: 10, sections: [{ ...section, leaderEpoch: owned.leaderEpoch }] });
            expect(r.errorCode).toBe(0);
            sections.push(section);
          }
        }
      }
      return { nextEntryId: 0, sections };
    };
    return { calls, recover };
  }

  it('bumps the dead broker\'s WAL epoch durably, commits what the recovery finds as that broker, and only then moves its partitions', async () => {
    const ref: { h?: Harness } = {};
    const { calls, recover } = stub(() => ref.h!, { tail: 5 });
    const h = (ref.h = await open({ recover }));
    await cluster(h, [1, 2], 2);
    await upload(h, 't', 0, 10);
    await run(h, LEASE_MS, [2]);
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect({ brokerId: call.opts.brokerId, newEpoch: call.opts.newEpoch, durable: call.durableEpoch, prefix: call.opts.keyPrefix }).toEqual({ brokerId: 1, newEpoch: 2, durable: 2, prefix: PREFIX });
    expect(part(h, 't', 0)).toMatchObject({ leader: 2, leaderEpoch: 2 });
    const idx = await h.controller.partitionObjects('t', 0);
    expect(idx.endOffset).toBe(15);
    expect(idx.objects.map((o) => o.key).at(-1)).toBe(`${PREFIX}recovered/b1/e2-t-0`);
    expect(await metric(h, 'floe_controller_wal_recoveries_total', { outcome: 'completed' })).toBe(1);
    expect(await metric(h, 'floe_controller_wal_recovery_duration_seconds')).toBeGreaterThan(0);
  });

  it('keeps the partitions offline and a new process for the id waiting while the recovery fails, and retries at a newer epoch', async () => {
    const ref: { h?: Harness } = {};
    const { calls, recover } = stub(() => ref.h!, { fail: 2, tail: 1 });
    const h = (ref.h = await open({ recover }));
    await cluster(h, [1, 2], 2);
    await run(h, LEASE_MS, [2]);
    expect(calls).toHaveLength(1);
    expect(part(h, 't', 0)?.leader).toBe(-1);
    await expect(register(h.controller, 1, 'restarted')).rejects.toMatchObject({ code: 'FAILOVER_IN_PROGRESS', statusCode: 503 });
    await run(h, ControllerLimits.reassignHookRetryMs, [2]);
    expect(calls).toHaveLength(2);
    expect(part(h, 't', 0)?.leader).toBe(-1);
    await run(h, ControllerLimits.reassignHookRetryMs, [2]);
    expect(calls.map((c) => c.opts.newEpoch)).toEqual([2, 3, 4]);
    expect(part(h, 't', 0)).toMatchObject({ leader: 2 });
    expect((await h.controller.partitionObjects('t', 0)).endOffset).toBe(1);
    expect(await metric(h, 'floe_controller_wal_recoveries_total', { outcome: 'failed' })).toBe(2);
    // Now the new process may come, at an epoch above every fencing.
    expect((await register(h.controller, 1, 'restarted')).walEpoch).toBe(5);
  });

  it('runs again after a controller crash in the middle of it', async () => {
    let h!: Harness;
    const first = stub(() => h, { fail: 1 });
    h = await open({ recover: first.recover });
    await cluster(h, [1, 2], 2);
    await run(h, LEASE_MS, [2]);
    expect(first.calls).toHaveLength(1);
    await crash(h);
    const second = stub(() => h, { tail: 3 });
    h = await open({ fs: h.fs, clock: h.clock, store: h.store, recover: second.recover });
    await settle();
    expect(second.calls.map((c) => c.opts.newEpoch)).toEqual([3]);
    expect(part(h, 't', 0)).toMatchObject({ leader: 2 });
    expect((await h.controller.partitionObjects('t', 0)).endOffset).toBe(3);
  });

  it('is skipped after a clean shutdown that uploaded everything, and runs after one that did not', async () => {
    const ref: { h?: Harness } = {};
    const { calls, recover } = stub(() => ref.h!);
    const h = (ref.h = await open({ recover }));
    await cluster(h, [1, 2, 3], 3);
    await h.controller.shutdown({ id: 1, incarnation: 'inc-1', uploaded: true });
    await settle();
    expect(calls).toEqual([]);
    expect(part(h, 't', 0)?.leader).toBeGreaterThan(1);
    expect(await metric(h, 'floe_controller_wal_recoveries_total', { outcome: 'skipped' })).toBe(1);
    await h.controller.shutdown({ id: 2, incarnation: 'inc-2' });
    await settle();
    expect(calls.map((c) => c.opts.brokerId)).toEqual([2]);
  });

  it('gives the recovery the dead broker\'s partitions only, at their offline epoch and index end', async () => {
    let seen: unknown[] = [];
    const recover: RecoverBrokerWal = (opts) => {
      seen = [opts.owned('t', 0), opts.owned('t', 1), opts.owned('nope', 0)];
      return Promise.resolve({ nextEntryId: 0, sections: [] });
    };
    const h = await open({ recover });
    await cluster(h, [1, 2], 2);
    await upload(h, 't', 0, 7);
    await run(h, LEASE_MS, [2]);
    expect(seen).toEqual([{ topicId: 'topic-id-1', leaderEpoch: 1, endOffset: 7 }, null, null]);
  });
});

describe('garbage and orphan collection', () => {
  it('deletes replaced objects from the store once the grace period has passed, not before', async () => {
    const h = await open();
    await cluster(h, [1], 1);
    const a = await upload(h, 't', 0, 10);
    const b = await upload(h, 't', 0, 10);
    await h.store.put(`${PREFIX}ab`, Buffer.alloc(100));
    const r = await h.controller.replaceObjects({ brokerId: 1, key: `${PREFIX}ab`, size: 100, sections: [{ topic: 't', topicId: 'topic-id-1', partition: 0, startOffset: 0, endOffset: 20, position: 0, length: 100, leaderEpoch: 0 }] });
    expect(r.errorCode).toBe(0);
    expect(h.controller.objectStats()).toMatchObject({ objects: 1, bytes: 100, garbagePending: { objects: 2, bytes: 200 } });
    await run(h, GRACE_MS - 100, [1]);
    expect(h.store.keys()).toEqual([`${PREFIX}ab`, a, b].sort());
    await run(h, 200 + ControllerLimits.garbageCheckMsMax, [1]);
    expect(h.store.keys()).toEqual([`${PREFIX}ab`]);
    expect(h.controller.objectStats()).toMatchObject({ objects: 1, garbagePending: { objects: 0, bytes: 0 }, deleted: { garbage: 2, orphans: 0 } });
    expect(await metric(h, 'floe_controller_objects_deleted_total', { reason: 'garbage' })).toBe(2);
    // A collected key is never taken back.
    const again = await h.controller.commitObject({ brokerId: 1, key: a, size: 100, sections: [{ topic: 't', topicId: 'topic-id-1', partition: 0, startOffset: 20, endOffset: 21, position: 0, length: 100, leaderEpoch: 0 }] });
    expect(again.errorCode).toBe(42);
  });

  it('finishes pending deletions after a controller crash', async () => {
    const h = await open();
    await cluster(h, [1], 1);
    const a = await upload(h, 't', 0, 10);
    await h.controller.advanceLogStart({ brokerId: 1, topic: 't', partition: 0, leaderEpoch: 0, logStartOffset: 10 });
    expect(h.controller.objectStats().garbagePending.objects).toBe(1);
    await crash(h);
    const h2 = await open({ fs: h.fs, clock: h.clock, store: h.store });
    expect(h2.controller.objectStats().garbagePending.objects).toBe(1);
    expect(h2.store.keys()).toEqual([a]);
    await run(h2, GRACE_MS + ControllerLimits.garbageCheckMsMax, [1]);
    expect(h2.store.keys()).toEqual([]);
    expect(h2.controller.objectStats().garbagePending.objects).toBe(0);
  });

  it('keeps garbage pending while the store refuses deletes, and deletes it once the store is back', async () => {
    const clock = new ManualClock();
    const store = new MemoryObjectStore(clock);
    const faulty = new FaultyObjectStore(store, { clock });
    const h = await open({ clock, store, storeSeen: faulty });
    await cluster(h, [1], 1);
    await upload(h, 't', 0, 10);
    await h.controller.deleteTopics(['t']);
    faulty.setDown(true);
    await run(h, GRACE_MS + 2 * ControllerLimits.garbageCheckMsMax, [1]);
    expect(h.controller.objectStats().garbagePending.objects).toBe(1);
    expect(await metric(h, 'floe_controller_object_collection_failures_total', { reason: 'garbage' })).toBeGreaterThan(0);
    faulty.setDown(false);
    await run(h, 2 * ControllerLimits.garbageCheckMsMax, [1]);
    expect(store.keys()).toEqual([]);
  });

  it('deletes orphans under the prefix older than the grace period, never young ones, referenced ones or keys outside the prefix', async () => {
    const h = await open({ extra: { orphanScanIntervalMs: GRACE_MS } });
    await cluster(h, [1], 1);
    const committed = await upload(h, 't', 0, 1);
    await h.store.put(`${PREFIX}orphan-old`, Buffer.alloc(7));
    await h.store.put('elsewhere/old', Buffer.alloc(7));
    await run(h, GRACE_MS - 1_000, [1]);
    await h.store.put(`${PREFIX}orphan-young`, Buffer.alloc(7));
    await run(h, 1_000 + ControllerLimits.garbageCheckMsMax, [1]);
    expect(h.store.keys()).toEqual(['elsewhere/old', committed, `${PREFIX}orphan-young`].sort());
    expect(h.controller.objectStats()).toMatchObject({ deleted: { orphans: 1 }, lastOrphanScan: { deleted: 1, bytes: 7 } });
    // An uploader that commits an object after the collector took it is refused.
    const late = await h.controller.commitObject({ brokerId: 1, key: `${PREFIX}orphan-old`, size: 7, sections: [{ topic: 't', topicId: 'topic-id-1', partition: 0, startOffset: 1, endOffset: 2, position: 0, length: 7, leaderEpoch: 0 }] });
    expect(late.errorCode).toBe(42);
    await run(h, GRACE_MS + ControllerLimits.garbageCheckMsMax, [1]);
    expect(h.store.keys()).toEqual(['elsewhere/old', committed]);
  });
});

describe('the index across a crash', () => {
  it('comes back from snapshots and the log exactly as acknowledged, without moving the metadata version', async () => {
    const h = await open({ extra: { snapshotEveryEntries: 7 } });
    await cluster(h, [1, 2], 2);
    const version = h.controller.view.version;
    for (let i = 0; i < 25; i++) await upload(h, 't', i % 2, 3);
    await h.controller.advanceLogStart({ brokerId: 1, topic: 't', partition: 0, leaderEpoch: 0, logStartOffset: 9 });
    expect(h.controller.view.version).toBe(version);
    const want = objectIndexToJson(h.controller.metadata.objects);
    await crash(h);
    const h2 = await open({ fs: h.fs, clock: h.clock, store: h.store, extra: { snapshotEveryEntries: 7 } });
    expect(objectIndexToJson(h2.controller.metadata.objects)).toEqual(want);
    expect(h2.controller.view.version).toBe(version);
    expect((await h.fs.readdir('/controller/metadata')).some((n) => n.startsWith('snapshot-'))).toBe(true);
    expect(await h2.controller.partitionObjects('t', 1)).toMatchObject({ logStartOffset: 0, endOffset: 36 });
  });
});
