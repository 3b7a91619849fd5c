import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { hex } from '../../helpers/protocol-bytes.ts';

const reader = (h: string, flexible = false): Reader => new Reader(hex(h), 0, flexible);

describe('Reader: fixed-width integers at their limits', () => {
  it.each([
    ['80', (r: Reader) => r.int8(), -128],
    ['7f', (r: Reader) => r.int8(), 127],
    ['8000', (r: Reader) => r.int16(), -32768],
    ['7fff', (r: Reader) => r.int16(), 32767],
    ['80000000', (r: Reader) => r.int32(), -(2 ** 31)],
    ['7fffffff', (r: Reader) => r.int32(), 2 ** 31 - 1],
    ['ffffffff', (r: Reader) => r.uint32(), 2 ** 32 - 1],
    ['ffffffffffffffff', (r: Reader) => r.int64(), -1],
    ['0000000100000000', (r: Reader) => r.int64(), 2 ** 32],
    ['00000000ffffffff', (r: Reader) => r.int64(), 2 ** 32 - 1],
    ['0020000000000000', (r: Reader) => r.int64(), 2 ** 53],
    ['ffe0000000000000', (r: Reader) => r.int64(), -(2 ** 53)],
    ['001fffffffffffff', (r: Reader) => r.int64(), Number.MAX_SAFE_INTEGER],
    ['ffe0000000000001', (r: Reader) => r.int64(), Number.MIN_SAFE_INTEGER],
    ['02', (r: Reader) => r.bool(), true],
    ['00', (r: Reader) => r.bool(), false],
  ])('%s', (bytes, read, expected) => {
    const r = reader(bytes);
    expect(read(r)).toBe(expected);
    expect(r.remaining).toBe(0);
  });

  it('round-trips int64 over the whole safe range (property)', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (v) => {
        const w = new Writer();
        w.int64(v);
        expect(new Reader(w.toBuffer()).int64()).toBe(v);
      }),
    );
  });

  it('round-trips float64, including -0 and infinities', () => {
    for (const v of [0, -0, 1.5, -Infinity, Infinity, Number.MIN_VALUE]) {
      const w = new Writer();
      w.float64(v);
      expect(Object.is(new Reader(w.toBuffer()).float64(), v)).toBe(true);
    }
  });

  it('throws DecodeError, not RangeError, when a fixed-width value is cut short', () => {
    expect(() => reader('0000').int32()).toThrow(DecodeError);
    expect(() => reader('00000000000000').int64()).toThrow(DecodeError);
    expect(() => reader('').int8()).toThrow(DecodeError);
    expect(() => reader('00'.repeat(15)).uuid()).toThrow(DecodeError);
  });

  it('never reads past its end even when the buffer goes on', () => {
    const r = new Reader(hex('00000001 00000002'), 0, false, 6);
    expect(r.int32()).toBe(1);
    expect(() => r.int32()).toThrow(DecodeError);
  });
});

describe('Reader: varints', () => {
  it.each([
    ['00', 0],
    ['7f', 127],
    ['8001', 128],
    ['ac02', 300],
    ['ffffffff0f', 2 ** 32 - 1],
  ])('uvarint %s', (bytes, expected) => {
    expect(reader(bytes).uvarint()).toBe(expected);
  });

  it.each([
    ['00', 0],
    ['01', -1],
    ['02', 1],
    ['7f', -64],
    ['8001', 64],
    ['feffffff0f', 2 ** 31 - 1],
    ['ffffffff0f', -(2 ** 31)],
  ])('varint %s', (bytes, expected) => {
    expect(reader(bytes).varint()).toBe(expected);
  });

  it('accepts a non-minimal uvarint (Kafka does) and refuses a sixth byte', () => {
    expect(reader('8080808000').uvarint()).toBe(0);
    expect(() => reader('808080808000').uvarint()).toThrow(DecodeError);
  });

  it('refuses a varlong longer than 10 bytes and a truncated one', () => {
    expect(reader('80808080808080808000').varlong()).toBe(0);
    expect(() => reader('8080808080808080808000').varlong()).toThrow(DecodeError);
    expect(() => reader('8080').varlong()).toThrow(DecodeError);
    expect(() => reader('80').varint()).toThrow(DecodeError);
  });
});

