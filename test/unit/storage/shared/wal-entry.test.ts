// The broker WAL entry format: round trips, and malformed bytes fail with the typed error
// (never another exception, never a batch outside the input).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeWalEntry, encodeWalEntry, WalEntryFormatError, type WalBatch } from '../../../../src/storage/shared/wal-entry.ts';

const batchArb: fc.Arbitrary<WalBatch> = fc
  .record({
    topic: fc.stringMatching(/^[a-zA-Z0-9._-]{1,40}$/),
    topicId: fc.stringMatching(/^[0-9a-f]{32}$/),
    partition: fc.integer({ min: 0, max: 10_000 }),
    leaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    baseOffset: fc.integer({ min: 0, max: 2 ** 52 }),
    count: fc.integer({ min: 1, max: 10_000 }),
    batch: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  })
  .map(({ count, ...b }) => ({ ...b, nextOffset: b.baseOffset + count }));

describe('WAL entry format', () => {
  it('decode(encode(items)) gives the items back', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { maxLength: 20 }), (items) => {
        const bytes = Buffer.concat(encodeWalEntry(items));
        const back = decodeWalEntry(bytes);
        expect(back.map((b) => ({ ...b, batch: Buffer.from(b.batch) }))).toEqual(items);
      }),
    );
  });

  it('refuses truncated or trailing bytes with WalEntryFormatError', () => {
    fc.assert(
      fc.property(fc.array(batchArb, { minLength: 1, maxLength: 5 }), fc.nat(), (items, cut) => {
        const bytes = Buffer.concat(encodeWalEntry(items));
        const at = cut % bytes.length;
        expect(() => decodeWalEntry(bytes.subarray(0, at))).toThrow(WalEntryFormatError);
        expect(() => decodeWalEntry(Buffer.concat([bytes, Buffer.from([0])]))).toThrow(WalEntryFormatError);
      }),
    );
  });

  it('never throws anything but WalEntryFormatError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (raw) => {
        try {
          const items = decodeWalEntry(Buffer.from(raw));
          for (const b of items) expect(b.batch.length).toBeLessThanOrEqual(raw.length);
        } catch (err) {
          expect(err).toBeInstanceOf(WalEntryFormatError);
        }
      }),
    );
  });
});
