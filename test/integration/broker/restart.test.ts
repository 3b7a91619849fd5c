// kill -9 of the broker after acks=1 writes with fsync per batch (flush.messages=1): after
// a restart every acknowledged record is readable at the offset it was acknowledged with.
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { readTopic } from '../../helpers/read-topic.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

let cluster: TestCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
});

describe('broker restart after kill -9', () => {
  it('keeps every acks=1 record acknowledged under flush.messages=1', async () => {
    cluster = await startCluster({ brokers: 1, config: { 'flush.messages': '1' } });
    const kafka = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'durable', numPartitions: 3 }] });
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    const acked = new Map<string, { partition: number; offset: number }>();
    let stop = false;
    let n = 0;
    // Producers keep sending while the broker is killed: whatever was acknowledged before
    // the kill must be there afterwards, at its offset.
    const sending = (async () => {
      while (!stop) {
        const messages = Array.from({ length: 10 }, () => ({ value: `r${n++}` }));
        try {
          const meta = await producer.send({ topic: 'durable', acks: 1, messages: messages.map((m, i) => ({ ...m, partition: i % 3 })) });
          for (const m of meta) {
            const mine = messages.filter((_, i) => i % 3 === m.partition);
            mine.forEach((msg, i) => acked.set(msg.value, { partition: m.partition, offset: Number(m.baseOffset) + i }));
          }
        } catch {
          return; // the broker is gone
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    cluster.kill('broker', 1);
    stop = true;
    await sending;
    await producer.disconnect().catch(() => undefined);
    expect(acked.size).toBeGreaterThan(0);

    cluster = await cluster.restart();
    const read = await readTopic(cluster.bootstrap, 'durable');
    const byValue = new Map(read.map((r) => [r.value!, { partition: r.partition, offset: r.offset }]));
    const lost = [...acked].filter(([v, at]) => {
      const got = byValue.get(v);
      return !got || got.partition !== at.partition || got.offset !== at.offset;
    });
    expect(lost).toEqual([]);
    // Offsets are contiguous from 0 in every partition: no hole, no torn batch.
    for (const p of [0, 1, 2]) {
      const offsets = read.filter((r) => r.partition === p).map((r) => r.offset);
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
  });
});
