/**
 * The tail cache: the most recently appended batches of a partition, in offset order, so
 * that consumers and followers at the head of the log are served without touching the
 * filesystem. Batches not yet committed to the segment file are always here (it is the
 * only place a read can find them); committed ones are evicted, oldest first, once the
 * cache holds more than its limit.
 *
 * Entries are the very buffers handed to `append` (no copy); readers receive them as is
 * and must not mutate them.
 */
import type { ReadResult } from '../partition-log.ts';

export interface TailBatch {
  readonly base: number;
  /** The offset after the batch's last record. */
  readonly next: number;
  readonly buf: Buffer;
  readonly maxTimestamp: number;
}

/** Below this many dead slots, the array is not worth compacting. */
const COMPACT_SLOTS_MIN = 1024;

export class TailCache {
  /** Slots before `head` are dead (undefined) until the array is compacted. */
  private entries: (TailBatch | undefined)[] = [];
  private head = 0;
  private held = 0;

  get bytes(): number {
    return this.held;
  }
  get size(): number {
    return this.entries.length - this.head;
  }
  /** The base offset of the oldest cached batch, or null when empty. */
  firstBase(): number | null {
    return this.entries[this.head]?.base ?? null;
  }

  push(b: TailBatch): void {
    this.entries.push(b);
    this.held += b.buf.length;
  }

  /** Evicts the oldest batches that end at or below `committed` while over `limitBytes`. */
  evict(committed: number, limitBytes: number): void {
    while (this.held > limitBytes) {
      const first = this.entries[this.head];
      if (first === undefined || first.next > committed) break;
      this.entries[this.head] = undefined; // releases the buffer
      this.head++;
      this.held -= first.buf.length;
    }
    if (this.head >= COMPACT_SLOTS_MIN && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Removes every batch at or after `offset` (they were not appended after all). */
  truncateFrom(offset: number): void {
    while (this.entries.length > this.head) {
      const last = this.entries[this.entries.length - 1]!;
      if (last.base < offset) break;
      this.entries.pop();
      this.held -= last.buf.length;
    }
  }

  /** Position (for `at`) of the cached batch containing `offset`, or -1. */
  find(offset: number): number {
    let lo = this.head;
    let hi = this.entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.entries[mid]!;
      if (offset < e.base) hi = mid - 1;
      else if (offset >= e.next) lo = mid + 1;
      else return mid;
    }
    return -1;
  }
  at(i: number): TailBatch | undefined {
    return i >= this.head ? this.entries[i] : undefined;
  }
  /** Index after the newest entry, for iteration with `at`. */
  end(): number {
    return this.entries.length;
  }

  /**
   * Reads per the PartitionLog contract, or returns null when `offset` is older than the
   * cache. Every batch returned ends below `maxOffset`; the first is returned whatever
   * its size, later ones while the total stays within `maxBytes`.
   */
  read(offset: number, maxBytes: number, maxOffset: number): ReadResult | null {
    const i = this.find(offset);
    if (i < 0) return null;
    const chunks: Buffer[] = [];
    let bytes = 0;
    for (let j = i; j < this.entries.length; j++) {
      const e = this.entries[j]!;
      if (e.next > maxOffset) break;
      if (bytes > 0 && bytes + e.buf.length > maxBytes) break;
      chunks.push(e.buf);
      bytes += e.buf.length;
    }
    return { chunks, bytes };
  }
}
