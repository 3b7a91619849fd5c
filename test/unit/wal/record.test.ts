import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeRecordHead, parseOne, parseRecords, recordBytes } from '../../../wal/record.ts';
import { testSeed } from '../../helpers/wal-random.ts';

function record(logId: string, epoch: number, entryId: number, payload: Buffer): Buffer {
  const id = Buffer.from(logId);
  return Buffer.concat([encodeRecordHead(id, epoch, entryId, [payload], payload.length), payload]);
}

describe('segment records', () => {
  it('round-trips log id, epoch, entry id and payload, including ids near 2^53', () => {
    const payload = Buffer.from('opaque bytes');
    const bytes = Buffer.concat([record('broker-3', 7, 2 ** 53 - 1, payload), record('é-log', 0xffff_ffff, 0, Buffer.alloc(0))]);
    const r = parseRecords(bytes);
    expect(r.tornReason).toBeNull();
    expect(r.validBytes).toBe(bytes.length);
    expect(r.records.map((x) => [x.logId, x.epoch, x.entryId, x.payloadBytes])).toEqual([
      ['broker-3', 7, 2 ** 53 - 1, payload.length],
      ['é-log', 0xffff_ffff, 0, 0],
    ]);
    const first = r.records[0]!;
    expect(bytes.subarray(first.payloadOffset, first.payloadOffset + first.payloadBytes)).toEqual(payload);
    expect(first.bytes).toBe(recordBytes(Buffer.byteLength('broker-3'), payload.length));
  });

  it('computes the CRC over a payload given in several parts as over the whole', () => {
    const id = Buffer.from('log');
    const parts = [Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')];
    const split = Buffer.concat([encodeRecordHead(id, 1, 9, parts, 6), ...parts]);
    expect(split).toEqual(record('log', 1, 9, Buffer.from('abcdef')));
  });

  it('stops at every possible tear and keeps the whole records before it', () => {
    const a = record('log', 1, 0, Buffer.from('first'));
    const b = record('log', 1, 1, Buffer.from('second entry'));
    const both = Buffer.concat([a, b]);
    for (let cut = 0; cut <= both.length; cut++) {
      const r = parseRecords(both.subarray(0, cut));
      const expected = cut >= both.length ? 2 : cut >= a.length ? 1 : 0;
      expect(r.records).toHaveLength(expected);
      expect(r.validBytes).toBe(expected === 2 ? both.length : expected === 1 ? a.length : 0);
      expect(r.tornReason === null).toBe(cut === 0 || cut === a.length || cut === both.length);
    }
  });

  it('detects a flipped bit anywhere in a record', () => {
    const a = record('log', 1, 0, Buffer.from('payload'));
    for (let i = 0; i < a.length * 8; i++) {
      const bad = Buffer.from(a);
      bad[i >> 3]! ^= 1 << (i & 7);
      const r = parseOne(bad, 0);
      expect(typeof r, `bit ${i}`).toBe('string');
    }
  });

  it('zeros (a preallocated or torn block) are not a record', () => {
    expect(parseRecords(Buffer.alloc(64)).records).toHaveLength(0);
    expect(parseRecords(Buffer.alloc(64)).tornReason).not.toBeNull();
  });

  // Invariants: parsing never throws; the valid prefix is never longer than the input;
  // re-parsing the valid prefix gives the same records and reports it wholly valid.
  it('fuzz: keeps its invariants on arbitrary bytes and on damaged valid segments', () => {
    const seed = testSeed('wal record fuzz');
    const validSegment = fc
      .array(fc.record({ epoch: fc.nat(), id: fc.nat(), payload: fc.uint8Array({ maxLength: 64 }) }), { maxLength: 6 })
      .map((rs) => Buffer.concat(rs.map((r) => record('log', r.epoch, r.id, Buffer.from(r.payload)))));
    const damaged = fc.tuple(validSegment, fc.nat(), fc.nat({ max: 255 }), fc.nat()).map(([seg, at, byte, cut]) => {
      const b = Buffer.from(seg);
      if (b.length > 0) b[at % b.length] = byte;
      return b.subarray(0, b.length === 0 ? 0 : cut % (b.length + 1));
    });
    const input = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)), damaged, validSegment);
    fc.assert(
      fc.property(input, (buf) => {
        const r = parseRecords(buf);
        expect(r.validBytes).toBeLessThanOrEqual(buf.length);
        const again = parseRecords(buf.subarray(0, r.validBytes));
        expect(again.tornReason).toBeNull();
        expect(again.records).toEqual(r.records);
      }),
      { seed, numRuns: 2000 },
    );
  });
});
