import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BATCH_HEADER_BYTES, readBatchHeader } from '../../../src/protocol/record-batch.ts';
import { decodeRecordBatch, encodeRecordBatch, type BatchOptions, type RecordInput } from '../../../src/protocol/records.ts';
import { buffersEqual } from '../../helpers/protocol-arbitrary.ts';

expect.addEqualityTesters([buffersEqual]);

const buf = (maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const BASE_TIMESTAMP_MAX = 2 ** 45;

const recordInput = (baseTimestamp: number): fc.Arbitrary<RecordInput> =>
  fc.record(
    {
      key: fc.option(buf(16), { nil: null }),
      value: fc.option(buf(300), { nil: null }),
      headers: fc.array(fc.record({ key: fc.string({ unit: 'grapheme', maxLength: 8 }), value: fc.option(buf(8), { nil: null }) }), {
        maxLength: 3,
      }),
      timestamp: fc.integer({ min: baseTimestamp - 2 ** 31, max: baseTimestamp + 2 ** 31 }),
    },
    { requiredKeys: ['value'] },
  );

const batchInput = fc.nat({ max: BASE_TIMESTAMP_MAX }).chain((baseTimestamp) =>
  fc.tuple(
    fc.array(recordInput(baseTimestamp), { minLength: 1, maxLength: 8 }),
    fc.record({
      baseOffset: fc.nat({ max: 2 ** 50 }),
      baseTimestamp: fc.constant(baseTimestamp),
      producerId: fc.integer({ min: -1, max: 2 ** 40 }),
      producerEpoch: fc.integer({ min: -1, max: 32767 }),
      baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
      partitionLeaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    }),
  ),
);

describe('encodeRecordBatch / decodeRecordBatch', () => {
  it('decodeRecordBatch(encodeRecordBatch(x)) returns x (property)', () => {
    fc.assert(
      fc.property(batchInput, ([records, opts]) => {
        const batch = encodeRecordBatch(records, opts);
        expect(decodeRecordBatch(batch)).toStrictEqual(
          records.map((r, i) => ({
            offset: opts.baseOffset + i,
            timestamp: r.timestamp ?? opts.baseTimestamp,
            key: r.key ?? null,
            value: r.value,
            headers: (r.headers ?? []).map((h) => ({ ...h })),
          })),
        );
      }),
      { numRuns: 150 },
    );
  });

  it('writes a header that describes the records (property)', () => {
    fc.assert(
      fc.property(batchInput, ([records, opts]: [RecordInput[], Required<Omit<BatchOptions, 'attributes'>>]) => {
        const batch = encodeRecordBatch(records, opts);
        const h = readBatchHeader(batch);
        const timestamps = records.map((r) => r.timestamp ?? opts.baseTimestamp);
        expect(h).toMatchObject({
          baseOffset: opts.baseOffset,
          sizeBytes: batch.length,
          partitionLeaderEpoch: opts.partitionLeaderEpoch,
          magic: 2,
          attributes: 0,
          lastOffsetDelta: records.length - 1,
          baseTimestamp: opts.baseTimestamp,
          maxTimestamp: Math.max(opts.baseTimestamp, ...timestamps),
          producerId: opts.producerId,
          producerEpoch: opts.producerEpoch,
          baseSequence: opts.baseSequence,
          recordCount: records.length,
        });
        expect(batch.length).toBeGreaterThan(BATCH_HEADER_BYTES);
      }),
      { numRuns: 100 },
    );
  });

  it('decodes a batch in the middle of a buffer', () => {
    const a = encodeRecordBatch([{ value: Buffer.from('a') }], { baseTimestamp: 1 });
    const b = encodeRecordBatch([{ value: Buffer.from('b') }], { baseTimestamp: 2, baseOffset: 1 });
    const both = Buffer.concat([a, b]);
    expect(decodeRecordBatch(both, a.length)).toStrictEqual([{ offset: 1, timestamp: 2, key: null, value: Buffer.from('b'), headers: [] }]);
  });

  it('refuses an empty batch and a compressed one', () => {
    expect(() => encodeRecordBatch([])).toThrow(RangeError);
    const gzip = encodeRecordBatch([{ value: null }], { baseTimestamp: 0, attributes: 1 });
    expect(() => decodeRecordBatch(gzip)).toThrow(RangeError);
  });
});
