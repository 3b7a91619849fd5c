import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/common/clock.ts';
import {
  LeaderIsr,
  afterFetch,
  caughtUpReplicas,
  highWatermarkOf,
  laggingReplicas,
  unknownProgress,
  type FollowerProgress,
} from '../../../../src/broker/replication/isr.ts';

const progress = (logEndOffset: number, lastCaughtUpMs = 0): FollowerProgress => ({ logEndOffset, lastCaughtUpMs, lastFetchMs: lastCaughtUpMs, lastFetchLeaderLogEnd: logEndOffset });

describe('afterFetch (when a follower counts as caught up)', () => {
  const cases: { name: string; prev: FollowerProgress; fetchOffset: number; leaderLogEnd: number; now: number; caughtUpAt: number }[] = [
    { name: 'at the leader\'s log end: caught up now', prev: unknownProgress(0), fetchOffset: 10, leaderLogEnd: 10, now: 500, caughtUpAt: 500 },
    { name: 'beyond it (cannot be ahead, but counts as at the end)', prev: unknownProgress(0), fetchOffset: 12, leaderLogEnd: 10, now: 500, caughtUpAt: 500 },
    { name: 'behind, but at the log end of its previous fetch: caught up then', prev: { logEndOffset: 5, lastCaughtUpMs: 100, lastFetchMs: 300, lastFetchLeaderLogEnd: 8 }, fetchOffset: 8, leaderLogEnd: 12, now: 600, caughtUpAt: 300 },
    { name: 'behind both: unchanged', prev: { logEndOffset: 5, lastCaughtUpMs: 100, lastFetchMs: 300, lastFetchLeaderLogEnd: 8 }, fetchOffset: 7, leaderLogEnd: 12, now: 600, caughtUpAt: 100 },
    { name: 'first fetch and behind: unchanged', prev: unknownProgress(40), fetchOffset: 0, leaderLogEnd: 12, now: 600, caughtUpAt: 40 },
    { name: 'never moves backwards', prev: { logEndOffset: 12, lastCaughtUpMs: 900, lastFetchMs: 300, lastFetchLeaderLogEnd: 8 }, fetchOffset: 8, leaderLogEnd: 20, now: 950, caughtUpAt: 900 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const next = afterFetch(c.prev, c.fetchOffset, c.leaderLogEnd, c.now);
      expect(next).toEqual({ logEndOffset: c.fetchOffset, lastCaughtUpMs: c.caughtUpAt, lastFetchMs: c.now, lastFetchLeaderLogEnd: c.leaderLogEnd });
    });
  }
});

describe('highWatermarkOf', () => {
  const cases: { name: string; current: number; leaderLogEnd: number; isr: number[]; ends: Record<number, number>; hw: number }[] = [
    { name: 'leader alone: its log end', current: 3, leaderLogEnd: 10, isr: [1], ends: { 2: 4 }, hw: 10 },
    { name: 'the smallest log end over the ISR', current: 3, leaderLogEnd: 10, isr: [1, 2, 3], ends: { 2: 7, 3: 9 }, hw: 7 },
    { name: 'a replica outside the ISR does not hold it back', current: 3, leaderLogEnd: 10, isr: [1, 3], ends: { 2: 4, 3: 9 }, hw: 9 },
    { name: 'a follower that has not fetched holds it where it is', current: 3, leaderLogEnd: 10, isr: [1, 2], ends: {}, hw: 3 },
    { name: 'never backwards', current: 8, leaderLogEnd: 10, isr: [1, 2], ends: { 2: 5 }, hw: 8 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = new Map(Object.entries(c.ends).map(([r, e]) => [Number(r), progress(e)] as const));
      expect(highWatermarkOf({ self: 1, current: c.current, leaderLogEnd: c.leaderLogEnd, isr: c.isr, progress: p })).toBe(c.hw);
    });
  }
});

