/**
 * S3ObjectStore and the object format against a real s3rver process
 * (objectstore/s3rver-main.ts), through @aws-sdk/client-s3 over HTTP on 127.0.0.1.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCache } from '../../../objectstore/block-cache.ts';
import { mergeObjects } from '../../../objectstore/merge.ts';
import { ObjectReader, readSection } from '../../../objectstore/object-reader.ts';
import { objectStoreErrorCodes } from '../../../objectstore/object-store.ts';
import { ObjectBuilder } from '../../../objectstore/object-writer.ts';
import { S3ObjectStore } from '../../../objectstore/s3-object-store.ts';
import { removeDataDir, startObjectStoreServer } from '../../helpers/objectstore-server.ts';
import type { ObjectStoreServer } from '../../helpers/objectstore-server.ts';

let server: ObjectStoreServer;
let store: S3ObjectStore;
let registry: Registry;

beforeAll(async () => {
  server = await startObjectStoreServer();
  registry = new Registry();
  store = new S3ObjectStore({ ...server.options(), registry });
});

afterAll(async () => {
  store?.close();
  await server?.stop();
  if (server !== undefined) removeDataDir(server.dataDir);
});

const pattern = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

async function metric(name: string, labels: string): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('S3ObjectStore against s3rver', () => {
  it('puts a body given as a list of buffers and gets back exactly those bytes', async () => {
    const parts = [pattern(70_000, 1), pattern(5, 2), pattern(200_000, 3)];
    await store.put('basic/list', parts);
    const whole = await store.get('basic/list');
    expect(whole.equals(Buffer.concat(parts))).toBe(true);
    // The raw SDK sees the same bytes: no aws-chunked framing was stored inside the object.
    const raw = await store.client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'basic/list' }));
    expect(Buffer.from(await raw.Body!.transformToByteArray()).equals(whole)).toBe(true);
  });

  it('answers ranged GETs with exactly the bytes asked for', async () => {
    const data = pattern(300_000, 9);
    await store.put('basic/ranged', data);
    for (const [start, end] of [
      [0, 0],
      [12_345, 76_543],
      [299_999, 299_999],
      [0, 299_999],
    ] as const) {
      const got = await store.get('basic/ranged', { start, endInclusive: end });
      expect(got.equals(data.subarray(start, end + 1))).toBe(true);
    }
  });

  it('head gives the size, or null for an absent key; get of an absent key is not found', async () => {
    await store.put('basic/head', pattern(1234, 0));
    expect(await store.head('basic/head')).toEqual({ size: 1234 });
    expect(await store.head('basic/absent')).toBeNull();
    await expect(store.get('basic/absent')).rejects.toMatchObject({ code: objectStoreErrorCodes.notFound, retriable: false });
  });

  it('a range outside the object is a range error, not data', async () => {
    await store.put('basic/short', pattern(100, 0));
    await expect(store.get('basic/short', { start: 200, endInclusive: 300 })).rejects.toMatchObject({ code: objectStoreErrorCodes.range });
    await expect(store.get('basic/short', { start: 50, endInclusive: 150 })).rejects.toMatchObject({ code: objectStoreErrorCodes.range });
  });

  it('stores and reads an empty object', async () => {
    await store.put('basic/empty', []);
    expect(await store.head('basic/empty')).toEqual({ size: 0 });
    expect((await store.get('basic/empty')).length).toBe(0);
  });

  it('lists page by page with continuation tokens (which need --openssl-legacy-provider on s3rver), in key order', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
    await Promise.all(keys.map((k) => store.put(k, Buffer.from('x'))));
    const listRequests = await metric('floe_objectstore_requests_total', 'op="list",outcome="ok"');
    const listed: string[] = [];
    const listedAfterMs = Date.now() - 60_000;
    for await (const o of store.list('many/', { pageSize: 7 })) {
      expect(o.size).toBe(1);
      expect(o.lastModifiedMs).toBeGreaterThan(listedAfterMs);
      listed.push(o.key);
    }
    expect(listed).toEqual(keys);
    expect((await metric('floe_objectstore_requests_total', 'op="list",outcome="ok"')) - listRequests).toBe(9);
    const prefixed: string[] = [];
    for await (const o of store.list('many/0001')) prefixed.push(o.key);
    expect(prefixed).toEqual(keys.slice(10, 20));
  });

  it('deletes keys in batches; deleting absent keys is not an error', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `del/${i}`);
    await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
    await store.delete([...keys, 'del/never-existed']);
    const left: string[] = [];
    for await (const o of store.list('del/')) left.push(o.key);
    expect(left).toEqual([]);
    expect(await store.head('del/0')).toBeNull();
  });

  it('counts requests, bytes and latency per operation on the registry', async () => {
    const puts = await metric('floe_objectstore_requests_total', 'op="put",outcome="ok"');
    const putBytes = await metric('floe_objectstore_bytes_total', 'op="put"');
    await store.put('metrics/one', pattern(4096, 1));
    await expect(store.get('metrics/absent')).rejects.toMatchObject({ code: objectStoreErrorCodes.notFound });
    expect((await metric('floe_objectstore_requests_total', 'op="put",outcome="ok"')) - puts).toBe(1);
    expect((await metric('floe_objectstore_bytes_total', 'op="put"')) - putBytes).toBe(4096);
    expect(await metric('floe_objectstore_requests_total', 'op="get",outcome="not_found"')).toBeGreaterThanOrEqual(1);
    const text = await registry.metrics();
    expect(text).toMatch(/floe_objectstore_request_duration_seconds_bucket\{le="[^"]+",op="put"\}/);
    expect(text).toMatch(/floe_objectstore_operation_duration_seconds_count\{op="put",outcome="ok"\}/);
  });
});

describe('S3ObjectStore.ensureBucket', () => {
  it('creates a missing bucket once and then finds it', async () => {
    const other = new S3ObjectStore({ ...server.options(), bucket: 'floe-created-by-test' });
    try {
      await expect(other.put('k', Buffer.from('v'))).rejects.toMatchObject({ code: objectStoreErrorCodes.rejected, httpStatus: 404 });
      expect(await other.ensureBucket('us-east-1')).toBe(true);
      expect(await other.ensureBucket('us-east-1')).toBe(false);
      await other.put('k', Buffer.from('v'));
      expect((await other.get('k')).toString()).toBe('v');
    } finally {
      other.close();
    }
  });
});

describe('the object format through real S3', () => {
  const streams = ['orders/0', 'orders/1', 'payments/0', 'payments/3', 'audit/12'];

  async function putFloeObject(key: string) {
    const b = new ObjectBuilder();
    streams.forEach((s, i) => {
      const batches = Array.from({ length: 3 }, (_, j) => pattern(10_000 + i * 1000 + j, i * 10 + j));
      b.addSection({ streamId: s, startOffset: 1000 * i, endOffset: 1000 * i + 30, data: batches, metadata: Buffer.from(`batches=3;stream=${i}`) });
    });
    const built = b.build();
    await store.put(key, built.chunks);
    return built;
  }

  it('round-trips sections of several streams, reading one of them with one ranged GET', async () => {
    const built = await putFloeObject('fmt/one');
    const reader = await ObjectReader.open(store, 'fmt/one');
    expect(reader.index).toEqual(built.index);
    const gets = await metric('floe_objectstore_requests_total', 'op="get",outcome="ok"');
    const getBytes = await metric('floe_objectstore_bytes_total', 'op="get"');
    const entry = reader.sectionAt('payments/0', 2010)!;
    const section = await reader.read(entry);
    expect((await metric('floe_objectstore_requests_total', 'op="get",outcome="ok"')) - gets).toBe(1);
    expect((await metric('floe_objectstore_bytes_total', 'op="get"')) - getBytes).toBe(entry.length);
    expect(section.equals(Buffer.concat([0, 1, 2].map((j) => pattern(12_000 + j, 20 + j))))).toBe(true);
    expect(entry.metadata.toString()).toBe('batches=3;stream=2');
  });

  it('a corrupted object written straight through the SDK is detected by CRC, directly and through the cache', async () => {
    const built = await putFloeObject('fmt/good');
    const bad = Buffer.concat(built.chunks);
    const victim = built.index.entries[3]!;
    bad[victim.position + 77] = bad[victim.position + 77]! ^ 0x01;
    await store.client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'fmt/bad', Body: bad }));

    const reader = await ObjectReader.open(store, 'fmt/bad'); // footer and index are intact
    await expect(reader.read(victim)).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
    expect((await reader.read(built.index.entries[0]!)).length).toBe(built.index.entries[0]!.length);

    const cache = new BlockCache(store, { blockBytes: 16 * 1024, capacityBytes: 1024 * 1024 });
    await expect(readSection(cache, 'fmt/bad', built.size, victim)).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
  });

  it('merges two objects into one and the merged object reads back', async () => {
    const a = await putFloeObject('fmt/merge-a');
    const b = new ObjectBuilder();
    b.addSection({ streamId: 'orders/0', startOffset: 30, endOffset: 40, data: pattern(500, 99), metadata: Buffer.from('batches=3;stream=0') });
    const second = b.build();
    await store.put('fmt/merge-b', second.chunks);
    const merged = await mergeObjects({
      store,
      inputs: [
        { key: 'fmt/merge-a', size: a.size, sections: a.index.entries },
        { key: 'fmt/merge-b', size: second.size, sections: second.index.entries },
      ],
      targetKey: 'fmt/merged',
    });
    const reader = await ObjectReader.open(store, 'fmt/merged', { size: merged.size });
    const orders0 = reader.sectionsOf('orders/0');
    expect(orders0.map((e) => [e.startOffset, e.endOffset])).toEqual([[0, 40]]);
    const bytes = await reader.read(orders0[0]!);
    expect(bytes.subarray(bytes.length - 500).equals(pattern(500, 99))).toBe(true);
    expect(reader.index.entries).toHaveLength(streams.length);
  });
});
