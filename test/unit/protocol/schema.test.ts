import { describe, expect, it } from 'vitest';
import { ALL_APIS } from '../../../src/protocol/messages/index.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import {
  array,
  decode,
  defaultOf,
  encode,
  f,
  int16,
  int32,
  nullableArray,
  nullableString,
  string,
  struct,
  type Fields,
  type StructType,
  type Type,
  type TypeOf,
} from '../../../src/protocol/schema.ts';
import { Writer } from '../../../src/protocol/writer.ts';

function bytesOf<F extends Fields>(s: StructType<F>, value: TypeOf<StructType<F>>, version: number, flexible = false): string {
  const w = new Writer(flexible);
  encode(s, w, value, version);
  return w.toBuffer().toString('hex');
}
function read<F extends Fields>(s: StructType<F>, hexBytes: string, version: number, flexible = false): TypeOf<StructType<F>> {
  return decode(s, new Reader(Buffer.from(hexBytes, 'hex'), 0, flexible), version);
}

describe('schema: versions and defaults', () => {
  const S = struct({
    a: f(int16),
    b: f(int32, { since: 2, default: -1 }),
    c: f(nullableString, { since: 1, until: 2, default: null }),
    d: f(nullableArray(int16), { since: 3, default: null }),
    e: f(string, { since: 9 }),
  });

  it('writes only the fields present at the version, in order', () => {
    const v = { a: 1, b: 2, c: 'x', d: [3], e: 'never' };
    expect(bytesOf(S, v, 0)).toBe('0001');
    expect(bytesOf(S, v, 1)).toBe('0001' + '000178');
    expect(bytesOf(S, v, 2)).toBe('0001' + '00000002' + '000178');
    expect(bytesOf(S, v, 3)).toBe('0001' + '00000002' + '00000001' + '0003');
  });

  it('decodes absent fields to their defaults, null included', () => {
    expect(read(S, '0001', 0)).toStrictEqual({ a: 1, b: -1, c: null, d: null, e: '' });
  });

  it('writes the default for a present field that the value leaves out', () => {
    const partial = { a: 1 } as TypeOf<typeof S>;
    expect(bytesOf(S, partial, 3)).toBe('0001' + 'ffffffff' + 'ffffffff');
  });

  it('defaultOf: an explicit default, else the zero of the type', () => {
    expect(defaultOf(S.fields.b)).toBe(-1);
    expect(defaultOf(S.fields.c)).toBeNull();
    expect(defaultOf(S.fields.a)).toBe(0);
    expect(defaultOf(f(array(int16)))).toStrictEqual([]);
    expect(defaultOf(f(struct({ x: f(int16, { default: 5 }) })))).toStrictEqual({ x: 5 });
  });

  it('ends every struct with a tag section in flexible versions, nested ones included', () => {
    const N = struct({ xs: f(array(struct({ x: f(int16) }))) });
    expect(bytesOf(N, { xs: [{ x: 1 }] }, 0, true)).toBe('02' + '0001' + '00' + '00');
    expect(read(N, '02000100' + '00', 0, true)).toStrictEqual({ xs: [{ x: 1 }] });
  });
});

describe('schema: nullability that starts at a later version', () => {
  it('writes a null array as empty before its nullableSince, and as null from it', () => {
    const S = struct({ xs: f(nullableArray(int16, 1)) });
    expect(bytesOf(S, { xs: null }, 0)).toBe('00000000');
    expect(bytesOf(S, { xs: null }, 1)).toBe('ffffffff');
  });

  it('writes a null string field as the empty string before the field nullableSince', () => {
    const S = struct({ name: f(nullableString, { nullableSince: 6 }) });
    expect(bytesOf(S, { name: null }, 5)).toBe('0000');
    expect(bytesOf(S, { name: null }, 6)).toBe('ffff');
    expect(bytesOf(S, { name: null }, 5, true)).toBe('01' + '00');
    expect(bytesOf(S, { name: null }, 6, true)).toBe('00' + '00');
  });
});

/** Every array element type at `version`, with the struct path that leads to it. */
function arraysIn(t: Type, version: number, path: string, out: { path: string; item: Type }[]): void {
  if (t.kind === 'array') {
    out.push({ path, item: t.item });
    arraysIn(t.item, version, `${path}[]`, out);
  } else if (t.kind === 'struct') {
    for (const [name, field] of t.entries) {
      if (version >= field.since && version <= field.until) arraysIn(field.type, version, `${path}.${name}`, out);
    }
  }
}

function minimumBytes(t: Type, version: number, flexible: boolean): number {
  const w = new Writer(flexible);
  if (t.kind === 'struct') encode(t, w, {}, version);
  else if (t.kind === 'array') w.array([], () => undefined);
  else t.write(w, t.empty ?? t.zero);
  return w.length;
}

describe('schema: every message', () => {
  // Reader's array guard refuses a count larger than the bytes left, on the grounds that
  // every element takes at least one byte. That holds only if no array element can be
  // encoded in zero bytes at any version; this checks it for every array of every API.
  it('has no array whose elements can take zero bytes at any version', () => {
    for (const api of ALL_APIS) {
      for (let v = api.minVersion; v <= api.maxVersion; v++) {
        const flexible = v >= api.flexibleFrom;
        const arrays: { path: string; item: Type }[] = [];
        arraysIn(api.request, v, `${api.name}Request`, arrays);
        arraysIn(api.response, v, `${api.name}Response`, arrays);
        for (const { path, item } of arrays) {
          expect(minimumBytes(item, v, flexible), `${path} v${v}`).toBeGreaterThanOrEqual(1);
        }
      }
    }
  });

  it('encodes an empty value and decodes it back to all defaults at every version', () => {
    for (const api of ALL_APIS) {
      for (let v = api.minVersion; v <= api.maxVersion; v++) {
        const flexible = v >= api.flexibleFrom;
        for (const s of [api.request, api.response]) {
          const w = new Writer(flexible);
          encode(s, w, {}, v);
          const r = new Reader(w.toBuffer(), 0, flexible);
          const decoded = decode(s, r, v) as Record<string, unknown>;
          expect(r.remaining).toBe(0);
          for (const [name, field] of s.entries) {
            const expected = defaultOf(field);
            // A present nullable array whose version cannot carry null reads back empty.
            if (expected === null && decoded[name] !== null) expect(decoded[name], `${api.name} v${v} ${name}`).toStrictEqual([]);
            else expect(decoded[name], `${api.name} v${v} ${name}`).toStrictEqual(expected);
          }
        }
      }
    }
  });
});
