/**
 * Fuzzing the message decoders, for every API at every version the codec implements, for
 * requests and responses, bare bodies and whole frames (decodeRequestFrame,
 * decodeResponseFrame). Inputs are random bytes and valid encodings after random
 * mutations (byte edits, insertions, deletions, truncation).
 *
 * Invariants:
 *  1. Decoding returns a value or throws DecodeError, never anything else (a RangeError
 *     from Buffer would be a read past the end of the buffer).
 *  2. It never reads past the frame: decoding a frame that sits inside a larger buffer
 *     leaves the Reader's offset at or before the frame's end, whether it succeeds or not.
 *  3. It never builds an array with more elements than there were bytes left in the frame
 *     where the array started (Reader's count guard; schema.test.ts checks that every
 *     element of every array takes at least one byte).
 *
 * fast-check prints the seed and path of any failure; rerun with { seed, path } to
 * reproduce it. FLOE_PROPERTY_RUNS_SCALE=20 fuzzes longer.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRequestFrame, decodeResponseFrame, encodeRequestFrame, encodeResponseFrame, isFlexible, type ApiSpec } from '../../../src/protocol/api.ts';
import { ALL_APIS } from '../../../src/protocol/messages/index.ts';
import { DecodeError, Reader } from '../../../src/protocol/reader.ts';
import { decode, encode, type Fields, type StructType } from '../../../src/protocol/schema.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { arbitraryOf, runs } from '../../helpers/protocol-arbitrary.ts';
import { join } from '../../helpers/protocol-bytes.ts';

const RUNS = runs(15);
const RANDOM_BYTES_MAX = 96;

// Invariant 3 is observed by wrapping Reader.nullableArray for the duration of this file.
type NullableArray = <T>(this: Reader, item: (r: Reader) => T) => T[] | null;
const originalNullableArray = Object.getOwnPropertyDescriptor(Reader.prototype, 'nullableArray')!.value as NullableArray;
const overBudget: string[] = [];
function guardedNullableArray<T>(this: Reader, item: (r: Reader) => T): T[] | null {
  const budget = this.remaining;
  const out = originalNullableArray.call(this, item) as T[] | null;
  if (out !== null && out.length > budget) overBudget.push(`array of ${out.length} elements from ${budget} bytes`);
  return out;
}
beforeAll(() => {
  Reader.prototype.nullableArray = guardedNullableArray;
});
afterAll(() => {
  Reader.prototype.nullableArray = originalNullableArray;
});

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; keep: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
);
function mutate(input: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.kind === 'truncate' ? 0 : m.at % (b.length + 1);
    switch (m.kind) {
      case 'set':
        if (b.length > 0) b[at % b.length] = m.byte;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case 'truncate':
        b = b.subarray(0, m.keep % (b.length + 1));
        break;
    }
  }
  return b;
}

/** Runs `decodeIt`, which must return or throw DecodeError (invariant 1). */
function decodesOrRefuses(decodeIt: () => unknown): void {
  try {
    decodeIt();
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
  }
}

/** Decodes `body` placed inside a larger buffer; checks invariants 1–3. */
function checkBody(s: StructType<Fields>, body: Buffer, version: number, flexible: boolean, padding: number): void {
  // Bytes that would decode happily (0xff: -1 lengths, huge counts) sit after the frame.
  const big = Buffer.concat([Buffer.alloc(padding, 0xff), body, Buffer.alloc(16, 0xff)]);
  const r = new Reader(big, padding, flexible, padding + body.length);
  decodesOrRefuses(() => decode(s, r, version));
  expect(r.offset).toBeGreaterThanOrEqual(padding);
  expect(r.offset).toBeLessThanOrEqual(padding + body.length);
  expect(overBudget).toStrictEqual([]);
}

function encodeBody(s: StructType<Fields>, value: Record<string, unknown>, version: number, flexible: boolean): Buffer {
  const w = new Writer(flexible);
  encode(s, w, value, version);
  return w.toBuffer();
}

const cases = ALL_APIS.flatMap((api: ApiSpec) =>
  Array.from({ length: api.maxVersion - api.minVersion + 1 }, (_, i) => api.minVersion + i).map((version) => ({
    api,
    version,
    label: `${api.name} v${version}`,
  })),
);

describe.each(cases)('$label', ({ api, version }) => {
  const flexible = isFlexible(api, version);

  it('decodes random bytes as a request or a response body without breaking invariants 1–3', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: RANDOM_BYTES_MAX }), fc.nat({ max: 3 }), (a, padding) => {
        const body = Buffer.from(a);
        checkBody(api.request, body, version, flexible, padding);
        checkBody(api.response, body, version, flexible, padding);
      }),
      { numRuns: RUNS },
    );
  });

  it('decodes mutated valid bodies without breaking invariants 1–3', () => {
    fc.assert(
      fc.property(
        arbitraryOf(api.request, version),
        arbitraryOf(api.response, version),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.nat({ max: 3 }),
        (req, res, mutations, padding) => {
          checkBody(api.request, mutate(encodeBody(api.request, req, version, flexible), mutations), version, flexible, padding);
          checkBody(api.response, mutate(encodeBody(api.response, res, version, flexible), mutations), version, flexible, padding);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('decodes mutated whole frames (header included) with only DecodeError', () => {
    fc.assert(
      fc.property(
        arbitraryOf(api.request, version),
        arbitraryOf(api.response, version),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (req, res, mutations) => {
          // Exact-size copies: a read past the end would surface as a RangeError.
          const request = mutate(join(encodeRequestFrame(api, version, 1, 'fuzz', req)).subarray(4), mutations);
          decodesOrRefuses(() => decodeRequestFrame(api, request));
          const response = mutate(join(encodeResponseFrame(api, version, 1, res)).subarray(4), mutations);
          decodesOrRefuses(() => decodeResponseFrame(api, version, response));
          expect(overBudget).toStrictEqual([]);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('any API at any version', () => {
  it('decodes random frames with only DecodeError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...cases), fc.uint8Array({ maxLength: RANDOM_BYTES_MAX }), ({ api, version }, a) => {
        const frame = Buffer.from(a);
        decodesOrRefuses(() => decodeRequestFrame(api, frame));
        decodesOrRefuses(() => decodeResponseFrame(api, version, frame));
        expect(overBudget).toStrictEqual([]);
      }),
      { numRuns: runs(1000) },
    );
  });

  it('refuses counts that claim more elements than bytes, at once', () => {
    // Every array-carrying API at its first version: a top-level count of 2^31 − 1.
    for (const { api, version } of cases) {
      const flexible = isFlexible(api, version);
      const lie = flexible ? Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]) : Buffer.from([0x7f, 0xff, 0xff, 0xff]);
      for (const s of [api.request, api.response]) {
        const first = s.entries.find(([, f]) => version >= f.since && version <= f.until);
        if (first === undefined || first[1].type.kind !== 'array') continue;
        expect(() => decode(s, new Reader(Buffer.concat([lie, Buffer.alloc(8)]), 0, flexible), version), `${api.name} v${version}`).toThrow(
          DecodeError,
        );
      }
    }
  });
});
