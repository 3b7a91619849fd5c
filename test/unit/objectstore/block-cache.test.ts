import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BlockCache } from '../../../objectstore/block-cache.ts';
import { MemoryObjectStore } from '../../../objectstore/memory-object-store.ts';
import { ObjectStoreError, objectStoreErrorCodes } from '../../../objectstore/object-store.ts';
import type { ByteRange, ListOptions, ObjectInfo, ObjectStore } from '../../../objectstore/object-store.ts';

/** A store that records every GET and can hold GETs until released, to observe concurrency. */
class GatedStore implements ObjectStore {
  readonly gets: { key: string; range: ByteRange | undefined }[] = [];
  private held: (() => void)[] = [];
  holding = false;
  failNext = 0;

  constructor(readonly inner: MemoryObjectStore) {}

  put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    return this.inner.put(key, body);
  }
  async get(key: string, range?: ByteRange): Promise<Buffer> {
    this.gets.push({ key, range });
    if (this.holding) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.failNext > 0) {
      this.failNext--;
      throw new ObjectStoreError(objectStoreErrorCodes.unavailable, 'injected');
    }
    return this.inner.get(key, range);
  }
  head(key: string): Promise<{ size: number } | null> {
    return this.inner.head(key);
  }
  delete(keys: readonly string[]): Promise<void> {
    return this.inner.delete(keys);
  }
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, options);
  }
  release(): void {
    this.holding = false;
    const waiting = this.held;
    this.held = [];
    for (const r of waiting) r();
  }
}

const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) % 251));

async function setup(objectBytes: number, options: ConstructorParameters<typeof BlockCache>[1]) {
  const mem = new MemoryObjectStore();
  const data = pattern(objectBytes);
  await mem.put('obj', data);
  const store = new GatedStore(mem);
  const cache = new BlockCache(store, options);
  return { mem, store, cache, data };
}

const r = (start: number, endInclusive: number): ByteRange => ({ start, endInclusive });

describe('BlockCache: reads', () => {
  it('returns exactly the bytes of any range, across block boundaries', async () => {
    const { cache, data } = await setup(1000, { blockBytes: 64, capacityBytes: 256, readAheadBlocks: 1 });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 999 }), fc.nat({ max: 999 }), async (a, b) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        const got = await cache.read('obj', r(start, end), data.length);
        expect(got.equals(data.subarray(start, end + 1))).toBe(true);
      }),
    );
  });

  it('fetches consecutive missing blocks with one ranged GET', async () => {
    const { cache, store, data } = await setup(1000, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 0 });
    await cache.read('obj', r(150, 420), data.length);
    expect(store.gets).toEqual([{ key: 'obj', range: r(100, 499) }]);
    expect(cache.stats()).toMatchObject({ misses: 4, hits: 0, gets: 1, cachedBlocks: 4 });
  });

  it('clips the last block at the end of the object', async () => {
    const { cache, store, data } = await setup(250, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 0 });
    const got = await cache.read('obj', r(240, 249), data.length);
    expect(got.equals(data.subarray(240))).toBe(true);
    expect(store.gets[0]!.range).toEqual(r(200, 249));
  });

  it('does not cache a failed GET: the next read tries again', async () => {
    const { cache, store, data } = await setup(300, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 0 });
    store.failNext = 1;
    await expect(cache.read('obj', r(0, 10), data.length)).rejects.toMatchObject({ code: objectStoreErrorCodes.unavailable });
    expect(cache.has('obj', 0)).toBe(false);
    const got = await cache.read('obj', r(0, 10), data.length);
    expect(got.equals(data.subarray(0, 11))).toBe(true);
    expect(store.gets).toHaveLength(2);
  });
});

