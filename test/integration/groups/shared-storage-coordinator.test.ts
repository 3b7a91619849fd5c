// Shared storage with three brokers: kill -9 of the group coordinator's broker while
// kafkajs consumers consume and commit, with no restart. The coordinator's
// __consumer_offsets partition moves to a live broker (its unuploaded commits recovered
// from the dead broker's WAL), the consumers find the new coordinator, no acknowledged
// commit is lost, and only records after a partition's last acknowledged commit come again.
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../src/client/connection.ts';
import { FindCoordinator } from '../../../src/protocol/messages/10-find-coordinator.ts';
import { eventually, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { batch, countsByValue, GROUP_TEST_CONFIG, quickConsumer, TrackedConsumer, waitForStableGroup, type Delivery } from './group-helpers.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

const TOPIC = 'moving-coordinator';
const PARTITIONS = 3;
const PER_PARTITION = 10;
const GROUP = 'movers';

let cluster: TestCluster;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const consumers: TrackedConsumer[] = [];

beforeAll(async () => {
  cluster = await startCluster({ mode: 'shared-storage', brokers: 3, leaseMs: 1500, config: GROUP_TEST_CONFIG });
  kafka = new Kafka({ brokers: cluster.brokers, clientId: 'coordinator-moves', logLevel: logLevel.NOTHING, retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 30 } });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true });
});

afterAll(async () => {
  await Promise.all(consumers.map((c) => c.consumer.disconnect().catch(() => undefined)));
  await producer?.disconnect();
  await admin?.disconnect();
  await cluster?.stop();
});

/** The coordinator as any live broker answers FindCoordinator (-1 while there is none). */
async function coordinatorOf(groupId: string): Promise<number> {
  for (const b of cluster.brokers) {
    const [host, port] = b.split(':') as [string, string];
    const conn = await KafkaConnection.connect(host, Number(port)).catch(() => null);
    if (!conn) continue;
    try {
      const res = await conn.request(FindCoordinator, 2, { key: groupId, keyType: 0, coordinatorKeys: [] });
      return res.errorCode === 0 ? res.nodeId : -1;
    } finally {
      await conn.close();
    }
  }
  return -1;
}

async function produce(label: string): Promise<string[]> {
  const records = batch(label, PARTITIONS, PER_PARTITION);
  await producer.send({ topic: TOPIC, acks: -1, messages: records.map((r) => ({ partition: r.partition, value: r.value })) });
  return records.map((r) => r.value);
}

describe('group coordinator on shared storage', () => {
  it('moves to a live broker when its broker is killed; no acknowledged commit is lost', async () => {
    const deliveries: Delivery[] = [];
    const acked = new Map<number, number>();
    for (const name of ['x', 'y']) {
      const c = new TrackedConsumer(kafka, name, quickConsumer(GROUP, { sessionTimeout: 2_500 }), deliveries);
      c.consumer.on(c.consumer.events.COMMIT_OFFSETS, (e) => {
        for (const t of e.payload.topics) for (const p of t.partitions) acked.set(Number(p.partition), Math.max(acked.get(Number(p.partition)) ?? -1, Number(p.offset)));
      });
      consumers.push(c);
    }
    await Promise.all(consumers.map((c) => c.start(TOPIC)));
    await waitForStableGroup(admin, GROUP, 2, PARTITIONS);
    const before = await produce('before');
    await eventually(() => (Array.from({ length: PARTITIONS }, (_, p) => acked.get(p) === PER_PARTITION).every(Boolean) ? true : undefined)).catch((err: unknown) => {
      throw new Error(`commits seen: ${JSON.stringify([...acked])}, deliveries ${deliveries.length}`, { cause: err });
    });

    const coordinator = await coordinatorOf(GROUP);
    const during = await produce('during');
    cluster.kill('broker', coordinator);
    const ackedAtKill = new Map(acked);

    // The coordinator moves to a live broker; nobody restarts the dead one.
    const moved = await eventually(async () => {
      const now = await coordinatorOf(GROUP).catch(() => -1);
      return now >= 0 && now !== coordinator ? now : undefined;
    });
    expect(moved).not.toBe(coordinator);
    const fetched = await eventually(async () => admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] }), 30_000);
    for (const p of fetched[0]!.partitions) {
      expect(Number(p.offset), `partition ${p.partition}`).toBeGreaterThanOrEqual(ackedAtKill.get(p.partition) ?? 0);
    }

    const after = await produce('after');
    const all = [...before, ...during, ...after];
    await eventually(() => {
      const got = new Set(deliveries.map((d) => d.value));
      return all.every((v) => got.has(v)) ? true : undefined;
    }, 45_000);
    const counts = countsByValue(deliveries);
    for (const d of deliveries.filter((x) => (counts.get(x.value) ?? 0) > 1)) expect(d.offset, d.value).toBeGreaterThanOrEqual(ackedAtKill.get(d.partition) ?? 0);
    for (const v of before) expect(counts.get(v), v).toBe(1);
  });
});
