// kafkajs 2.2.4 consumer groups against a real broker: three members share a
// 6-partition topic, one leaves and the others take over its partitions, commits survive
// a restart of every consumer, and exactly the records after the last commit come twice.
// Then the group tooling: ListGroups, DescribeGroups, OffsetFetch, DeleteGroups.
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { batch, countsByValue, GROUP_TEST_CONFIG, quickConsumer, TrackedConsumer, waitForConsumersToMatch, waitForStableGroup, type Delivery } from './group-helpers.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

const TOPIC = 'orders';
const PARTITIONS = 6;
const PER_PARTITION = 5;
const GROUP = 'order-processors';

let cluster: TestCluster;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, config: GROUP_TEST_CONFIG });
  kafka = new Kafka({ brokers: cluster.brokers, clientId: 'groups-test', logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await cluster?.stop();
});

async function produce(label: string): Promise<string[]> {
  const records = batch(label, PARTITIONS, PER_PARTITION);
  await producer.send({ topic: TOPIC, acks: -1, messages: records.map((r) => ({ partition: r.partition, value: r.value })) });
  return records.map((r) => r.value);
}

/** The Kafka error kafkajs reports for deleting one group (it throws with the per-group errors). */
async function deleteGroupError(groupId: string): Promise<string> {
  try {
    await admin.deleteGroups([groupId]);
    return 'NONE';
  } catch (err) {
    const groups = (err as { groups?: { error?: { type?: string } }[] }).groups;
    return groups?.[0]?.error?.type ?? String(err);
  }
}

async function commitAll(c: TrackedConsumer, offset: number): Promise<void> {
  await c.consumer.commitOffsets(c.assignment.map((partition) => ({ topic: TOPIC, partition, offset: String(offset) })));
}

describe('kafkajs consumer group', () => {
  it('shares partitions, rebalances when a member leaves, and resumes from commits after a restart', async () => {
    const deliveries: Delivery[] = [];
    const seen = (values: string[]): boolean => {
      const got = new Set(deliveries.map((d) => d.value));
      return values.every((v) => got.has(v));
    };

    // Three members, no auto-commit: what is committed is exactly what the test commits.
    const first = ['a', 'b', 'c'].map((name) => new TrackedConsumer(kafka, name, quickConsumer(GROUP), deliveries));
    await Promise.all(first.map((c) => c.start(TOPIC, { autoCommit: false })));
    const three = await waitForStableGroup(admin, GROUP, 3, PARTITIONS);
    await waitForConsumersToMatch(first, three);
    // Each partition is owned by exactly one member, and each member owns two.
    expect([...three.assignments.values()].map((a) => a.length)).toEqual([2, 2, 2]);

    const batch1 = await produce('b1');
    await eventually(() => (seen(batch1) ? true : undefined));
    for (const d of deliveries) {
      const owner = first.find((c) => c.assignment.includes(d.partition));
      expect(d.consumer).toBe(owner?.name);
    }
    await Promise.all(first.map((c) => commitAll(c, PER_PARTITION)));

    // Member c leaves; a and b take over its partitions from the committed offsets.
    const leaver = first[2]!;
    const leaversPartitions = leaver.assignment;
    await leaver.consumer.disconnect();
    const stayers = first.slice(0, 2);
    const two = await waitForStableGroup(admin, GROUP, 2, PARTITIONS);
    await waitForConsumersToMatch(stayers, two);
    expect(stayers.flatMap((c) => c.assignment).sort()).toEqual([0, 1, 2, 3, 4, 5]);

    const batch2 = await produce('b2');
    await eventually(() => (seen(batch2) ? true : undefined));
    const batch2Deliveries = deliveries.filter((d) => d.value.startsWith('b2-'));
    for (const p of leaversPartitions) {
      const takers = new Set(batch2Deliveries.filter((d) => d.partition === p).map((d) => d.consumer));
      expect(takers.size).toBe(1);
      expect(['a', 'b']).toContain([...takers][0]);
    }
    await Promise.all(stayers.map((c) => commitAll(c, 2 * PER_PARTITION)));

    // A third batch is consumed but never committed, then every consumer stops.
    const batch3 = await produce('b3');
    await eventually(() => (seen(batch3) ? true : undefined));
    await Promise.all(stayers.map((c) => c.consumer.disconnect()));
    const committed = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] });
    expect(committed[0]!.partitions.map((p) => Number(p.offset))).toEqual(Array(PARTITIONS).fill(2 * PER_PARTITION));

    // Three new consumers resume from the commits: batch 3 comes again, nothing before it.
    const before = deliveries.length;
    const second = ['d', 'e', 'f'].map((name) => new TrackedConsumer(kafka, name, quickConsumer(GROUP), deliveries));
    await Promise.all(second.map((c) => c.start(TOPIC, { autoCommit: false })));
    await eventually(() => (deliveries.length - before >= batch3.length ? true : undefined));
    await waitForStableGroup(admin, GROUP, 3, PARTITIONS);
    await Promise.all(second.map((c) => c.consumer.disconnect()));

    const counts = countsByValue(deliveries);
    for (const v of [...batch1, ...batch2, ...batch3]) expect(counts.get(v), v).toBeGreaterThanOrEqual(1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([v]) => v).sort();
    expect(twice).toEqual([...batch3].sort());
    expect(Math.max(...counts.values())).toBe(2);
    expect(deliveries.slice(before).map((d) => d.value).sort()).toEqual([...batch3].sort());
  });

  it('lists, describes and deletes groups; refuses to delete one with members', async () => {
    const groupId = 'tooling';
    const deliveries: Delivery[] = [];
    const c = new TrackedConsumer(kafka, 'tool', quickConsumer(groupId), deliveries);
    await c.start(TOPIC);
    await waitForStableGroup(admin, groupId, 1, PARTITIONS);

    const { groups } = await admin.listGroups();
    expect(groups).toContainEqual({ groupId, protocolType: 'consumer' });
    const described = (await admin.describeGroups([groupId])).groups[0]!;
    expect(described).toMatchObject({ groupId, state: 'Stable', protocolType: 'consumer', protocol: 'RoundRobinAssigner' });
    expect(described.members[0]).toMatchObject({ clientId: 'groups-test', clientHost: '/127.0.0.1' });
    expect(await deleteGroupError(groupId)).toBe('NON_EMPTY_GROUP');

    // Let it consume what is there (auto-commit), then leave.
    await eventually(() => (deliveries.length > 0 ? true : undefined));
    await c.consumer.disconnect();
    const afterLeave = (await admin.describeGroups([groupId])).groups[0]!;
    expect(afterLeave).toMatchObject({ state: 'Empty', members: [] });
    const offsets = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
    expect(offsets[0]!.partitions.some((p) => Number(p.offset) > 0)).toBe(true);

    expect(await admin.deleteGroups([groupId])).toEqual([{ groupId, errorCode: 0 }]);
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(groupId);
    const gone = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
    expect(gone[0]!.partitions.every((p) => p.offset === '-1')).toBe(true);
    expect(await deleteGroupError(groupId)).toBe('GROUP_ID_NOT_FOUND');
  });
});
