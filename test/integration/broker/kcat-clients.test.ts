// kcat (librdkafka 2.0.2) against a real broker process: metadata, idempotent produce with
// acks=all, and consuming from the beginning to the end, asserting exact offsets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { kcatOk } from '../../helpers/kcat.ts';
import { readTopic } from '../../helpers/read-topic.ts';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster({ brokers: 1 });
});
afterAll(async () => {
  await cluster?.stop();
});

describe('kcat', () => {
  it('lists metadata with -L', async () => {
    await kcatOk(['-b', cluster.bootstrap, '-P', '-t', 'kcat-meta', '-p', '0'], 'hello\n');
    const out = await kcatOk(['-b', cluster.bootstrap, '-L', '-t', 'kcat-meta']);
    expect(out).toMatch(/1 brokers:\s+broker 1 at 127\.0\.0\.1:\d+ \(controller\)/);
    expect(out).toMatch(/topic "kcat-meta" with 1 partitions:\s+partition 0, leader 1, replicas: 1, isrs: 1/);
  });

  it('produces idempotently with acks=all and consumes the same records back at their offsets', async () => {
    const lines = Array.from({ length: 500 }, (_, i) => `line-${i}`);
    await kcatOk(['-b', cluster.bootstrap, '-P', '-t', 'kcat-idem', '-p', '0', '-X', 'acks=all', '-X', 'enable.idempotence=true', '-K', ':'], lines.map((l, i) => `key${i}:${l}`).join('\n') + '\n');
    const consumed = await kcatOk(['-b', cluster.bootstrap, '-C', '-t', 'kcat-idem', '-p', '0', '-o', 'beginning', '-e', '-f', '%o %k %s\\n']);
    const rows = consumed.trim().split('\n');
    expect(rows).toEqual(lines.map((l, i) => `${i} key${i} ${l}`));
    // The same bytes read through floe's own Fetch client.
    const read = await readTopic(cluster.bootstrap, 'kcat-idem');
    expect(read.map((r) => r.value)).toEqual(lines);
  });

  it('consumes from a logical offset (ListOffsets) and from the end', async () => {
    await kcatOk(['-b', cluster.bootstrap, '-P', '-t', 'kcat-offsets', '-p', '0'], 'a\nb\nc\nd\n');
    const fromTwo = await kcatOk(['-b', cluster.bootstrap, '-C', '-t', 'kcat-offsets', '-p', '0', '-o', '2', '-e', '-f', '%o:%s\\n']);
    expect(fromTwo.trim().split('\n')).toEqual(['2:c', '3:d']);
    const lastOne = await kcatOk(['-b', cluster.bootstrap, '-C', '-t', 'kcat-offsets', '-p', '0', '-o', '-1', '-e', '-f', '%o:%s\\n']);
    expect(lastOne.trim().split('\n')).toEqual(['3:d']);
  });
});
