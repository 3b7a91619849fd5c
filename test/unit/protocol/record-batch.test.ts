/**
 * RecordBatch v2 header checks and the batch scanner.
 *
 * Fuzzed invariants (fast-check prints the seed of any failure; rerun with it):
 *  1. checkProducedBatch never throws, whatever the bytes and the size limit.
 *  2. scanBatches never throws; the valid prefix it returns lies within the input
 *     (start ≤ end ≤ length); the batches it visits tile that prefix exactly; and
 *     re-scanning only the valid prefix visits the same batches and returns its end.
 *  3. A batch built by encodeRecordBatch passes checkProducedBatch, and flipping any
 *     single bit from byte 21 (the start of the CRC-32C's coverage) on makes it fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../src/protocol/crc32c.ts';
import { ErrorCode } from '../../../src/protocol/errors.ts';
import {
  BATCH_HEADER_BYTES,
  BatchAttr,
  checkProducedBatch,
  crcMatches,
  lastOffsetOf,
  readBatchHeader,
  scanBatches,
  setBaseOffset,
  setPartitionLeaderEpoch,
  type BatchHeader,
} from '../../../src/protocol/record-batch.ts';
import { encodeRecordBatch, type RecordInput } from '../../../src/protocol/records.ts';

const MAX_MESSAGE_BYTES = 1 << 20;

const recordInput: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a)), { nil: null }),
});
const validBatch: fc.Arbitrary<Buffer> = fc
  .tuple(fc.array(recordInput, { minLength: 1, maxLength: 5 }), fc.nat({ max: 2 ** 40 }), fc.integer({ min: -1, max: 2 ** 31 - 1 }))
  .map(([records, baseTimestamp, baseSequence]) =>
    encodeRecordBatch(records, { baseTimestamp, producerId: baseSequence < 0 ? -1 : 1000, producerEpoch: 0, baseSequence }),
  );

/** Rewrites a header field and recomputes the CRC, so that only that field is wrong. */
function withField(batch: Buffer, edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(batch);
  edit(b);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

const batchOf = (n: number, opts: { attributes?: number } = {}): Buffer =>
  encodeRecordBatch(
    Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`v${i}`) })),
    { baseTimestamp: 1_700_000_000_000, ...opts },
  );

