// The controller moving ownership while clients run: kill -9 of a broker (the controller
// declares it dead after its lease and gives its partitions new owners with bumped epochs;
// a running kafkajs producer and a running kcat consumer carry on without restarts), and
// brokers added and removed at runtime with `floe cluster add-broker / remove-broker`.
import { spawn, type ChildProcess } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, floe, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { readTopic } from '../../helpers/read-topic.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

let cluster: TestCluster;
let kafka: Kafka;
const consumers: ChildProcess[] = [];

beforeAll(async () => {
  cluster = await startCluster({ mode: 'shared-storage', brokers: 3, leaseMs: 1500 });
  kafka = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 } });
});
afterAll(async () => {
  for (const c of consumers) c.kill('SIGKILL');
  await cluster?.stop();
});

interface PartitionView {
  leader: number;
  leaderEpoch: number;
}
async function partition(topic: string, p: number): Promise<PartitionView> {
  return (await (await fetch(`${cluster.admin}/v1/topics/${topic}/partitions/${p}`)).json()) as PartitionView;
}
async function broker(id: number): Promise<{ status: string; leaders: number }> {
  return (await (await fetch(`${cluster.admin}/v1/brokers/${id}`)).json()) as { status: string; leaders: number };
}

/** A kcat consumer left running on one partition; its output grows as records arrive. */
function kcatFollow(topic: string, p: number): { lines: () => string[] } {
  const child = spawn('kcat', ['-b', cluster.bootstrap, '-C', '-t', topic, '-p', String(p), '-o', 'beginning', '-f', '%s\\n', '-q', '-u'], { stdio: ['ignore', 'pipe', 'ignore'] });
  consumers.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return { lines: () => out.split('\n').filter((l) => l.length > 0) };
}

describe('a broker is killed while clients run', () => {
  it('moves its partitions to live brokers with bumped epochs; kafkajs and kcat carry on', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'moving', numPartitions: 6 }], waitForLeaders: true });
    await admin.disconnect();
    const before = await partition('moving', 0);
    const victim = before.leader;
    const owned = [];
    for (let p = 0; p < 6; p++) if ((await partition('moving', p)).leader === victim) owned.push(p);

    const follower = kcatFollow('moving', 0);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let n = 0;
    const send = async (tag: string): Promise<string> => {
      const value = `${tag}-${n++}`;
      await producer.send({ topic: 'moving', acks: -1, messages: [{ partition: 0, value }] });
      return value;
    };
    for (let i = 0; i < 20; i++) await send('before');
    await eventually(() => (follower.lines().length >= 20 ? true : undefined));

    cluster.kill('broker', victim);
    await eventually(async () => ((await broker(victim)).status === 'dead' ? true : undefined));
    for (const p of owned) {
      const now = await eventually(async () => {
        const v = await partition('moving', p);
        return v.leader >= 0 && v.leader !== victim ? v : undefined;
      });
      expect(now.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
    }
    // The same producer and the same kcat process, no restarts.
    const after: string[] = [];
    for (let i = 0; i < 20; i++) after.push(await send('after'));
    await eventually(() => (after.every((v) => follower.lines().includes(v)) ? true : undefined));
    await producer.disconnect();
    expect(follower.lines().slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `before-${i}`));
    cluster = await cluster.restart();
  });
});

describe('brokers added and removed at runtime', () => {
  it('a new broker takes partitions by rebalance; a removed one hands them back; nothing is lost', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'scaling', numPartitions: 8 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent: string[] = [];
    const sendAll = async (tag: string) => {
      const messages = Array.from({ length: 8 }, (_, p) => ({ partition: p, value: `${tag}-${p}` }));
      await producer.send({ topic: 'scaling', acks: -1, messages });
      sent.push(...messages.map((m) => m.value));
    };
    await sendAll('three-brokers');

    const added = JSON.parse((await floe(['cluster', 'add-broker', '--data-dir', cluster.dataDir, '--json'])).stdout) as { id: number };
    expect(added.id).toBe(4);
    await eventually(async () => ((await broker(4)).leaders > 0 ? true : undefined));
    await sendAll('four-brokers');

    await floe(['cluster', 'remove-broker', '--data-dir', cluster.dataDir, '--id', '4']);
    const gone = await fetch(`${cluster.admin}/v1/brokers/4`);
    expect(gone.status).toBe(404);
    for (let p = 0; p < 8; p++) expect((await partition('scaling', p)).leader).not.toBe(4);
    await sendAll('three-again');
    await producer.disconnect();

    const read = await readTopic(cluster.bootstrap, 'scaling');
    expect(read.map((r) => r.value).sort()).toEqual([...sent].sort());
  });
});
