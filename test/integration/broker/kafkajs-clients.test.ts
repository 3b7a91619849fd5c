// kafkajs 2.2.4 against a real broker process: topic administration, plain and
// idempotent producers at every acks level, and a read-back of exact contents and offsets.
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { readTopic } from '../../helpers/read-topic.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

let cluster: TestCluster;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1 });
  kafka = new Kafka({ brokers: cluster.brokers, clientId: 'kafkajs-test', logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await cluster?.stop();
});

describe('kafkajs admin', () => {
  it('creates, describes and deletes topics', async () => {
    expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] })).toBe(true);
    // Creating it again is not an error for kafkajs (it reports false), but it changes nothing.
    expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 5 }] })).toBe(false);
    expect(await admin.listTopics()).toContain('admin-a');

    const meta = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
    expect(meta.topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
    expect(meta.topics[0]!.partitions.every((p) => p.leader === 1)).toBe(true);

    const described = await admin.describeConfigs({ resources: [{ type: 2, name: 'admin-a', configNames: ['retention.ms', 'cleanup.policy'] }], includeSynonyms: false });
    const entries = Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e]));
    expect(entries['retention.ms']).toMatchObject({ configValue: '3600000', isDefault: false });
    expect(entries['cleanup.policy']).toMatchObject({ configValue: 'delete', isDefault: true });

    await admin.createPartitions({ topicPartitions: [{ topic: 'admin-a', count: 4 }] });
    const offsets = await admin.fetchTopicOffsets('admin-a');
    expect(offsets.map((o) => o.partition).sort()).toEqual([0, 1, 2, 3]);

    await admin.deleteTopics({ topics: ['admin-a'] });
    expect(await admin.listTopics()).not.toContain('admin-a');
  });

  it('refuses an unknown config and an invalid partition count with Kafka errors', async () => {
    const errorTypes = async (p: Promise<unknown>): Promise<string[]> => {
      try {
        await p;
        return [];
      } catch (err) {
        return ((err as { errors?: { type: string }[] }).errors ?? []).map((e) => e.type);
      }
    };
    expect(await errorTypes(admin.createTopics({ topics: [{ topic: 'bad-config', configEntries: [{ name: 'no.such.config', value: '1' }] }] }))).toEqual(['INVALID_CONFIG']);
    expect(await errorTypes(admin.createTopics({ topics: [{ topic: 'bad-count', numPartitions: 0 }] }))).toEqual(['INVALID_PARTITIONS']);
    expect(await admin.listTopics()).not.toContain('bad-config');
    expect(await admin.listTopics()).not.toContain('bad-count');
  });
});

describe('kafkajs producers', () => {
  const cases: { name: string; acks: -1 | 0 | 1; idempotent: boolean }[] = [
    { name: 'plain-acks0', acks: 0, idempotent: false },
    { name: 'plain-acks1', acks: 1, idempotent: false },
    { name: 'plain-acksall', acks: -1, idempotent: false },
    { name: 'idem-acksall', acks: -1, idempotent: true },
  ];

  for (const c of cases) {
    it(`${c.name}: every record lands once, in order, at consecutive offsets`, async () => {
      const topic = `produce-${c.name}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
      const producer: Producer = kafka.producer({ idempotent: c.idempotent, ...(c.idempotent ? { maxInFlightRequests: 1 } : {}) });
      await producer.connect();
      const sent: { partition: number; key: string; value: string }[] = [];
      for (let round = 0; round < 5; round++) {
        const messages = Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, key: `k${round}-${i}`, value: `v${round}-${i}` }));
        const meta = await producer.send({ topic, acks: c.acks, messages });
        sent.push(...messages);
        if (c.acks !== 0) {
          // The broker reports the base offset of each partition's batch: 10 records each.
          expect(meta.map((m) => Number(m.baseOffset)).sort()).toEqual([round * 10, round * 10]);
        }
      }
      await producer.disconnect();
      const read = await readTopic(cluster.bootstrap, topic);
      for (const partition of [0, 1]) {
        const expected = sent.filter((s) => s.partition === partition);
        const got = read.filter((r) => r.partition === partition);
        expect(got.map((r) => r.offset)).toEqual(expected.map((_, i) => i));
        expect(got.map((r) => [r.key, r.value])).toEqual(expected.map((s) => [s.key, s.value]));
      }
    });
  }
});
