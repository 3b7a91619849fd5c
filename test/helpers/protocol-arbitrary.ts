/**
 * fast-check arbitraries built from a message schema at one version, and the value a
 * decoder must return for a given input value (`restrictTo`).
 *
 * `arbitraryOf(struct, version)` produces values whose present fields are random and whose
 * absent fields hold their defaults, so `decode(encode(x))` must equal `x` exactly. With
 * `{ absent: 'random' }` absent fields hold junk instead, which the encoder must ignore:
 * then the decoder must return `restrictTo(struct, version, x)`.
 *
 * Values stay small (short strings and arrays) so that hundreds of runs per API version
 * take milliseconds; the `records` type sometimes comes as a list of chunks, one of which
 * may be large enough for the Writer to reference it instead of copying it.
 */
import fc from 'fast-check';
import {
  bool,
  bytes,
  defaultOf,
  float64,
  int16,
  int32,
  int64,
  int8,
  nullableBytes,
  nullableString,
  records,
  string,
  uint32,
  uuid,
  type Fields,
  type Prim,
  type StructType,
  type Type,
  type TypeOf,
} from '../../src/protocol/schema.ts';

/**
 * Runs per property, scaled by FLOE_PROPERTY_RUNS_SCALE (e.g. 20 for a long local fuzz
 * session); the defaults keep the unit suite at a few seconds.
 */
export function runs(base: number): number {
  const scale = Number(process.env.FLOE_PROPERTY_RUNS_SCALE ?? '1');
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

export interface ArbitraryOptions {
  /** What absent fields hold: their defaults (the decoded form) or random junk. */
  absent?: 'default' | 'random';
  /** Longest generated array (nested arrays multiply). */
  maxArrayLength?: number;
}

const STRING_GRAPHEMES_MAX = 12;
const BYTES_MAX = 24;

const text = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: STRING_GRAPHEMES_MAX }),
  fc.string({ unit: 'grapheme', maxLength: STRING_GRAPHEMES_MAX }),
);
const buffer = (maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const int64Values = fc.oneof(
  fc.maxSafeInteger(),
  fc.constantFrom(-1, 0, 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, -(2 ** 32), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
);
const recordsValue: fc.Arbitrary<Buffer | Buffer[] | null> = fc.oneof(
  { arbitrary: fc.constant(null), weight: 2 },
  { arbitrary: buffer(BYTES_MAX), weight: 4 },
  { arbitrary: fc.array(buffer(BYTES_MAX), { maxLength: 3 }), weight: 3 },
  // Now and then a chunk list with a large chunk, which the Writer references rather
  // than copies.
  {
    arbitrary: fc.tuple(buffer(8), fc.integer({ min: 4096, max: 5000 }), buffer(8)).map(([a, n, b]) => [a, Buffer.alloc(n, 0x5a), b]),
    weight: 1,
  },
);

/**
 * Buffers compared with Buffer.equals: the default deep equality walks them byte by byte,
 * which made large records the slowest part of the round-trip tests. Register it with
 * `expect.addEqualityTesters([buffersEqual])`.
 */
export function buffersEqual(a: unknown, b: unknown): boolean | undefined {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : undefined;
}

/** Arbitraries for the non-null values of each prim (identity-keyed: prims are singletons). */
const NON_NULL = new Map<Prim<unknown>, fc.Arbitrary<unknown>>([
  [int8, fc.integer({ min: -128, max: 127 })],
  [int16, fc.integer({ min: -32768, max: 32767 })],
  [int32, fc.integer()],
  [uint32, fc.integer({ min: 0, max: 2 ** 32 - 1 })],
  [int64, int64Values],
  [float64, fc.double({ noNaN: true })],
  [bool, fc.boolean()],
  [string, text],
  [nullableString, text],
  [bytes, buffer(BYTES_MAX)],
  [nullableBytes, buffer(BYTES_MAX)],
  [uuid, fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a))],
  [records, recordsValue.filter((v) => v !== null)],
]);
const NULLABLE = new Set<Prim<unknown>>([nullableString, nullableBytes, records]);

function primArbitrary(p: Prim<unknown>, nullAllowed: boolean): fc.Arbitrary<unknown> {
  const nonNull = NON_NULL.get(p);
  if (nonNull === undefined) throw new Error('protocol-arbitrary: a prim without an arbitrary; add it to NON_NULL');
  return NULLABLE.has(p) && nullAllowed ? fc.option(nonNull, { nil: null, freq: 4 }) : nonNull;
}

function typeArbitrary(t: Type, version: number, opts: Required<ArbitraryOptions>, nullAllowed: boolean): fc.Arbitrary<unknown> {
  switch (t.kind) {
    case 'prim':
      return primArbitrary(t, nullAllowed);
    case 'array': {
      const items = fc.array(typeArbitrary(t.item, version, opts, true), { maxLength: opts.maxArrayLength });
      return version >= t.nullableSince ? fc.option(items, { nil: null, freq: 4 }) : items;
    }
    case 'struct': {
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, field] of t.entries) {
        const present = version >= field.since && version <= field.until;
        if (present) shape[name] = typeArbitrary(field.type, version, opts, version >= field.nullableSince);
        else if (opts.absent === 'random') shape[name] = typeArbitrary(field.type, version, opts, true);
        else shape[name] = fc.constant(defaultOf(field));
      }
      // fc.record builds null-prototype objects; decoders build plain ones.
      return fc.record(shape).map((o) => ({ ...o }));
    }
  }
}

/** Random values of `s` at `version`; see the file comment for what absent fields hold. */
export function arbitraryOf<F extends Fields>(
  s: StructType<F>,
  version: number,
  options: ArbitraryOptions = {},
): fc.Arbitrary<TypeOf<StructType<F>>> {
  const opts: Required<ArbitraryOptions> = { absent: options.absent ?? 'default', maxArrayLength: options.maxArrayLength ?? 3 };
  return typeArbitrary(s, version, opts, true) as fc.Arbitrary<TypeOf<StructType<F>>>;
}

function restrictType(t: Type, version: number, value: unknown, nullableSince: number): unknown {
  switch (t.kind) {
    case 'prim':
      if (t === records && Array.isArray(value)) return Buffer.concat(value as Buffer[]);
      if (value === null && version < nullableSince && t.empty !== undefined) return t.empty;
      return value;
    case 'array': {
      if (value === null || value === undefined) return version >= t.nullableSince ? null : [];
      return (value as unknown[]).map((item) => restrictType(t.item, version, item, 0));
    }
    case 'struct': {
      const obj = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [name, field] of t.entries) {
        const present = version >= field.since && version <= field.until;
        const given = obj[name];
        out[name] = present
          ? restrictType(field.type, version, given === undefined ? defaultOf(field) : given, field.nullableSince)
          : defaultOf(field);
      }
      return out;
    }
  }
}

/**
 * What decoding the encoding of `value` at `version` must give: absent fields replaced by
 * their defaults, a records chunk list joined into one buffer, and null replaced by the
 * empty value where the version cannot carry null.
 */
export function restrictTo<F extends Fields>(s: StructType<F>, version: number, value: TypeOf<StructType<F>>): TypeOf<StructType<F>> {
  return restrictType(s, version, value, 0) as TypeOf<StructType<F>>;
}
