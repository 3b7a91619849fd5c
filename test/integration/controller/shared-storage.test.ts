/**
 * The controller's object index over real HTTP, against a real controller process in
 * shared-storage mode and a real embedded S3 endpoint (s3rver): ControllerMetadataStores
 * in this process play the brokers. Commits are fenced by owner and leader epoch with
 * every Kafka code; a zombie's commit at its old epoch is refused; replaced objects and
 * orphans are deleted from the real bucket after the grace period (never referenced
 * objects, never keys outside the prefix); the index, pending deletions and WAL epochs
 * survive a controller kill -9; a hand-over completes by the owner's release.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../objectstore/s3-object-store.ts';
import type { CommitObjectRequest, ObjectSection, RegisterResponse, WirePartition } from '../../../src/metadata/controller-api.ts';
import { ControllerMetadataStore } from '../../../src/metadata/controller-store.ts';
import { startController, type ControllerProcess } from '../../helpers/controller-process.ts';
import { removeDataDir, startObjectStoreServer, type ObjectStoreServer } from '../../helpers/objectstore-server.ts';

// Long enough that a heartbeat delayed by a loaded CI machine does not expire a lease.
const LEASE_MS = 3000;
const GRACE_MS = 2000;
const PREFIX = 'floe/';

let s3: ObjectStoreServer;
let bucket: S3ObjectStore;
let controller: ControllerProcess;
const stores = new Map<number, ControllerMetadataStore>();

/** Polls `check` until it returns true or the deadline passes (for what the controller does on its own time). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const store = (id: number): ControllerMetadataStore => {
  const s = stores.get(id);
  if (!s) throw new Error(`no store for broker ${id}`);
  return s;
};

async function openStore(id: number): Promise<ControllerMetadataStore> {
  const s = await ControllerMetadataStore.open({ url: controller.url, self: { id, host: '127.0.0.1', port: 31_000 + id, rack: null } });
  stores.set(id, s);
  return s;
}

async function post<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${controller.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as T };
}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(`${controller.url}${path}`);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

const partitionOf = (s: ControllerMetadataStore, topic: string, index: number): WirePartition => {
  const p = s.partitionState(topic, index);
  if (!p) throw new Error(`no ${topic}-${index} in the view`);
  return p;
};

/** The request to commit `count` offsets of topic-partition from `start`, as `brokerId` at `leaderEpoch`. */
function commitRequest(o: { brokerId: number; key: string; topic: string; topicId: string; partition: number; start: number; count: number; leaderEpoch: number }): CommitObjectRequest {
  const section: ObjectSection & { leaderEpoch: number } = { topic: o.topic, topicId: o.topicId, partition: o.partition, startOffset: o.start, endOffset: o.start + o.count, position: 0, length: 64, leaderEpoch: o.leaderEpoch };
  return { brokerId: o.brokerId, key: o.key, size: 64, sections: [section] };
}

const exists = async (key: string): Promise<boolean> => (await bucket.head(key)) !== null;

beforeAll(async () => {
  s3 = await startObjectStoreServer();
  bucket = new S3ObjectStore(s3.options());
  controller = await startController({
    mode: 'shared-storage',
    leaseMs: LEASE_MS,
    args: ['--s3-endpoint', s3.endpoint, '--s3-bucket', s3.bucket, '--object-grace-ms', String(GRACE_MS), '--orphan-scan-interval-ms', '500', '--handover-timeout-ms', '10000'],
  });
  await openStore(1);
  await openStore(2);
});

afterAll(async () => {
  for (const s of stores.values()) await s.halt();
  await controller?.stop();
  bucket?.close();
  await s3?.stop();
  if (s3) removeDataDir(s3.dataDir);
});

