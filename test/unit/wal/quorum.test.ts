import { describe, expect, it } from 'vitest';
import { checkQuorumConfig, chooseTail, defaultAckQuorum, fenceQuorum } from '../../../wal/quorum.ts';
import type { NodeReport } from '../../../wal/quorum.ts';
import type { LogState } from '../../../wal/store.ts';

describe('quorum arithmetic', () => {
  it.each([
    // nodes, ackQuorum, fence quorum
    [1, 1, 1],
    [3, 2, 2],
    [3, 1, 3],
    [3, 3, 1],
    [5, 3, 3],
    [5, 2, 4],
  ])('%i nodes with ack quorum %i: recovery fences %i', (n, q, r) => {
    expect(fenceQuorum(n, q)).toBe(r);
    // The point of the number: every ack quorum meets every fence quorum.
    expect(q + r).toBeGreaterThan(n);
  });

  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
  ])('the default ack quorum of %i nodes is %i', (n, q) => {
    expect(defaultAckQuorum(n)).toBe(q);
  });

  it.each([
    [0, 1],
    [3, 0],
    [3, 4],
    [17, 9],
    [3, 1.5],
  ])('refuses %i nodes with ack quorum %d', (n, q) => {
    expect(() => checkQuorumConfig(n, q)).toThrow(/nodes|ackQuorum/);
  });
});

function st(p: Partial<LogState> = {}): LogState {
  return { fenceEpoch: 9, trimmedUpTo: 0, truncEpoch: 0, truncFrom: 0, endEntryId: 0, entryCount: 0, ...p };
}

/** A report from "id@epoch:value" strings. */
function node(name: string, entries: string[], state: Partial<LogState> = {}): NodeReport {
  return {
    node: name,
    state: st(state),
    entries: entries.map((s) => {
      const m = /^(\d+)@(\d+):(.*)$/.exec(s)!;
      return { entryId: Number(m[1]), epoch: Number(m[2]), payload: Buffer.from(m[3]!) };
    }),
  };
}

function chosen(reports: NodeReport[], from = 0): string[] {
  return chooseTail(reports, from).entries.map((e) => `${e.entryId}@${e.epoch}:${e.payload.toString()}`);
}

describe('chooseTail', () => {
  it('takes the union of the nodes up to the first id none of them holds', () => {
    const a = node('a', ['0@1:x', '1@1:y', '3@1:w']);
    const b = node('b', ['0@1:x', '2@1:z']);
    expect(chosen([a, b])).toEqual(['0@1:x', '1@1:y', '2@1:z', '3@1:w']);
    expect(chooseTail([a, b]).nextEntryId).toBe(4);
    const c = node('c', ['0@1:x', '1@1:y', '3@1:w']);
    expect(chosen([a, c])).toEqual(['0@1:x', '1@1:y']);
  });

  it('prefers the newest epoch of an id', () => {
    const a = node('a', ['0@1:x', '1@1:stale']);
    const b = node('b', ['0@2:x', '1@2:rewritten']);
    expect(chosen([a, b])).toEqual(['0@2:x', '1@2:rewritten']);
  });

  it('lets a newer truncation marker outvote older versions: a truncated entry stays truncated', () => {
    // A recovery at 2 ended the log before 1; node a missed its marker and still holds 1@1.
    const a = node('a', ['0@1:x', '1@1:cut', '2@1:cut']);
    const b = node('b', ['0@2:x'], { truncEpoch: 2, truncFrom: 1 });
    expect(chosen([a, b])).toEqual(['0@2:x']);
  });

  it('lets the new writer\'s entries win the tie with the marker of their own epoch', () => {
    const a = node('a', ['0@2:x', '1@2:new'], { truncEpoch: 2, truncFrom: 1 });
    const b = node('b', ['0@1:x', '1@1:old-cut'], {});
    expect(chosen([a, b])).toEqual(['0@2:x', '1@2:new']);
  });

  it('starts at the largest trim point', () => {
    const a = node('a', ['5@1:f', '6@1:g'], { trimmedUpTo: 5 });
    const b = node('b', ['3@1:d', '4@1:e', '5@1:f'], { trimmedUpTo: 3 });
    const t = chooseTail([a, b]);
    expect(t.trimmedUpTo).toBe(5);
    expect(chosen([a, b])).toEqual(['5@1:f', '6@1:g']);
    expect(t.nextEntryId).toBe(7);
  });

  it('returns an empty tail that continues at the trim point', () => {
    const t = chooseTail([node('a', [], { trimmedUpTo: 40 }), node('b', [])]);
    expect(t).toEqual({ trimmedUpTo: 40, entries: [], nextEntryId: 40 });
  });

  it('starts later for plain reads', () => {
    const a = node('a', ['0@1:a', '1@1:b', '2@1:c']);
    expect(chosen([a], 1)).toEqual(['1@1:b', '2@1:c']);
    expect(chooseTail([a], 1).nextEntryId).toBe(3);
  });

  it('refuses two payloads for one id at one epoch', () => {
    expect(() => chooseTail([node('a', ['0@1:x']), node('b', ['0@1:y'])])).toThrow(/two different payloads/);
  });
});