describe('laggingReplicas and caughtUpReplicas', () => {
  const lagMaxMs = 1000;
  const lagCases: { name: string; p: FollowerProgress | undefined; leaderLogEnd: number; now: number; lagging: boolean }[] = [
    { name: 'caught up within the lag time', p: progress(5, 9_200), leaderLogEnd: 10, now: 10_000, lagging: false },
    { name: 'caught up exactly the lag time ago', p: progress(5, 9_000), leaderLogEnd: 10, now: 10_000, lagging: false },
    { name: 'behind for longer than the lag time', p: progress(5, 8_999), leaderLogEnd: 10, now: 10_000, lagging: true },
    { name: 'at the leader\'s log end, however long ago (an idle partition)', p: progress(10, 0), leaderLogEnd: 10, now: 10_000, lagging: false },
    { name: 'never fetched, and the lag time is over', p: unknownProgress(0), leaderLogEnd: 0, now: 10_000, lagging: true },
    { name: 'no progress known at all', p: undefined, leaderLogEnd: 10, now: 10_000, lagging: true },
  ];
  for (const c of lagCases) {
    it(`shrink: ${c.name}`, () => {
      const p = new Map<number, FollowerProgress>();
      if (c.p) p.set(2, c.p);
      expect(laggingReplicas({ self: 1, isr: [1, 2], progress: p, leaderLogEnd: c.leaderLogEnd, nowMs: c.now, lagMaxMs })).toEqual(c.lagging ? [2] : []);
    });
  }

  const joinCases: { name: string; end: number; hw: number; epochStart: number; joins: boolean }[] = [
    { name: 'at the high watermark and past the epoch start', end: 10, hw: 10, epochStart: 4, joins: true },
    { name: 'below the high watermark', end: 9, hw: 10, epochStart: 4, joins: false },
    { name: 'past the high watermark but not the epoch start (it may not have truncated)', end: 5, hw: 3, epochStart: 8, joins: false },
    { name: 'unknown log end', end: -1, hw: 0, epochStart: 0, joins: false },
    { name: 'an empty partition: the first fetch at 0 is enough', end: 0, hw: 0, epochStart: 0, joins: true },
  ];
  for (const c of joinCases) {
    it(`expand: ${c.name}`, () => {
      const p = new Map([[3, progress(c.end)]]);
      expect(caughtUpReplicas({ self: 1, replicas: [1, 2, 3], isr: [1, 2], progress: p, highWatermark: c.hw, leaderEpochStartOffset: c.epochStart })).toEqual(c.joins ? [3] : []);
    });
  }
});

