/**
 * The Controller driven in-process with a ManualClock and a SimulatedFileSystem: lease
 * expiry, failover (with the beforeReassign hook), restart grace, durability across a
 * simulated crash, and admin operations. Time moves only by clock.advance(); `settle()`
 * lets the simulated filesystem's promise chains finish (it never waits on real I/O).
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Controller, type BeforeReassignHook, type ControllerOptions } from '../../../controller/controller.ts';
import { ApiError, ControllerConfigError } from '../../../controller/errors.ts';
import { ControllerLimits } from '../../../controller/limits.ts';
import { ControllerMetrics } from '../../../controller/metrics.ts';
import { toWireView, type PartitionRef } from '../../../controller/state.ts';
import { ManualClock } from '../../../src/common/clock.ts';
import { SimulatedFileSystem } from '../../../src/common/sim-fs.ts';
import type { ControllerMode, WireView } from '../../../src/metadata/controller-api.ts';

const LEASE_MS = 3000;
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Harness {
  controller: Controller;
  clock: ManualClock;
  fs: SimulatedFileSystem;
  metrics: ControllerMetrics;
  registry: Registry;
  fatal: Error[];
}

const opened: Controller[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close().catch(() => undefined);
});

async function open(opts: { mode?: ControllerMode; fs?: SimulatedFileSystem; clock?: ManualClock; hook?: BeforeReassignHook; extra?: Partial<ControllerOptions> } = {}): Promise<Harness> {
  const fs = opts.fs ?? new SimulatedFileSystem();
  const clock = opts.clock ?? new ManualClock();
  const registry = new Registry();
  const metrics = new ControllerMetrics(registry);
  const fatal: Error[] = [];
  let n = 0;
  const controller = await Controller.open({
    fs,
    dataDir: '/controller',
    clock,
    logger: pino({ level: 'silent' }),
    metrics,
    mode: opts.mode ?? 'shared-storage',
    leaseMs: LEASE_MS,
    defaults: { partitions: 1, replicationFactor: 1 },
    onFatal: (err) => fatal.push(err),
    newTopicId: () => `topic-id-${++n}`,
    ...(opts.hook ? { beforeReassign: opts.hook } : {}),
    ...opts.extra,
  });
  opened.push(controller);
  return { controller, clock, fs, metrics, registry, fatal };
}

const register = (c: Controller, id: number, rack: string | null = null, incarnation = `inc-${id}`) => c.register({ id, incarnation, host: '127.0.0.1', port: 9000 + id, rack });
const view = (c: Controller): WireView => JSON.parse(c.view.json) as WireView;
const owners = (c: Controller, topic: string): string[] => (view(c).topics.find((t) => t.name === topic)?.partitions ?? []).map((p) => `${p.leader}@${p.leaderEpoch}`);

/** Advances time in heartbeat-sized steps; the brokers in `beating` heartbeat at each step. */
async function run(h: Harness, ms: number, beating: number[]): Promise<void> {
  const step = h.controller.heartbeatMs;
  for (let t = 0; t < ms; t += step) {
    for (const id of beating) h.controller.heartbeat({ id, incarnation: `inc-${id}` });
    h.clock.advance(Math.min(step, ms - t));
    await settle();
  }
}

async function threeBrokersAndTopic(h: Harness, partitions = 12): Promise<void> {
  for (const id of [1, 2, 3]) await register(h.controller, id);
  const { results } = await h.controller.createTopics([{ name: 't', numPartitions: partitions, replicationFactor: -1, config: {} }], false);
  expect(results[0]?.errorCode).toBe(0);
}

/** Plays the owners' part of every hand-over under way: each owner releases at its index end. */
async function releaseAll(h: Harness): Promise<number> {
  const under = [...h.controller.metadata.topics.values()].flatMap((t) => t.partitions.filter((p) => p.handoverTo !== undefined && p.leader >= 0).map((p) => ({ topic: t.name, p })));
  for (const { topic, p } of under) {
    const { endOffset } = await h.controller.partitionObjects(topic, p.index);
    const r = await h.controller.release({ brokerId: p.leader, topic, partition: p.index, leaderEpoch: p.leaderEpoch, endOffset });
    expect(r.errorCode).toBe(0);
  }
  return under.length;
}

async function metric(h: Harness, name: string): Promise<number> {
  const m = await h.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((s, v) => s + v.value, 0);
}

