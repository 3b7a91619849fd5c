/**
 * Retries with exponential backoff and jitter, bounded in attempts and in total time.
 *
 * Only failures that say they are retriable (ObjectStoreError.retriable: 5xx, SlowDown,
 * throttling, timeouts, refused or reset connections) are tried again; everything else
 * (a missing key, a refused signature, a bad range) is thrown at once, because trying
 * again cannot change the answer and would only delay the caller's error handling.
 * When the bound is reached the last failure becomes FLOE_ERR_OBJECTSTORE_UNAVAILABLE
 * with that failure as its `cause`.
 */
import type { Clock } from '../src/common/clock.ts';
import { ObjectStoreError, objectStoreErrorCodes } from './object-store.ts';

export interface RetryPolicy {
  /** Requests in all, the first included; 1 means no retry. */
  attemptsMax: number;
  /** No attempt starts, and no attempt runs, past this many ms after the first began. */
  totalMsMax: number;
  /** Backoff before the first retry; it doubles per retry up to backoffMsMax. */
  backoffBaseMs: number;
  backoffMsMax: number;
}

/**
 * Defaults: 6 attempts spaced ~100, 200, 400, 800, 1600 ms (jittered) ride out a server
 * restart or a burst of SlowDown within ~3 s, and 30 s bounds how long an uploader is
 * held before it sees the outage as such and applies its own policy (keep the WAL tail,
 * try the next flush).
 */
export const retryPolicyDefault: RetryPolicy = {
  attemptsMax: 6,
  totalMsMax: 30_000,
  backoffBaseMs: 100,
  backoffMsMax: 5_000,
};

export function checkRetryPolicy(p: RetryPolicy): void {
  if (!Number.isInteger(p.attemptsMax) || p.attemptsMax < 1) throw new RangeError(`attemptsMax must be an integer >= 1, got ${p.attemptsMax}`);
  if (!(p.totalMsMax > 0)) throw new RangeError(`totalMsMax must be > 0, got ${p.totalMsMax}`);
  if (!(p.backoffBaseMs >= 0) || !(p.backoffMsMax >= p.backoffBaseMs)) {
    throw new RangeError(`backoff must satisfy 0 <= backoffBaseMs (${p.backoffBaseMs}) <= backoffMsMax (${p.backoffMsMax})`);
  }
}

/**
 * The pause before retry number `retry` (1 for the first retry): "equal jitter", half
 * fixed and half random, so that a crowd of clients spreads out while each still backs
 * off for at least half the exponential step.
 */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const step = Math.min(policy.backoffMsMax, policy.backoffBaseMs * 2 ** Math.max(0, retry - 1));
  return step / 2 + random() * (step / 2);
}

export interface RetryContext {
  /** 1 for the first attempt. */
  attempt: number;
  /** Time left before the total bound: an attempt must not run longer than this. */
  remainingMs: number;
}

export interface RetryOptions {
  policy: RetryPolicy;
  clock: Clock;
  random: () => number;
  /** Called before each pause, with the failure that caused it. */
  onRetry?: (err: ObjectStoreError, ctx: { attempt: number; delayMs: number }) => void;
}

export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

/** Runs `fn` until it succeeds, fails for good, or the policy's bound is reached. */
export async function runWithRetries<T>(what: string, fn: (ctx: RetryContext) => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, clock } = options;
  const startMs = clock.monotonic();
  for (let attempt = 1; ; attempt++) {
    const elapsedMs = clock.monotonic() - startMs;
    try {
      return await fn({ attempt, remainingMs: Math.max(1, policy.totalMsMax - elapsedMs) });
    } catch (err) {
      if (!(err instanceof ObjectStoreError) || !err.retriable) throw err;
      const delayMs = backoffDelayMs(attempt, policy, options.random);
      const afterPauseMs = clock.monotonic() - startMs + delayMs;
      if (attempt >= policy.attemptsMax || afterPauseMs >= policy.totalMsMax) {
        const spentMs = Math.round(clock.monotonic() - startMs);
        throw new ObjectStoreError(objectStoreErrorCodes.unavailable, `${what} failed after ${attempt} attempt(s) in ${spentMs} ms: ${err.message}`, {
          cause: err,
          attempts: attempt,
          ...(err.httpStatus === undefined ? {} : { httpStatus: err.httpStatus }),
        });
      }
      options.onRetry?.(err, { attempt, delayMs });
      await sleep(clock, delayMs);
    }
  }
}
