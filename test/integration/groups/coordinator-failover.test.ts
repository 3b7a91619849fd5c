// kill -9 of the group coordinator's broker while kafkajs consumers consume and commit,
// then a restart: the coordinator rebuilds the group and its offsets from
// __consumer_offsets, no acknowledged commit is lost, and the consumers carry on from
// their last commits (only records after a partition's last acknowledged commit may
// come again). Also: the offsets log is kept bounded by rewriting it, and a kill -9 after
// the rewrite still finds every commit.
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFSETS_TOPIC } from '../../../src/broker/groups/limits.ts';
import { partitionForGroup } from '../../../src/broker/groups/partitioning.ts';
import { KafkaConnection } from '../../../src/client/connection.ts';
import { ErrorCode } from '../../../src/protocol/errors.ts';
import { OffsetCommit } from '../../../src/protocol/messages/08-offset-commit.ts';
import { OffsetFetch } from '../../../src/protocol/messages/09-offset-fetch.ts';
import { ListOffsets } from '../../../src/protocol/messages/02-list-offsets.ts';
import { eventually, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { batch, countsByValue, GROUP_TEST_CONFIG, quickConsumer, TrackedConsumer, waitForStableGroup, type Delivery } from './group-helpers.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

const TOPIC = 'failover';
const PARTITIONS = 3;
const PER_PARTITION = 10;
const GROUP = 'survivors';
/** A small rewrite threshold, so that a test's few hundred commits trigger rewrites. */
const REWRITE_MIN_RECORDS = 50;

let cluster: TestCluster;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const consumers: TrackedConsumer[] = [];

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, config: { ...GROUP_TEST_CONFIG, 'offsets.rewrite.min.records': String(REWRITE_MIN_RECORDS) } });
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
      // A short session: a consumer that crashes on the dead broker restarts as a new
      // member, and the rebalance waits for its old self to expire.
      const c = new TrackedConsumer(kafka, name, quickConsumer(GROUP, { sessionTimeout: 2_500 }), deliveries);
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
    await Promise.all(consumers.splice(0).map((c) => c.consumer.disconnect()));
  });

  it('rewrites the offsets log and trims the old records; a kill -9 afterwards still finds every commit', async () => {
    const groupId = 'rewriter';
    const partitions = [0, 1, 2];
    const [host, port] = cluster.brokers[0]!.split(':') as [string, string];
    const conn = await KafkaConnection.connect(host, Number(port), 'rewrite-test');
    const commits = 4 * REWRITE_MIN_RECORDS;
    for (let i = 1; i <= commits; i++) {
      const res = await conn.request(OffsetCommit, 8, {
        groupId,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [{ name: TOPIC, partitions: partitions.map((p) => ({ partitionIndex: p, committedOffset: i * 10 + p, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: `m${i}` })) }],
      });
      expect(res.topics[0]!.partitions.map((p) => p.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE]);
    }
    const offsetsPartition = partitionForGroup(groupId, Number(GROUP_TEST_CONFIG['offsets.topic.num.partitions']));
    const logStart = async (c: KafkaConnection): Promise<number> => {
      const r = await c.request(ListOffsets, 1, { replicaId: -1, isolationLevel: 0, topics: [{ name: OFFSETS_TOPIC, partitions: [{ partitionIndex: offsetsPartition, currentLeaderEpoch: -1, timestamp: -2, maxNumOffsets: 1 }] }] });
      return r.topics[0]!.partitions[0]!.offset;
    };
    // 600 commit records, a handful live: the rewrites moved the log start past most of them.
    const trimmedTo = await eventually(async () => {
      const start = await logStart(conn);
      return start >= commits * partitions.length - 2 * REWRITE_MIN_RECORDS ? start : undefined;
    });
    await conn.close();

    cluster.kill('broker', 1);
    cluster = await cluster.restart();
    const conn2 = await KafkaConnection.connect(host, Number(port), 'rewrite-test');
    const fetched = await eventually(async () => {
      const r = await conn2.request(OffsetFetch, 8, { groupId: '', topics: null, groups: [{ groupId, topics: null }], requireStable: false });
      return r.groups[0]!.errorCode === ErrorCode.NONE ? r.groups[0]! : undefined;
    });
    expect(fetched.topics).toEqual([
      { name: TOPIC, partitions: partitions.map((p) => ({ partitionIndex: p, committedOffset: commits * 10 + p, committedLeaderEpoch: -1, metadata: `m${commits}`, errorCode: ErrorCode.NONE })) },
    ]);
    expect(await logStart(conn2)).toBeGreaterThanOrEqual(trimmedTo);
    await conn2.close();
  });
});