describe('Controller', () => {
  it('spreads a 12-partition topic over three brokers and publishes it to long-polls', async () => {
    const h = await open();
    for (const id of [1, 2, 3]) await register(h.controller, id);
    const before = h.controller.view.version;
    const poll = h.controller.poll(before, 10_000);
    await h.controller.createTopics([{ name: 't', numPartitions: 12, replicationFactor: -1, config: {} }], false);
    const got = await poll.result;
    expect(got.changed).toBe(true);
    expect(got.version).toBe(before + 1);
    const v = view(h.controller);
    expect(v.brokers.map((b) => b.id)).toEqual([1, 2, 3]);
    expect(v.controllerId).toBe(1);
    const counts = new Map<number, number>();
    for (const p of v.topics[0]?.partitions ?? []) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ 1: 4, 2: 4, 3: 4 });
  });

  it('answers an unchanged long-poll after its wait, and a cancelled one at once', async () => {
    const h = await open();
    const v = h.controller.view.version;
    const poll = h.controller.poll(v, 1000);
    h.clock.advance(999);
    const cancelled = h.controller.poll(v, 1000);
    cancelled.cancel();
    expect(await cancelled.result).toEqual({ changed: false, version: v });
    h.clock.advance(1);
    expect(await poll.result).toEqual({ changed: false, version: v });
  });

  it('declares a silent broker dead when its lease runs out, not before, and moves its partitions with bumped epochs', async () => {
    const h = await open();
    await threeBrokersAndTopic(h);
    const before = view(h.controller);
    await run(h, LEASE_MS - h.controller.heartbeatMs, [1, 2]);
    expect(view(h.controller).brokers.map((b) => b.id)).toEqual([1, 2, 3]);
    await run(h, h.controller.heartbeatMs, [1, 2]);
    const after = view(h.controller);
    expect(after.brokers.map((b) => b.id)).toEqual([1, 2]);
    expect(after.version).toBeGreaterThan(before.version);
    const parts = after.topics[0]?.partitions ?? [];
    for (const [i, p] of parts.entries()) {
      const was = before.topics[0]?.partitions[i];
      if (was?.leader === 3) {
        expect([1, 2]).toContain(p.leader);
        expect(p.leaderEpoch).toBe(2);
      } else {
        expect(p).toEqual(was);
      }
    }
    expect(parts.filter((p) => p.leader === 1)).toHaveLength(6);
    expect(await metric(h, 'floe_controller_lease_expiries_total')).toBe(1);
    expect(await metric(h, 'floe_controller_failovers_total')).toBe(1);
  });

  it('keeps the partitions offline until the beforeReassign hook is done, and retries it when it fails', async () => {
    const calls: { deadBrokerId: number; partitions: PartitionRef[] }[] = [];
    let release: () => void = () => undefined;
    let failures = 1;
    const hook: BeforeReassignHook = (ctx) => {
      calls.push(ctx);
      if (failures-- > 0) return Promise.reject(new Error('WAL node unreachable'));
      return new Promise<void>((resolve) => (release = resolve));
    };
    const h = await open({ hook });
    await threeBrokersAndTopic(h, 3);
    await run(h, LEASE_MS, [1, 2]);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual({ deadBrokerId: 3, partitions: [{ topic: 't', topicId: 'topic-id-1', partition: 2 }] });
    expect(owners(h.controller, 't')).toEqual(['1@0', '2@0', '-1@1']);
    await run(h, ControllerLimits.reassignHookRetryMs, [1, 2]);
    expect(calls).toHaveLength(2);
    expect(owners(h.controller, 't')).toEqual(['1@0', '2@0', '-1@1']);
    release();
    await settle();
    expect(owners(h.controller, 't')).toEqual(['1@0', '2@0', '1@2']);
    expect(h.controller.metadata.pendingFailovers.size).toBe(0);
  });

  it('fails over at once on a controlled shutdown', async () => {
    const h = await open();
    await threeBrokersAndTopic(h, 3);
    await h.controller.shutdown({ id: 3, incarnation: 'inc-3' });
    await settle();
    expect(owners(h.controller, 't')).toEqual(['1@0', '2@0', '1@2']);
  });

  it('refuses a second process for a live broker id, and takes it as a restart once the old lease ran out', async () => {
    const h = await open();
    await register(h.controller, 1);
    await expect(register(h.controller, 1, null, 'other')).rejects.toMatchObject({ code: 'DUPLICATE_BROKER_REGISTRATION', statusCode: 409 });
    h.clock.advance(LEASE_MS);
    await register(h.controller, 1, null, 'other');
    expect(h.controller.metadata.brokers.get(1)).toMatchObject({ incarnation: 'other', alive: true });
    expect(h.controller.heartbeat({ id: 1, incarnation: 'inc-1' })).toMatchObject({ registered: false });
    expect(h.controller.heartbeat({ id: 1, incarnation: 'other' })).toMatchObject({ registered: true });
  });

  it('takes back a broker that was declared dead when it registers again, and gives it orphaned partitions', async () => {
    const h = await open();
    await register(h.controller, 1);
    await h.controller.createTopics([{ name: 't', numPartitions: 2, replicationFactor: -1, config: {} }], false);
    await run(h, LEASE_MS, []);
    expect(owners(h.controller, 't')).toEqual(['-1@1', '-1@1']);
    expect(h.controller.heartbeat({ id: 1, incarnation: 'inc-1' }).registered).toBe(false);
    await register(h.controller, 1);
    expect(owners(h.controller, 't')).toEqual(['1@2', '1@2']);
  });

  it('restarts with every topic, owner and epoch, and gives brokers one lease of grace', async () => {
    const h = await open();
    await threeBrokersAndTopic(h);
    await run(h, LEASE_MS, [1, 2]);
    const before = h.controller.view;
    // kill -9: no close; whatever was not fsynced is gone.
    h.fs.crash();
    const h2 = await open({ fs: h.fs });
    expect(h2.controller.view).toEqual(before);
    await run(h2, LEASE_MS - h2.controller.heartbeatMs, []);
    expect(view(h2.controller).brokers.map((b) => b.id)).toEqual([1, 2]);
    await run(h2, LEASE_MS, [1]);
    expect(view(h2.controller).brokers.map((b) => b.id)).toEqual([1]);
    expect(owners(h2.controller, 't').every((o) => o.startsWith('1@'))).toBe(true);
  });

  it('takes brokers restarted together with the controller back at once, each with its own partitions', async () => {
    const h = await open();
    await threeBrokersAndTopic(h, 6);
    const placement = owners(h.controller, 't').map((o) => o.split('@')[0]);
    h.fs.crash();
    const h2 = await open({ fs: h.fs });
    // New processes for every broker id, before any old one could heartbeat.
    for (const id of [1, 2, 3]) await register(h2.controller, id, null, `new-${id}`);
    await settle();
    expect(owners(h2.controller, 't')).toEqual(placement.map((b) => `${b}@2`));
    expect(view(h2.controller).brokers.map((b) => b.id)).toEqual([1, 2, 3]);
  });

  it('restores the same state from snapshots and the log after a crash', async () => {
    const h = await open({ extra: { snapshotEveryEntries: 4 } });
    await threeBrokersAndTopic(h, 6);
    for (let i = 0; i < 5; i++) await h.controller.createTopics([{ name: `x${i}`, numPartitions: 2, replicationFactor: -1, config: { 'retention.ms': String(i) } }], false);
    await h.controller.allocateProducerIds(1, 5);
    await h.controller.reassign('t', 0, { owner: 3 });
    await settle();
    const want = { view: toWireView(h.controller.metadata), next: h.controller.metadata.nextProducerId };
    h.fs.crash();
    const h2 = await open({ fs: h.fs, extra: { snapshotEveryEntries: 4 } });
    expect({ view: toWireView(h2.controller.metadata), next: h2.controller.metadata.nextProducerId }).toEqual(want);
    expect((await h.fs.readdir('/controller/metadata')).some((n) => n.startsWith('snapshot-'))).toBe(true);
  });

  it('never hands out a producer id twice, even across a crash', async () => {
    const h = await open();
    const a = await h.controller.allocateProducerIds(1, 10);
    const b = await h.controller.allocateProducerIds(2, 5000);
    expect(a).toEqual({ firstId: 1000, count: ControllerLimits.producerIdBlockSizeMin });
    expect(b.firstId).toBe(a.firstId + a.count);
    expect(b.count).toBe(5000);
    h.fs.crash();
    const h2 = await open({ fs: h.fs });
    const c = await h2.controller.allocateProducerIds(1, 1);
    expect(c.firstId).toBe(b.firstId + b.count);
    await expect(h2.controller.allocateProducerIds(1, 0)).rejects.toBeInstanceOf(ApiError);
  });

  it('stops accepting changes after the metadata log fails, and says so', async () => {
    const h = await open();
    await register(h.controller, 1);
    h.fs.failNext('datasync', 'log-');
    await expect(h.controller.createTopics([{ name: 't', numPartitions: 1, replicationFactor: -1, config: {} }], false)).rejects.toMatchObject({ code: 'CONTROLLER_FAILED' });
    expect(h.fatal).toHaveLength(1);
    await expect(h.controller.createTopics([{ name: 'u', numPartitions: 1, replicationFactor: -1, config: {} }], false)).rejects.toMatchObject({ code: 'CONTROLLER_FAILED', statusCode: 503 });
    // Brokers never saw the change that was not durable.
    expect(view(h.controller).topics).toEqual([]);
  });

  it('refuses to run a cluster in another mode than it was created with', async () => {
    const h = await open({ mode: 'shared-storage' });
    await h.controller.close();
    await expect(open({ fs: h.fs, mode: 'shared-nothing' })).rejects.toBeInstanceOf(ControllerConfigError);
  });

  it('shared-nothing: moves leadership to the next in-sync replica in one change', async () => {
    const h = await open({ mode: 'shared-nothing' });
    for (const id of [1, 2, 3]) await register(h.controller, id, ['a', 'b', 'c'][id - 1]);
    await h.controller.createTopics([{ name: 't', numPartitions: 3, replicationFactor: 3, config: {} }], false);
    const v0 = h.controller.view.version;
    await run(h, LEASE_MS, [2, 3]);
    expect(h.controller.view.version).toBe(v0 + 1);
    const parts = view(h.controller).topics[0]?.partitions ?? [];
    for (const p of parts) {
      expect(p.leader).not.toBe(1);
      expect(p.isr).not.toContain(1);
      expect(p.replicas).toHaveLength(3);
    }
    expect(parts.find((p) => p.replicas[0] === 1)?.leaderEpoch).toBe(1);
  });

  it('drains a broker, refuses a drain with nowhere to go, and rebalances onto an undrained broker', async () => {
    const h = await open();
    await threeBrokersAndTopic(h);
    const drained = await h.controller.drain(3);
    expect(drained.moves).toHaveLength(4);
    // Shared storage: the moves are hand-overs, done when the owner releases.
    expect(owners(h.controller, 't').filter((o) => o.startsWith('3@'))).toHaveLength(4);
    expect(await releaseAll(h)).toBe(4);
    expect(owners(h.controller, 't').filter((o) => o.startsWith('3@'))).toEqual([]);
    await h.controller.drain(2);
    await releaseAll(h);
    const v = h.controller.view.version;
    await expect(h.controller.drain(1)).rejects.toMatchObject({ code: 'NO_ELIGIBLE_BROKER', statusCode: 409 });
    expect(h.controller.view.version).toBe(v);
    await h.controller.undrain(2);
    await h.controller.undrain(3);
    const { moves } = await h.controller.rebalance(false);
    expect(moves).toHaveLength(8);
    expect(await releaseAll(h)).toBe(8);
    const counts = new Map<string, number>();
    for (const o of owners(h.controller, 't')) counts.set(o.split('@')[0] ?? '', (counts.get(o.split('@')[0] ?? '') ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual({ 1: 4, 2: 4, 3: 4 });
    expect((await h.controller.rebalance(false)).moves).toEqual([]);
  });

  it('reassigns one partition, refusing dead, unknown and draining targets without changing anything', async () => {
    const h = await open();
    await threeBrokersAndTopic(h, 3);
    await run(h, LEASE_MS, [1, 2]);
    const v = h.controller.view.version;
    await expect(h.controller.reassign('t', 0, { owner: 3 })).rejects.toMatchObject({ code: 'BROKER_NOT_ALIVE' });
    await expect(h.controller.reassign('t', 0, { owner: 7 })).rejects.toMatchObject({ code: 'UNKNOWN_BROKER', statusCode: 400 });
    await expect(h.controller.reassign('t', 9, { owner: 2 })).rejects.toMatchObject({ code: 'UNKNOWN_PARTITION' });
    await expect(h.controller.reassign('nope', 0, { owner: 2 })).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC' });
    await expect(h.controller.reassign('t', 0, { replicas: [1, 2] })).rejects.toMatchObject({ code: 'INVALID_REPLICAS' });
    expect(h.controller.view.version).toBe(v);
    const p = await h.controller.reassign('t', 0, { owner: 2 });
    expect({ leader: p.leader, leaderEpoch: p.leaderEpoch, handoverTo: p.handoverTo }).toEqual({ leader: 1, leaderEpoch: 0, handoverTo: 2 });
    await releaseAll(h);
    const moved = h.controller.metadata.topics.get('t')?.partitions[0];
    expect({ leader: moved?.leader, leaderEpoch: moved?.leaderEpoch, replicas: moved?.replicas, handoverTo: moved?.handoverTo }).toEqual({ leader: 2, leaderEpoch: 1, replicas: [2], handoverTo: undefined });
  });

  it('removes only dead brokers that hold nothing', async () => {
    const h = await open({ mode: 'shared-nothing' });
    await register(h.controller, 1);
    await register(h.controller, 2);
    await h.controller.createTopics([{ name: 't', numPartitions: 1, replicationFactor: 2, config: {} }], false);
    await expect(h.controller.removeBroker(2)).rejects.toMatchObject({ code: 'BROKER_ALIVE' });
    await run(h, LEASE_MS, [1]);
    await expect(h.controller.removeBroker(2)).rejects.toMatchObject({ code: 'BROKER_HAS_PARTITIONS' });
    await expect(h.controller.removeBroker(9)).rejects.toMatchObject({ code: 'UNKNOWN_BROKER', statusCode: 404 });
    await h.controller.reassign('t', 0, { replicas: [1] });
    await h.controller.removeBroker(2);
    expect(h.controller.metadata.brokers.has(2)).toBe(false);
  });
});
