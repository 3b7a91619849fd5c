// Shared storage, the object-storage side: reassignment moves metadata only (a 1 MB and a
// 200 MB partition move in about the same time, and no log byte is copied between brokers),
// an object store outage is ridden out on the WAL up to the backlog limit and then refused
// with a retriable error, losing nothing acknowledged; a corrupted object is detected by
// its CRC and never served; and every process killed at once comes back with every
// acknowledged record.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../src/client/connection.ts';
import { ErrorCode } from '../../../src/protocol/errors.ts';
import { Fetch } from '../../../src/protocol/messages/01-fetch.ts';
import { Produce } from '../../../src/protocol/messages/00-produce.ts';
import { Metadata } from '../../../src/protocol/messages/03-metadata.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import { eventually, metricValue, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { readTopic } from '../../helpers/read-topic.ts';

let cluster: TestCluster;
const BACKLOG_LIMIT = 32 * 1024 * 1024;

beforeAll(async () => {
  cluster = await startCluster({
    mode: 'shared-storage',
    brokers: 2,
    leaseMs: 3000,
    config: { 'floe.upload.backlog.max.bytes': String(BACKLOG_LIMIT), 'floe.upload.interval.ms': '200' },
  });
});
afterAll(async () => {
  await cluster?.stop();
});

