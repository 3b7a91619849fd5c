/**
 * The read cache of the object read path: fixed-size blocks of objects, keyed by
 * (object key, block index), bounded in bytes, evicted least recently used first.
 *
 * * A read of any byte range is served from the blocks it spans; the missing blocks are
 *   fetched with ranged GETs, consecutive missing blocks coalesced into one GET (at most
 *   blocksPerGetMax blocks each).
 * * Single flight: a block already being fetched is not fetched again; every reader of
 *   it waits on the same GET. A failed GET caches nothing, and its waiters all see the
 *   error.
 * * Read-ahead: a read that advances into the block after the last one read from the
 *   same object (block k after k-1) also fetches the next readAheadBlocks blocks, in
 *   the background, so a sequential reader finds them cached.
 * * Objects are immutable (object-store.ts), so a cached block never goes stale; a
 *   block is dropped only by eviction or invalidate() (after a failed CRC check, or
 *   when the object is deleted).
 *
 * Returned buffers may be views of cached blocks: callers must not modify them.
 * Checksums are not this layer's business: readSection (object-reader.ts) checks the
 * assembled section and, on a mismatch, invalidates the range and reads it again.
 */
import type { Registry } from 'prom-client';
import { assertValidRange } from './object-store.ts';
import type { ByteRange, ObjectStore } from './object-store.ts';
import type { RangeReader } from './object-reader.ts';
import { BlockCacheMetrics } from './metrics.ts';

/**
 * Defaults. A 1 MiB block is one GET that costs the same as a 4 KiB one ($0.0004 per
 * 1,000 on S3 Standard) and takes little longer (S3 moves ~100 MB/s per connection
 * after a first-byte latency of ~20-50 ms), so big blocks make catch-up reads cheap;
 * 256 MiB holds 256 of them, minutes of a 1 MB/s partition's history.
 */
export const blockCacheDefaults = {
  blockBytes: 1024 * 1024,
  capacityBytes: 256 * 1024 * 1024,
  readAheadBlocks: 2,
  blocksPerGetMax: 8,
} as const;

/** How many objects' last-read block the cache remembers to detect sequential readers. */
const trackedObjectsMax = 4096;

export interface BlockCacheOptions {
  blockBytes?: number;
  capacityBytes?: number;
  readAheadBlocks?: number;
  blocksPerGetMax?: number;
  registry?: Registry;
}

export interface BlockCacheStats {
  hits: number;
  /** Lookups that joined a GET already under way (a read-ahead, or another reader's miss). */
  inflight: number;
  misses: number;
  readAheadBlocks: number;
  evictions: number;
  gets: number;
  cachedBytes: number;
  cachedBlocks: number;
  /** (hits + inflight) / lookups: the share of block lookups that needed no GET of their own. */
  hitRatio: number;
}

export class BlockCache implements RangeReader {
  readonly blockBytes: number;
  readonly capacityBytes: number;
  readonly readAheadBlocks: number;
  readonly blocksPerGetMax: number;
  /** Cached blocks in least-recently-used-first order (a Map iterates in insertion order). */
  private readonly blocks = new Map<string, Buffer>();
  private readonly inflight = new Map<string, Promise<Buffer>>();
  private readonly lastBlockRead = new Map<string, number>();
  private bytes = 0;
  /** Bumped by invalidate(): a GET that started before it must not fill the cache afterwards. */
  private generation = 0;
  private readonly counts = { hits: 0, inflight: 0, misses: 0, readAheadBlocks: 0, evictions: 0, gets: 0 };
  private readonly metrics: BlockCacheMetrics | undefined;

