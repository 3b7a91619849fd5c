// Shared storage, housekeeping: many small uploads of a partition are compacted into one
// object (the controller's index switches to it; the data reads back the same), and
// retention.bytes moves a partition's log start forward over whole object ranges.
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, metricValue, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { readTopic } from '../../helpers/read-topic.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

let cluster: TestCluster;
let kafka: Kafka;

beforeAll(async () => {
  cluster = await startCluster({
    mode: 'shared-storage',
    brokers: 1,
    config: {
      // Upload almost at once, so that every send becomes its own small object…
      'floe.upload.interval.ms': '20',
      // …and look for work often.
      'floe.compaction.interval.ms': '500',
      'log.retention.check.interval.ms': '500',
    },
  });
  kafka = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING });
});
afterAll(async () => {
  await cluster?.stop();
});

function metricsUrl(): string {
  return `http://127.0.0.1:${cluster.processes.find((p) => p.role === 'broker')!.ports['metrics']}/metrics`;
}

interface ObjectsSummary {
  logStartOffset: number;
  endOffset: number;
  ranges: number;
}
async function objectsOf(topic: string): Promise<ObjectsSummary> {
  const p = (await (await fetch(`${cluster.admin}/v1/topics/${topic}/partitions/0`)).json()) as { objects: ObjectsSummary };
  return p.objects;
}

/** Sends `n` records one at a time, waiting after each until it is in object storage. */
async function sendUploaded(topic: string, n: number, size: number): Promise<string[]> {
  const producer = kafka.producer();
  await producer.connect();
  const values: string[] = [];
  for (let i = 0; i < n; i++) {
    const value = `${i}-${'v'.repeat(size)}`;
    await producer.send({ topic, acks: -1, messages: [{ value }] });
    values.push(value);
    await eventually(async () => ((await objectsOf(topic)).endOffset === i + 1 ? true : undefined));
  }
  await producer.disconnect();
  return values;
}

describe('shared storage housekeeping', () => {
  it('compacts a run of small objects into one, and the data reads back unchanged', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'compact-me', numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const mergedBefore = await metricValue(metricsUrl(), 'floe_broker_compactions_total', { outcome: 'merged' });
    // Twelve uploads, each its own object range (sendUploaded waits for each)…
    const values = await sendUploaded('compact-me', 12, 100);
    // …and compaction merges a run of eight or more of them into one.
    const compacted = await eventually(async () => {
      const o = await objectsOf('compact-me');
      return o.ranges <= 12 - 7 ? o : undefined;
    });
    expect(compacted.endOffset).toBe(12);
    expect(await metricValue(metricsUrl(), 'floe_broker_compactions_total', { outcome: 'merged' })).toBeGreaterThan(mergedBefore);
    const read = await readTopic(cluster.bootstrap, 'compact-me');
    expect(read.map((r) => r.value)).toEqual(values);
    expect(read.map((r) => r.offset)).toEqual(values.map((_, i) => i));
  });

  it('applies retention.bytes over whole object ranges', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'retained', numPartitions: 1, configEntries: [{ name: 'retention.bytes', value: '20000' }] }], waitForLeaders: true });
    await sendUploaded('retained', 10, 5000);
    const after = await eventually(async () => {
      const o = await objectsOf('retained');
      return o.logStartOffset > 0 && o.endOffset === 10 ? o : undefined;
    });
    // Whole ranges below the start are gone from the index; what is left holds the newest
    // records, and the start never passes the end.
    expect(after.logStartOffset).toBeLessThan(10);
    const offsets = await admin.fetchTopicOffsets('retained');
    expect(Number(offsets[0]!.low)).toBe(after.logStartOffset);
    await admin.disconnect();
    const read = await readTopic(cluster.bootstrap, 'retained');
    expect(read[0]!.offset).toBe(after.logStartOffset);
    expect(read.at(-1)!.offset).toBe(9);
  });
});