function brokerPort(id: number): number {
  return cluster.processes.find((p) => p.role === 'broker' && p.id === id)!.ports['kafka']!;
}
function metricsUrl(id: number): string {
  return `http://127.0.0.1:${cluster.processes.find((p) => p.role === 'broker' && p.id === id)!.ports['metrics']}/metrics`;
}
async function partitionState(topic: string, p: number): Promise<{ leader: number; leaderEpoch: number; endOffset?: number }> {
  return (await (await fetch(`${cluster.admin}/v1/topics/${topic}/partitions/${p}`)).json()) as { leader: number; leaderEpoch: number };
}
async function createTopic(topic: string, partitions: number): Promise<void> {
  const res = await fetch(`${cluster.admin}/v1/topics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: topic, partitions }) });
  expect(res.status).toBe(201);
  await eventually(async () => ((await partitionState(topic, partitions - 1)).leader >= 0 ? true : undefined));
}
async function produceOne(conn: KafkaConnection, topic: string, partition: number, value: string, acks = -1): Promise<{ errorCode: number; baseOffset: number }> {
  const res = await conn.request(Produce, 7, {
    transactionalId: null,
    acks,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: encodeRecordBatch([{ value: Buffer.from(value) }]) }] }],
  });
  return res.responses[0]!.partitionResponses[0]!;
}
/** Like produceOne, retrying what a Kafka client retries while a new partition opens. */
async function produceOneRetrying(conn: KafkaConnection, topic: string, partition: number, value: string): Promise<{ errorCode: number; baseOffset: number }> {
  return eventually(async () => {
    const r = await produceOne(conn, topic, partition, value);
    return r.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || r.errorCode === ErrorCode.LEADER_NOT_AVAILABLE ? undefined : r;
  });
}
async function connectTo(id: number): Promise<KafkaConnection> {
  return KafkaConnection.connect('127.0.0.1', brokerPort(id));
}

describe('reassignment by metadata', () => {
  it('moves a 1 MB and a 200 MB partition in about the same time, copying no log bytes', async () => {
    await createTopic('move', 2);
    const small = await partitionState('move', 0);
    const large = await partitionState('move', 1);
    // Fill partition 0 with ~1 MB and partition 1 with ~200 MB (one partition each).
    const perBatch = 15; // 15 × 64 KiB stays under max.message.bytes (1 MB)
    const fill = async (partition: number, bytes: number, leader: number) => {
      const conn = await connectTo(leader);
      const value = Buffer.alloc(64 * 1024, partition + 1);
      const batches = Math.ceil(bytes / (perBatch * value.length));
      for (let i = 0; i < batches; i++) {
        const records = encodeRecordBatch(Array.from({ length: perBatch }, () => ({ value })));
        // The backlog limit refuses (retriably) while uploads catch up: retry then.
        await eventually(async () => {
          const res = await conn.request(Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: 'move', partitionData: [{ index: partition, records }] }] });
          const code = res.responses[0]!.partitionResponses[0]!.errorCode;
          if (code === ErrorCode.KAFKA_STORAGE_ERROR) return undefined;
          expect(code).toBe(ErrorCode.NONE);
          return true;
        }, 60_000, 20);
      }
      await conn.close();
      return batches * perBatch;
    };
    const smallRecords = await fill(0, 1024 * 1024, small.leader);
    const largeRecords = await fill(1, 200 * 1024 * 1024, large.leader);

    const moveOne = async (partition: number, from: number): Promise<{ ms: number; getBytes: number }> => {
      const to = from === 1 ? 2 : 1;
      const getBefore = await metricValue(metricsUrl(to), 'floe_objectstore_bytes_total', { op: 'get' });
      const started = Date.now();
      const res = await fetch(`${cluster.admin}/v1/topics/move/partitions/${partition}/reassign`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ owner: to }),
      });
      expect(res.status).toBeLessThan(300);
      await eventually(async () => ((await partitionState('move', partition)).leader === to ? true : undefined));
      // The new owner serves the partition: a write lands right after the old end.
      const conn = await connectTo(to);
      const written = await eventually(async () => {
        const r = await produceOne(conn, 'move', partition, 'after-move');
        return r.errorCode === ErrorCode.NONE ? r : undefined;
      });
      await conn.close();
      const ms = Date.now() - started;
      expect(written.baseOffset).toBe(partition === 0 ? smallRecords : largeRecords);
      const getBytes = (await metricValue(metricsUrl(to), 'floe_objectstore_bytes_total', { op: 'get' })) - getBefore;
      return { ms, getBytes };
    };
    const smallMove = await moveOne(0, small.leader);
    const largeMove = await moveOne(1, large.leader);
    // Metadata only: the new owner read at most object indexes and footers (a few KiB per
    // object), never the partition's data, and nothing travelled between brokers.
    expect(smallMove.getBytes).toBeLessThan(1024 * 1024);
    expect(largeMove.getBytes).toBeLessThan(1024 * 1024);
    // About the same time: the 200 MB move does not take time proportional to its size.
    expect(largeMove.ms).toBeLessThan(smallMove.ms + 5_000);

    const read = await readTopic(cluster.bootstrap, 'move');
    expect(read.filter((r) => r.partition === 0)).toHaveLength(smallRecords + 1);
    expect(read.filter((r) => r.partition === 1)).toHaveLength(largeRecords + 1);
    expect(read.filter((r) => r.partition === 1).at(-1)!.value).toBe('after-move');
  });
});

describe('object store outage', () => {
  it('keeps producing on the WAL up to the backlog limit, then refuses retriably, and loses nothing', async () => {
    await createTopic('outage', 1);
    const owner = (await partitionState('outage', 0)).leader;
    const conn = await connectTo(owner);
    const acked: { offset: number; value: string }[] = [];
    const first = await produceOneRetrying(conn, 'outage', 0, 'v-0');
    expect(first.errorCode).toBe(ErrorCode.NONE);
    acked.push({ offset: first.baseOffset, value: 'v-0' });

    cluster.kill('objectstore', 1);
    const big = 'x'.repeat(64 * 1024);
    let refused: number | null = null;
    for (let i = 1; i < 2000 && refused === null; i++) {
      const r = await produceOne(conn, 'outage', 0, `v-${i}-${big}`);
      if (r.errorCode === ErrorCode.NONE) acked.push({ offset: r.baseOffset, value: `v-${i}-${big}` });
      else refused = r.errorCode;
    }
    // Accepted on the WAL while the store was down, up to the limit, then refused with a
    // code Kafka clients retry.
    expect(acked.length).toBeGreaterThan(10);
    expect(acked.length * big.length).toBeLessThan(BACKLOG_LIMIT + 2 * big.length);
    expect(refused).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    await conn.close();

    cluster = await cluster.restart();
    // Uploads resume; everything acknowledged is readable.
    const read = await eventually(async () => {
      const r = await readTopic(cluster.bootstrap, 'outage');
      return r.length >= acked.length ? r : undefined;
    }, 60_000);
    const atOffset = new Map(read.map((r) => [r.offset, r.value]));
    expect(acked.filter((a) => atOffset.get(a.offset) !== a.value)).toEqual([]);
    // The backlog reaches object storage, and new writes are accepted again.
    await eventually(async () => ((await metricValue(metricsUrl(owner), 'floe_broker_backlog_bytes')) === 0 ? true : undefined), 60_000);
    const again = await connectTo(owner);
    expect((await produceOne(again, 'outage', 0, 'after')).errorCode).toBe(ErrorCode.NONE);
    await again.close();
  });
});

describe('corrupted object', () => {
  it('is detected by CRC on read and reported, never served', async () => {
    await createTopic('corrupt', 1);
    const owner = (await partitionState('corrupt', 0)).leader;
    const conn = await connectTo(owner);
    for (let i = 0; i < 20; i++) expect((await produceOneRetrying(conn, 'corrupt', 0, `c-${i}-${'y'.repeat(1000)}`)).errorCode).toBe(ErrorCode.NONE);
    await conn.close();
    const dir = path.join(cluster.dataDir, 'objectstore');
    // Wait until the controller's index says the data is in an object, then damage every
    // object s3rver holds on disk.
    await eventually(async () => {
      const s = (await (await fetch(`${cluster.admin}/v1/topics/corrupt/partitions/0`)).json()) as { objects?: { endOffset: number } };
      return s.objects?.endOffset === 20 ? true : undefined;
    });
    const objects = listFiles(dir).filter((f) => f.endsWith('._S3rver_object'));
    // One flipped bit every 512 bytes: whichever section of the object holds this
    // partition's batches, it no longer matches its CRC.
    for (const f of objects) {
      const bytes = readFileSync(f);
      for (let at = 100; at < bytes.length; at += 512) bytes[at] = bytes[at]! ^ 0x01;
      writeFileSync(f, bytes);
    }
    // The owner restarts (its caches go) and must read the range back from the object.
    cluster.kill('broker', owner);
    cluster = await cluster.restart();
    const fresh = await connectTo((await eventually(async () => {
      const s = await partitionState('corrupt', 0);
      return s.leader >= 0 ? s : undefined;
    })).leader);
    const res = await eventually(async () => {
      const r = await fresh.request(Fetch, 11, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 'corrupt', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      const p = r.responses[0]!.partitions[0]!;
      return p.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ? undefined : p;
    });
    await fresh.close();
    expect(res.errorCode).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(Buffer.isBuffer(res.records) ? res.records.length : 0).toBe(0);
  });
});

describe('every process killed at once', () => {
  it('comes back with every acknowledged record', async () => {
    await createTopic('all-down', 2);
    const acked: { partition: number; offset: number; value: string }[] = [];
    for (const partition of [0, 1]) {
      const conn = await connectTo((await partitionState('all-down', partition)).leader);
      for (let i = 0; i < 50; i++) {
        const value = `p${partition}-${i}`;
        const r = await produceOneRetrying(conn, 'all-down', partition, value);
        expect(r.errorCode).toBe(ErrorCode.NONE);
        acked.push({ partition, offset: r.baseOffset, value });
      }
      await conn.close();
    }
    for (const p of cluster.processes) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    cluster = await cluster.restart();
    const read = await eventually(async () => {
      const r = await readTopic(cluster.bootstrap, 'all-down');
      return r.length >= acked.length ? r : undefined;
    }, 60_000);
    const at = new Map(read.map((r) => [`${r.partition}:${r.offset}`, r.value]));
    expect(acked.filter((a) => at.get(`${a.partition}:${a.offset}`) !== a.value)).toEqual([]);
    // Metadata is answered by the restarted brokers as before.
    const conn = await KafkaConnection.connect('127.0.0.1', brokerPort(1));
    const meta = await conn.request(Metadata, 9, { topics: [{ topicId: Buffer.alloc(16), name: 'all-down' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
    await conn.close();
    expect(meta.topics[0]!.partitions).toHaveLength(2);
  });
});

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, name.name);
    if (name.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}
