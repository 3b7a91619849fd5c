/**
 * A small schema language for Kafka messages, interpreted by one generic reader and
 * writer. Each message is written once as data — its fields and the versions that carry
 * them — and gets decoding and encoding in both directions (the broker decodes requests
 * and encodes responses; floe's own clients and the tests do the opposite), with the
 * TypeScript type of the message inferred from the schema.
 *
 * Versions: a field is present in versions [since, until] (inclusive). A field that is
 * absent at a version decodes to its default and is skipped when encoding. Flexible
 * versions (compact forms, tagged-field sections) are handled by Reader/Writer; every
 * struct ends with a tag section in those versions. floe writes no tagged fields and
 * skips the ones it reads.
 */
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

export interface Prim<T> {
  readonly kind: 'prim';
  // Method syntax on purpose: it makes Prim<number> assignable to Prim<unknown>, which
  // the generic codec needs (it hands each value back to the Prim that produced it).
  read(r: Reader): T;
  write(w: Writer, v: T): void;
  readonly zero: T;
  /**
   * For a nullable type: the non-null empty value, written in place of null at versions
   * where the field may not yet be null (see `nullableSince`).
   */
  readonly empty?: T;
}
export interface ArrayType<E extends Type, N extends boolean = boolean> {
  readonly kind: 'array';
  readonly item: E;
  /** Whether some version may carry null. */
  readonly nullable: N;
  /** First version where the array may be null; Infinity when never. */
  readonly nullableSince: number;
}
export interface StructType<F extends Fields> {
  readonly kind: 'struct';
  readonly fields: F;
  /** The fields as a list, computed once (the codec walks it for every struct read). */
  readonly entries: readonly (readonly [string, Field])[];
}
export type Type = Prim<unknown> | ArrayType<Type> | StructType<Fields>;

export interface Field<T extends Type = Type> {
  readonly type: T;
  readonly since: number;
  readonly until: number;
  readonly default: unknown;
  /**
   * First version where a nullable prim field may carry null (Kafka's `nullableVersions`
   * when they start later than the field). Below it, null is written as the type's empty
   * value. Arrays say this on their type instead (`nullableArray(item, since)`).
   */
  readonly nullableSince: number;
}
export type Fields = Readonly<Record<string, Field>>;

export type TypeOf<T> =
  T extends Prim<infer V>
    ? V
    : T extends ArrayType<infer E, infer N>
      ? N extends true
        ? TypeOf<E>[] | null
        : TypeOf<E>[]
      : T extends StructType<infer F>
        ? { -readonly [K in keyof F]: TypeOf<F[K]['type']> }
        : never;

const prim = <T>(read: (r: Reader) => T, write: (w: Writer, v: T) => void, zero: T, empty?: T): Prim<T> =>
  empty === undefined ? { kind: 'prim', read, write, zero } : { kind: 'prim', read, write, zero, empty };

export const int8 = prim((r) => r.int8(), (w, v) => w.int8(v), 0);
export const int16 = prim((r) => r.int16(), (w, v) => w.int16(v), 0);
export const int32 = prim((r) => r.int32(), (w, v) => w.int32(v), 0);
export const uint32 = prim((r) => r.uint32(), (w, v) => w.uint32(v), 0);
export const int64 = prim((r) => r.int64(), (w, v) => w.int64(v), 0);
export const float64 = prim((r) => r.float64(), (w, v) => w.float64(v), 0);
export const bool = prim((r) => r.bool(), (w, v) => w.bool(v), false);
export const string = prim((r) => r.string(), (w, v) => w.string(v), '');
export const nullableString = prim<string | null>((r) => r.nullableString(), (w, v) => w.nullableString(v), null, '');
export const bytes = prim((r) => r.bytes(), (w, v) => w.bytes(v), Buffer.alloc(0));
export const nullableBytes = prim<Buffer | null>((r) => r.nullableBytes(), (w, v) => w.nullableBytes(v), null, Buffer.alloc(0));
export const uuid = prim((r) => r.uuid(), (w, v) => w.uuid(v), Buffer.alloc(16));
/**
 * The `records` type: a nullable byte blob holding record batches. Decoded as a view
 * into the request; encoded from one buffer or from a list of chunks (the fetch path
 * hands over batches read from several places without joining them).
 */
