/**
 * Reader: decodes Kafka's primitive types from a buffer.
 *
 * One Reader reads one request body at one version. When `flexible` is set (KIP-482
 * versions) strings, bytes and arrays use the compact forms (unsigned varint N+1, 0 =
 * null) and `tags()` skips a tagged-field section; otherwise the classic forms are used
 * and `tags()` reads nothing. Handlers therefore write one decoder per message, not one
 * per encoding.
 *
 * Every read checks its bounds first; running past the end throws DecodeError, which the
 * connection answers by closing (Kafka's behaviour for a request it cannot parse).
 * Returned byte arrays are views into the request buffer (no copy): a caller that keeps
 * one beyond the request must copy it.
 */
export class DecodeError extends Error {
  readonly code = 'FLOE_ERR_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const TWO_POW_32 = 2 ** 32;
/** Bits of a varlong accumulated in a double before switching to BigInt (7 bytes). */
const VARLONG_NUMBER_BITS = 49;

export class Reader {
  offset: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    readonly flexible = false,
    end = buf.length,
  ) {
    this.offset = offset;
    this.end = end;
  }

  /** A reader over the same bytes at another flexibility (request headers switch mid-buffer). */
  withFlexible(flexible: boolean): Reader {
    return new Reader(this.buf, this.offset, flexible, this.end);
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): number {
    const at = this.offset;
    if (n < 0 || at + n > this.end) {
      throw new DecodeError(`need ${n} bytes at offset ${at}, only ${this.end - at} left`);
    }
    this.offset = at + n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1));
  }
  bool(): boolean {
    return this.int8() !== 0;
  }
  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }
  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }
  uint32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }
  /** INT64 as a JS number; offsets, ids and timestamps stay below 2^53 (see limits.ts). */
  int64(): number {
    const at = this.need(8);
    const hi = this.buf.readInt32BE(at);
    const lo = this.buf.readUInt32BE(at + 4);
    return hi * TWO_POW_32 + lo;
  }
  float64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }
  uuid(): Buffer {
    return this.view(16);
  }

  /** Unsigned LEB128 varint, at most 5 bytes (32 bits). */
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.buf.readUInt8(this.need(1));
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new DecodeError('varint longer than 5 bytes');
  }
  /** Zig-zag signed varint (32 bits). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  /**
   * Zig-zag signed varlong, as a number: exact for every safe integer (record timestamps
   * and offset deltas are far smaller), at most 10 bytes.
   */
  varlong(): number {
    let value = 0;
    // The first 7 bytes carry 49 bits, which a double holds exactly.
    for (let shift = 0; shift < VARLONG_NUMBER_BITS; shift += 7) {
      const byte = this.buf.readUInt8(this.need(1));
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    // A longer one finishes in BigInt so that zig-zag decoding stays exact near ±2^53.
    let big = BigInt(value);
    for (let shift = BigInt(VARLONG_NUMBER_BITS); shift < 70n; shift += 7n) {
      const byte = this.buf.readUInt8(this.need(1));
      big |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return Number((big >> 1n) ^ -(big & 1n));
    }
    throw new DecodeError('varlong longer than 10 bytes');
  }

  view(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  /** A length; -1 means null. Compact forms store N+1 so that 0 can mean null. */
  private length(classic: 'int16' | 'int32'): number {
    if (this.flexible) return this.uvarint() - 1;
    return classic === 'int16' ? this.int16() : this.int32();
  }

  nullableString(): string | null {
    const n = this.length('int16');
    if (n < 0) return null;
    const at = this.need(n);
    return this.buf.toString('utf8', at, at + n);
  }
  string(): string {
    const s = this.nullableString();
    if (s === null) throw new DecodeError('null where a string is required');
    return s;
  }

  nullableBytes(): Buffer | null {
    const n = this.length('int32');
    if (n < 0) return null;
    return this.view(n);
  }
  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }

  /** An array; `null` for a null array. Each element is read by `item`. */
  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.length('int32');
    if (n < 0) return null;
    // Every element takes at least one byte: a count larger than what is left is a lie
    // that would otherwise make us allocate before failing.
    if (n > this.remaining) throw new DecodeError(`array of ${n} elements in ${this.remaining} bytes`);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = item(this);
    return out;
  }
  array<T>(item: (r: Reader) => T): T[] {
    return this.nullableArray(item) ?? [];
  }

  /** Skips a tagged-field section (flexible versions only); floe reads no tagged field. */
  tags(): void {
    if (!this.flexible) return;
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint(); // tag
      this.need(this.uvarint());
    }
  }
}
