/**
 * The object format against its written invariants (fast-check reports the seed and
 * path of any failing case, so a failure reproduces):
 * 1. parse(build(x)) == x: every entry, its metadata and its section bytes come back.
 * 2. Parsing any bytes (random, truncated, bit-flipped) either succeeds or throws
 *    ObjectStoreError FLOE_ERR_OBJECT_CORRUPT; never anything else.
 * 3. Corruption is never served: a flipped bit anywhere in an object is caught by the
 *    footer, the index, or the CRC of the section it falls in.
 */
import fc from 'fast-check';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import {
  decodeFooter,
  encodeFooter,
  encodeIndex,
  objectFormat,
  objectLimits,
  parseObject,
  verifySection,
} from '../../../objectstore/object-format.ts';
import type { ObjectIndex } from '../../../objectstore/object-format.ts';
import { ObjectBuilder } from '../../../objectstore/object-writer.ts';
import type { SectionInput } from '../../../objectstore/object-writer.ts';
import { ObjectStoreError, objectStoreErrorCodes } from '../../../objectstore/object-store.ts';

const arbSection: fc.Arbitrary<SectionInput> = fc
  .record({
    streamId: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
    startOffset: fc.maxSafeNat(),
    span: fc.nat({ max: 1_000_000 }),
    data: fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
    metadata: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
  })
  .map(({ streamId, startOffset, span, data, metadata }) => ({
    streamId,
    startOffset,
    endOffset: Math.min(Number.MAX_SAFE_INTEGER, startOffset + span),
    data: data.map((d) => Buffer.from(d)),
    ...(metadata === undefined ? {} : { metadata: Buffer.from(metadata) }),
  }));

function build(sections: readonly SectionInput[]): { bytes: Buffer; index: ObjectIndex } {
  const b = new ObjectBuilder();
  for (const s of sections) b.addSection(s);
  const built = b.build();
  const bytes = Buffer.concat(built.chunks);
  expect(bytes.length).toBe(built.size);
  expect(b.sizeBytes).toBe(built.size);
  return { bytes, index: built.index };
}

function expectCorrupt(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ObjectStoreError);
    expect((err as ObjectStoreError).code).toBe(objectStoreErrorCodes.corrupt);
    return;
  }
  throw new Error('expected FLOE_ERR_OBJECT_CORRUPT, but nothing was thrown');
}

/** Parses and reads every section; throws (corrupt) if anything fails a check. */
function parseAndVerifyAll(bytes: Buffer): void {
  const index = parseObject(bytes);
  for (const e of index.entries) verifySection(e, bytes.subarray(e.position, e.position + e.length));
}

