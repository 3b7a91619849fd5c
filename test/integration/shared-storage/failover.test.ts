// Shared storage, broker failure: kill -9 of the broker owning a partition while kafkajs
// produces to it — idempotent with acks=all, and plain with acks=1. The controller fences
// the dead broker's WAL log, recovers its entries into object storage and moves the
// partition; afterwards every acknowledged record is readable at its original offset
// (exactly once, in order, for the idempotent producer), read back with kcat and with
// floe's own client. A zombie (a stopped broker that wakes up after the failover) cannot
// acknowledge anything.
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../src/client/connection.ts';
import { isAlive } from '../../../src/cluster/launcher.ts';
import { ErrorCode } from '../../../src/protocol/errors.ts';
import { Produce } from '../../../src/protocol/messages/00-produce.ts';
import { encodeRecordBatch } from '../../../src/protocol/records.ts';
import { eventually, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { kcatOk } from '../../helpers/kcat.ts';
import { readTopic } from '../../helpers/read-topic.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

let cluster: TestCluster;
let kafka: Kafka;

beforeAll(async () => {
  cluster = await startCluster({ mode: 'shared-storage', brokers: 3, leaseMs: 1500 });
  kafka = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
});
afterAll(async () => {
  await cluster?.stop();
});

async function ownerOf(topic: string, partition: number): Promise<{ leader: number; epoch: number }> {
  const res = await fetch(`${cluster.admin}/v1/topics/${topic}/partitions/${partition}`);
  const body = (await res.json()) as { leader: number; leaderEpoch: number };
  return { leader: body.leader, epoch: body.leaderEpoch };
}

interface Acked {
  value: string;
  offset: number;
}

/**
 * Produces one record per send to one partition until stopped; records what each
 * acknowledged send was given. Failed sends (the client gave up) are not acknowledged.
 */
function produceLoop(producer: Producer, topic: string, partition: number, acks: -1 | 1, prefix: string): { acked: Acked[]; stop: () => Promise<void> } {
  const acked: Acked[] = [];
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const value = `${prefix}-${n++}`;
      try {
        const [meta] = await producer.send({ topic, acks, messages: [{ partition, value }] });
        acked.push({ value, offset: Number(meta!.baseOffset) });
      } catch {
        // Not acknowledged: the record may or may not be in the log.
      }
    }
  })();
  return {
    acked,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe('shared storage: the owner of a partition is killed', () => {
  for (const mode of [
    { name: 'idempotent acks=all', acks: -1 as const, idempotent: true },
    { name: 'plain acks=1', acks: 1 as const, idempotent: false },
  ]) {
    it(`${mode.name}: every acknowledged record survives at its original offset`, async () => {
      const topic = `failover-${mode.acks === -1 ? 'all' : 'one'}`;
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      await admin.disconnect();
      const before = await ownerOf(topic, 0);
      const producer = kafka.producer({ idempotent: mode.idempotent, ...(mode.idempotent ? { maxInFlightRequests: 1 } : {}) });
      await producer.connect();
      const load = produceLoop(producer, topic, 0, mode.acks, 'rec');
      await eventually(() => (load.acked.length >= 200 ? true : undefined));
      cluster.kill('broker', before.leader);
      const killedAt = load.acked.length;
      // The partition moves within the lease (plus recovery) and the producer carries on.
      const after = await eventually(async () => {
        const o = await ownerOf(topic, 0);
        return o.leader >= 0 && o.leader !== before.leader ? o : undefined;
      });
      expect(after.epoch).toBeGreaterThan(before.epoch);
      await eventually(() => (load.acked.length >= killedAt + 200 ? true : undefined), 60_000);
      await load.stop();
      await producer.disconnect();

      const read = (await readTopic(cluster.bootstrap, topic)).filter((r) => r.partition === 0);
      const atOffset = new Map(read.map((r) => [r.offset, r.value]));
      const lost = load.acked.filter((a) => atOffset.get(a.offset) !== a.value);
      expect(lost).toEqual([]);
      // Offsets are contiguous from 0: the recovered tail and the new owner's appends meet.
      expect(read.map((r) => r.offset)).toEqual(read.map((_, i) => i));
      if (mode.idempotent) {
        // Exactly once and in order: no value twice, acknowledged values in send order.
        const values = read.map((r) => r.value!);
        expect(new Set(values).size).toBe(values.length);
        const order = load.acked.map((a) => a.offset);
        expect(order).toEqual([...order].sort((a, b) => a - b));
      }
      // kcat reads the same records from the new owner.
      const kc = await kcatOk(['-b', cluster.bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-f', '%o %s\\n']);
      const kcRows = kc.trim().split('\n');
      expect(kcRows).toHaveLength(read.length);
      expect(kcRows.slice(0, 5)).toEqual(read.slice(0, 5).map((r) => `${r.offset} ${r.value}`));

      cluster = await cluster.restart();
    });
  }

  it('a zombie broker acknowledges nothing after it has been fenced', async () => {
    const topic = 'zombie';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const owner = await ownerOf(topic, 0);
    const zombie = cluster.processes.find((p) => p.role === 'broker' && p.id === owner.leader)!;
    const conn = await KafkaConnection.connect('127.0.0.1', zombie.ports['kafka']!);
    const send = (value: string) =>
      conn.request(Produce, 7, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: encodeRecordBatch([{ value: Buffer.from(value) }]) }] }] });
    // The partition may still be opening on its owner: retry what a client retries.
    const first = await eventually(async () => {
      const code = (await send('before')).responses[0]!.partitionResponses[0]!.errorCode;
      return code === ErrorCode.NOT_LEADER_OR_FOLLOWER || code === ErrorCode.LEADER_NOT_AVAILABLE ? undefined : code;
    });
    expect(first).toBe(ErrorCode.NONE);

    process.kill(zombie.pid, 'SIGSTOP');
    try {
      await eventually(async () => {
        const o = await ownerOf(topic, 0);
        return o.leader >= 0 && o.leader !== owner.leader ? true : undefined;
      });
    } finally {
      process.kill(zombie.pid, 'SIGCONT');
    }
    // The zombie wakes up still believing it owns the partition: whatever it answers, it
    // is not a success, and the record never appears.
    const res = await send('from-the-zombie').catch(() => null);
    const code = res?.responses[0]?.partitionResponses[0]?.errorCode;
    expect(code).not.toBe(ErrorCode.NONE);
    await conn.close().catch(() => undefined);
    // Once its WAL writer learns it was fenced, the zombie exits (a restart recovers it).
    await eventually(() => (isAlive(zombie.pid) ? undefined : true));
    // Read back as a client does: a connection reset by the exiting zombie is retried.
    const read = await eventually(() => readTopic(cluster.bootstrap, topic));
    expect(read.map((r) => r.value)).toContain('before');
    expect(read.map((r) => r.value)).not.toContain('from-the-zombie');
  });
});