describe('checkProducedBatch', () => {
  it('accepts a well-formed batch and returns its header', () => {
    const b = batchOf(3);
    const check = checkProducedBatch(b, MAX_MESSAGE_BYTES);
    expect(check.ok).toBe(true);
    if (check.ok) {
      expect(check.header.recordCount).toBe(3);
      expect(check.header.lastOffsetDelta).toBe(2);
      expect(check.header.sizeBytes).toBe(b.length);
    }
  });

  it.each<[string, () => Buffer, number]>([
    ['fewer bytes than a header', () => Buffer.alloc(BATCH_HEADER_BYTES - 1), ErrorCode.CORRUPT_MESSAGE],
    ['magic 1', () => withField(batchOf(1), (b) => b.writeInt8(1, 16)), ErrorCode.UNSUPPORTED_VERSION],
    ['a truncated batch', () => batchOf(2).subarray(0, -1), ErrorCode.CORRUPT_MESSAGE],
    ['two batches', () => Buffer.concat([batchOf(1), batchOf(1)]), ErrorCode.INVALID_RECORD],
    ['a batchLength shorter than the header', () => withField(batchOf(1), (b) => b.writeInt32BE(10, 8)), ErrorCode.CORRUPT_MESSAGE],
    ['a negative batchLength', () => withField(batchOf(1), (b) => b.writeInt32BE(-100, 8)), ErrorCode.CORRUPT_MESSAGE],
    ['a CRC mismatch', () => {
      const b = batchOf(1);
      b[b.length - 1]! ^= 1;
      return b;
    }, ErrorCode.CORRUPT_MESSAGE],
    ['zero records', () => withField(batchOf(1), (b) => b.writeInt32BE(0, 57)), ErrorCode.CORRUPT_MESSAGE],
    ['lastOffsetDelta ≠ recordCount − 1', () => withField(batchOf(2), (b) => b.writeInt32BE(0, 23)), ErrorCode.CORRUPT_MESSAGE],
    ['codec 5', () => batchOf(1, { attributes: 5 }), ErrorCode.CORRUPT_MESSAGE],
    ['a control batch', () => batchOf(1, { attributes: BatchAttr.CONTROL }), ErrorCode.INVALID_RECORD],
  ])('refuses %s', (_name, make, errorCode) => {
    const check = checkProducedBatch(make(), MAX_MESSAGE_BYTES);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.errorCode).toBe(errorCode);
  });

  it('refuses a batch larger than max.message.bytes, and accepts one exactly at it', () => {
    const b = batchOf(4);
    const over = checkProducedBatch(b, b.length - 1);
    expect(over.ok ? 0 : over.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(checkProducedBatch(b, b.length).ok).toBe(true);
  });

  it('does not look at baseOffset or partitionLeaderEpoch (outside the CRC; clients send anything)', () => {
    const b = batchOf(2);
    setBaseOffset(b, 123_456_789_012);
    setPartitionLeaderEpoch(b, 77);
    const check = checkProducedBatch(b, MAX_MESSAGE_BYTES);
    expect(check.ok).toBe(true);
    expect(readBatchHeader(b).baseOffset).toBe(123_456_789_012);
    expect(readBatchHeader(b).partitionLeaderEpoch).toBe(77);
    expect(crcMatches(b)).toBe(true);
  });

  it('never throws on arbitrary bytes (invariant 1)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), fc.integer({ min: 0, max: 1000 }), (a, max) => {
        const check = checkProducedBatch(Buffer.from(a), max);
        expect(typeof check.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on mutated valid batches (invariant 1)', () => {
    fc.assert(
      fc.property(validBatch, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), (batch, edits, cut) => {
        const b = Buffer.from(batch);
        for (const [at, v] of edits) b[at % b.length] = v;
        expect(typeof checkProducedBatch(b.subarray(0, b.length - (cut % 8)), MAX_MESSAGE_BYTES).ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });

  it('passes every valid batch and fails it after any single bit flip from byte 21 on (invariant 3)', () => {
    fc.assert(
      fc.property(validBatch, fc.nat(), (batch, bitSeed) => {
        expect(checkProducedBatch(batch, MAX_MESSAGE_BYTES).ok).toBe(true);
        const bit = 21 * 8 + (bitSeed % ((batch.length - 21) * 8));
        const flipped = Buffer.from(batch);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expect(checkProducedBatch(flipped, MAX_MESSAGE_BYTES).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('fails after every one of the single bit flips of one batch (exhaustive, invariant 3)', () => {
    const batch = encodeRecordBatch([{ key: Buffer.from('k'), value: Buffer.from('value'), headers: [{ key: 'h', value: null }] }], {
      baseTimestamp: 1_700_000_000_000,
      producerId: 5,
      producerEpoch: 1,
      baseSequence: 0,
    });
    for (let bit = 21 * 8; bit < batch.length * 8; bit++) {
      const flipped = Buffer.from(batch);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const check = checkProducedBatch(flipped, MAX_MESSAGE_BYTES);
      expect(check.ok, `bit ${bit}`).toBe(false);
      if (!check.ok) expect(check.errorCode, `bit ${bit}`).toBe(ErrorCode.CORRUPT_MESSAGE);
    }
  });
});

describe('scanBatches', () => {
  const scan = (buf: Buffer, at = 0): { end: number; seen: { at: number; h: BatchHeader }[] } => {
    const seen: { at: number; h: BatchHeader }[] = [];
    const end = scanBatches(buf, (h, pos) => seen.push({ at: pos, h }), at);
    return { end, seen };
  };

  it('walks whole batches and stops where a torn tail starts', () => {
    const a = batchOf(2);
    const b = batchOf(3);
    setBaseOffset(b, 2);
    const log = Buffer.concat([a, b, b.subarray(0, 30)]);
    const { end, seen } = scan(log);
    expect(end).toBe(a.length + b.length);
    expect(seen.map((s) => s.at)).toStrictEqual([0, a.length]);
    expect(seen.map((s) => lastOffsetOf(s.h))).toStrictEqual([1, 4]);
  });

  it('starts at the given position and stops at a batch with another magic', () => {
    const a = batchOf(1);
    const bad = withField(batchOf(1), (x) => x.writeInt8(1, 16));
    const { end, seen } = scan(Buffer.concat([a, a, bad, a]), a.length);
    expect(end).toBe(2 * a.length);
    expect(seen.map((s) => s.at)).toStrictEqual([a.length]);
  });

  const checkScan = (buf: Buffer, start: number): void => {
    const { end, seen } = scan(buf, start);
    expect(end).toBeGreaterThanOrEqual(start);
    expect(end).toBeLessThanOrEqual(buf.length);
    // The visited batches tile [start, end) exactly.
    let pos = start;
    for (const s of seen) {
      expect(s.at).toBe(pos);
      pos += s.h.sizeBytes;
    }
    expect(pos).toBe(end);
    // Re-scanning only the valid prefix gives the same batches and the same end.
    const again = scan(buf.subarray(0, end), start);
    expect(again.end).toBe(end);
    expect(again.seen).toStrictEqual(seen);
  };

  it('keeps its invariants on arbitrary bytes (invariant 2)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 40 }), (a, start) => {
        const buf = Buffer.from(a);
        checkScan(buf, Math.min(start, buf.length));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps its invariants on valid logs with corrupted bytes and torn tails (invariant 2)', () => {
    fc.assert(
      fc.property(
        fc.array(validBatch, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.nat(),
        (batches, edits, cut) => {
          const log = Buffer.concat(batches);
          const clean = scan(log);
          expect(clean.end).toBe(log.length);
          expect(clean.seen).toHaveLength(batches.length);
          for (const [at, v] of edits) log[at % log.length] = v;
          checkScan(log.subarray(0, log.length - (cut % 100)), 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
