/**
 * Retries (retry.ts) as a decorator over any ObjectStore. S3ObjectStore retries inside,
 * per HTTP request; this decorator is for stores that do not, chiefly a FaultyObjectStore
 * over a MemoryObjectStore, so tests and simulations exercise the same retry policy the
 * S3 path uses without a server.
 */
import { systemClock } from '../src/common/clock.ts';
import type { Clock } from '../src/common/clock.ts';
import type { ByteRange, ListOptions, ObjectInfo, ObjectStore } from './object-store.ts';
import { checkRetryPolicy, retryPolicyDefault, runWithRetries } from './retry.ts';
import type { RetryOptions, RetryPolicy } from './retry.ts';

export interface RetryingObjectStoreOptions {
  retry?: Partial<RetryPolicy>;
  clock?: Clock;
  random?: () => number;
  onRetry?: RetryOptions['onRetry'];
}

export class RetryingObjectStore implements ObjectStore {
  private readonly options: RetryOptions;

  constructor(
    readonly inner: ObjectStore,
    options: RetryingObjectStoreOptions = {},
  ) {
    const policy = { ...retryPolicyDefault, ...options.retry };
    checkRetryPolicy(policy);
    this.options = {
      policy,
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
    };
  }

  put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    return runWithRetries(`put ${key}`, () => this.inner.put(key, body), this.options);
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    return runWithRetries(`get ${key}`, () => this.inner.get(key, range), this.options);
  }

  head(key: string): Promise<{ size: number } | null> {
    return runWithRetries(`head ${key}`, () => this.inner.head(key), this.options);
  }

  delete(keys: readonly string[]): Promise<void> {
    return runWithRetries(`delete ${keys.length} key(s)`, () => this.inner.delete(keys), this.options);
  }

  /**
   * A generic iterator cannot be resumed after it threw, so a failed listing starts
   * again from the beginning and skips what was already yielded: keys come in
   * ascending order, so "after the last key yielded" is exact.
   */
  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo> {
    let after: string | undefined;
    let iterator: AsyncIterator<ObjectInfo> | undefined;
    try {
      for (;;) {
        const next = await runWithRetries(
          `list ${prefix}`,
          async () => {
            for (;;) {
              iterator ??= this.inner.list(prefix, options)[Symbol.asyncIterator]();
              try {
                const r = await iterator.next();
                if (r.done === true || after === undefined || r.value.key > after) return r;
              } catch (err) {
                iterator = undefined;
                throw err;
              }
            }
          },
          this.options,
        );
        if (next.done === true) return;
        after = next.value.key;
        yield next.value;
      }
    } finally {
      // The consumer may stop early: let the inner listing release what it holds.
      await iterator?.return?.();
    }
  }
}
