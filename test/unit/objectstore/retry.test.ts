import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/common/clock.ts';
import { FaultyObjectStore } from '../../../objectstore/faulty-object-store.ts';
import { MemoryObjectStore } from '../../../objectstore/memory-object-store.ts';
import { ObjectStoreError, objectStoreErrorCodes } from '../../../objectstore/object-store.ts';
import { backoffDelayMs, checkRetryPolicy, retryPolicyDefault, runWithRetries } from '../../../objectstore/retry.ts';
import type { RetryPolicy } from '../../../objectstore/retry.ts';
import { RetryingObjectStore } from '../../../objectstore/retrying-object-store.ts';

/**
 * A clock whose timers fire on the next microtask after moving time forward by their
 * delay: retries run instantly and deterministically while the bound still sees time pass.
 */
class JumpingClock implements Clock {
  mono = 0;
  readonly sleeps: number[] = [];
  now(): number {
    return 1_700_000_000_000 + this.mono;
  }
  monotonic(): number {
    return this.mono;
  }
  setTimer(ms: number, fn: () => void): () => void {
    let cancelled = false;
    queueMicrotask(() => {
      if (cancelled) return;
      this.sleeps.push(ms);
      this.mono += ms;
      fn();
    });
    return () => {
      cancelled = true;
    };
  }
}

const policy: RetryPolicy = { attemptsMax: 5, totalMsMax: 60_000, backoffBaseMs: 100, backoffMsMax: 1_000 };

describe('backoff', () => {
  it('doubles per retry up to the cap, with equal jitter (half fixed, half random)', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, () => 0.999999))).toEqual(
      [100, 200, 400, 800, 1000, 1000].map((x) => expect.closeTo(x, 3) as unknown as number),
    );
  });

  it('rejects incoherent policies', () => {
    expect(() => checkRetryPolicy({ ...policy, attemptsMax: 0 })).toThrow(RangeError);
    expect(() => checkRetryPolicy({ ...policy, backoffMsMax: 10 })).toThrow(RangeError);
    expect(() => checkRetryPolicy(retryPolicyDefault)).not.toThrow();
  });
});

describe('runWithRetries', () => {
  const retriable = (): ObjectStoreError => new ObjectStoreError(objectStoreErrorCodes.unavailable, 'boom', { httpStatus: 503 });

  it('returns the first success after retriable failures', async () => {
    const clock = new JumpingClock();
    let calls = 0;
    const value = await runWithRetries(
      'op',
      () => {
        calls++;
        return calls < 3 ? Promise.reject(retriable()) : Promise.resolve('ok');
      },
      { policy, clock, random: () => 0 },
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    expect(clock.sleeps).toEqual([50, 100]);
  });

  it('gives up after attemptsMax with FLOE_ERR_OBJECTSTORE_UNAVAILABLE carrying the last failure', async () => {
    const clock = new JumpingClock();
    let calls = 0;
    const last = retriable();
    const err = await runWithRetries(
      'put k',
      () => {
        calls++;
        return Promise.reject(calls === policy.attemptsMax ? last : retriable());
      },
      { policy, clock, random: () => 0.5 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect(err).toMatchObject({ code: objectStoreErrorCodes.unavailable, attempts: policy.attemptsMax, httpStatus: 503, cause: last });
    expect(calls).toBe(policy.attemptsMax);
  });

  it('gives up when the next pause would pass the total time bound', async () => {
    const clock = new JumpingClock();
    let calls = 0;
    const err = await runWithRetries(
      'get k',
      () => {
        calls++;
        return Promise.reject(retriable());
      },
      { policy: { ...policy, attemptsMax: 100, totalMsMax: 1_000 }, clock, random: () => 0 },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: objectStoreErrorCodes.unavailable });
    // Pauses of 50, 100, 200, 400 reach 750 ms; the next (500) would pass 1,000.
    expect(clock.sleeps).toEqual([50, 100, 200, 400]);
    expect(calls).toBe(5);
  });

  it('tells each attempt how much time is left, so it can bound its own timeout', async () => {
    const clock = new JumpingClock();
    const remaining: number[] = [];
    await runWithRetries(
      'op',
      (ctx) => {
        remaining.push(ctx.remainingMs);
        return ctx.attempt < 3 ? Promise.reject(retriable()) : Promise.resolve();
      },
      { policy: { ...policy, totalMsMax: 1_000 }, clock, random: () => 0 },
    );
    expect(remaining).toEqual([1_000, 950, 850]);
  });

  it('does not retry what cannot succeed (not found, rejected, corrupt, plain errors)', async () => {
    for (const err of [
      new ObjectStoreError(objectStoreErrorCodes.notFound, 'x'),
      new ObjectStoreError(objectStoreErrorCodes.rejected, 'x'),
      new ObjectStoreError(objectStoreErrorCodes.corrupt, 'x'),
      new TypeError('bug'),
    ]) {
      let calls = 0;
      const got = await runWithRetries(
        'op',
        () => {
          calls++;
          return Promise.reject(err);
        },
        { policy, clock: new JumpingClock(), random: () => 0 },
      ).catch((e: unknown) => e);
      expect(got).toBe(err);
      expect(calls).toBe(1);
    }
  });
});

describe('RetryingObjectStore over a FaultyObjectStore', () => {
  async function setup() {
    const mem = new MemoryObjectStore();
    await mem.put('k', Buffer.from('value'));
    const faulty = new FaultyObjectStore(mem);
    const clock = new JumpingClock();
    const retries: number[] = [];
    const store = new RetryingObjectStore(faulty, { retry: policy, clock, random: () => 0, onRetry: (_e, { attempt }) => retries.push(attempt) });
    return { mem, faulty, store, retries };
  }

  it('recovers from injected 503s within the bound', async () => {
    const { faulty, store, retries } = await setup();
    faulty.failNext(policy.attemptsMax - 1);
    expect((await store.get('k')).toString()).toBe('value');
    expect(faulty.calls.get).toBe(policy.attemptsMax);
    expect(retries).toEqual([1, 2, 3, 4]);
  });

  it('gives up with the typed error after the bound', async () => {
    const { faulty, store } = await setup();
    faulty.failNext(policy.attemptsMax);
    await expect(store.head('k')).rejects.toMatchObject({ code: objectStoreErrorCodes.unavailable, attempts: policy.attemptsMax });
  });

  it('restarts a failed listing after the last key it yielded, without duplicates', async () => {
    const { mem, faulty, store } = await setup();
    for (let i = 0; i < 2500; i++) await mem.put(`p/${String(i).padStart(5, '0')}`, Buffer.from([i & 0xff]));
    faulty.failNext(1, ['list']);
    const keys: string[] = [];
    for await (const o of store.list('p/', { pageSize: 100 })) {
      keys.push(o.key);
      if (keys.length === 1200) faulty.failNext(1, ['list']);
    }
    expect(keys).toHaveLength(2500);
    expect(new Set(keys).size).toBe(2500);
    expect(keys).toEqual([...keys].sort());
    expect(faulty.injectedFailures.list).toBe(2);
  });
});