  constructor(
    private readonly store: ObjectStore,
    options: BlockCacheOptions = {},
  ) {
    this.blockBytes = options.blockBytes ?? blockCacheDefaults.blockBytes;
    this.capacityBytes = options.capacityBytes ?? blockCacheDefaults.capacityBytes;
    this.readAheadBlocks = options.readAheadBlocks ?? blockCacheDefaults.readAheadBlocks;
    this.blocksPerGetMax = options.blocksPerGetMax ?? blockCacheDefaults.blocksPerGetMax;
    if (!Number.isSafeInteger(this.blockBytes) || this.blockBytes < 1) throw new RangeError(`blockBytes must be a positive integer, got ${this.blockBytes}`);
    if (!(this.capacityBytes >= this.blockBytes)) throw new RangeError(`capacityBytes (${this.capacityBytes}) must hold at least one block (${this.blockBytes})`);
    if (!Number.isInteger(this.readAheadBlocks) || this.readAheadBlocks < 0) throw new RangeError(`readAheadBlocks must be >= 0, got ${this.readAheadBlocks}`);
    if (!Number.isInteger(this.blocksPerGetMax) || this.blocksPerGetMax < 1) throw new RangeError(`blocksPerGetMax must be >= 1, got ${this.blocksPerGetMax}`);
    this.metrics = options.registry === undefined ? undefined : new BlockCacheMetrics(options.registry);
  }

  async read(key: string, range: ByteRange, objectSize: number): Promise<Buffer> {
    assertValidRange(range);
    if (range.endInclusive >= objectSize) throw new RangeError(`range ${range.start}-${range.endInclusive} beyond the ${objectSize}-byte object ${key}`);
    const first = Math.floor(range.start / this.blockBytes);
    const last = Math.floor(range.endInclusive / this.blockBytes);

    const pending: (Promise<Buffer> | undefined)[] = [];
    let missRun: number[] = [];
    const flushRun = (): void => {
      if (missRun.length > 0) this.fetchRun(key, missRun[0]!, missRun[missRun.length - 1]!, objectSize);
      missRun = [];
    };
    for (let b = first; b <= last; b++) {
      const id = blockId(key, b);
      const cached = this.blocks.get(id);
      if (cached !== undefined) {
        this.touch(id, cached);
        this.count('hits');
        flushRun();
        pending[b - first] = Promise.resolve(cached);
        continue;
      }
      const flying = this.inflight.get(id);
      if (flying !== undefined) {
        this.count('inflight');
        flushRun();
        pending[b - first] = flying;
        continue;
      }
      this.count('misses');
      missRun.push(b);
      if (missRun.length >= this.blocksPerGetMax) flushRun();
    }
    flushRun();
    // The missing blocks now have their in-flight promises (registered synchronously by fetchRun).
    const waits: Promise<Buffer>[] = [];
    for (let b = first; b <= last; b++) {
      const p = pending[b - first] ?? this.inflight.get(blockId(key, b));
      if (p === undefined) throw new Error(`assertion: block ${b} of ${key} neither cached nor in flight`);
      waits.push(p);
    }
    this.readAhead(key, first, last, objectSize);
    this.metrics?.hitRatio.set(this.hitRatio());

    const parts = await Promise.all(waits);
    if (first === last) {
      const base = first * this.blockBytes;
      return parts[0]!.subarray(range.start - base, range.endInclusive - base + 1);
    }
    const out = Buffer.allocUnsafe(range.endInclusive - range.start + 1);
    let at = 0;
    parts.forEach((block, i) => {
      const base = (first + i) * this.blockBytes;
      const from = Math.max(range.start, base) - base;
      const to = Math.min(range.endInclusive + 1, base + block.length) - base;
      at += block.copy(out, at, from, to);
    });
    return out;
  }

  /**
   * Drops the cached blocks of `range` (or of the whole object) of `key`. GETs under way
   * for them are forgotten too: they finish for their current readers, but fill nothing
   * and are joined by no later reader.
   */
  invalidate(key: string, range?: ByteRange): void {
    this.generation++;
    if (range === undefined) {
      for (const [id, block] of this.blocks) {
        if (keyOf(id) === key) this.drop(id, block);
      }
      for (const id of this.inflight.keys()) {
        if (keyOf(id) === key) this.inflight.delete(id);
      }
      this.lastBlockRead.delete(key);
      return;
    }
    const first = Math.floor(range.start / this.blockBytes);
    const last = Math.floor(range.endInclusive / this.blockBytes);
    for (let b = first; b <= last; b++) {
      const id = blockId(key, b);
      const block = this.blocks.get(id);
      if (block !== undefined) this.drop(id, block);
      this.inflight.delete(id);
    }
  }

  stats(): BlockCacheStats {
    return { ...this.counts, cachedBytes: this.bytes, cachedBlocks: this.blocks.size, hitRatio: this.hitRatio() };
  }