describe('BlockCache: LRU bound', () => {
  it('never holds more than its capacity and evicts the least recently used block', async () => {
    const { cache, data } = await setup(1000, { blockBytes: 100, capacityBytes: 300, readAheadBlocks: 0 });
    await cache.read('obj', r(0, 0), data.length); // block 0
    await cache.read('obj', r(100, 100), data.length); // block 1
    await cache.read('obj', r(200, 200), data.length); // block 2
    await cache.read('obj', r(0, 0), data.length); // touch block 0: now block 1 is the oldest
    await cache.read('obj', r(500, 500), data.length); // block 5 evicts block 1
    expect(cache.has('obj', 0)).toBe(true);
    expect(cache.has('obj', 1)).toBe(false);
    expect(cache.has('obj', 2)).toBe(true);
    expect(cache.has('obj', 5)).toBe(true);
    expect(cache.stats()).toMatchObject({ cachedBytes: 300, cachedBlocks: 3, evictions: 1, hits: 1, misses: 4 });
  });

  it('stays within its byte bound under any sequence of reads of several objects', async () => {
    const mem = new MemoryObjectStore();
    const sizes = [333, 1000, 57];
    for (let i = 0; i < sizes.length; i++) await mem.put(`o${i}`, pattern(sizes[i]!));
    const cache = new BlockCache(mem, { blockBytes: 64, capacityBytes: 200, readAheadBlocks: 2 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: 2 }), fc.nat({ max: 999 }), fc.nat({ max: 200 })), { maxLength: 30 }), async (reads) => {
        for (const [o, at, len] of reads) {
          const size = sizes[o]!;
          const start = at % size;
          const end = Math.min(size - 1, start + len);
          const got = await cache.read(`o${o}`, r(start, end), size);
          expect(got.equals(pattern(size).subarray(start, end + 1))).toBe(true);
          expect(cache.stats().cachedBytes).toBeLessThanOrEqual(200);
        }
      }),
    );
  });

  it('refuses a capacity smaller than one block', () => {
    expect(() => new BlockCache(new MemoryObjectStore(), { blockBytes: 100, capacityBytes: 99 })).toThrow(RangeError);
  });
});

describe('BlockCache: single flight', () => {
  it('concurrent misses of one block issue one GET and all readers get the bytes', async () => {
    const { cache, store, data } = await setup(1000, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 0 });
    store.holding = true;
    const reads = [cache.read('obj', r(10, 20), data.length), cache.read('obj', r(30, 90), data.length), cache.read('obj', r(0, 99), data.length)];
    expect(store.gets).toHaveLength(1);
    store.release();
    const [a, b, c] = await Promise.all(reads);
    expect(a!.equals(data.subarray(10, 21))).toBe(true);
    expect(b!.equals(data.subarray(30, 91))).toBe(true);
    expect(c!.equals(data.subarray(0, 100))).toBe(true);
    expect(cache.stats()).toMatchObject({ misses: 1, inflight: 2, gets: 1 });
  });

  it('every waiter of a failed GET sees the error, and nothing stays in flight', async () => {
    const { cache, store, data } = await setup(1000, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 0 });
    store.holding = true;
    store.failNext = 1;
    const reads = [cache.read('obj', r(0, 5), data.length), cache.read('obj', r(6, 9), data.length)];
    store.release();
    const results = await Promise.allSettled(reads);
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    const again = await cache.read('obj', r(0, 5), data.length);
    expect(again.equals(data.subarray(0, 6))).toBe(true);
    expect(store.gets).toHaveLength(2);
  });

  it('a read spanning a block in flight and a missing one joins the first and fetches only the second', async () => {
    const { cache, store, data } = await setup(1000, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 0 });
    store.holding = true;
    const first = cache.read('obj', r(0, 50), data.length);
    const second = cache.read('obj', r(50, 150), data.length);
    expect(store.gets.map((g) => g.range)).toEqual([r(0, 99), r(100, 199)]);
    store.release();
    expect((await second).equals(data.subarray(50, 151))).toBe(true);
    expect((await first).equals(data.subarray(0, 51))).toBe(true);
  });
});

