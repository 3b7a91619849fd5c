/**
 * An ObjectStore in memory, for unit tests and simulations. It follows the contract of
 * object-store.ts strictly where real servers are lax: a PUT to an existing key fails
 * with FLOE_ERR_OBJECT_EXISTS (so a caller that would overwrite is caught in tests),
 * and a range past the end fails with FLOE_ERR_OBJECT_RANGE.
 */
import { systemClock } from '../src/common/clock.ts';
import type { Clock } from '../src/common/clock.ts';
import { assertValidRange, ObjectStoreError, objectStoreErrorCodes, rangeLength } from './object-store.ts';
import type { ByteRange, ListOptions, ObjectInfo, ObjectStore } from './object-store.ts';

const listPageSizeDefault = 1000;

export class MemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, Buffer>();
  private readonly modified = new Map<string, number>();
  /** Requests served, by operation: lets tests assert how many requests a read path made. */
  readonly requestCounts = { put: 0, get: 0, head: 0, delete: 0, list: 0 };

  constructor(private readonly clock: Clock = systemClock) {}

  put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    this.requestCounts.put++;
    if (this.objects.has(key)) {
      return Promise.reject(new ObjectStoreError(objectStoreErrorCodes.exists, `object ${key} already exists; keys are never overwritten`));
    }
    // Copy: the caller may reuse its buffers once put resolves, as with a real store.
    this.objects.set(key, Buffer.concat(Buffer.isBuffer(body) ? [body] : body));
    this.modified.set(key, this.clock.now());
    return Promise.resolve();
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    this.requestCounts.get++;
    const data = this.objects.get(key);
    if (data === undefined) return Promise.reject(new ObjectStoreError(objectStoreErrorCodes.notFound, `no object ${key}`));
    if (range === undefined) return Promise.resolve(Buffer.from(data));
    assertValidRange(range);
    if (range.endInclusive >= data.length) {
      return Promise.reject(
        new ObjectStoreError(objectStoreErrorCodes.range, `range ${range.start}-${range.endInclusive} outside object ${key} of ${data.length} bytes`),
      );
    }
    return Promise.resolve(Buffer.from(data.subarray(range.start, range.start + rangeLength(range))));
  }

  head(key: string): Promise<{ size: number } | null> {
    this.requestCounts.head++;
    const data = this.objects.get(key);
    return Promise.resolve(data === undefined ? null : { size: data.length });
  }

  delete(keys: readonly string[]): Promise<void> {
    this.requestCounts.delete++;
    for (const k of keys) {
      this.objects.delete(k);
      this.modified.delete(k);
    }
    return Promise.resolve();
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const pageSize = options.pageSize ?? listPageSizeDefault;
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (let i = 0; i < keys.length; i += pageSize) {
      this.requestCounts.list++;
      await Promise.resolve();
      for (const k of keys.slice(i, i + pageSize)) {
        const data = this.objects.get(k);
        if (data !== undefined) yield { key: k, size: data.length, lastModifiedMs: this.modified.get(k) ?? 0 };
      }
    }
  }

  /** Test hook: replaces an object's bytes, as a corrupting disk or a rogue writer would. */
  overwriteForTest(key: string, data: Buffer): void {
    this.objects.set(key, Buffer.from(data));
    this.modified.set(key, this.clock.now());
  }

  keys(): string[] {
    return [...this.objects.keys()].sort();
  }
}