describe('Reader: strings and bytes, classic and compact, null and empty', () => {
  it.each([
    ['0003616263', false, 'abc'],
    ['04616263', true, 'abc'],
    ['ffff', false, null],
    ['00', true, null],
    ['0000', false, ''],
    ['01', true, ''],
    ['0002c3a9', false, 'é'],
  ])('nullableString %s (flexible %s)', (bytes, flexible, expected) => {
    const r = reader(bytes, flexible);
    expect(r.nullableString()).toBe(expected);
    expect(r.remaining).toBe(0);
  });

  it('string() refuses null', () => {
    expect(() => reader('ffff').string()).toThrow(DecodeError);
    expect(() => reader('00', true).string()).toThrow(DecodeError);
  });

  it.each([
    ['000000020102', false, '0102'],
    ['030102', true, '0102'],
    ['00000000', false, ''],
    ['01', true, ''],
  ])('bytes %s (flexible %s)', (bytes, flexible, expected) => {
    const r = reader(bytes, flexible);
    expect(r.nullableBytes()!.toString('hex')).toBe(expected);
    expect(r.remaining).toBe(0);
  });

  it('tells null bytes from empty ones, and bytes() reads null as empty', () => {
    expect(reader('ffffffff').nullableBytes()).toBeNull();
    expect(reader('00', true).nullableBytes()).toBeNull();
    expect(reader('ffffffff').bytes()).toEqual(Buffer.alloc(0));
  });

  it('returns bytes as a view into the request (no copy)', () => {
    const buf = hex('00000002 0102');
    const view = new Reader(buf).bytes();
    buf[4] = 9;
    expect(view[0]).toBe(9);
  });
});

describe('Reader: arrays, classic and compact, null and empty', () => {
  const int8s = (r: Reader): number[] | null => r.nullableArray((rr) => rr.int8());
  it.each([
    ['000000020102', false, [1, 2]],
    ['030102', true, [1, 2]],
    ['ffffffff', false, null],
    ['00', true, null],
    ['00000000', false, []],
    ['01', true, []],
  ])('%s (flexible %s)', (bytes, flexible, expected) => {
    const r = reader(bytes, flexible);
    expect(int8s(r)).toEqual(expected);
    expect(r.remaining).toBe(0);
  });

  it('array() reads null as empty', () => {
    expect(reader('ffffffff').array((r) => r.int8())).toEqual([]);
  });
});

describe('Reader: length guards', () => {
  it('refuses an array count larger than the bytes left, before allocating', () => {
    // 2^31 − 1 elements claimed with 3 bytes left: allocating first would take gigabytes.
    expect(() => reader('7fffffff 010203').nullableArray((r) => r.int8())).toThrow(/array of 2147483647 elements in 3 bytes/);
    // The compact form can claim even more (up to 2^35 − 2).
    expect(() => reader('ffffffff7f 01', true).nullableArray((r) => r.int8())).toThrow(DecodeError);
  });

  it('accepts an array count equal to the bytes left', () => {
    expect(reader('00000003 010203').array((r) => r.int8())).toEqual([1, 2, 3]);
  });

  it('refuses a string or bytes length longer than the bytes left', () => {
    expect(() => reader('0004 616263').nullableString()).toThrow(DecodeError);
    expect(() => reader('7fff').nullableString()).toThrow(DecodeError);
    expect(() => reader('06 61626364', true).nullableString()).toThrow(DecodeError);
    expect(() => reader('00000004 010203').nullableBytes()).toThrow(DecodeError);
    expect(() => reader('7fffffff').nullableBytes()).toThrow(DecodeError);
    expect(() => reader('ffffffff0f', true).nullableBytes()).toThrow(DecodeError);
  });

  it('leaves the offset where the refused value started its payload, inside the frame', () => {
    const r = reader('0004 616263');
    expect(() => r.nullableString()).toThrow(DecodeError);
    expect(r.offset).toBeLessThanOrEqual(r.end);
  });
});

describe('Reader: tagged fields', () => {
  it('skips a tag section with unknown tags in flexible mode', () => {
    // 2 tags: tag 0 with 3 bytes, tag 5 with 0 bytes; then an int8 follows.
    const r = reader('02 00 03 aabbcc 05 00 2a', true);
    r.tags();
    expect(r.int8()).toBe(42);
  });

  it('reads an empty tag section as one byte', () => {
    const r = reader('00 2a', true);
    r.tags();
    expect(r.offset).toBe(1);
  });

  it('reads nothing for tags in classic mode', () => {
    const r = reader('02 00', false);
    r.tags();
    expect(r.offset).toBe(0);
  });

  it('refuses a tag whose size runs past the end, and a lying tag count', () => {
    expect(() => reader('01 00 05 aabb', true).tags()).toThrow(DecodeError);
    expect(() => reader('ffffffff0f 0000', true).tags()).toThrow(DecodeError);
  });
});