describe('LeaderIsr', () => {
  const LAG_MS = 1000;
  const BACKOFF_MS = 200;
  function leader(clock: ManualClock, over: Partial<ConstructorParameters<typeof LeaderIsr>[0]> = {}): LeaderIsr {
    return new LeaderIsr({
      self: 1,
      replicas: [1, 2, 3],
      isr: [1, 2, 3],
      partitionEpoch: 4,
      highWatermark: 0,
      leaderEpochStartOffset: 0,
      lagMaxMs: LAG_MS,
      retryBackoffMs: BACKOFF_MS,
      nowMs: clock.monotonic(),
      ...over,
    });
  }

  it('advances the high watermark as ISR followers fetch, and an acks=all wait sees every member', () => {
    const clock = new ManualClock();
    const s = leader(clock);
    expect(s.updateHighWatermark(10)).toBe(false);
    s.recordFetch(2, 10, 10, clock.monotonic());
    expect(s.updateHighWatermark(10)).toBe(false);
    s.recordFetch(3, 6, 10, clock.monotonic());
    expect(s.updateHighWatermark(10)).toBe(true);
    expect(s.highWatermark).toBe(6);
    s.recordFetch(3, 10, 10, clock.monotonic());
    s.updateHighWatermark(10);
    expect(s.highWatermark).toBe(10);
    expect(s.recordFetch(9, 10, 10, clock.monotonic())).toBe(false);
  });

  it('proposes a shrink once a follower has lagged for longer than replica.lag.time.max.ms, and nothing else meanwhile', () => {
    const clock = new ManualClock();
    const s = leader(clock);
    const follow = (r: number, offset: number, end: number): void => void s.recordFetch(r, offset, end, clock.monotonic());
    follow(2, 0, 0);
    follow(3, 0, 0);
    // Writes arrive; follower 2 keeps up, follower 3 stops fetching.
    for (let t = 0; t < 10; t++) {
      clock.advance(200);
      follow(2, (t + 1) * 10, (t + 1) * 10);
      const p = s.propose((t + 1) * 10, clock.monotonic());
      if (clock.monotonic() <= LAG_MS) expect(p).toBeNull();
      else {
        expect(p).toEqual({ kind: 'shrink', isr: [1, 2], removed: [3] });
        break;
      }
    }
    expect(s.pending?.kind).toBe('shrink');
    // The member being removed still counts for the high watermark until the controller agrees.
    expect(s.maximalIsr()).toEqual([1, 2, 3]);
    expect(s.updateHighWatermark(100)).toBe(false);
    expect(s.propose(100, clock.monotonic())).toBeNull();
    s.settle({ isr: [1, 2], partitionEpoch: 5, replicas: [1, 2, 3] }, clock.monotonic());
    expect(s.isr).toEqual([1, 2]);
    expect(s.pending).toBeNull();
    expect(s.updateHighWatermark(100)).toBe(true);
    expect(s.highWatermark).toBe(60);
  });

  it('proposes an expansion when an outside replica reaches the high watermark and the epoch start; it counts for the high watermark while pending', () => {
    const clock = new ManualClock();
    const s = leader(clock, { isr: [1, 2], highWatermark: 20, leaderEpochStartOffset: 25 });
    s.recordFetch(2, 30, 30, clock.monotonic());
    s.updateHighWatermark(30);
    expect(s.highWatermark).toBe(30);
    s.recordFetch(3, 24, 30, clock.monotonic());
    expect(s.propose(30, clock.monotonic())).toBeNull();
    s.recordFetch(3, 30, 30, clock.monotonic());
    expect(s.propose(30, clock.monotonic())).toEqual({ kind: 'expand', isr: [1, 2, 3], added: [3] });
    expect(s.maximalIsr()).toEqual([1, 2, 3]);
    // More writes: the pending member must have them too before the high watermark moves.
    s.recordFetch(2, 40, 40, clock.monotonic());
    expect(s.updateHighWatermark(40)).toBe(false);
    s.recordFetch(3, 40, 40, clock.monotonic());
    expect(s.updateHighWatermark(40)).toBe(true);
  });

  it('after a refusal, proposes again only after the backoff', () => {
    const clock = new ManualClock();
    const s = leader(clock, { isr: [1] });
    s.recordFetch(2, 0, 0, clock.monotonic());
    expect(s.propose(0, clock.monotonic())?.kind).toBe('expand');
    s.settle(null, clock.monotonic());
    expect(s.propose(0, clock.monotonic())).toBeNull();
    clock.advance(BACKOFF_MS - 1);
    expect(s.propose(0, clock.monotonic())).toBeNull();
    clock.advance(1);
    expect(s.propose(0, clock.monotonic())).toEqual({ kind: 'expand', isr: [1, 2], added: [2] });
  });

  it('takes committed states in partition-epoch order only, and follows replica changes', () => {
    const clock = new ManualClock();
    const s = leader(clock);
    expect(s.applyCommitted({ isr: [1, 2], partitionEpoch: 4, replicas: [1, 2, 3] }, 0)).toBe(false);
    expect(s.isr).toEqual([1, 2, 3]);
    expect(s.applyCommitted({ isr: [1, 2], partitionEpoch: 6, replicas: [1, 2, 4] }, 0)).toBe(true);
    expect(s.isr).toEqual([1, 2]);
    expect(s.replicas).toEqual([1, 2, 4]);
    expect(s.progressOf(3)).toBeUndefined();
    expect(s.progressOf(4)).toEqual(unknownProgress(-Infinity));
    expect(s.applyCommitted({ isr: [1, 2, 3], partitionEpoch: 5, replicas: [1, 2, 3] }, 0)).toBe(false);
    // A dead member removed by the controller no longer holds the high watermark back.
    s.recordFetch(2, 10, 10, 0);
    expect(s.updateHighWatermark(10)).toBe(true);
  });

  it('refuses a leader outside its own ISR (a programmer error)', () => {
    const clock = new ManualClock();
    expect(() => leader(clock, { isr: [2, 3] })).toThrow(/not in its ISR/);
  });
});
