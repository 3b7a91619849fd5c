// Three brokers following one controller: a 12-partition topic spread over all three,
// produced to by kafkajs and kcat, read back partition by partition from whichever
// broker owns it; every broker answers Metadata identically; a controller kill -9 and
// restart is invisible to clients.
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../src/client/connection.ts';
import { Metadata } from '../../../src/protocol/messages/03-metadata.ts';
import { startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { kcatOk } from '../../helpers/kcat.ts';
import { readTopic } from '../../helpers/read-topic.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster({ brokers: 3 });
});
afterAll(async () => {
  await cluster?.stop();
});

async function metadataFrom(bootstrap: string, topic: string) {
  const [host, port] = bootstrap.split(':');
  const c = await KafkaConnection.connect(host!, Number(port));
  try {
    return await c.request(Metadata, 9, { topics: [{ topicId: Buffer.alloc(16), name: topic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false });
  } finally {
    await c.close();
  }
}

describe('three brokers and a controller', () => {
  it('spreads a 12-partition topic over all brokers; kafkajs and kcat produce, every record reads back in order', async () => {
    const kafka = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'spread', numPartitions: 12 }], waitForLeaders: true });
    const meta = await admin.fetchTopicMetadata({ topics: ['spread'] });
    const leaders = meta.topics[0]!.partitions.map((p) => p.leader);
    expect(leaders).toHaveLength(12);
    // Balanced: each broker leads exactly four partitions.
    for (const id of [1, 2, 3]) expect(leaders.filter((l) => l === id)).toHaveLength(4);
    await admin.disconnect();

    // Every broker answers Metadata identically, with a live controller_id.
    const answers = await Promise.all(cluster.brokers.map((b) => metadataFrom(b, 'spread')));
    const canon = (m: (typeof answers)[number]) => JSON.stringify({ brokers: m.brokers, controller: m.controllerId, topics: m.topics.map((t) => ({ ...t, topicId: t.topicId.toString('hex') })) });
    expect(new Set(answers.map(canon)).size).toBe(1);
    expect([1, 2, 3]).toContain(answers[0]!.controllerId);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const expected = new Map<number, string[]>();
    for (let p = 0; p < 12; p++) expected.set(p, []);
    const messages = Array.from({ length: 240 }, (_, i) => ({ partition: i % 12, value: `kafkajs-${i}` }));
    await producer.send({ topic: 'spread', acks: -1, messages });
    for (const m of messages) expected.get(m.partition)!.push(m.value);
    await producer.disconnect();

    for (const p of [0, 5, 11]) {
      const lines = Array.from({ length: 10 }, (_, i) => `kcat-${p}-${i}`);
      await kcatOk(['-b', cluster.bootstrap, '-P', '-t', 'spread', '-p', String(p), '-X', 'acks=all', '-X', 'enable.idempotence=true'], lines.join('\n') + '\n');
      expected.get(p)!.push(...lines);
    }

    const read = await readTopic(cluster.bootstrap, 'spread');
    for (let p = 0; p < 12; p++) {
      const got = read.filter((r) => r.partition === p);
      expect(got.map((r) => r.value)).toEqual(expected.get(p));
      expect(got.map((r) => r.offset)).toEqual(got.map((_, i) => i));
    }
    // kcat reads a partition led by another broker than the bootstrap one.
    const p11 = await kcatOk(['-b', cluster.bootstrap, '-C', '-t', 'spread', '-p', '11', '-o', 'beginning', '-e', '-f', '%s\\n']);
    expect(p11.trim().split('\n')).toEqual(expected.get(11));
  });

  it('survives a controller kill -9 and restart without client errors', async () => {
    const kafka = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer();
    await producer.connect();
    const before = await metadataFrom(cluster.brokers[0]!, 'spread');
    cluster.kill('controller', 1);
    // With the controller gone, brokers keep serving what they own: no retries allowed.
    for (let i = 0; i < 5; i++) await producer.send({ topic: 'spread', acks: -1, messages: Array.from({ length: 12 }, (_, p) => ({ partition: p, value: `during-${i}` })) });
    const during = await metadataFrom(cluster.brokers[1]!, 'spread');
    expect(during.topics[0]!.partitions.map((p) => [p.leaderId, p.leaderEpoch])).toEqual(before.topics[0]!.partitions.map((p) => [p.leaderId, p.leaderEpoch]));
    cluster = await cluster.restart();
    for (let i = 0; i < 5; i++) await producer.send({ topic: 'spread', acks: -1, messages: Array.from({ length: 12 }, (_, p) => ({ partition: p, value: `after-${i}` })) });
    const after = await metadataFrom(cluster.brokers[2]!, 'spread');
    // Nothing moved: same owners, same epochs, same topic id.
    expect(after.topics[0]!.partitions.map((p) => [p.leaderId, p.leaderEpoch])).toEqual(before.topics[0]!.partitions.map((p) => [p.leaderId, p.leaderEpoch]));
    expect(after.topics[0]!.topicId.equals(before.topics[0]!.topicId)).toBe(true);
    await producer.disconnect();
    const read = await readTopic(cluster.bootstrap, 'spread');
    expect(read.filter((r) => r.value?.startsWith('during-')).length).toBe(60);
    expect(read.filter((r) => r.value?.startsWith('after-')).length).toBe(60);
  });
});
