/**
 * Time behind a seam. Code that decides by time (timeouts, leases, retention, group
 * sessions) takes a Clock, so tests drive it with a ManualClock instead of sleeping or
 * patching global timers.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch (timestamps that leave the process). */
  now(): number;
  /** Monotonic milliseconds (durations, deadlines). */
  monotonic(): number;
  /** Calls `fn` after `ms`; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** A clock that moves only when told to; timers fire in deadline order during advance(). */
export class ManualClock implements Clock {
  private nowMs: number;
  private monoMs = 0;
  private nextId = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }
  now(): number {
    return this.nowMs;
  }
  monotonic(): number {
    return this.monoMs;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.set(id, { at: this.monoMs + Math.max(0, ms), fn });
    return () => this.timers.delete(id);
  }
  advance(ms: number): void {
    const target = this.monoMs + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.nowMs += next[1].at - this.monoMs;
      this.monoMs = next[1].at;
      next[1].fn();
    }
    this.nowMs += target - this.monoMs;
    this.monoMs = target;
  }
}
