/**
 * The failover of a dead broker with WAL recovery, end to end at the controller: three
 * real WAL node processes, a real s3rver, a real controller process given --wal-nodes,
 * and ControllerMetadataStores in this process playing the brokers. The test writes
 * broker 1's WAL log itself (real entries with real RecordBatches, at the epoch its
 * registration gave), commits part of it as an upload would, and lets broker 1's lease
 * run out. The controller must fence the log, upload and commit exactly the part that
 * is not in the index yet, and only then give the partition to a survivor; the old
 * writer is fenced. With the WAL quorum unreachable the partition stays offline until
 * the nodes are back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../objectstore/s3-object-store.ts';
import { ControllerMetadataStore } from '../../../src/metadata/controller-store.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import { encodeWalEntry } from '../../../src/storage/shared/wal-entry.ts';
import { WalClient } from '../../../wal/index.ts';
import { startController, type ControllerProcess } from '../../helpers/controller-process.ts';
import { removeDataDir, startObjectStoreServer, type ObjectStoreServer } from '../../helpers/objectstore-server.ts';
import { startWalNodes, type WalCluster } from '../../helpers/wal-cluster.ts';

const LEASE_MS = 2000;
const PREFIX = 'floe/';

let walDir: string;
let wal: WalCluster;
let s3: ObjectStoreServer;
let bucket: S3ObjectStore;
let controller: ControllerProcess;
const stores = new Map<number, ControllerMetadataStore>();
const writers: WalClient[] = [];

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${controller.stderr().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function openStore(id: number): Promise<ControllerMetadataStore> {
  const s = await ControllerMetadataStore.open({ url: controller.url, self: { id, host: '127.0.0.1', port: 32_000 + id, rack: null } });
  stores.set(id, s);
  return s;
}
function store(id: number): ControllerMetadataStore {
  const s = stores.get(id);
  if (!s) throw new Error(`no store for broker ${id}`);
  return s;
}

async function metric(name: string, outcome: string): Promise<number> {
  const text = await (await fetch(`${controller.url}/metrics`)).text();
  const m = new RegExp(`^${name}\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

/** One WAL entry holding one batch of `count` records of topic-partition from `base`. */
function walEntry(o: { topic: string; topicId: string; partition: number; base: number; count: number }): Buffer[] {
  const records = Array.from({ length: o.count }, (_, i) => ({ key: null, value: Buffer.from(`v${o.base + i}`) }));
  const batch = encodeRecordBatch(records, { baseOffset: o.base });
  return encodeWalEntry([{ topic: o.topic, topicId: o.topicId, partition: o.partition, leaderEpoch: 0, baseOffset: o.base, nextOffset: o.base + o.count, batch }]);
}

beforeAll(async () => {
  walDir = mkdtempSync(path.join(tmpdir(), 'floe-ctl-wal-'));
  [wal, s3] = await Promise.all([startWalNodes(3, walDir), startObjectStoreServer()]);
  bucket = new S3ObjectStore(s3.options());
  controller = await startController({
    mode: 'shared-storage',
    leaseMs: LEASE_MS,
    args: ['--s3-endpoint', s3.endpoint, '--s3-bucket', s3.bucket, '--wal-nodes', wal.nodes.map((n) => `${n.host}:${n.port}`).join(','), '--orphan-scan-interval-ms', '0'],
  });
  for (const id of [1, 2, 3]) await openStore(id);
});

afterAll(async () => {
  for (const w of writers) await w.close().catch(() => undefined);
  for (const s of stores.values()) await s.halt();
  await controller?.stop();
  bucket?.close();
  await Promise.all([s3?.stop(), wal?.stop()]);
  if (s3) removeDataDir(s3.dataDir);
  if (walDir) rmSync(walDir, { recursive: true, force: true });
});

describe('failover with WAL recovery (real WAL nodes, real S3, real controller)', () => {
  let p = -1;
  let topicId = '';

  it('fences the dead broker\'s WAL, commits what the index lacks as that broker, then moves the partition; the old writer is fenced', async () => {
    const s1 = store(1);
    expect((await s1.createTopics([{ name: 'w', numPartitions: 3, replicationFactor: -1, config: {} }], false))[0]?.errorCode).toBe(0);
    p = [0, 1, 2].find((i) => s1.partitionState('w', i)?.leader === 1) ?? -1;
    expect(p).toBeGreaterThanOrEqual(0);
    topicId = (await s1.partitionObjects('w', p)).topicId;
    expect(s1.walEpoch).toBe(1);

    // Broker 1 writes two entries; the first one is also uploaded and committed (not yet trimmed).
    const writer = await WalClient.open({ nodes: wal.nodes, logId: 'broker-1', epoch: s1.walEpoch, nextEntryId: 0 });
    writers.push(writer);
    await writer.append(walEntry({ topic: 'w', topicId, partition: p, base: 0, count: 3 })).quorumDurable;
    await writer.append(walEntry({ topic: 'w', topicId, partition: p, base: 3, count: 4 })).quorumDurable;
    await bucket.put(`${PREFIX}uploaded`, Buffer.alloc(64));
    const section = { topic: 'w', topicId, partition: p, startOffset: 0, endOffset: 3, position: 0, length: 64, leaderEpoch: 0 };
    expect((await s1.commitObject({ brokerId: 1, key: `${PREFIX}uploaded`, size: 64, sections: [section] })).errorCode).toBe(0);

    await s1.halt();
    await until('a survivor owns the partition', () => (store(2).partitionState('w', p)?.leader ?? -1) >= 2);
    const idx = await store(2).partitionObjects('w', p);
    expect(idx.endOffset).toBe(7);
    expect(idx.objects.map((o) => [o.startOffset, o.endOffset])).toEqual([
      [0, 3],
      [3, 7],
    ]);
    const recovered = idx.objects[1]!;
    expect(recovered.key.startsWith(`${PREFIX}recovered/b1/e2`)).toBe(true);
    expect((await bucket.head(recovered.key))?.size).toBe(recovered.size);
    expect(await metric('floe_controller_wal_recoveries_total', 'completed')).toBe(1);

    // The dead broker's writer cannot make anything durable any more.
    const late = (async () => writer.append(walEntry({ topic: 'w', topicId, partition: p, base: 7, count: 1 })).quorumDurable)();
    await expect(late).rejects.toThrow();
    // A new process for broker 1 writes above the fencing epoch.
    const back = await openStore(1);
    expect(back.walEpoch).toBe(3);
  });

  it('keeps a dead broker\'s partitions offline while the WAL quorum is unreachable, and moves them once it is back', async () => {
    const owner = store(2).partitionState('w', p)?.leader ?? -1;
    const dead = store(owner);
    const survivors = [1, 2, 3].filter((id) => id !== owner);
    await Promise.all([wal.kill(0), wal.kill(1)]);
    await dead.halt();
    await until('the partition is offline, its recovery failing', async () => (await metric('floe_controller_wal_recoveries_total', 'failed')) >= 1 && store(survivors[0]!).partitionState('w', p)?.leader === -1);
    const cluster = (await (await fetch(`${controller.url}/v1/cluster`)).json()) as { pendingFailovers: number[]; offlinePartitions: number };
    expect(cluster.pendingFailovers).toContain(owner);
    await Promise.all([wal.restart(0), wal.restart(1)]);
    await until('a survivor owns the partition again', () => survivors.includes(store(survivors[0]!).partitionState('w', p)?.leader ?? -1), 15_000);
    expect((await store(survivors[0]!).partitionObjects('w', p)).endOffset).toBe(7);
    expect(await metric('floe_controller_wal_recoveries_total', 'completed')).toBe(2);
  });
});
