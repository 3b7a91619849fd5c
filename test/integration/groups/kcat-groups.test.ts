// kcat (librdkafka 2.0.2) balanced consumers: two `kcat -G` processes in one group share
// a topic's partitions, each record reaching exactly one of them.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { batch, GROUP_TEST_CONFIG, waitForStableGroup } from './group-helpers.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

const TOPIC = 'kcat-shared';
const PARTITIONS = 4;
const GROUP = 'kcat-group';

interface KcatConsumer {
  child: ChildProcessWithoutNullStreams;
  lines: () => string[];
  stderr: () => string;
}

let cluster: TestCluster;
let admin: Admin;
const running: KcatConsumer[] = [];

/** A long-running `kcat -G` printing "partition offset value" per record. */
function kcatGroupConsumer(): KcatConsumer {
  const child = spawn('kcat', [
    '-b', cluster.bootstrap,
    '-G', GROUP, TOPIC,
    '-f', '%p %o %s\\n',
    '-X', 'auto.offset.reset=earliest',
    '-X', 'session.timeout.ms=6000',
    '-X', 'heartbeat.interval.ms=200',
    '-X', 'fetch.wait.max.ms=100',
    // Unbuffered: kcat's stdout is a pipe here, and records must show up as they arrive.
    '-u',
    '-q',
  ]);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const c = { child, lines: () => out.split('\n').filter((l) => l.length > 0), stderr: () => err };
  running.push(c);
  return c;
}

async function stop(c: KcatConsumer): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = once(c.child, 'exit');
  // SIGTERM: kcat closes its consumer (LeaveGroup) and exits.
  c.child.kill('SIGTERM');
  await exited;
}

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, config: GROUP_TEST_CONFIG });
  const kafka = new Kafka({ brokers: cluster.brokers, clientId: 'kcat-groups-test', logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
});

afterAll(async () => {
  for (const c of running) await stop(c);
  await admin?.disconnect();
  await cluster?.stop();
});

describe('kcat -G', () => {
  it('two balanced consumers share the partitions; every record reaches exactly one of them', async () => {
    const a = kcatGroupConsumer();
    const b = kcatGroupConsumer();
    const group = await waitForStableGroup(admin, GROUP, 2, PARTITIONS, 45_000);
    const owned = [...group.assignments.values()];
    expect(owned.every((parts) => parts.length === PARTITIONS / 2)).toBe(true);
    const described = (await admin.describeGroups([GROUP])).groups[0]!;
    expect(described.protocolType).toBe('consumer');
    expect(['range', 'roundrobin']).toContain(described.protocol);

    const records = batch('k', PARTITIONS, 10);
    const kafka = new Kafka({ brokers: cluster.brokers, clientId: 'kcat-groups-producer', logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: TOPIC, acks: -1, messages: records.map((r) => ({ partition: r.partition, value: r.value })) });
    await producer.disconnect();

    await eventually(() => (a.lines().length + b.lines().length >= records.length ? true : undefined), 30_000);
    const parse = (l: string) => {
      const [p, o, v] = l.split(' ');
      return { partition: Number(p), offset: Number(o), value: v ?? '' };
    };
    const gotA = a.lines().map(parse);
    const gotB = b.lines().map(parse);
    expect(gotA.length).toBeGreaterThan(0);
    expect(gotB.length).toBeGreaterThan(0);
    // The two consumers' partitions are disjoint and each matches one member's assignment.
    const partsA = [...new Set(gotA.map((r) => r.partition))].sort();
    const partsB = [...new Set(gotB.map((r) => r.partition))].sort();
    expect(partsA.filter((p) => partsB.includes(p))).toEqual([]);
    expect(owned.map((o) => JSON.stringify(o)).sort()).toEqual([JSON.stringify(partsA), JSON.stringify(partsB)].sort());
    // Every record exactly once across the two.
    expect([...gotA, ...gotB].map((r) => r.value).sort()).toEqual(records.map((r) => r.value).sort());

    // Both leave; the group is then empty.
    await Promise.all([stop(a), stop(b)]);
    await eventually(async () => ((await admin.describeGroups([GROUP])).groups[0]?.state === 'Empty' ? true : undefined));
  });
});