describe('object format: round trip', () => {
  it('parse(build(sections)) gives back every entry, metadata and section byte', () => {
    fc.assert(
      fc.property(fc.array(arbSection, { maxLength: 12 }), (sections) => {
        const { bytes, index } = build(sections);
        const parsed = parseObject(bytes);
        expect(parsed).toEqual(index);
        expect(parsed.entries.length).toBe(sections.length);
        parsed.entries.forEach((e, i) => {
          const s = sections[i]!;
          expect(e.streamId).toBe(s.streamId);
          expect(e.startOffset).toBe(s.startOffset);
          expect(e.endOffset).toBe(s.endOffset);
          expect(e.metadata.equals(s.metadata ?? Buffer.alloc(0))).toBe(true);
          const section = bytes.subarray(e.position, e.position + e.length);
          expect(section.equals(Buffer.concat(Buffer.isBuffer(s.data) ? [s.data] : s.data))).toBe(true);
          verifySection(e, section);
        });
      }),
    );
  });

  it('keeps the caller buffers as they are: the object is a list of references, not a copy', () => {
    const a = Buffer.from('first batch');
    const b = Buffer.from('second batch');
    const builder = new ObjectBuilder();
    builder.addSection({ streamId: 't/0', startOffset: 0, endOffset: 2, data: [a, b] });
    const built = builder.build();
    expect(built.chunks[0]).toBe(a);
    expect(built.chunks[1]).toBe(b);
    expect(built.chunks).toHaveLength(4); // two sections' buffers, index, footer
  });

  it('stores offsets up to 2^53 - 1 exactly', () => {
    const { bytes } = build([{ streamId: 'big/7', startOffset: Number.MAX_SAFE_INTEGER - 1, endOffset: Number.MAX_SAFE_INTEGER, data: Buffer.from('x') }]);
    const e = parseObject(bytes).entries[0]!;
    expect(e.startOffset).toBe(Number.MAX_SAFE_INTEGER - 1);
    expect(e.endOffset).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('an object without sections is valid (index and footer only)', () => {
    const { bytes } = build([]);
    expect(bytes.length).toBe(objectFormat.indexHeaderBytes + objectFormat.footerBytes);
    expect(parseObject(bytes).entries).toEqual([]);
  });
});

describe('object format: hostile input', () => {
  it('random bytes never make the parser throw anything but the typed corrupt error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (raw) => {
        try {
          parseObject(Buffer.from(raw));
        } catch (err) {
          expect(err).toBeInstanceOf(ObjectStoreError);
          expect((err as ObjectStoreError).code).toBe(objectStoreErrorCodes.corrupt);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes behind a valid-looking footer (right magic, CRCs, lengths) are caught by the index checks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 300 }), fc.nat({ max: 64 }), (indexRaw, dataLength) => {
        const index = Buffer.from(indexRaw);
        const footer = encodeFooter({ formatVersion: 1, indexPosition: dataLength, indexLength: index.length, indexCrc32c: crc32c(index) >>> 0 });
        const bytes = Buffer.concat([Buffer.alloc(dataLength, 0xab), index, footer]);
        try {
          parseAndVerifyAll(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ObjectStoreError);
          expect((err as ObjectStoreError).code).toBe(objectStoreErrorCodes.corrupt);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('every truncation of a valid object is reported as corrupt', () => {
    fc.assert(
      fc.property(fc.array(arbSection, { minLength: 1, maxLength: 5 }), fc.nat(), (sections, cut) => {
        const { bytes } = build(sections);
        const keep = cut % bytes.length; // strictly shorter than the object
        expectCorrupt(() => parseObject(bytes.subarray(0, keep)));
        expectCorrupt(() => parseObject(bytes.subarray(bytes.length - keep)));
      }),
    );
  });

  it('a flipped bit anywhere is detected before any byte is served', () => {
    fc.assert(
      fc.property(fc.array(arbSection, { minLength: 1, maxLength: 5 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (sections, at, bit) => {
        const { bytes } = build(sections);
        const bad = Buffer.from(bytes);
        const i = at % bad.length;
        bad[i] = bad[i]! ^ (1 << bit);
        expectCorrupt(() => parseAndVerifyAll(bad));
      }),
    );
  });
});

describe('object format: footer and index checks', () => {
  const valid = build([
    { streamId: 'a/0', startOffset: 0, endOffset: 10, data: Buffer.from('0123456789') },
    { streamId: 'b/1', startOffset: 5, endOffset: 6, data: Buffer.from('x'), metadata: Buffer.from([1, 2, 3]) },
  ]).bytes;
  const footerAt = valid.length - objectFormat.footerBytes;
  const footer = decodeFooter(valid.subarray(footerAt), valid.length);

  it('rejects an unknown format version even with a correct footer CRC', () => {
    const v2 = encodeFooter({ ...footer, formatVersion: 2 });
    expect(() => decodeFooter(v2, valid.length)).toThrow(/unsupported format version 2/);
  });

  it('rejects a footer whose index does not end where the footer begins', () => {
    expect(() => decodeFooter(valid.subarray(footerAt), valid.length + 1)).toThrow(/do not end/);
  });

  it('rejects bad magic (not a floe object)', () => {
    const bad = Buffer.from(valid.subarray(footerAt));
    bad.writeUInt32BE(0x12345678, 0);
    expect(() => decodeFooter(bad, valid.length)).toThrow(/bad magic/);
  });

  it('rejects an offset beyond 2^53 - 1 even when every CRC matches', () => {
    const index = encodeIndex([{ streamId: 'a/0', startOffset: 0, endOffset: 1, position: 0, length: 1, crc32c: crc32c(Buffer.from('z')) >>> 0, metadata: Buffer.alloc(0) }]);
    // The endOffset's high word sits after count (4), id length (2), id (3), startOffset (8).
    index.writeUInt32BE(0x0020_0000, 4 + 2 + 3 + 8);
    const f = encodeFooter({ formatVersion: 1, indexPosition: 1, indexLength: index.length, indexCrc32c: crc32c(index) >>> 0 });
    expect(() => parseObject(Buffer.concat([Buffer.from('z'), index, f]))).toThrow(/bad offset range/);
  });

  it('rejects sections that do not tile the data region', () => {
    const data = Buffer.from('hello');
    const index = encodeIndex([{ streamId: 'a/0', startOffset: 0, endOffset: 1, position: 1, length: 4, crc32c: crc32c(data.subarray(1)) >>> 0, metadata: Buffer.alloc(0) }]);
    const f = encodeFooter({ formatVersion: 1, indexPosition: data.length, indexLength: index.length, indexCrc32c: crc32c(index) >>> 0 });
    expect(() => parseObject(Buffer.concat([data, index, f]))).toThrow(/expected 0/);
  });

  it('verifySection refuses bytes of the wrong length or CRC', () => {
    const index = parseObject(valid);
    const e = index.entries[0]!;
    expectCorrupt(() => verifySection(e, valid.subarray(0, 9)));
    const flipped = Buffer.from(valid.subarray(0, 10));
    flipped[3] = flipped[3]! ^ 1;
    expectCorrupt(() => verifySection(e, flipped));
  });
});

describe('object builder: limits are programmer errors', () => {
  const b = new ObjectBuilder();
  it.each([
    ['an empty stream id', { streamId: '', startOffset: 0, endOffset: 0, data: Buffer.alloc(0) }],
    ['a stream id over the limit', { streamId: 'x'.repeat(objectLimits.streamIdBytesMax + 1), startOffset: 0, endOffset: 0, data: Buffer.alloc(0) }],
    ['a lone surrogate in the stream id', { streamId: 'a\ud800', startOffset: 0, endOffset: 0, data: Buffer.alloc(0) }],
    ['start after end', { streamId: 's', startOffset: 2, endOffset: 1, data: Buffer.alloc(0) }],
    ['a negative offset', { streamId: 's', startOffset: -1, endOffset: 1, data: Buffer.alloc(0) }],
    ['an unsafe offset', { streamId: 's', startOffset: 0, endOffset: 2 ** 53, data: Buffer.alloc(0) }],
    ['metadata over the limit', { streamId: 's', startOffset: 0, endOffset: 0, data: Buffer.alloc(0), metadata: Buffer.alloc(objectLimits.sectionMetadataBytesMax + 1) }],
  ] satisfies [string, SectionInput][])('rejects %s with a RangeError', (_name, section) => {
    expect(() => b.addSection(section)).toThrow(RangeError);
    expect(b.sectionCount).toBe(0);
  });
});
