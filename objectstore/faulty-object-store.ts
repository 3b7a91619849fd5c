/**
 * A fault-injecting decorator over any ObjectStore, for drills and tests.
 *
 * Faults modelled (each switchable at run time):
 * * down: every call fails at once with FLOE_ERR_OBJECTSTORE_UNAVAILABLE, as a store
 *   that refuses connections does once the client's retries are spent;
 * * slow: every call is delayed by an added latency before it reaches the inner store;
 * * failNext(n): the next n calls (optionally of some operations only) fail with a
 *   retriable 503 SlowDown, as a throttling store answers;
 * * corruptGets: GETs of chosen keys answer with one byte flipped, as a bad disk or a
 *   broken proxy would; the inner object is not changed.
 *
 * Placed under a RetryingObjectStore, injected 503s are retried like real ones; placed
 * over an S3ObjectStore (which retries inside), they reach the caller directly.
 */
import { systemClock } from '../src/common/clock.ts';
import type { Clock } from '../src/common/clock.ts';
import { ObjectStoreError, objectStoreErrorCodes } from './object-store.ts';
import type { ByteRange, ListOptions, ObjectInfo, ObjectStore, ObjectStoreOp } from './object-store.ts';
import { sleep } from './retry.ts';

/** The page size real stores use when the caller names none. */
const listPageSizeDefault = 1000;

export interface FaultyObjectStoreOptions {
  clock?: Clock;
}

export class FaultyObjectStore implements ObjectStore {
  private down = false;
  private latencyMs = 0;
  private failures: { remaining: number; ops: ReadonlySet<ObjectStoreOp> | null } = { remaining: 0, ops: null };
  private corrupt: (key: string) => boolean = () => false;
  private readonly clock: Clock;
  /** Calls seen, by operation, whether they failed or not. */
  readonly calls = { put: 0, get: 0, head: 0, delete: 0, list: 0 };
  /** Calls failed by injection, by operation. */
  readonly injectedFailures = { put: 0, get: 0, head: 0, delete: 0, list: 0 };

  constructor(
    readonly inner: ObjectStore,
    options: FaultyObjectStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** Every call fails as unavailable while down. */
  setDown(down: boolean): void {
    this.down = down;
  }

  /** Latency added to every call (0 to stop). */
  setLatencyMs(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`latency must be >= 0, got ${ms}`);
    this.latencyMs = ms;
  }

  /** The next `count` calls (of `ops`, or of any operation) fail with a retriable 503 SlowDown. */
  failNext(count: number, ops?: readonly ObjectStoreOp[]): void {
    this.failures = { remaining: count, ops: ops === undefined ? null : new Set(ops) };
  }

  /** GETs of keys matching (a key, a list, or a predicate) answer with one byte flipped. */
  corruptGets(match: string | readonly string[] | ((key: string) => boolean) | null): void {
    if (match === null) this.corrupt = () => false;
    else if (typeof match === 'string') this.corrupt = (k) => k === match;
    else if (typeof match === 'function') this.corrupt = match;
    else {
      const keys = new Set(match);
      this.corrupt = (k) => keys.has(k);
    }
  }

  /** Clears every fault. */
  heal(): void {
    this.down = false;
    this.latencyMs = 0;
    this.failures = { remaining: 0, ops: null };
    this.corrupt = () => false;
  }

  private async enter(op: ObjectStoreOp, what: string): Promise<void> {
    this.calls[op]++;
    if (this.latencyMs > 0) await sleep(this.clock, this.latencyMs);
    if (this.down) {
      this.injectedFailures[op]++;
      throw new ObjectStoreError(objectStoreErrorCodes.unavailable, `${what}: object store down (injected)`, { retriable: true });
    }
    const f = this.failures;
    if (f.remaining > 0 && (f.ops === null || f.ops.has(op))) {
      f.remaining--;
      this.injectedFailures[op]++;
      throw new ObjectStoreError(objectStoreErrorCodes.unavailable, `${what}: 503 SlowDown (injected)`, { retriable: true, httpStatus: 503 });
    }
  }

  async put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    await this.enter('put', `put ${key}`);
    return this.inner.put(key, body);
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    await this.enter('get', `get ${key}`);
    const data = await this.inner.get(key, range);
    if (!this.corrupt(key) || data.length === 0) return data;
    // Flip a byte of a copy: the inner store's answer may be shared (a cache's block).
    const bad = Buffer.from(data);
    const at = bad.length >> 1;
    bad[at] = (bad[at] ?? 0) ^ 0xff;
    return bad;
  }

  async head(key: string): Promise<{ size: number } | null> {
    await this.enter('head', `head ${key}`);
    return this.inner.head(key);
  }

  async delete(keys: readonly string[]): Promise<void> {
    await this.enter('delete', `delete ${keys.length} key(s)`);
    return this.inner.delete(keys);
  }

  /** Each page of a listing is a request of its own, so faults apply at every page boundary. */
  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    const pageSize = options?.pageSize ?? listPageSizeDefault;
    await this.enter('list', `list ${prefix}`);
    let n = 0;
    for await (const info of this.inner.list(prefix, options)) {
      if (n > 0 && n % pageSize === 0) await this.enter('list', `list ${prefix} after ${info.key}`);
      n++;
      yield info;
    }
  }
}
