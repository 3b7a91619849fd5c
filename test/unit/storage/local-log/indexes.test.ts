import { describe, expect, it } from 'vitest';
import { OffsetIndex, TimeIndex } from '../../../../src/storage/local-log/indexes.ts';

function offsetFile(entries: [number, number][]): Buffer {
  const b = Buffer.alloc(entries.length * 8);
  entries.forEach(([rel, pos], i) => {
    b.writeUInt32BE(rel, i * 8);
    b.writeUInt32BE(pos, i * 8 + 4);
  });
  return b;
}

describe('OffsetIndex', () => {
  it('finds the last entry at or below a relative offset', () => {
    const idx = new OffsetIndex();
    for (const [rel, pos] of [[3, 100], [7, 250], [12, 600]] as const) idx.append(rel, pos);
    const table: [number, number][] = [[0, -1], [2, -1], [3, 0], [6, 0], [7, 1], [11, 1], [12, 2], [1000, 2]];
    for (const [rel, expected] of table) expect(idx.floor(rel), `rel ${rel}`).toBe(expected);
    expect(idx.countBelowPosition(250)).toBe(1);
    expect(idx.countBelowPosition(251)).toBe(2);
  });

  it('refuses an entry that does not follow the last one', () => {
    const idx = new OffsetIndex();
    idx.append(5, 100);
    expect(() => idx.append(5, 200)).toThrow();
    expect(() => idx.append(6, 100)).toThrow();
  });

  it('round-trips through its file bytes, growing past its first buffer', () => {
    const idx = new OffsetIndex();
    for (let i = 0; i < 1000; i++) idx.append(i * 2 + 1, i * 100 + 10);
    const loaded = OffsetIndex.load(Buffer.from(idx.bytes()), 1_000_000);
    expect(loaded.count).toBe(1000);
    expect(loaded.relAt(999)).toBe(1999);
    expect(loaded.posAt(999)).toBe(99_910);
  });

  it('keeps only the valid prefix of a damaged file', () => {
    const cases: { name: string; file: Buffer; size: number; count: number }[] = [
      { name: 'empty', file: Buffer.alloc(0), size: 1000, count: 0 },
      { name: 'torn last entry', file: offsetFile([[1, 10], [2, 20]]).subarray(0, 13), size: 1000, count: 1 },
      { name: 'offsets go back', file: offsetFile([[1, 10], [5, 20], [4, 30]]), size: 1000, count: 2 },
      { name: 'positions go back', file: offsetFile([[1, 10], [5, 20], [6, 20]]), size: 1000, count: 2 },
      { name: 'position past the segment', file: offsetFile([[1, 10], [5, 2000]]), size: 1000, count: 1 },
      { name: 'zeros (a file extended but never written)', file: Buffer.alloc(32), size: 1000, count: 1 },
    ];
    for (const c of cases) expect(OffsetIndex.load(c.file, c.size).count, c.name).toBe(c.count);
  });
});

describe('TimeIndex', () => {
  it('answers where to start looking for a timestamp', () => {
    const t = new TimeIndex();
    t.append(100, 4);
    t.append(100, 8);
    t.append(250, 12);
    t.append(250, 12); // a repeat is dropped
    expect(t.count).toBe(3);
    const table: [number, number][] = [[50, 0], [100, 0], [101, 8], [250, 8], [251, 12]];
    for (const [ts, rel] of table) expect(t.startRelFor(ts), `ts ${ts}`).toBe(rel);
    expect(t.countUpToRel(8)).toBe(2);
  });

  it('keeps timestamps beyond 32 bits and negative ones exact', () => {
    const t = new TimeIndex();
    t.append(-1, 1);
    t.append(1_700_000_000_123, 2);
    const loaded = TimeIndex.load(Buffer.from(t.bytes()));
    expect([loaded.timestampAt(0), loaded.timestampAt(1)]).toEqual([-1, 1_700_000_000_123]);
  });

  it('keeps only the valid prefix of a damaged file', () => {
    const t = new TimeIndex();
    t.append(10, 1);
    t.append(20, 2);
    const bytes = Buffer.from(t.bytes());
    expect(TimeIndex.load(bytes.subarray(0, 20)).count).toBe(1);
    const backwards = Buffer.concat([bytes, bytes.subarray(0, 12)]);
    expect(TimeIndex.load(backwards).count).toBe(2);
  });
});
