import { describe, expect, it } from 'vitest';
import { followerHighWatermark, onOutOfRange, placeBatch, verifyFrom, type OutOfRangeAction, type Placement } from '../../../../src/broker/replication/truncation.ts';

describe('verifyFrom (where checking against a new leader starts)', () => {
  const cases: { name: string; stored: number | null; start: number; end: number; at: number }[] = [
    { name: 'the stored high watermark', stored: 40, start: 0, end: 55, at: 40 },
    { name: 'at most the log end', stored: 40, start: 0, end: 30, at: 30 },
    { name: 'at least the log start', stored: 5, start: 12, end: 55, at: 12 },
    { name: 'no stored high watermark: the log start', stored: null, start: 12, end: 55, at: 12 },
    { name: 'an empty log stays put', stored: null, start: 0, end: 0, at: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => expect(verifyFrom({ storedHighWatermark: c.stored, logStartOffset: c.start, logEndOffset: c.end })).toBe(c.at));
  }
});

describe('onOutOfRange', () => {
  const cases: { name: string; fetchOffset: number; leaderStart: number; leaderHw: number; action: OutOfRangeAction }[] = [
    { name: 'below the leader\'s log start: restart at it', fetchOffset: 5, leaderStart: 100, leaderHw: 150, action: { kind: 'reset', offset: 100 } },
    { name: 'beyond the leader\'s log (unclean election): truncate to its high watermark', fetchOffset: 90, leaderStart: 0, leaderHw: 70, action: { kind: 'truncate', offset: 70 } },
    { name: 'inside the leader\'s range: a stale answer, fetch again', fetchOffset: 60, leaderStart: 0, leaderHw: 70, action: { kind: 'retry' } },
    { name: 'unknown leader offsets: fetch again', fetchOffset: 60, leaderStart: -1, leaderHw: -1, action: { kind: 'retry' } },
  ];
  for (const c of cases) {
    it(c.name, () => expect(onOutOfRange(c.fetchOffset, { logStartOffset: c.leaderStart, highWatermark: c.leaderHw })).toEqual(c.action));
  }
});

describe('placeBatch', () => {
  const cases: { name: string; base: number; start: number; end: number; fetchOffset?: number; placement: Placement }[] = [
    { name: 'at the log end: append', base: 10, start: 0, end: 10, placement: { kind: 'append' } },
    { name: 'at the fetch position, below the log end: compare it with this log\'s batch', base: 6, start: 0, end: 10, fetchOffset: 6, placement: { kind: 'verify' } },
    { name: 'after the fetch position: a gap, fetch again', base: 12, start: 0, end: 10, placement: { kind: 'gap' } },
    { name: 'after the fetch position while checking: a gap too', base: 8, start: 0, end: 10, fetchOffset: 6, placement: { kind: 'gap' } },
    { name: 'before an empty log\'s start (the leader\'s log start is mid-batch): restart there', base: 97, start: 100, end: 100, placement: { kind: 'reset', offset: 97 } },
    { name: 'before the fetch position in a non-empty log: batch boundaries differ, truncate', base: 7, start: 0, end: 10, placement: { kind: 'truncate', offset: 7 } },
  ];
  for (const c of cases) {
    it(c.name, () => expect(placeBatch(c.base, { logStartOffset: c.start, logEndOffset: c.end, fetchOffset: c.fetchOffset ?? c.end })).toEqual(c.placement));
  }
});

describe('followerHighWatermark', () => {
  it('is the leader\'s as far as the follower\'s checked log reaches', () => {
    expect(followerHighWatermark(50, 40)).toBe(40);
    expect(followerHighWatermark(30, 40)).toBe(30);
    expect(followerHighWatermark(-1, 40)).toBe(0);
  });
});
