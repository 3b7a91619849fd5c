import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/common/clock.ts';
import { FaultyObjectStore } from '../../../objectstore/faulty-object-store.ts';
import { MemoryObjectStore } from '../../../objectstore/memory-object-store.ts';
import { MeteredObjectStore } from '../../../objectstore/metered-object-store.ts';
import { objectStoreErrorCodes } from '../../../objectstore/object-store.ts';

async function setup() {
  const mem = new MemoryObjectStore();
  await mem.put('k', Buffer.from('0123456789'));
  const clock = new ManualClock();
  return { mem, clock, faulty: new FaultyObjectStore(mem, { clock }) };
}

describe('FaultyObjectStore', () => {
  it('down: every operation fails as unavailable (retriable) until healed', async () => {
    const { faulty } = await setup();
    faulty.setDown(true);
    const expected = { code: objectStoreErrorCodes.unavailable, retriable: true };
    await expect(faulty.get('k')).rejects.toMatchObject(expected);
    await expect(faulty.put('k2', Buffer.from('x'))).rejects.toMatchObject(expected);
    await expect(faulty.head('k')).rejects.toMatchObject(expected);
    await expect(faulty.delete(['k'])).rejects.toMatchObject(expected);
    const listing = async (): Promise<void> => {
      for await (const _ of faulty.list('')) void _;
    };
    await expect(listing()).rejects.toMatchObject(expected);
    faulty.heal();
    expect((await faulty.get('k')).toString()).toBe('0123456789');
  });

  it('failNext: exactly the next n calls of the named operations fail with a 503', async () => {
    const { faulty } = await setup();
    faulty.failNext(2, ['get']);
    expect(await faulty.head('k')).toEqual({ size: 10 });
    await expect(faulty.get('k')).rejects.toMatchObject({ code: objectStoreErrorCodes.unavailable, httpStatus: 503 });
    await expect(faulty.get('k')).rejects.toMatchObject({ httpStatus: 503 });
    expect((await faulty.get('k')).length).toBe(10);
    expect(faulty.injectedFailures.get).toBe(2);
  });

  it('slow: a call completes only after the added latency has passed on the clock', async () => {
    const { faulty, clock } = await setup();
    faulty.setLatencyMs(500);
    let done = false;
    const pending = faulty.head('k').then(() => (done = true));
    clock.advance(499);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await pending;
    expect(done).toBe(true);
  });

  it('corruptGets: flips a byte of the answer, leaves the stored object and other keys intact', async () => {
    const { faulty, mem } = await setup();
    await mem.put('other', Buffer.from('abc'));
    faulty.corruptGets('k');
    const bad = await faulty.get('k', { start: 2, endInclusive: 7 });
    expect(bad.equals(Buffer.from('234567'))).toBe(false);
    expect(bad.length).toBe(6);
    expect((await mem.get('k')).toString()).toBe('0123456789');
    expect((await faulty.get('other')).toString()).toBe('abc');
  });
});

describe('MeteredObjectStore', () => {
  it('counts requests by operation and outcome, bytes, latency and object sizes', async () => {
    const registry = new Registry();
    const store = new MeteredObjectStore(new MemoryObjectStore(), registry);
    await store.put('a', [Buffer.alloc(100), Buffer.alloc(28)]);
    await store.get('a', { start: 0, endInclusive: 9 });
    await expect(store.get('missing')).rejects.toMatchObject({ code: objectStoreErrorCodes.notFound });
    for await (const _ of store.list('')) void _;
    const text = await registry.metrics();
    expect(text).toMatch(/floe_objectstore_requests_total\{op="put",outcome="ok"\} 1/);
    expect(text).toMatch(/floe_objectstore_requests_total\{op="get",outcome="ok"\} 1/);
    expect(text).toMatch(/floe_objectstore_requests_total\{op="get",outcome="not_found"\} 1/);
    expect(text).toMatch(/floe_objectstore_requests_total\{op="list",outcome="ok"\} 1/);
    expect(text).toMatch(/floe_objectstore_bytes_total\{op="put"\} 128/);
    expect(text).toMatch(/floe_objectstore_bytes_total\{op="get"\} 10/);
    expect(text).toMatch(/floe_objectstore_request_duration_seconds_count\{op="get"\} 2/);
    expect(text).toMatch(/floe_objectstore_put_object_bytes_sum 128/);
  });

  it('shares its series with other stores on the same registry instead of failing to register twice', async () => {
    const registry = new Registry();
    const a = new MeteredObjectStore(new MemoryObjectStore(), registry);
    const b = new MeteredObjectStore(new MemoryObjectStore(), registry);
    await a.head('x');
    await b.head('x');
    expect(await registry.metrics()).toMatch(/floe_objectstore_requests_total\{op="head",outcome="ok"\} 2/);
  });
});
