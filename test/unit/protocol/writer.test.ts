import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Reader } from '../../../src/protocol/reader.ts';
import { records } from '../../../src/protocol/schema.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { hex, join } from '../../helpers/protocol-bytes.ts';

const bytesOf = (flexible: boolean, write: (w: Writer) => void): Buffer => {
  const w = new Writer(flexible);
  write(w);
  return w.toBuffer();
};

describe('Writer: fixed-width integers at their limits', () => {
  it.each([
    ['int8 min', (w: Writer) => w.int8(-128), '80'],
    ['int8 max', (w: Writer) => w.int8(127), '7f'],
    ['int16 min', (w: Writer) => w.int16(-32768), '8000'],
    ['int16 max', (w: Writer) => w.int16(32767), '7fff'],
    ['int32 min', (w: Writer) => w.int32(-(2 ** 31)), '80000000'],
    ['int32 max', (w: Writer) => w.int32(2 ** 31 - 1), '7fffffff'],
    ['uint32 max', (w: Writer) => w.uint32(2 ** 32 - 1), 'ffffffff'],
    ['int64 -1', (w: Writer) => w.int64(-1), 'ffffffffffffffff'],
    ['int64 2^32', (w: Writer) => w.int64(2 ** 32), '0000000100000000'],
    ['int64 2^53', (w: Writer) => w.int64(2 ** 53), '0020000000000000'],
    ['int64 -2^53', (w: Writer) => w.int64(-(2 ** 53)), 'ffe0000000000000'],
    ['int64 2^53-1', (w: Writer) => w.int64(Number.MAX_SAFE_INTEGER), '001fffffffffffff'],
    ['int64 -(2^53-1)', (w: Writer) => w.int64(Number.MIN_SAFE_INTEGER), 'ffe0000000000001'],
    ['bool', (w: Writer) => w.bool(true).bool(false), '0100'],
  ])('%s', (_name, write, expected) => {
    expect(bytesOf(false, write).toString('hex')).toBe(expected);
  });

  it('throws on an int32 out of range instead of wrapping it', () => {
    expect(() => new Writer().int32(2 ** 31)).toThrow(RangeError);
  });
});

describe('Writer: varints', () => {
  it.each([
    [0, '00'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [2 ** 32 - 1, 'ffffffff0f'],
  ])('uvarint %d', (v, expected) => {
    expect(bytesOf(false, (w) => w.uvarint(v)).toString('hex')).toBe(expected);
  });

  it.each([
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-64, '7f'],
    [64, '8001'],
    [2 ** 31 - 1, 'feffffff0f'],
    [-(2 ** 31), 'ffffffff0f'],
  ])('varint (zig-zag) %d', (v, expected) => {
    expect(bytesOf(false, (w) => w.varint(v)).toString('hex')).toBe(expected);
  });

  // Reference zig-zag in BigInt: what Kafka's ByteUtils.writeVarlong produces for an int64.
  const varlongReference = (v: number): string => {
    const b = BigInt(v);
    let z = BigInt.asUintN(64, (b << 1n) ^ (b >> 63n));
    const out: number[] = [];
    while (z >= 0x80n) {
      out.push(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
    }
    out.push(Number(z));
    return Buffer.from(out).toString('hex');
  };

  it.each([0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 52 - 1, 2 ** 52, -(2 ** 52), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, -(2 ** 53)])(
    'varlong %d matches the int64 zig-zag encoding and reads back exactly',
    (v) => {
      const b = bytesOf(false, (w) => w.varlong(v));
      expect(b.toString('hex')).toBe(varlongReference(v));
      expect(new Reader(b).varlong()).toBe(v);
    },
  );

  it('varlong round-trips every safe integer (property)', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        const b = bytesOf(false, (w) => w.varlong(v));
        expect(b.toString('hex')).toBe(varlongReference(v));
        const r = new Reader(b);
        expect(r.varlong()).toBe(v);
        expect(r.remaining).toBe(0);
      }),
    );
  });
});

describe('Writer: strings, bytes and arrays, classic and compact', () => {
  it.each([
    ['classic string', false, (w: Writer) => w.string('abc'), '0003616263'],
    ['compact string', true, (w: Writer) => w.string('abc'), '04616263'],
    ['classic null string', false, (w: Writer) => w.nullableString(null), 'ffff'],
    ['compact null string', true, (w: Writer) => w.nullableString(null), '00'],
    ['classic empty string', false, (w: Writer) => w.string(''), '0000'],
    ['compact empty string', true, (w: Writer) => w.string(''), '01'],
    ['utf-8 length in bytes', false, (w: Writer) => w.string('é'), '0002c3a9'],
    ['classic bytes', false, (w: Writer) => w.bytes(hex('0102')), '000000020102'],
    ['compact bytes', true, (w: Writer) => w.bytes(hex('0102')), '030102'],
    ['classic null bytes', false, (w: Writer) => w.nullableBytes(null), 'ffffffff'],
    ['compact null bytes', true, (w: Writer) => w.nullableBytes(null), '00'],
    ['classic empty bytes', false, (w: Writer) => w.bytes(Buffer.alloc(0)), '00000000'],
    ['compact empty bytes', true, (w: Writer) => w.bytes(Buffer.alloc(0)), '01'],
    ['classic array', false, (w: Writer) => w.array([1, 2], (ww, v) => ww.int8(v)), '000000020102'],
    ['compact array', true, (w: Writer) => w.array([1, 2], (ww, v) => ww.int8(v)), '030102'],
    ['classic null array', false, (w: Writer) => w.nullableArray(null, (ww, v: number) => ww.int8(v)), 'ffffffff'],
    ['compact null array', true, (w: Writer) => w.nullableArray(null, (ww, v: number) => ww.int8(v)), '00'],
    ['classic empty array', false, (w: Writer) => w.array([], (ww, v: number) => ww.int8(v)), '00000000'],
    ['compact empty array', true, (w: Writer) => w.array([], (ww, v: number) => ww.int8(v)), '01'],
    ['classic tags write nothing', false, (w: Writer) => w.tags(), ''],
    ['compact tags write an empty section', true, (w: Writer) => w.tags(), '00'],
  ])('%s', (_name, flexible, write, expected) => {
    expect(bytesOf(flexible, write).toString('hex')).toBe(expected);
  });
});