describe('BlockCache: read-ahead', () => {
  it('reading block k after block k-1 fetches k+1..k+r with one GET in the background', async () => {
    const { cache, store, data } = await setup(1000, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 3 });
    await cache.read('obj', r(0, 99), data.length);
    expect(store.gets).toHaveLength(1); // the first read of an object is not yet sequential
    await cache.read('obj', r(100, 199), data.length);
    expect(store.gets.map((g) => g.range)).toEqual([r(0, 99), r(100, 199), r(200, 499)]);
    expect(cache.stats().readAheadBlocks).toBe(3);
    // The sequential reader now finds its next blocks without a GET of its own.
    for (let b = 2; b <= 4; b++) await cache.read('obj', r(b * 100, b * 100 + 99), data.length);
    expect(store.gets.filter((g) => g.range!.start >= 200 && g.range!.start < 500)).toHaveLength(1);
    const s = cache.stats();
    expect(s.misses).toBe(2);
    expect(s.hitRatio).toBeGreaterThan(0.5);
  });

  it('stops read-ahead at the end of the object', async () => {
    const { cache, store, data } = await setup(350, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 5 });
    await cache.read('obj', r(0, 10), data.length);
    await cache.read('obj', r(100, 110), data.length);
    expect(store.gets.map((g) => g.range)).toEqual([r(0, 99), r(100, 199), r(200, 349)]);
  });

  it('does not read ahead for random access', async () => {
    const { cache, store, data } = await setup(1000, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 3 });
    await cache.read('obj', r(500, 510), data.length);
    await cache.read('obj', r(200, 210), data.length);
    await cache.read('obj', r(800, 810), data.length);
    expect(store.gets).toHaveLength(3);
    expect(cache.stats().readAheadBlocks).toBe(0);
  });

  it('a failed read-ahead is not an unhandled rejection and leaves nothing cached', async () => {
    const { cache, store, data } = await setup(1000, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 2 });
    await cache.read('obj', r(0, 10), data.length);
    store.holding = true;
    const demand = cache.read('obj', r(100, 110), data.length); // GET for block 1, read-ahead GET for 2..3
    store.failNext = 2;
    store.release();
    await expect(demand).rejects.toMatchObject({ code: objectStoreErrorCodes.unavailable });
    await new Promise((resolve) => setImmediate(resolve));
    expect(cache.has('obj', 2)).toBe(false);
    const got = await cache.read('obj', r(200, 210), data.length);
    expect(got.equals(data.subarray(200, 211))).toBe(true);
  });
});

describe('BlockCache: invalidation and metrics', () => {
  it('invalidate drops the blocks so the next read fetches them again', async () => {
    const { cache, store, data } = await setup(500, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 0 });
    await cache.read('obj', r(0, 250), data.length);
    cache.invalidate('obj', r(150, 160));
    expect(cache.has('obj', 0)).toBe(true);
    expect(cache.has('obj', 1)).toBe(false);
    cache.invalidate('obj');
    expect(cache.stats().cachedBytes).toBe(0);
    await cache.read('obj', r(0, 10), data.length);
    expect(store.gets).toHaveLength(2);
  });

  it('a GET under way when its range is invalidated fills nothing and is not joined by later readers', async () => {
    const { cache, store, data } = await setup(500, { blockBytes: 100, capacityBytes: 1000, readAheadBlocks: 0 });
    store.holding = true;
    const before = cache.read('obj', r(0, 10), data.length);
    cache.invalidate('obj', r(0, 0));
    const after = cache.read('obj', r(0, 10), data.length);
    expect(store.gets).toHaveLength(2);
    store.release();
    await Promise.all([before, after]);
    expect(cache.stats().cachedBlocks).toBe(1);
  });

  it('exports lookups by result, read-ahead, evictions, bytes and the hit ratio on the registry', async () => {
    const registry = new Registry();
    const { cache, data } = await setup(1000, { blockBytes: 100, capacityBytes: 200, readAheadBlocks: 1, registry });
    await cache.read('obj', r(0, 10), data.length);
    await cache.read('obj', r(100, 110), data.length);
    await cache.read('obj', r(200, 210), data.length);
    await cache.read('obj', r(200, 210), data.length);
    const text = await registry.metrics();
    expect(text).toMatch(/floe_objectstore_cache_lookups_total\{result="miss"\} 2/);
    expect(text).toMatch(/floe_objectstore_cache_lookups_total\{result="hit"\} \d/);
    expect(text).toMatch(/floe_objectstore_cache_readahead_blocks_total \d/);
    expect(text).toMatch(/floe_objectstore_cache_evictions_total \d/);
    expect(text).toMatch(/floe_objectstore_cache_bytes 200/);
    expect(text).toMatch(/floe_objectstore_cache_hit_ratio 0\.\d+/);
  });
});
