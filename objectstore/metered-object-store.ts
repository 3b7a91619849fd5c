/**
 * Metrics as a decorator over any ObjectStore: one call counts as one request. For
 * stores that do not meter themselves (memory, faulty); S3ObjectStore meters each HTTP
 * request itself when given a registry, so do not wrap it in this as well.
 */
import type { Registry } from 'prom-client';
import { systemClock } from '../src/common/clock.ts';
import type { Clock } from '../src/common/clock.ts';
import { bodyLength, outcomeOf } from './object-store.ts';
import type { ByteRange, ListOptions, ObjectInfo, ObjectStore, ObjectStoreOp } from './object-store.ts';
import { ObjectStoreMetrics } from './metrics.ts';

export class MeteredObjectStore implements ObjectStore {
  private readonly metrics: ObjectStoreMetrics;

  constructor(
    readonly inner: ObjectStore,
    registry: Registry,
    private readonly clock: Clock = systemClock,
  ) {
    this.metrics = new ObjectStoreMetrics(registry);
  }

  private async measure<T>(op: ObjectStoreOp, run: () => Promise<T>, bytesOf: (value: T) => number): Promise<T> {
    const started = this.clock.monotonic();
    try {
      const value = await run();
      const seconds = (this.clock.monotonic() - started) / 1000;
      this.metrics.observeRequest(op, 'ok', seconds, bytesOf(value));
      this.metrics.observeOperation(op, 'ok', seconds);
      return value;
    } catch (err) {
      const seconds = (this.clock.monotonic() - started) / 1000;
      this.metrics.observeRequest(op, outcomeOf(err), seconds);
      this.metrics.observeOperation(op, outcomeOf(err), seconds);
      throw err;
    }
  }

  async put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    const length = bodyLength(body);
    await this.measure('put', () => this.inner.put(key, body), () => length);
    this.metrics.observePutObject(length);
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.measure('get', () => this.inner.get(key, range), (b) => b.length);
  }

  head(key: string): Promise<{ size: number } | null> {
    return this.measure('head', () => this.inner.head(key), () => 0);
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.measure('delete', () => this.inner.delete(keys), () => 0);
  }

  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    const started = this.clock.monotonic();
    try {
      yield* this.inner.list(prefix, options);
      const seconds = (this.clock.monotonic() - started) / 1000;
      this.metrics.observeRequest('list', 'ok', seconds);
      this.metrics.observeOperation('list', 'ok', seconds);
    } catch (err) {
      const seconds = (this.clock.monotonic() - started) / 1000;
      this.metrics.observeRequest('list', outcomeOf(err), seconds);
      this.metrics.observeOperation('list', outcomeOf(err), seconds);
      throw err;
    }
  }
}
