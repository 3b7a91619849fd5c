/**
 * Round-trip properties for every API's request and response at every version the codec
 * implements: decode(encode(x)) equals x restricted to the fields of that version (absent
 * fields decode to their defaults, whatever the encoder was handed for them), both for a
 * bare body and through the frame functions of api.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRequestFrame,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  isFlexible,
  type ApiSpec,
} from '../../../../src/protocol/api.ts';
import { ALL_APIS } from '../../../../src/protocol/messages/index.ts';
import { Reader } from '../../../../src/protocol/reader.ts';
import { decode, encode, type Fields, type StructType, type TypeOf } from '../../../../src/protocol/schema.ts';
import { Writer } from '../../../../src/protocol/writer.ts';
import { arbitraryOf, buffersEqual, restrictTo, runs } from '../../../helpers/protocol-arbitrary.ts';
import { join, withoutSize } from '../../../helpers/protocol-bytes.ts';

const RUNS_PER_VERSION = runs(20);
expect.addEqualityTesters([buffersEqual]);

const versionsOf = (api: ApiSpec): number[] =>
  Array.from({ length: api.maxVersion - api.minVersion + 1 }, (_, i) => api.minVersion + i);

function encodeBody<F extends Fields>(s: StructType<F>, value: TypeOf<StructType<F>>, version: number, flexible: boolean): Buffer {
  const w = new Writer(flexible);
  encode(s, w, value, version);
  return w.toBuffer();
}

function decodeBody<F extends Fields>(s: StructType<F>, buf: Buffer, version: number, flexible: boolean): TypeOf<StructType<F>> {
  const r = new Reader(buf, 0, flexible);
  const value = decode(s, r, version);
  // A body decodes to its last byte: nothing left over, nothing read twice.
  expect(r.remaining).toBe(0);
  return value;
}

const cases = ALL_APIS.flatMap((api) => versionsOf(api).map((version) => ({ api, version, label: `${api.name} (key ${api.key}) v${version}` })));

describe.each(cases)('$label', ({ api, version }) => {
  const flexible = isFlexible(api, version);

  it('request body: decode(encode(x)) equals x, absent fields neither written nor read', () => {
    fc.assert(
      fc.property(arbitraryOf(api.request, version, { absent: 'random' }), (x) => {
        const expected = restrictTo(api.request, version, x);
        const bytes = encodeBody(api.request, x, version, flexible);
        expect(bytes).toStrictEqual(encodeBody(api.request, expected, version, flexible));
        expect(decodeBody(api.request, bytes, version, flexible)).toStrictEqual(expected);
      }),
      { numRuns: RUNS_PER_VERSION },
    );
  });

  it('response body: decode(encode(x)) equals x, absent fields ignored', () => {
    fc.assert(
      fc.property(arbitraryOf(api.response, version, { absent: 'random' }), (x) => {
        const expected = restrictTo(api.response, version, x);
        const bytes = encodeBody(api.response, x, version, flexible);
        expect(bytes).toStrictEqual(encodeBody(api.response, expected, version, flexible));
        expect(decodeBody(api.response, bytes, version, flexible)).toStrictEqual(expected);
      }),
      { numRuns: RUNS_PER_VERSION },
    );
  });

  it('request frame: header and body survive encodeRequestFrame/decodeRequestFrame', () => {
    fc.assert(
      fc.property(
        arbitraryOf(api.request, version),
        fc.integer(),
        fc.option(fc.string({ maxLength: 20 }), { nil: null }),
        (x, correlationId, clientId) => {
          const frame = join(encodeRequestFrame(api, version, correlationId, clientId, x));
          const decoded = decodeRequestFrame(api, withoutSize(frame));
          expect(decoded.header).toStrictEqual({ apiKey: api.key, apiVersion: version, correlationId, clientId });
          expect(decoded.body).toStrictEqual(restrictTo(api.request, version, x));
        },
      ),
      { numRuns: RUNS_PER_VERSION },
    );
  });

  it('response frame: correlation id and body survive encodeResponseFrame/decodeResponseFrame', () => {
    fc.assert(
      fc.property(arbitraryOf(api.response, version), fc.integer(), (x, correlationId) => {
        const frame = join(encodeResponseFrame(api, version, correlationId, x));
        const decoded = decodeResponseFrame(api, version, withoutSize(frame));
        expect(decoded.correlationId).toBe(correlationId);
        expect(decoded.body).toStrictEqual(restrictTo(api.response, version, x));
      }),
      { numRuns: RUNS_PER_VERSION },
    );
  });
});
