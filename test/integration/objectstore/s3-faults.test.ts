/**
 * S3ObjectStore under real faults: 503 SlowDown answers injected by an HTTP proxy in
 * front of a real s3rver, a stalled store (the proxy holds requests past the request
 * timeout), and the s3rver process killed with SIGKILL and restarted on its data dir.
 */
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStoreError, objectStoreErrorCodes } from '../../../objectstore/object-store.ts';
import { S3ObjectStore } from '../../../objectstore/s3-object-store.ts';
import type { S3ObjectStoreOptions } from '../../../objectstore/s3-object-store.ts';
import { startFaultProxy } from '../../helpers/objectstore-fault-proxy.ts';
import type { FaultProxy } from '../../helpers/objectstore-fault-proxy.ts';
import { removeDataDir, startObjectStoreServer } from '../../helpers/objectstore-server.ts';
import type { ObjectStoreServer } from '../../helpers/objectstore-server.ts';

// Short pauses keep the test fast; the bounds are what is under test, not the defaults.
const retry = { attemptsMax: 4, totalMsMax: 3_000, backoffBaseMs: 20, backoffMsMax: 200 };

let server: ObjectStoreServer;
let proxy: FaultProxy;
const stores: S3ObjectStore[] = [];

function open(options: Partial<S3ObjectStoreOptions> & { endpoint: string }): S3ObjectStore {
  const store = new S3ObjectStore({ ...server.options(), retry, ...options });
  stores.push(store);
  return store;
}

beforeAll(async () => {
  server = await startObjectStoreServer();
  proxy = await startFaultProxy(server.endpoint);
});

afterAll(async () => {
  for (const s of stores) s.close();
  await proxy?.close();
  await server?.stop();
  if (server !== undefined) removeDataDir(server.dataDir);
});

async function metricValue(registry: Registry, prefix: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('retries against injected 503 SlowDown answers', () => {
  it('recover when the failures stop within the attempt bound, counting every request', async () => {
    const registry = new Registry();
    const store = open({ endpoint: proxy.endpoint, registry });
    const before = proxy.counts.injected503;
    proxy.failNext(retry.attemptsMax - 1);
    await store.put('retry/ok', [Buffer.from('survives '), Buffer.from('three 503s')]);
    expect(proxy.counts.injected503 - before).toBe(retry.attemptsMax - 1);
    proxy.failNext(2);
    expect((await store.get('retry/ok')).toString()).toBe('survives three 503s');
    expect(await metricValue(registry, 'floe_objectstore_retries_total{op="put",reason="throttled"}')).toBe(3);
    expect(await metricValue(registry, 'floe_objectstore_requests_total{op="put",outcome="unavailable"}')).toBe(3);
    expect(await metricValue(registry, 'floe_objectstore_requests_total{op="put",outcome="ok"}')).toBe(1);
  });

  it('give up after the bound with FLOE_ERR_OBJECTSTORE_UNAVAILABLE and the 503 as cause', async () => {
    const store = open({ endpoint: proxy.endpoint });
    await store.put('retry/later', Buffer.from('x'));
    proxy.failNext(retry.attemptsMax + 5);
    const err = await store.get('retry/later').catch((e: unknown) => e);
    proxy.failNext(0);
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect(err).toMatchObject({ code: objectStoreErrorCodes.unavailable, attempts: retry.attemptsMax, httpStatus: 503 });
    expect((err as ObjectStoreError).cause).toMatchObject({ code: objectStoreErrorCodes.unavailable, httpStatus: 503 });
  });

  it('never retry a 4xx: wrong credentials are rejected at once', async () => {
    const registry = new Registry();
    const store = open({ endpoint: server.endpoint, accessKeyId: 'wrong', secretAccessKey: 'wrong', registry });
    await expect(store.get('anything')).rejects.toMatchObject({ code: objectStoreErrorCodes.rejected, httpStatus: 403, retriable: false });
    expect(await metricValue(registry, 'floe_objectstore_requests_total{op="get",outcome="rejected"}')).toBe(1);
    expect(await metricValue(registry, 'floe_objectstore_retries_total')).toBe(0);
  });
});

describe('what goes over the wire', () => {
  it('a PUT carries the same x-amz-checksum-crc32c the SDK computes itself, over a plain (not aws-chunked) body', async () => {
    const store = open({ endpoint: proxy.endpoint });
    const parts = [Buffer.from('checksummed '), Buffer.alloc(100_000, 0x5a)];
    await store.put('wire/ours', parts);
    const ours = proxy.seen.find((r) => r.method === 'PUT' && r.url.split('?')[0]!.endsWith('/wire/ours'))!;
    const sdk = new S3Client({ ...server.options(), endpoint: proxy.endpoint, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, requestChecksumCalculation: 'WHEN_SUPPORTED' });
    try {
      await sdk.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'wire/sdk', Body: Buffer.concat(parts), ChecksumAlgorithm: 'CRC32C' }));
    } finally {
      sdk.destroy();
    }
    const theirs = proxy.seen.find((r) => r.method === 'PUT' && r.url.split('?')[0]!.endsWith('/wire/sdk'))!;
    // For a buffer body the SDK sends its checksum as a header: ours must be the same value.
    expect(theirs.headers['x-amz-checksum-crc32c']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    expect(ours.headers['x-amz-checksum-crc32c']).toBe(theirs.headers['x-amz-checksum-crc32c']);
    // Unsigned payload: no SHA-256 pass over the body (the CRC-32C protects it instead).
    expect(ours.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(ours.headers['content-encoding']).toBeUndefined();
    expect(ours.headers['x-amz-trailer']).toBeUndefined();
    expect(ours.headers['content-length']).toBe(String(100_012));
    expect((await store.get('wire/ours')).equals(Buffer.concat(parts))).toBe(true);
  });
});

describe('a stalled store', () => {
  it('times each attempt out and reports unavailable within the bound', async () => {
    const store = open({ endpoint: proxy.endpoint, requestTimeoutMs: 150, retry: { ...retry, attemptsMax: 2 } });
    proxy.setLatencyMs(2_000);
    const started = Date.now();
    const err = await store.head('stalled').catch((e: unknown) => e);
    proxy.setLatencyMs(0);
    const elapsed = Date.now() - started;
    expect(err).toMatchObject({ code: objectStoreErrorCodes.unavailable, attempts: 2 });
    expect((err as Error).message).toMatch(/timed out/);
    expect(elapsed).toBeLessThan(2_000);
  });
});

describe('the s3rver process killed and restarted', () => {
  it('yields the typed unavailable error within the bound, then serves the same data after a restart on the same data dir', async () => {
    const store = open({ endpoint: server.endpoint });
    await store.put('outage/before', Buffer.from('written before the crash'));

    await server.kill();
    const started = Date.now();
    const err = await store.get('outage/before').catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect(err).toMatchObject({ code: objectStoreErrorCodes.unavailable, retriable: true, attempts: retry.attemptsMax });
    expect(elapsed).toBeLessThan(retry.totalMsMax);

    server = await startObjectStoreServer({ dataDir: server.dataDir, port: server.port });
    // The same client, with its dead keep-alive sockets, recovers by itself.
    expect((await store.get('outage/before')).toString()).toBe('written before the crash');
    await store.put('outage/after', Buffer.from('and after'));
    const keys: string[] = [];
    for await (const o of store.list('outage/')) keys.push(o.key);
    expect(keys).toEqual(['outage/after', 'outage/before']);
  });
});
