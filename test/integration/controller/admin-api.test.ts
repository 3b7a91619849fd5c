/**
 * The admin API of a real controller process over HTTP: the operations an operator
 * runs, and every kind of bad input, each answered with a 4xx JSON error and no change
 * to the metadata. Two ControllerMetadataStores in this process stand in for brokers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerMetadataStore } from '../../../src/metadata/controller-store.ts';
import { startController, type ControllerProcess } from '../../helpers/controller-process.ts';
import { autoRelease, type AutoRelease } from '../../helpers/handover.ts';

let controller: ControllerProcess;
const stores: ControllerMetadataStore[] = [];
// The stores play the brokers' part of shared-storage hand-overs (moves complete when the owner releases).
const releasers: AutoRelease[] = [];

/** Polls `check` until it returns true or the deadline passes (a hand-over completes asynchronously). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json', ...headers };
  }
  const res = await fetch(`${controller.url}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed };
}

const get = async <T>(path: string): Promise<T> => {
  const r = await http('GET', path);
  expect(r.status, path).toBe(200);
  return r.body as T;
};

interface Partition {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}
interface Topic {
  name: string;
  config: Record<string, string>;
  partitions: Partition[];
}

beforeAll(async () => {
  controller = await startController({ mode: 'shared-storage', args: ['--default-partitions', '3'] });
  for (const id of [1, 2]) {
    const s = await ControllerMetadataStore.open({ url: controller.url, self: { id, host: '127.0.0.1', port: 19_000 + id, rack: id === 1 ? 'a' : 'b' } });
    stores.push(s);
    releasers.push(autoRelease(s, id));
  }
});

afterAll(async () => {
  for (const r of releasers) r.stop();
  for (const s of stores) await s.halt();
  await controller?.stop();
});

describe('controller admin API (real process)', () => {
  it('gives an overview, brokers and the metadata version', async () => {
    const cluster = await get<{ mode: string; controllerId: number; brokers: { alive: number }; metadataVersion: number }>('/v1/cluster');
    expect(cluster).toMatchObject({ mode: 'shared-storage', controllerId: 1, brokers: { alive: 2 } });
    const { brokers } = await get<{ brokers: { id: number; status: string; rack: string; port: number }[] }>('/v1/brokers');
    expect(brokers.map((b) => [b.id, b.status, b.rack, b.port])).toEqual([
      [1, 'alive', 'a', 19_001],
      [2, 'alive', 'b', 19_002],
    ]);
    expect(await get<{ version: number }>('/v1/metadata/version')).toEqual({ version: cluster.metadataVersion });
  });

  it('creates, describes, configures, grows, reassigns and deletes a topic', async () => {
    const created = await http('POST', '/v1/topics', { name: 'orders', partitions: 4, config: { 'retention.ms': '60000' } });
    expect(created.status).toBe(201);
    const topic = created.body as Topic;
    expect(topic.partitions.map((p) => p.leader).sort()).toEqual([1, 1, 2, 2]);
    expect(topic.partitions.every((p) => p.leaderEpoch === 0)).toBe(true);
    expect(stores[1]?.current().topics.get('orders')?.partitions).toHaveLength(4);

    const defaults = await http('POST', '/v1/topics', { name: 'defaults' });
    expect((defaults.body as Topic).partitions).toHaveLength(3);

    const patched = await http('PATCH', '/v1/topics/orders/config', { config: { 'retention.ms': null, 'cleanup.policy': 'delete' } });
    expect((patched.body as Topic).config).toEqual({ 'cleanup.policy': 'delete' });
    const config = await get<{ overrides: Record<string, string>; effective: Record<string, { value: string; source: string }> }>('/v1/topics/orders/config');
    expect(config.effective['cleanup.policy']).toEqual({ value: 'delete', source: 'topic' });
    expect(config.effective['retention.ms']).toEqual({ value: '604800000', source: 'default' });
    const put = await http('PUT', '/v1/topics/orders/config', { config: { 'max.message.bytes': '2048' } });
    expect((put.body as Topic).config).toEqual({ 'max.message.bytes': '2048' });

    const grown = await http('POST', '/v1/topics/orders/partitions', { count: 6 });
    expect((grown.body as Topic).partitions).toHaveLength(6);

    const p0 = (await get<Partition>('/v1/topics/orders/partitions/0'));
    const target = p0.leader === 1 ? 2 : 1;
    const moved = await http('POST', '/v1/topics/orders/partitions/0/reassign', { owner: target });
    expect(moved.status).toBe(200);
    // Shared storage: a hand-over; the owner releases and ownership moves with the epoch bumped.
    expect(moved.body).toMatchObject({ leader: p0.leader, leaderEpoch: p0.leaderEpoch, handoverTo: target });
    await until('the hand-over completes', async () => (await get<Partition>('/v1/topics/orders/partitions/0')).leader === target);
    const after = await get<Partition & { handoverTo?: number; objects: Record<string, number> }>('/v1/topics/orders/partitions/0');
    expect(after).toMatchObject({ leader: target, leaderEpoch: p0.leaderEpoch + 1, replicas: [target], isr: [target], objects: { logStartOffset: 0, endOffset: 0, objects: 0, bytes: 0 } });
    expect(after).not.toHaveProperty('handoverTo');

    const byBroker = await get<{ partitions: { topic: string; leader: number }[] }>(`/v1/partitions?broker=${target}`);
    expect(byBroker.partitions.every((p) => p.leader === target)).toBe(true);
    expect(byBroker.partitions.some((p) => p.topic === 'orders')).toBe(true);

    const deleted = await http('DELETE', '/v1/topics/defaults');
    expect(deleted).toMatchObject({ status: 200, body: { deleted: 'defaults' } });
    expect((await http('GET', '/v1/topics/defaults')).status).toBe(404);
  });

  it('drains a broker, then rebalances onto it once undrained', async () => {
    const drained = await http('POST', '/v1/brokers/2/drain');
    expect(drained.status).toBe(200);
    await until('every hand-over off broker 2 completes', async () => (await get<{ partitions: { leader: number }[] }>('/v1/partitions')).partitions.every((p) => p.leader === 1));
    expect((await get<{ draining: boolean }>('/v1/brokers/2')).draining).toBe(true);
    expect((await http('POST', '/v1/brokers/2/undrain')).status).toBe(200);
    const dry = await http('POST', '/v1/rebalance', { dryRun: true });
    const planned = (dry.body as { moves: unknown[] }).moves.length;
    expect(planned).toBeGreaterThan(0);
    expect((await get<{ partitions: { leader: number }[] }>('/v1/partitions')).partitions.every((p) => p.leader === 1)).toBe(true);
    const done = await http('POST', '/v1/rebalance');
    expect((done.body as { moves: unknown[] }).moves).toHaveLength(planned);
    const balanced = async (): Promise<boolean> => {
      const leaders = (await get<{ partitions: { leader: number }[] }>('/v1/partitions')).partitions.map((p) => p.leader);
      return Math.abs(leaders.filter((l) => l === 1).length - leaders.filter((l) => l === 2).length) <= 1;
    };
    await until('the rebalance hand-overs complete', balanced);
  });

  const bad: { name: string; method: string; path: string; body?: unknown; headers?: Record<string, string>; status: number; code: string }[] = [
    { name: 'describe an unknown topic', method: 'GET', path: '/v1/topics/nope', status: 404, code: 'UNKNOWN_TOPIC' },
    { name: 'delete an unknown topic', method: 'DELETE', path: '/v1/topics/nope', status: 404, code: 'UNKNOWN_TOPIC' },
    { name: 'configure an unknown topic', method: 'PATCH', path: '/v1/topics/nope/config', body: { config: {} }, status: 404, code: 'UNKNOWN_TOPIC' },
    { name: 'grow an unknown topic', method: 'POST', path: '/v1/topics/nope/partitions', body: { count: 9 }, status: 404, code: 'UNKNOWN_TOPIC' },
    { name: 'an unknown partition', method: 'GET', path: '/v1/topics/orders/partitions/99', status: 404, code: 'UNKNOWN_PARTITION' },
    { name: 'reassign an unknown partition', method: 'POST', path: '/v1/topics/orders/partitions/99/reassign', body: { owner: 1 }, status: 404, code: 'UNKNOWN_PARTITION' },
    { name: 'an unknown broker', method: 'GET', path: '/v1/brokers/99', status: 404, code: 'UNKNOWN_BROKER' },
    { name: 'drain an unknown broker', method: 'POST', path: '/v1/brokers/99/drain', status: 404, code: 'UNKNOWN_BROKER' },
    { name: 'remove an unknown broker', method: 'DELETE', path: '/v1/brokers/99', status: 404, code: 'UNKNOWN_BROKER' },
    { name: 'reassign to an unknown broker', method: 'POST', path: '/v1/topics/orders/partitions/0/reassign', body: { owner: 99 }, status: 400, code: 'UNKNOWN_BROKER' },
    { name: 'a broker id that is not a number', method: 'GET', path: '/v1/brokers/two', status: 400, code: 'INVALID_REQUEST' },
    { name: 'a partition index that is not a number', method: 'GET', path: '/v1/topics/orders/partitions/-1', status: 400, code: 'INVALID_REQUEST' },
    { name: '0 partitions', method: 'POST', path: '/v1/topics', body: { name: 'x', partitions: 0 }, status: 400, code: 'INVALID_PARTITIONS' },
    { name: 'negative partitions', method: 'POST', path: '/v1/topics', body: { name: 'x', partitions: -4 }, status: 400, code: 'INVALID_PARTITIONS' },
    { name: 'too many partitions', method: 'POST', path: '/v1/topics', body: { name: 'x', partitions: 10_001 }, status: 400, code: 'INVALID_PARTITIONS' },
    { name: 'a fractional count', method: 'POST', path: '/v1/topics', body: { name: 'x', partitions: 1.5 }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'a count as a string', method: 'POST', path: '/v1/topics', body: { name: 'x', partitions: '3' }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'replication factor 0', method: 'POST', path: '/v1/topics', body: { name: 'x', replicationFactor: 0 }, status: 400, code: 'INVALID_REPLICATION_FACTOR' },
    { name: 'fewer partitions than now', method: 'POST', path: '/v1/topics/orders/partitions', body: { count: 2 }, status: 400, code: 'INVALID_PARTITIONS' },
    { name: 'an illegal topic name', method: 'POST', path: '/v1/topics', body: { name: 'no spaces' }, status: 400, code: 'INVALID_TOPIC' },
    { name: 'an existing topic', method: 'POST', path: '/v1/topics', body: { name: 'orders' }, status: 409, code: 'TOPIC_ALREADY_EXISTS' },
    { name: 'an unknown config', method: 'POST', path: '/v1/topics', body: { name: 'x', config: { 'no.such': '1' } }, status: 400, code: 'INVALID_CONFIG' },
    { name: 'a bad config value', method: 'PUT', path: '/v1/topics/orders/config', body: { config: { 'retention.ms': 'forever' } }, status: 400, code: 'INVALID_CONFIG' },
    { name: 'a config value that is not a string', method: 'PUT', path: '/v1/topics/orders/config', body: { config: { 'retention.ms': 5 } }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'an unknown field', method: 'POST', path: '/v1/topics', body: { name: 'x', partitons: 3 }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'a missing name', method: 'POST', path: '/v1/topics', body: { partitions: 3 }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'an array body', method: 'POST', path: '/v1/topics', body: [], status: 400, code: 'INVALID_REQUEST' },
    { name: 'malformed JSON', method: 'POST', path: '/v1/topics', body: '{"name": "x",', status: 400, code: 'MALFORMED_JSON' },
    { name: 'malformed JSON on a config change', method: 'PATCH', path: '/v1/topics/orders/config', body: '{config', status: 400, code: 'MALFORMED_JSON' },
    { name: 'a body that is not JSON', method: 'POST', path: '/v1/topics', body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    { name: 'an empty reassignment', method: 'POST', path: '/v1/topics/orders/partitions/0/reassign', body: {}, status: 400, code: 'INVALID_REQUEST' },
    { name: 'a replica list in shared-storage mode', method: 'POST', path: '/v1/topics/orders/partitions/0/reassign', body: { replicas: [1, 2] }, status: 400, code: 'INVALID_REPLICAS' },
    { name: 'a rebalance with a bad flag', method: 'POST', path: '/v1/rebalance', body: { dryRun: 'yes' }, status: 400, code: 'INVALID_REQUEST' },
    { name: 'removing a live broker', method: 'DELETE', path: '/v1/brokers/1', status: 409, code: 'BROKER_ALIVE' },
    { name: 'the wrong method on the cluster', method: 'PUT', path: '/v1/cluster', body: {}, status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'the wrong method on topics', method: 'DELETE', path: '/v1/topics', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'the wrong method on a partition', method: 'DELETE', path: '/v1/topics/orders/partitions/0', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'an unknown path', method: 'GET', path: '/v1/clusters', status: 404, code: 'NOT_FOUND' },
  ];

  it('refuses bad input with a 4xx JSON error and changes nothing', async () => {
    const before = await get<unknown>('/v1/metadata');
    const brokersBefore = await get<{ brokers: { draining: boolean }[] }>('/v1/brokers');
    for (const b of bad) {
      const r = await http(b.method, b.path, b.body, b.headers);
      expect({ case: b.name, status: r.status }).toEqual({ case: b.name, status: b.status });
      expect(r.headers.get('content-type'), b.name).toMatch(/application\/json/);
      const err = (r.body as { error?: { code?: string; message?: string } }).error;
      expect({ case: b.name, code: err?.code }).toEqual({ case: b.name, code: b.code });
      expect(err?.message?.length, b.name).toBeGreaterThan(0);
      if (b.status === 405) expect(r.headers.get('allow'), b.name).toBeTruthy();
    }
    expect(await get<unknown>('/v1/metadata')).toEqual(before);
    expect((await get<{ brokers: { draining: boolean }[] }>('/v1/brokers')).brokers.map((b) => b.draining)).toEqual(brokersBefore.brokers.map((b) => b.draining));
  });

  it('serves its OpenAPI document and Prometheus metrics', async () => {
    const doc = await get<{ openapi: string; paths: Record<string, unknown> }>('/openapi.json');
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/cluster', '/v1/topics', '/v1/topics/{name}/partitions/{partition}/reassign', '/v1/brokers/{id}/drain']));
    const metrics = await http('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/floe_controller_brokers_alive 2/);
    expect(metrics.body).toMatch(/floe_controller_partition_reassignments_total\{reason="admin"\} 1/);
    expect(metrics.body).toMatch(/floe_controller_http_requests_total\{method="POST",route="\/v1\/topics",status="400"\} \d+/);
  });
});
