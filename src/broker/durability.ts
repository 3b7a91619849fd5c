/**
 * Waiting for an acknowledgement level with a deadline: the acks=1 / acks=all promise of
 * a batch, raced against the request's timeout (REQUEST_TIMED_OUT when it passes first).
 */
import type { Clock } from '../common/clock.ts';
import { RequestTimeoutError } from './errors.ts';

export function withDeadline<T>(clock: Clock, promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancel = clock.setTimer(timeoutMs, () => reject(new RequestTimeoutError(`${what} not reached within ${timeoutMs} ms`)));
    promise.then(
      (v) => {
        cancel();
        resolve(v);
      },
      (err: unknown) => {
        cancel();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