describe('Writer: the records type from a list of chunks', () => {
  const chunks = [hex('0102'), hex('03'), hex('040506')];

  it('writes one length prefix for the total, then the chunks in order (classic)', () => {
    const w = new Writer(false);
    records.write(w, chunks);
    expect(w.toBuffer().toString('hex')).toBe('00000006' + '010203040506');
  });

  it('writes a compact length for the total in flexible versions', () => {
    const w = new Writer(true);
    records.write(w, chunks);
    expect(w.toBuffer().toString('hex')).toBe('07' + '010203040506');
  });

  it('writes null and an empty chunk list differently', () => {
    const nul = new Writer(false);
    records.write(nul, null);
    const empty = new Writer(false);
    records.write(empty, []);
    expect(nul.toBuffer().toString('hex')).toBe('ffffffff');
    expect(empty.toBuffer().toString('hex')).toBe('00000000');
  });

  it('references large chunks instead of copying them, and reads back what was written', () => {
    const big = Buffer.alloc(5000, 7);
    const w = new Writer(false);
    w.int8(1);
    records.write(w, [hex('aa'), big, hex('bb')]);
    w.int8(2);
    const out = w.chunksOut();
    expect(out).toContain(big);
    const r = new Reader(join(out));
    expect(r.int8()).toBe(1);
    const got = records.read(r);
    expect(got).toEqual(Buffer.concat([hex('aa'), big, hex('bb')]));
    expect(r.int8()).toBe(2);
    expect(r.remaining).toBe(0);
  });
});

describe('Writer: growth', () => {
  type Op =
    | { k: 'int8'; v: number }
    | { k: 'int16'; v: number }
    | { k: 'int32'; v: number }
    | { k: 'int64'; v: number }
    | { k: 'uvarint'; v: number }
    | { k: 'varlong'; v: number }
    | { k: 'string'; v: string }
    | { k: 'bytes'; v: Uint8Array };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.integer({ min: -128, max: 127 }).map((v) => ({ k: 'int8' as const, v })),
    fc.integer({ min: -32768, max: 32767 }).map((v) => ({ k: 'int16' as const, v })),
    fc.integer().map((v) => ({ k: 'int32' as const, v })),
    fc.maxSafeInteger().map((v) => ({ k: 'int64' as const, v })),
    fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((v) => ({ k: 'uvarint' as const, v })),
    fc.maxSafeInteger().map((v) => ({ k: 'varlong' as const, v })),
    fc.string({ unit: 'grapheme', maxLength: 40 }).map((v) => ({ k: 'string' as const, v })),
    fc.uint8Array({ maxLength: 5000 }).map((v) => ({ k: 'bytes' as const, v })),
  );
  const apply = (w: Writer, o: Op): void => {
    switch (o.k) {
      case 'int8':
        w.int8(o.v);
        return;
      case 'int16':
        w.int16(o.v);
        return;
      case 'int32':
        w.int32(o.v);
        return;
      case 'int64':
        w.int64(o.v);
        return;
      case 'uvarint':
        w.uvarint(o.v);
        return;
      case 'varlong':
        w.varlong(o.v);
        return;
      case 'string':
        w.string(o.v);
        return;
      case 'bytes':
        w.bytes(Buffer.from(o.v));
        return;
    }
  };

  it('produces the same bytes whatever the initial scratch size (writes across a reallocation)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 16 }), (ops, initial) => {
        const small = new Writer(false, initial);
        const large = new Writer(false, 1 << 20);
        for (const o of ops) {
          apply(small, o);
          apply(large, o);
        }
        expect(small.length).toBe(large.length);
        expect(join(small.chunksOut())).toEqual(large.toBuffer());
      }),
      { numRuns: 100 },
    );
  });

  it('reports its length as the sum of its chunks', () => {
    const w = new Writer(false, 2);
    w.int32(1).raw(Buffer.alloc(4096)).int64(5).string('x');
    expect(w.length).toBe(4 + 4096 + 8 + 3);
    expect(join(w.chunksOut()).length).toBe(w.length);
  });
});