describe('controller object index (real process, real S3)', () => {
  // Shared across the tests of this file, in order.
  let topicId = '';
  let p = -1;

  it('commits an owner\'s object and answers 6, 74, 42 and 3 for the others, over HTTP', async () => {
    const s1 = store(1);
    expect((await s1.createTopics([{ name: 'idx', numPartitions: 2, replicationFactor: -1, config: {} }], false))[0]?.errorCode).toBe(0);
    p = [0, 1].find((i) => partitionOf(s1, 'idx', i).leader === 1) ?? -1;
    expect(p).toBeGreaterThanOrEqual(0);
    const idx = await s1.partitionObjects('idx', p);
    expect(idx).toMatchObject({ errorCode: 0, logStartOffset: 0, endOffset: 0, objects: [], leaderEpoch: 0 });
    topicId = idx.topicId;
    const base = { topic: 'idx', topicId, partition: p, leaderEpoch: 0 };

    await bucket.put(`${PREFIX}a`, Buffer.alloc(64));
    const a = commitRequest({ ...base, brokerId: 1, key: `${PREFIX}a`, start: 0, count: 10 });
    expect(await s1.commitObject(a)).toEqual({ errorCode: 0, errorMessage: null });
    // A retry of a commit whose answer was lost is acknowledged again, and changes nothing.
    expect(await s1.commitObject(a)).toEqual({ errorCode: 0, errorMessage: null });
    expect((await store(2).commitObject(commitRequest({ ...base, brokerId: 2, key: `${PREFIX}x`, start: 10, count: 1 }))).errorCode).toBe(6);
    expect((await s1.commitObject(commitRequest({ ...base, brokerId: 1, key: `${PREFIX}x`, start: 10, count: 1, leaderEpoch: 5 }))).errorCode).toBe(74);
    expect((await s1.commitObject(commitRequest({ ...base, brokerId: 1, key: `${PREFIX}x`, start: 11, count: 1 }))).errorCode).toBe(42);
    expect((await s1.commitObject(commitRequest({ ...base, topic: 'nope', brokerId: 1, key: `${PREFIX}x`, start: 10, count: 1 }))).errorCode).toBe(3);
    expect((await s1.partitionObjects('nope', 0)).errorCode).toBe(3);

    const after = await s1.partitionObjects('idx', p);
    expect(after).toMatchObject({ endOffset: 10, objects: [{ key: `${PREFIX}a`, size: 64, startOffset: 0, endOffset: 10, position: 0, length: 64 }] });
    const admin = await get<{ leader: number; objects: Record<string, number> }>(`/v1/topics/idx/partitions/${p}`);
    expect(admin).toMatchObject({ leader: 1, objects: { logStartOffset: 0, endOffset: 10, objects: 1, ranges: 1, bytes: 64 } });
    expect(await get<Record<string, unknown>>('/v1/objects/stats')).toMatchObject({ objectStore: true, prefix: PREFIX, graceMs: GRACE_MS, objects: 1, bytes: 64 });
    const metrics = await (await fetch(`${controller.url}/metrics`)).text();
    expect(metrics).toMatch(/floe_controller_object_commits_total\{outcome="committed"\} 1\b/);
    expect(metrics).toMatch(/floe_controller_object_commits_total\{outcome="fenced"\} 1\b/);
    expect(metrics).toMatch(/floe_controller_objects 1\b/);
  });

  it('deletes replaced objects and orphans from the bucket after the grace period, never referenced ones or keys outside the prefix', async () => {
    const s1 = store(1);
    const base = { topic: 'idx', topicId, partition: p, leaderEpoch: 0, brokerId: 1 };
    await bucket.put(`${PREFIX}b`, Buffer.alloc(64));
    expect((await s1.commitObject(commitRequest({ ...base, key: `${PREFIX}b`, start: 10, count: 10 }))).errorCode).toBe(0);
    await bucket.put(`${PREFIX}ab`, Buffer.alloc(64));
    expect((await s1.replaceObjects(commitRequest({ ...base, key: `${PREFIX}ab`, start: 0, count: 20 }))).errorCode).toBe(0);
    await bucket.put(`${PREFIX}orphan`, Buffer.alloc(10));
    await bucket.put('elsewhere/keep', Buffer.alloc(10));
    expect(await get<{ garbagePending: { objects: number } }>('/v1/objects/stats')).toMatchObject({ garbagePending: { objects: 2 } });
    // Within the grace period a reader holding the old index can still read them.
    expect(await exists(`${PREFIX}a`)).toBe(true);
    await until('replaced objects and the orphan deleted', async () => !(await exists(`${PREFIX}a`)) && !(await exists(`${PREFIX}b`)) && !(await exists(`${PREFIX}orphan`)));
    expect(await exists(`${PREFIX}ab`)).toBe(true);
    expect(await exists('elsewhere/keep')).toBe(true);
    expect(await get<Record<string, unknown>>('/v1/objects/stats')).toMatchObject({ objects: 1, garbagePending: { objects: 0 }, deleted: { garbage: 2, orphans: 1 } });
    expect((await s1.partitionObjects('idx', p)).objects.map((o) => o.key)).toEqual([`${PREFIX}ab`]);
  });

  it('refuses a zombie: once its lease ran out and the partition moved, its commits at the old epoch are refused', async () => {
    const zombie = store(1);
    await zombie.halt();
    await until('broker 2 owns the partition', () => partitionOf(store(2), 'idx', p).leader === 2);
    const now = partitionOf(store(2), 'idx', p);
    expect(now.leaderEpoch).toBe(2);
    await bucket.put(`${PREFIX}late`, Buffer.alloc(64));
    const late = commitRequest({ topic: 'idx', topicId, partition: p, brokerId: 1, key: `${PREFIX}late`, start: 20, count: 5, leaderEpoch: 0 });
    // The zombie's store is halted: it speaks raw HTTP, as a process that missed everything would.
    expect((await post<{ errorCode: number }>('/internal/v1/objects/commit', late)).body.errorCode).toBe(6);
    expect((await post<{ errorCode: number }>('/internal/v1/objects/commit', { ...late, brokerId: 2 })).body.errorCode).toBe(74);
    expect((await post<{ errorCode: number }>('/internal/v1/partitions/log-start', { brokerId: 1, topic: 'idx', partition: p, leaderEpoch: 0, logStartOffset: 20 })).body.errorCode).toBe(6);
    // The new owner continues where the index ends.
    const ok = commitRequest({ topic: 'idx', topicId, partition: p, brokerId: 2, key: `${PREFIX}late`, start: 20, count: 5, leaderEpoch: now.leaderEpoch });
    expect((await store(2).commitObject(ok)).errorCode).toBe(0);
  });

  it('keeps the index, pending deletions and WAL epochs across a controller kill -9', async () => {
    const s2 = store(2);
    expect(s2.walEpoch).toBe(1);
    const s3b = await openStore(3);
    expect(s3b.walEpoch).toBe(1);
    const epoch = partitionOf(s2, 'idx', p).leaderEpoch;
    await bucket.put(`${PREFIX}whole`, Buffer.alloc(64));
    expect((await s2.replaceObjects(commitRequest({ topic: 'idx', topicId, partition: p, brokerId: 2, key: `${PREFIX}whole`, start: 0, count: 25, leaderEpoch: epoch }))).errorCode).toBe(0);
    const before = await s2.partitionObjects('idx', p);
    // Broker 3's process goes away with the controller (a new process for id 3 comes later).
    await s3b.halt();
    await controller.kill('SIGKILL');
    // Killed inside the grace period: the garbage is still in the bucket.
    expect(await exists(`${PREFIX}late`)).toBe(true);
    await controller.restart();
    expect(await s2.partitionObjects('idx', p)).toEqual(before);
    // Broker 2's process registering again (same incarnation) keeps its WAL epoch.
    const again = await post<RegisterResponse>('/internal/v1/brokers/register', { id: 2, incarnation: s2.incarnation, host: '127.0.0.1', port: 31_002, rack: null });
    expect(again.body.walEpoch).toBe(1);
    // A new process for broker 3 gets an epoch above its predecessor's.
    const s3c = await openStore(3);
    expect(s3c.walEpoch).toBe(2);
    await until('the deletion pending at the kill is finished', async () => !(await exists(`${PREFIX}ab`)) && !(await exists(`${PREFIX}late`)));
    expect(await exists(`${PREFIX}whole`)).toBe(true);
  });

  it('completes a hand-over when the owner releases at the index end; the old owner is fenced afterwards', async () => {
    const [s2, s3c] = [store(2), store(3)];
    const from = partitionOf(s2, 'idx', p);
    expect(from.leader).toBe(2);
    const res = await post<{ leader: number; handoverTo: number }>(`/v1/topics/idx/partitions/${p}/reassign`, { owner: 3 });
    expect(res.body).toMatchObject({ leader: 2, handoverTo: 3 });
    await until('the owner sees the hand-over', () => partitionOf(s2, 'idx', p).handoverTo === 3);
    const { endOffset } = await s2.partitionObjects('idx', p);
    expect((await s2.releasePartition({ brokerId: 2, topic: 'idx', partition: p, leaderEpoch: from.leaderEpoch, endOffset: endOffset - 1 })).errorCode).toBe(42);
    const released = await s2.releasePartition({ brokerId: 2, topic: 'idx', partition: p, leaderEpoch: from.leaderEpoch, endOffset });
    expect(released.errorCode).toBe(0);
    // The releasing store's view already shows the new owner when the call returns.
    expect(partitionOf(s2, 'idx', p)).toMatchObject({ leader: 3, leaderEpoch: from.leaderEpoch + 1 });
    await until('the new owner sees itself', () => partitionOf(s3c, 'idx', p).leader === 3);
    await bucket.put(`${PREFIX}after`, Buffer.alloc(64));
    const stale = commitRequest({ topic: 'idx', topicId, partition: p, brokerId: 2, key: `${PREFIX}after`, start: endOffset, count: 1, leaderEpoch: from.leaderEpoch });
    expect((await s2.commitObject(stale)).errorCode).toBe(6);
    expect((await s3c.commitObject({ ...stale, brokerId: 3, sections: stale.sections.map((s) => ({ ...s, leaderEpoch: from.leaderEpoch + 1 })) })).errorCode).toBe(0);
    const metrics = await (await fetch(`${controller.url}/metrics`)).text();
    expect(metrics).toMatch(/floe_controller_handovers_total\{outcome="completed"\} 1\b/);
  });
});