export type RecordsValue = Buffer | readonly Buffer[] | null;
export const records = prim<RecordsValue>(
  (r) => r.nullableBytes(),
  (w, v) => {
    if (v === null || Buffer.isBuffer(v)) {
      w.nullableBytes(v);
      return;
    }
    let total = 0;
    for (const c of v) total += c.length;
    w.bytesLength(total);
    for (const c of v) w.raw(c);
  },
  null,
  Buffer.alloc(0),
);

export function array<E extends Type>(item: E): ArrayType<E, false> {
  return { kind: 'array', item, nullable: false, nullableSince: Infinity };
}
/** An array that may be null from version `since` on (0: always). */
export function nullableArray<E extends Type>(item: E, since = 0): ArrayType<E, true> {
  return { kind: 'array', item, nullable: true, nullableSince: since };
}
export function struct<F extends Fields>(fields: F): StructType<F> {
  return { kind: 'struct', fields, entries: Object.entries(fields) };
}

interface FieldOptions {
  since?: number;
  until?: number;
  default?: unknown;
  nullableSince?: number;
}
/**
 * A field present in versions [since, until]; `default` is what absent versions decode to
 * (the type's zero when not given; null is a default too). `nullableSince`: see Field.
 */
export function f<T extends Type>(type: T, opts: FieldOptions = {}): Field<T> {
  return {
    type,
    since: opts.since ?? 0,
    until: opts.until ?? Infinity,
    default: opts.default,
    nullableSince: opts.nullableSince ?? 0,
  };
}

/** What a field decodes to at a version that does not carry it. */
export function defaultOf(field: Field): unknown {
  // `undefined` means "no default given"; null is a real default of nullable fields.
  return field.default !== undefined ? field.default : zeroOf(field.type);
}

function zeroOf(t: Type): unknown {
  switch (t.kind) {
    case 'prim':
      return t.zero;
    case 'array':
      return [];
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const [name, field] of t.entries) out[name] = defaultOf(field);
      return out;
    }
  }
}

function readType(t: Type, r: Reader, version: number): unknown {
  switch (t.kind) {
    case 'prim':
      return t.read(r);
    case 'array':
      return r.nullableArray((rr) => readType(t.item, rr, version));
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const [name, field] of t.entries) {
        out[name] =
          version >= field.since && version <= field.until
            ? readType(field.type, r, version)
            : defaultOf(field);
      }
      r.tags();
      return out;
    }
  }
}

function writeType(t: Type, w: Writer, v: unknown, version: number): void {
  switch (t.kind) {
    case 'prim':
      t.write(w, v);
      return;
    case 'array': {
      const items = v as unknown[] | null | undefined;
      // A null array in a version that cannot carry null is written empty.
      w.nullableArray(items == null ? (version >= t.nullableSince ? null : []) : items, (ww, item) =>
        writeType(t.item, ww, item, version),
      );
      return;
    }
    case 'struct': {
      const obj = v as Record<string, unknown>;
      for (const [name, field] of t.entries) {
        if (version < field.since || version > field.until) continue;
        // Only an absent property takes the default: null is a value of nullable types.
        const given = obj[name];
        let value = given === undefined ? defaultOf(field) : given;
        if (value === null && version < field.nullableSince && field.type.kind === 'prim' && field.type.empty !== undefined) {
          value = field.type.empty;
        }
        writeType(field.type, w, value, version);
      }
      w.tags();
      return;
    }
  }
}

export function decode<F extends Fields>(s: StructType<F>, r: Reader, version: number): TypeOf<StructType<F>> {
  return readType(s, r, version) as TypeOf<StructType<F>>;
}
export function encode<F extends Fields>(s: StructType<F>, w: Writer, value: TypeOf<StructType<F>>, version: number): void {
  writeType(s, w, value, version);
}
