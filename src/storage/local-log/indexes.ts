/**
 * The two sparse indexes of a segment, held in memory and persisted as flat files of
 * fixed-size big-endian entries (Kafka's layout, without its pre-allocation):
 *
 *   .index      relativeOffset u32 · position u32      (8 bytes)
 *   .timeindex  timestamp i64 · relativeOffset u32      (12 bytes)
 *
 * An offset entry (rel, pos) says: the batch whose baseOffset is `base + rel` starts at
 * byte `pos`. A time entry (ts, rel) says: every batch before offset `base + rel` has
 * maxTimestamp ≤ ts (at the moment it was written, ts was exactly that maximum). Both
 * are hints for finding a place to start scanning headers; a read checks the batch it
 * lands on, so an index can make a lookup slower but never make it wrong.
 *
 * Loading keeps the longest valid prefix of a file: a torn last entry, or one that breaks
 * the ordering, ends it.
 */
export const OFFSET_INDEX_ENTRY_BYTES = 8;
export const TIME_INDEX_ENTRY_BYTES = 12;
const TWO_POW_32 = 2 ** 32;

function grow(buf: Buffer, usedBytes: number, entryBytes: number): Buffer {
  if (usedBytes + entryBytes <= buf.length) return buf;
  // The old buffer is left untouched: a write of a view of it may still be in flight.
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, entryBytes * 64));
  buf.copy(next, 0, 0, usedBytes);
  return next;
}

export class OffsetIndex {
  private buf: Buffer = Buffer.alloc(0);
  private n = 0;

  get count(): number {
    return this.n;
  }
  relAt(i: number): number {
    return this.buf.readUInt32BE(i * OFFSET_INDEX_ENTRY_BYTES);
  }
  posAt(i: number): number {
    return this.buf.readUInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + 4);
  }

  append(rel: number, pos: number): void {
    if (this.n > 0 && (rel <= this.relAt(this.n - 1) || pos <= this.posAt(this.n - 1))) {
      throw new Error(`offset index entry (${rel}, ${pos}) does not follow the last one`);
    }
    this.buf = grow(this.buf, this.n * OFFSET_INDEX_ENTRY_BYTES, OFFSET_INDEX_ENTRY_BYTES);
    this.buf.writeUInt32BE(rel, this.n * OFFSET_INDEX_ENTRY_BYTES);
    this.buf.writeUInt32BE(pos, this.n * OFFSET_INDEX_ENTRY_BYTES + 4);
    this.n++;
  }

  /** The index of the last entry with relative offset ≤ `rel`, or -1. */
  floor(rel: number): number {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relAt(mid) <= rel) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** How many entries point at positions below `position`. */
  countBelowPosition(position: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.posAt(mid) < position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  truncate(count: number): void {
    this.n = Math.min(this.n, count);
  }

  /** Entries [from, to) as bytes; a view, valid until the next truncate. */
  bytes(from = 0, to = this.n): Buffer {
    return this.buf.subarray(from * OFFSET_INDEX_ENTRY_BYTES, to * OFFSET_INDEX_ENTRY_BYTES);
  }

  /** Loads the longest valid prefix of an index file for a segment of `segmentBytes`. */
  static load(file: Buffer, segmentBytes: number): OffsetIndex {
    const index = new OffsetIndex();
    const whole = Math.floor(file.length / OFFSET_INDEX_ENTRY_BYTES);
    let prevRel = -1;
    let prevPos = -1;
    let n = 0;
    for (; n < whole; n++) {
      const rel = file.readUInt32BE(n * OFFSET_INDEX_ENTRY_BYTES);
      const pos = file.readUInt32BE(n * OFFSET_INDEX_ENTRY_BYTES + 4);
      if (rel <= prevRel || pos <= prevPos || pos >= segmentBytes) break;
      prevRel = rel;
      prevPos = pos;
    }
    index.buf = Buffer.from(file.subarray(0, n * OFFSET_INDEX_ENTRY_BYTES));
    index.n = n;
    return index;
  }
}

export class TimeIndex {
  private buf: Buffer = Buffer.alloc(0);
  private n = 0;

  get count(): number {
    return this.n;
  }
  timestampAt(i: number): number {
    const at = i * TIME_INDEX_ENTRY_BYTES;
    return this.buf.readInt32BE(at) * TWO_POW_32 + this.buf.readUInt32BE(at + 4);
  }
  relAt(i: number): number {
    return this.buf.readUInt32BE(i * TIME_INDEX_ENTRY_BYTES + 8);
  }

  /**
   * Adds (timestamp, rel) unless it repeats the last entry. Timestamps never decrease
   * (each is a running maximum) and relative offsets strictly increase.
   */
  append(timestamp: number, rel: number): void {
    if (this.n > 0) {
      const lastRel = this.relAt(this.n - 1);
      const lastTs = this.timestampAt(this.n - 1);
      if (rel === lastRel && timestamp === lastTs) return;
      if (rel <= lastRel || timestamp < lastTs) {
        throw new Error(`time index entry (${timestamp}, ${rel}) does not follow (${lastTs}, ${lastRel})`);
      }
    }
    this.buf = grow(this.buf, this.n * TIME_INDEX_ENTRY_BYTES, TIME_INDEX_ENTRY_BYTES);
    const at = this.n * TIME_INDEX_ENTRY_BYTES;
    const hi = Math.floor(timestamp / TWO_POW_32);
    this.buf.writeInt32BE(hi, at);
    this.buf.writeUInt32BE(timestamp - hi * TWO_POW_32, at + 4);
    this.buf.writeUInt32BE(rel, at + 8);
    this.n++;
  }

  /** The relative offset of the last entry whose timestamp is below `timestamp`, or 0: every batch before it is older. */
  startRelFor(timestamp: number): number {
    let lo = 0;
    let hi = this.n - 1;
    let rel = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestampAt(mid) < timestamp) {
        rel = this.relAt(mid);
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return rel;
  }

  /** How many entries have a relative offset ≤ `rel`. */
  countUpToRel(rel: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relAt(mid) <= rel) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  truncate(count: number): void {
    this.n = Math.min(this.n, count);
  }

  bytes(from = 0, to = this.n): Buffer {
    return this.buf.subarray(from * TIME_INDEX_ENTRY_BYTES, to * TIME_INDEX_ENTRY_BYTES);
  }

  /** Loads the longest valid prefix of a time index file. */
  static load(file: Buffer): TimeIndex {
    const index = new TimeIndex();
    const whole = Math.floor(file.length / TIME_INDEX_ENTRY_BYTES);
    index.buf = Buffer.from(file.subarray(0, whole * TIME_INDEX_ENTRY_BYTES));
    let n = 0;
    let prevRel = -1;
    let prevTs = -Infinity;
    for (; n < whole; n++) {
      index.n = n + 1;
      const ts = index.timestampAt(n);
      const rel = index.relAt(n);
      if (rel <= prevRel || ts < prevTs) break;
      prevRel = rel;
      prevTs = ts;
    }
    index.n = n;
    return index;
  }
}
