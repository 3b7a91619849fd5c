/**
 * Writer: encodes Kafka's primitive types into a list of buffers.
 *
 * Small fields go into a growing scratch buffer; large byte arrays (record batches on the
 * fetch path) are not copied but referenced as chunks of their own, so that a Fetch
 * response goes to the socket as a vector of views (`socket.cork` + writes). The caller
 * must keep a referenced buffer unchanged until the chunks have been written.
 *
 * Like Reader, `flexible` selects the compact forms and real tagged-field sections.
 */
const TWO_POW_32 = 2 ** 32;
const TWO_POW_52 = 2 ** 52;
/** Byte arrays at least this long are referenced, not copied. */
const REFERENCE_BYTES_MIN = 4096;

export class Writer {
  private scratch: Buffer;
  private at = 0;
  /** Start of the part of `scratch` not yet handed to `chunks`. */
  private flushedTo = 0;
  private readonly chunks: Buffer[] = [];
  private chunkedBytes = 0;

  constructor(
    readonly flexible = false,
    initialBytes = 256,
  ) {
    this.scratch = Buffer.allocUnsafe(initialBytes);
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.chunkedBytes + (this.at - this.flushedTo);
  }

  private room(n: number): number {
    if (this.at + n > this.scratch.length) {
      // Hand the written part over as a chunk and start a fresh scratch buffer; the old
      // one stays alive through that chunk (a view), so nothing is copied.
      this.flushScratch();
      this.scratch = Buffer.allocUnsafe(Math.max(n, this.scratch.length * 2));
      this.at = 0;
      this.flushedTo = 0;
    }
    const at = this.at;
    this.at += n;
    return at;
  }

  private flushScratch(): void {
    if (this.at > this.flushedTo) {
      const chunk = this.scratch.subarray(this.flushedTo, this.at);
      this.chunks.push(chunk);
      this.chunkedBytes += chunk.length;
      this.flushedTo = this.at;
    }
  }

  // Every write reserves its room before it touches `this.scratch`: room() may replace the
  // scratch buffer, and `this.scratch.writeX(v, this.room(n))` would evaluate the old buffer
  // first and write into it (corrupting an already handed-over chunk).
  int8(v: number): this {
    const at = this.room(1);
    this.scratch.writeInt8(v, at);
    return this;
  }
  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }
  int16(v: number): this {
    const at = this.room(2);
    this.scratch.writeInt16BE(v, at);
    return this;
  }
  int32(v: number): this {
    const at = this.room(4);
    this.scratch.writeInt32BE(v, at);
    return this;
  }
  uint32(v: number): this {
    const at = this.room(4);
    this.scratch.writeUInt32BE(v, at);
    return this;
  }
  int64(v: number): this {
    const at = this.room(8);
    const hi = Math.floor(v / TWO_POW_32);
    this.scratch.writeInt32BE(hi, at);
    this.scratch.writeUInt32BE(v - hi * TWO_POW_32, at + 4);
    return this;
  }
  float64(v: number): this {
    const at = this.room(8);
    this.scratch.writeDoubleBE(v, at);
    return this;
  }
  uuid(v: Buffer | null): this {
    const at = this.room(16);
    if (v === null) this.scratch.fill(0, at, at + 16);
    else v.copy(this.scratch, at, 0, 16);
    return this;
  }
  uvarint(v: number): this {
    let value = v;
    while (value >= 0x80) {
      const at = this.room(1);
      this.scratch[at] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    const at = this.room(1);
    this.scratch[at] = value;
    return this;
  }
  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  /** Zig-zag signed varlong; exact for every safe integer (±(2^53 − 1)). */
  varlong(v: number): this {
    // Zig-zag doubles the magnitude; from 2^52 on the result no longer fits a double
    // exactly, so those (rare) values are encoded through BigInt.
    if (Math.abs(v) < TWO_POW_52) return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
    const signed = BigInt(v);
    let zigzag = (signed << 1n) ^ (signed >> 63n);
    while (zigzag >= 0x80n) {
      const at = this.room(1);
      this.scratch[at] = Number(zigzag & 0x7fn) | 0x80;
      zigzag >>= 7n;
    }
    const at = this.room(1);
    this.scratch[at] = Number(zigzag);
    return this;
  }

  /** Raw bytes without a length prefix; large ones are referenced, not copied. */
  raw(bytes: Buffer): this {
    if (bytes.length >= REFERENCE_BYTES_MIN) {
      this.flushScratch();
      this.chunks.push(bytes);
      this.chunkedBytes += bytes.length;
    } else {
      const at = this.room(bytes.length);
      bytes.copy(this.scratch, at);
    }
    return this;
  }

  private lengthPrefix(n: number, classic: 'int16' | 'int32'): void {
    if (this.flexible) this.uvarint(n + 1);
    else if (classic === 'int16') this.int16(n);
    else this.int32(n);
  }

  nullableString(v: string | null): this {
    if (v === null) {
      this.lengthPrefix(-1, 'int16');
      return this;
    }
    const n = Buffer.byteLength(v, 'utf8');
    this.lengthPrefix(n, 'int16');
    const at = this.room(n);
    this.scratch.write(v, at, n, 'utf8');
    return this;
  }
  string(v: string): this {
    return this.nullableString(v);
  }

  nullableBytes(v: Buffer | null): this {
    if (v === null) {
      this.lengthPrefix(-1, 'int32');
      return this;
    }
    this.lengthPrefix(v.length, 'int32');
    return this.raw(v);
  }
  bytes(v: Buffer): this {
    return this.nullableBytes(v);
  }
  /** The length prefix of a byte array whose bytes follow as raw() calls. */
  bytesLength(n: number): this {
    this.lengthPrefix(n, 'int32');
    return this;
  }

  nullableArray<T>(items: readonly T[] | null, item: (w: Writer, v: T) => void): this {
    if (items === null) {
      this.lengthPrefix(-1, 'int32');
      return this;
    }
    this.lengthPrefix(items.length, 'int32');
    for (const v of items) item(this, v);
    return this;
  }
  array<T>(items: readonly T[], item: (w: Writer, v: T) => void): this {
    return this.nullableArray(items, item);
  }

  /** An empty tagged-field section (flexible versions only). */
  tags(): this {
    if (this.flexible) this.uvarint(0);
    return this;
  }

  /** The encoded bytes as a list of buffers (views; no copy). */
  chunksOut(): Buffer[] {
    this.flushScratch();
    return this.chunks;
  }

  /** The encoded bytes as one buffer (copies when there is more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.chunksOut();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.chunkedBytes);
  }
}
