// kill -9 of the group coordinator's broker while kafkajs consumers consume and commit,
// then a restart: the coordinator rebuilds the group and its offsets from
// __consumer_offsets, no acknowledged commit is lost, and the consumers carry on from
// their last commits (only records after a partition's last acknowledged commit may
// come again).
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { batch, countsByValue, GROUP_TEST_CONFIG, quickConsumer, TrackedConsumer, waitForStableGroup, type Delivery } from './group-helpers.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

const TOPIC = 'failover';
const PARTITIONS = 3;
const PER_PARTITION = 10;
const GROUP = 'survivors';

let cluster: TestCluster;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const consumers: TrackedConsumer[] = [];

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, config: GROUP_TEST_CONFIG });
  kafka = new Kafka({
    brokers: cluster.brokers,
    clientId: 'failover-test',
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 30 },
  });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
});

afterAll(async () => {
  await Promise.all(consumers.map((c) => c.consumer.disconnect()));
  await producer?.disconnect();
  await admin?.disconnect();
  await cluster?.stop();
});

async function produce(label: string): Promise<string[]> {
  const records = batch(label, PARTITIONS, PER_PARTITION);
  await producer.send({ topic: TOPIC, acks: -1, messages: records.map((r) => ({ partition: r.partition, value: r.value })) });
  return records.map((r) => r.value);
}

describe('coordinator failover', () => {
  it('kill -9 and restart of the broker: consumers recover and no acknowledged commit is lost', async () => {
    const deliveries: Delivery[] = [];
    /** The highest commit the broker acknowledged, per partition. */
    const acked = new Map<number, number>();
    for (const name of ['x', 'y']) {
      const c = new TrackedConsumer(kafka, name, quickConsumer(GROUP), deliveries);
      c.consumer.on(c.consumer.events.COMMIT_OFFSETS, (e) => {
        for (const t of e.payload.topics) for (const p of t.partitions) {
          // kafkajs reports partitions as strings here (object keys).
          const partition = Number(p.partition);
          acked.set(partition, Math.max(acked.get(partition) ?? -1, Number(p.offset)));
        }
      });
      consumers.push(c);
    }
    await Promise.all(consumers.map((c) => c.start(TOPIC)));
    await waitForStableGroup(admin, GROUP, 2, PARTITIONS);

    const before = await produce('before');
    await eventually(() => (Array.from({ length: PARTITIONS }, (_, p) => acked.get(p) === PER_PARTITION).every(Boolean) ? true : undefined));
    // More records: the kill lands while they are being consumed and committed.
    const during = await produce('during');
    cluster.kill('broker', 1);
    const ackedAtKill = new Map(acked);

    cluster = await cluster.restart();
    // Every commit acknowledged before the kill is still there (commits made since can only be higher).
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
    await waitForStableGroup(admin, GROUP, 2, PARTITIONS, 30_000);

    // What came twice came after its partition's last acknowledged commit: the
    // consumers resumed from their commits, never from before them.
    const counts = countsByValue(deliveries);
    const redelivered = deliveries.filter((d) => (counts.get(d.value) ?? 0) > 1);
    for (const d of redelivered) expect(d.offset, d.value).toBeGreaterThanOrEqual(ackedAtKill.get(d.partition) ?? 0);
    for (const v of before) expect(counts.get(v), v).toBe(1);
  });
});