  /** Whether a block is cached (for tests and diagnostics; does not count as a use). */
  has(key: string, block: number): boolean {
    return this.blocks.has(blockId(key, block));
  }

  private hitRatio(): number {
    const lookups = this.counts.hits + this.counts.inflight + this.counts.misses;
    return lookups === 0 ? 0 : (this.counts.hits + this.counts.inflight) / lookups;
  }

  private count(what: 'hits' | 'inflight' | 'misses'): void {
    this.counts[what]++;
    this.metrics?.lookups.inc({ result: what === 'hits' ? 'hit' : what === 'misses' ? 'miss' : 'inflight' });
  }

  /** Sequential detection and read-ahead: see the file comment. */
  private readAhead(key: string, first: number, last: number, objectSize: number): void {
    const previous = this.lastBlockRead.get(key);
    this.lastBlockRead.delete(key);
    this.lastBlockRead.set(key, previous === undefined ? last : Math.max(previous, last));
    if (this.lastBlockRead.size > trackedObjectsMax) {
      const oldest = this.lastBlockRead.keys().next();
      if (oldest.done !== true) this.lastBlockRead.delete(oldest.value);
    }
    const advanced = previous !== undefined && last > previous && first <= previous + 1 && first >= previous;
    if (!advanced || this.readAheadBlocks === 0) return;
    const lastBlock = Math.floor((objectSize - 1) / this.blockBytes);
    let run: number[] = [];
    const flush = (): void => {
      if (run.length > 0) {
        this.counts.readAheadBlocks += run.length;
        this.metrics?.readAheadBlocks.inc(run.length);
        this.fetchRun(key, run[0]!, run[run.length - 1]!, objectSize);
      }
      run = [];
    };
    for (let b = last + 1; b <= Math.min(last + this.readAheadBlocks, lastBlock); b++) {
      const id = blockId(key, b);
      if (this.blocks.has(id) || this.inflight.has(id)) {
        flush();
        continue;
      }
      run.push(b);
      if (run.length >= this.blocksPerGetMax) flush();
    }
    flush();
  }

  /** One GET for blocks [from, to]; registers an in-flight promise per block. */
  private fetchRun(key: string, from: number, to: number, objectSize: number): void {
    const start = from * this.blockBytes;
    const endInclusive = Math.min((to + 1) * this.blockBytes, objectSize) - 1;
    const generation = this.generation;
    this.counts.gets++;
    const whole = this.store.get(key, { start, endInclusive });
    for (let b = from; b <= to; b++) {
      const id = blockId(key, b);
      const offset = (b - from) * this.blockBytes;
      const block = whole.then((data) => {
        const view = data.subarray(offset, Math.min(offset + this.blockBytes, data.length));
        // Copy out of a multi-block answer so each block can be evicted (and freed) alone.
        const own = from === to ? view : Buffer.from(view);
        if (this.generation === generation) this.insert(id, own);
        return own;
      });
      const settled = (): void => {
        if (this.inflight.get(id) === block) this.inflight.delete(id);
      };
      // Read-ahead blocks may have no reader: their failure must not be an unhandled rejection.
      block.then(settled, settled);
      this.inflight.set(id, block);
    }
  }

  private insert(id: string, block: Buffer): void {
    const old = this.blocks.get(id);
    if (old !== undefined) this.drop(id, old);
    this.blocks.set(id, block);
    this.bytes += block.length;
    while (this.bytes > this.capacityBytes) {
      const oldest = this.blocks.entries().next();
      if (oldest.done === true) break;
      this.drop(oldest.value[0], oldest.value[1]);
      this.counts.evictions++;
      this.metrics?.evictions.inc();
    }
    this.metrics?.cachedBytes.set(this.bytes);
  }

  private touch(id: string, block: Buffer): void {
    this.blocks.delete(id);
    this.blocks.set(id, block);
  }

  private drop(id: string, block: Buffer): void {
    this.blocks.delete(id);
    this.bytes -= block.length;
    this.metrics?.cachedBytes.set(this.bytes);
  }
}

/** The block index comes first: digits then a colon, so any object key (colons included) parses back. */
function blockId(key: string, block: number): string {
  return `${block}:${key}`;
}

function keyOf(id: string): string {
  return id.slice(id.indexOf(':') + 1);
}
