/**
 * Brokers following a real controller process: three ControllerMetadataStores in this
 * process stand in for brokers (they are real HTTP clients of the real process). A
 * 12-partition topic is spread over them; one stops heartbeating and, within the lease,
 * its partitions move to the others with bumped epochs and every store sees the same new
 * version; the controller is killed with SIGKILL and restarted, and the stores keep
 * serving their views throughout, then follow again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../../src/metadata/cluster-view.ts';
import { ControllerMetadataStore } from '../../../src/metadata/controller-store.ts';
import { startController, type ControllerProcess } from '../../helpers/controller-process.ts';
import { autoRelease } from '../../helpers/handover.ts';

const LEASE_MS = 1500;

/** Polls `check` until it returns true or the deadline passes (event-driven state we cannot await directly). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const leadersOf = (v: ClusterView, topic: string): number[] => (v.topics.get(topic)?.partitions ?? []).map((p) => p.leader);

describe('brokers following a controller (shared-storage)', () => {
  let controller: ControllerProcess;
  const stores = new Map<number, ControllerMetadataStore>();
  const open = async (id: number, rack: string): Promise<ControllerMetadataStore> => {
    const s = await ControllerMetadataStore.open({ url: controller.url, self: { id, host: '127.0.0.1', port: 29_000 + id, rack } });
    stores.set(id, s);
    // Each store plays its broker's part of shared-storage hand-overs (rebalance moves).
    autoRelease(s, id);
    return s;
  };
  const store = (id: number): ControllerMetadataStore => {
    const s = stores.get(id);
    if (!s) throw new Error(`no store for broker ${id}`);
    return s;
  };
  const live = (): ControllerMetadataStore[] => [...stores.entries()].filter(([id]) => id !== 3).map(([, s]) => s);

  beforeAll(async () => {
    controller = await startController({ mode: 'shared-storage', leaseMs: LEASE_MS });
  });
  afterAll(async () => {
    for (const s of stores.values()) await s.halt();
    await controller?.stop();
  });

  it('registers brokers, each seeing the others and its own address', async () => {
    for (const [id, rack] of [[1, 'a'], [2, 'b'], [3, 'c']] as const) await open(id, rack);
    await until('all three see each other', () => [...stores.values()].every((s) => s.current().brokers.length === 3), 5_000);
    for (const [id, s] of stores) {
      const v = s.current();
      expect(v.controllerId).toBe(1);
      expect(v.brokers.find((b) => b.id === id)).toEqual({ id, host: '127.0.0.1', port: 29_000 + id, rack: ['a', 'b', 'c'][id - 1] });
    }
  });

  it('spreads a 12-partition topic over the three, and every store has it when the call returns or right after', async () => {
    const creator = stores.get(2);
    const results = await creator?.createTopics([{ name: 'events', numPartitions: 12, replicationFactor: -1, config: {} }], false);
    expect(results).toEqual([{ name: 'events', errorCode: 0, errorMessage: null }]);
    // The creating broker answers Metadata with the topic at once.
    expect(leadersOf(creator?.current() ?? ({} as ClusterView), 'events')).toHaveLength(12);
    const version = creator?.current().version;
    await until('every store at the new version', () => [...stores.values()].every((s) => s.current().version === version), 2_000);
    const leaders = leadersOf(creator?.current() ?? ({} as ClusterView), 'events');
    for (const id of [1, 2, 3]) expect(leaders.filter((l) => l === id)).toHaveLength(4);
    const again = await stores.get(1)?.createTopics([{ name: 'events', numPartitions: 3, replicationFactor: -1, config: {} }], false);
    expect(again?.[0]?.errorCode).toBe(36);
  });

  it('creates an internal topic (the group coordinator\'s __consumer_offsets)', async () => {
    const r = await stores.get(1)?.createTopics([{ name: '__consumer_offsets', numPartitions: 50, replicationFactor: -1, config: { 'cleanup.policy': 'delete' }, internal: true }], false);
    expect(r?.[0]?.errorCode).toBe(0);
    const t = stores.get(1)?.current().topics.get('__consumer_offsets');
    expect(t?.internal).toBe(true);
    expect(t?.partitions).toHaveLength(50);
  });

  it('hands out disjoint producer-id blocks to concurrent brokers', async () => {
    const blocks = await Promise.all([1, 2, 3, 1, 2].map((id) => store(id).allocateProducerIds(1000)));
    const ranges = blocks.map((b) => [b.firstId, b.firstId + b.count]).sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0));
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]?.[0]).toBeGreaterThanOrEqual(ranges[i - 1]?.[1] ?? Infinity);
  });

  it('moves the partitions of a broker that stops heartbeating, within the lease, with bumped epochs, and every store agrees', async () => {
    const before = stores.get(1)?.current();
    const owned = (before?.topics.get('events')?.partitions ?? []).filter((p) => p.leader === 3);
    expect(owned).toHaveLength(4);
    const changes: number[] = [];
    stores.get(1)?.onChange((v) => changes.push(v.version));
    const stoppedAt = Date.now();
    await stores.get(3)?.halt();
    await until(
      'the dead broker\'s partitions have live owners on every store',
      () => live().every((s) => leadersOf(s.current(), 'events').every((l) => l === 1 || l === 2)),
      LEASE_MS + 5_000,
    );
    const movedAfterMs = Date.now() - stoppedAt;
    await until('every store at the same version', () => new Set(live().map((s) => s.current().version)).size === 1, 2_000);
    const after = stores.get(1)?.current();
    const views = live().map((s) => JSON.stringify([...s.current().topics.values()]));
    expect(new Set(views).size).toBe(1);
    expect(after?.brokers.map((b) => b.id)).toEqual([1, 2]);
    expect(after?.controllerId).toBe(1);
    for (const p of owned) {
      const now = after?.topics.get('events')?.partitions[p.index];
      expect(now?.leaderEpoch).toBeGreaterThan(p.leaderEpoch);
      expect(now?.replicas).toEqual([now?.leader]);
    }
    // The others did not move.
    for (const p of before?.topics.get('events')?.partitions ?? []) {
      if (p.leader !== 3) expect(after?.topics.get('events')?.partitions[p.index]).toEqual(p);
    }
    expect(changes.length).toBeGreaterThan(0);
    // Detected by the lease, not by anything faster or much slower.
    expect(movedAfterMs).toBeLessThan(LEASE_MS + 3_000);
    const status = (await (await fetch(`${controller.url}/v1/brokers/3`)).json()) as { status: string };
    expect(status.status).toBe('dead');
  });

  it('survives kill -9 of the controller: stores keep serving, metadata is intact, they follow again after the restart', async () => {
    const before = await (await fetch(`${controller.url}/v1/metadata`)).text();
    const views = live().map((s) => s.current());
    await controller.kill('SIGKILL');
    // While it is down the brokers keep their views (what they answer clients from).
    await until('a store notices', () => live().some((s) => !s.connected), 5_000);
    for (const [i, s] of live().entries()) expect(s.current()).toBe(views[i]);
    // Requests made while it is down wait for it (a client of the broker sees a slow
    // answer, not an error), as long as it is back within the store's request timeout.
    const created = store(1).createTopics([{ name: 'during-restart', numPartitions: 1, replicationFactor: -1, config: {} }], false);
    const ids = store(2).allocateProducerIds(1);
    await controller.restart();
    expect(await created).toEqual([{ name: 'during-restart', errorCode: 0, errorMessage: null }]);
    expect((await ids).count).toBeGreaterThan(0);
    expect(store(1).current().topics.has('during-restart')).toBe(true);
    const restored = JSON.parse(await (await fetch(`${controller.url}/v1/metadata`)).text()) as { topics: { name: string }[] };
    const was = JSON.parse(before) as { topics: { name: string }[] };
    expect(restored.topics.filter((t) => t.name !== 'during-restart')).toEqual(was.topics);
    await until('stores reconnected', () => live().every((s) => s.connected), 5_000);
    const { version } = (await (await fetch(`${controller.url}/v1/metadata/version`)).json()) as { version: number };
    await until('every store at the controller\'s version', () => live().every((s) => s.current().version === version), 2_000);
    const views2 = live().map((s) => s.current());
    // A whole lease after the restart, the brokers that kept heartbeating are still alive
    // and nothing moved (the absence of an event: only waiting shows it).
    await new Promise((r) => setTimeout(r, LEASE_MS + 500));
    const cluster = (await (await fetch(`${controller.url}/v1/cluster`)).json()) as { brokers: { alive: number }; metadataVersion: number };
    expect(cluster.brokers.alive).toBe(2);
    for (const [i, s] of live().entries()) expect(s.current()).toBe(views2[i]);
    expect(store(1).mode).toBe('shared-storage');
    // And they follow new changes.
    const r = await stores.get(2)?.createTopics([{ name: 'after-restart', numPartitions: 2, replicationFactor: -1, config: {} }], false);
    expect(r?.[0]?.errorCode).toBe(0);
    await until('every store sees the new topic', () => live().every((s) => s.current().topics.has('after-restart')), 2_000);
    const block = await store(1).allocateProducerIds(1);
    expect(block.firstId).toBeGreaterThanOrEqual(1000 + 6 * 1000);
  });

  it('refuses a second process for a live broker id (a duplicate), leaving the first registered', async () => {
    const dup = ControllerMetadataStore.open({ url: controller.url, self: { id: 2, host: '127.0.0.1', port: 1, rack: 'b' }, openTimeoutMs: 300 });
    await expect(dup).rejects.toMatchObject({ code: 'FLOE_ERR_CONTROLLER_UNAVAILABLE' });
    const b2 = (await (await fetch(`${controller.url}/v1/brokers/2`)).json()) as { incarnation: string; port: number; status: string };
    expect(b2).toMatchObject({ incarnation: stores.get(2)?.incarnation, port: 29_002, status: 'alive' });
  });

  it('lets a restarted broker (a new process for the same id) back in once the old one is gone', async () => {
    const back = await open(3, 'c');
    await until('every store sees broker 3 again', () => [...stores.values()].every((s) => s.current().brokers.some((b) => b.id === 3)), 2_000);
    expect(back.incarnation).not.toBe('');
    // It gets partitions by rebalance (an explicit admin action).
    const res = await fetch(`${controller.url}/v1/rebalance`, { method: 'POST' });
    expect(res.status).toBe(200);
    await until('broker 3 owns partitions again on every store', () => [...stores.values()].every((s) => leadersOf(s.current(), 'events').includes(3)), 2_000);
  });
});

describe('brokers following a controller (shared-nothing)', () => {
  let controller: ControllerProcess;
  const stores: ControllerMetadataStore[] = [];

  beforeAll(async () => {
    controller = await startController({ mode: 'shared-nothing', leaseMs: LEASE_MS });
    for (const id of [1, 2, 3]) stores.push(await ControllerMetadataStore.open({ url: controller.url, self: { id, host: '127.0.0.1', port: 39_000 + id, rack: null } }));
  });
  afterAll(async () => {
    for (const s of stores) await s.halt();
    await controller?.stop();
  });

  it('takes ISR changes from the leader, fenced by its epoch, and moves leadership on a controlled shutdown', async () => {
    const [s1, s2, s3] = stores;
    if (!s1 || !s2 || !s3) throw new Error('stores missing');
    expect((await s1.createTopics([{ name: 'r3', numPartitions: 3, replicationFactor: 3, config: {} }], false))[0]?.errorCode).toBe(0);
    const p = s1.current().topics.get('r3')?.partitions.find((x) => x.leader === 1);
    if (!p) throw new Error('broker 1 leads nothing');
    const epoch = s1.partitionState('r3', p.index)?.partitionEpoch ?? -1;
    const shrunk = await s1.alterIsr({ topic: 'r3', partition: p.index, leaderEpoch: p.leaderEpoch, partitionEpoch: epoch, isr: [1] });
    expect(shrunk.errorCode).toBe(0);
    expect(s1.current().topics.get('r3')?.partitions[p.index]?.isr).toEqual([1]);
    const stale = await s1.alterIsr({ topic: 'r3', partition: p.index, leaderEpoch: p.leaderEpoch - 1, isr: [1, 2] });
    expect(stale.errorCode).toBe(74);
    const notLeader = await s2.alterIsr({ topic: 'r3', partition: p.index, leaderEpoch: p.leaderEpoch, isr: [1, 2] });
    expect(notLeader.errorCode).toBe(6);
    await until('broker 3 sees the shrunk ISR', () => s3.current().topics.get('r3')?.partitions[p.index]?.isr.length === 1, 2_000);

    // Broker 1 stops cleanly: the partition whose only in-sync replica it is goes offline;
    // the others get the next in-sync replica as leader at once, without waiting for the lease.
    const stoppedAt = Date.now();
    await s1.close();
    await until('leadership moved on broker 2', () => (s2.current().topics.get('r3')?.partitions ?? []).every((x) => x.leader !== 1), 2_000);
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS);
    const after = s2.current().topics.get('r3')?.partitions ?? [];
    expect(after[p.index]?.leader).toBe(-1);
    expect(after.filter((x) => x.leader >= 0).every((x) => !x.isr.includes(1))).toBe(true);
  });
});
