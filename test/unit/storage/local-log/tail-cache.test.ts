import { describe, expect, it } from 'vitest';
import { TailCache } from '../../../../src/storage/local-log/tail-cache.ts';

function filled(): TailCache {
  const c = new TailCache();
  // Batches [0,2) [2,5) [5,6) [6,10) of 100 bytes each.
  for (const [base, next] of [[0, 2], [2, 5], [5, 6], [6, 10]] as const) c.push({ base, next, buf: Buffer.alloc(100, base), maxTimestamp: base });
  return c;
}

describe('TailCache', () => {
  it('reads whole batches from the one containing the offset, within maxBytes and maxOffset', () => {
    const c = filled();
    expect(c.read(3, 1000, 10)!.chunks.map((b) => b[0])).toEqual([2, 5, 6]);
    expect(c.read(3, 150, 10)!.chunks.map((b) => b[0])).toEqual([2]);
    expect(c.read(3, 10, 10)!.chunks.map((b) => b[0])).toEqual([2]);
    expect(c.read(3, 1000, 9)!.chunks.map((b) => b[0])).toEqual([2, 5]);
    expect(c.read(3, 1000, 4)!.bytes).toBe(0);
    expect(c.read(10, 1000, 20)).toBeNull();
  });

  it('evicts only committed batches, oldest first, down to its limit', () => {
    const c = filled();
    c.evict(5, 150);
    expect(c.firstBase()).toBe(5);
    expect(c.bytes).toBe(200);
    expect(c.read(3, 100, 10)).toBeNull();
    // Over the limit, but nothing more is committed: nothing goes.
    c.evict(5, 0);
    expect(c.firstBase()).toBe(5);
  });

  it('drops batches from an offset on when an append failed', () => {
    const c = filled();
    c.truncateFrom(5);
    expect(c.bytes).toBe(200);
    expect(c.read(0, 1000, 100)!.chunks.map((b) => b[0])).toEqual([0, 2]);
    c.truncateFrom(0);
    expect(c.firstBase()).toBeNull();
  });

  it('compacts its array as it evicts', () => {
    const c = new TailCache();
    for (let i = 0; i < 5000; i++) c.push({ base: i, next: i + 1, buf: Buffer.alloc(10), maxTimestamp: 0 });
    c.evict(4990, 100);
    expect(c.size).toBe(10);
    expect(c.read(4995, 1000, 5000)!.chunks.length).toBe(5);
  });
});
