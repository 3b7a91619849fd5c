/**
 * One segment of a local log: `<20-digit base offset>.log` holding whole batches back to
 * back, with its sparse `.index` and `.timeindex` (indexes.ts).
 *
 * Only committed batches are described here: `bytes` and `endOffset` cover what has been
 * written (and synced, under per-batch fsync) by the log's writer; reads never look past
 * them. `syncedBytes`/`syncedOffset` say how much of that is known durable.
 *
 * Index files only ever describe durable data: entries are persisted after the log bytes
 * they point at were fsynced. Recovery relies on this to trust a segment's index up to its
 * last entry and to check batches only after it.
 */
import * as path from 'node:path';
import type { FileHandle, FileSystem } from '../../common/fs.ts';
import { errnoOf } from './batch-io.ts';
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex, TIME_INDEX_ENTRY_BYTES, TimeIndex } from './indexes.ts';

export const SegmentFile = {
  LOG: '.log',
  INDEX: '.index',
  TIME_INDEX: '.timeindex',
} as const;
export type SegmentFile = (typeof SegmentFile)[keyof typeof SegmentFile];

/** Matches the files of a segment; group 1 is the base offset, group 2 the suffix without its dot. */
export const SEGMENT_FILE_PATTERN = /^(\d{20})\.(log|index|timeindex)$/;

export function segmentFileName(base: number, file: SegmentFile): string {
  return `${String(base).padStart(20, '0')}${file}`;
}

export class Segment {
  /** Bytes of committed batches: the readable length of the file. */
  bytes = 0;
  /** The offset after the last committed batch. */
  endOffset: number;
  syncedBytes = 0;
  syncedOffset: number;
  /** The largest batch maxTimestamp committed here (-1: none). */
  maxTimestamp = -1;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  /** Set when a lookup found the offset index pointing at the wrong batch: lookups then scan from the start. */
  indexSuspect = false;
  /** Set when the file was truncated (a failed append) and that is not yet fsynced. */
  truncatedUnsynced = false;

  private bytesSinceIndexEntry = 0;
  private persistedOffsetEntries = 0;
  private persistedTimeEntries = 0;
  private indexHandle: FileHandle | null = null;
  private timeIndexHandle: FileHandle | null = null;
  private refs = 0;
  private retired: Promise<void> | null = null;
  private idle: (() => void) | null = null;

  constructor(
    readonly dir: string,
    readonly base: number,
    readonly handle: FileHandle,
    /** When segment.ms starts counting for this segment (wall-clock ms). */
    readonly rollAtMs: number,
    private readonly indexIntervalBytes: number,
    indexes?: { offsetIndex: OffsetIndex; timeIndex: TimeIndex },
  ) {
    this.endOffset = base;
    this.syncedOffset = base;
    this.offsetIndex = indexes?.offsetIndex ?? new OffsetIndex();
    this.timeIndex = indexes?.timeIndex ?? new TimeIndex();
  }

  path(file: SegmentFile): string {
    return path.join(this.dir, segmentFileName(this.base, file));
  }

  /**
   * Accounts for one committed batch at `position` (the current end): adds index entries
   * every `indexIntervalBytes`, and moves the end and the maximum timestamp.
   */
  noteBatch(baseOffset: number, nextOffset: number, position: number, sizeBytes: number, maxTimestamp: number): void {
    if (this.bytesSinceIndexEntry >= this.indexIntervalBytes) {
      const rel = baseOffset - this.base;
      this.offsetIndex.append(rel, position);
      this.timeIndex.append(this.maxTimestamp, rel);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += sizeBytes;
    if (maxTimestamp > this.maxTimestamp) this.maxTimestamp = maxTimestamp;
    this.endOffset = nextOffset;
    this.bytes = position + sizeBytes;
  }

  /** Restarts the running state at a batch boundary, for recovery to continue from there. */
  resumeAt(position: number, offset: number, maxTimestamp: number): void {
    this.bytes = position;
    this.endOffset = offset;
    this.maxTimestamp = maxTimestamp;
    this.bytesSinceIndexEntry = 0;
  }

  markSynced(): void {
    this.syncedBytes = this.bytes;
    this.syncedOffset = this.endOffset;
    this.truncatedUnsynced = false;
  }

  /** True when an fdatasync would make something durable: committed bytes or a truncation. */
  needsSync(): boolean {
    return this.syncedBytes < this.bytes || this.truncatedUnsynced;
  }

  /** Records the segment's maximum timestamp at its end, so that it survives in the time index. */
  sealTimeIndex(): void {
    if (this.bytes > 0) this.timeIndex.append(this.maxTimestamp, this.endOffset - this.base);
  }

  /** Where to start scanning for `offset`: a batch start at or before it, with the base offset expected there. */
  lookup(offset: number): { position: number; baseOffset: number } {
    const i = this.indexSuspect ? -1 : this.offsetIndex.floor(offset - this.base);
    return i < 0 ? { position: 0, baseOffset: this.base } : { position: this.offsetIndex.posAt(i), baseOffset: this.base + this.offsetIndex.relAt(i) };
  }

  private async indexFile(fs: FileSystem, which: 'offset' | 'time'): Promise<FileHandle> {
    if (which === 'offset') return (this.indexHandle ??= await fs.open(this.path(SegmentFile.INDEX), 'write'));
    return (this.timeIndexHandle ??= await fs.open(this.path(SegmentFile.TIME_INDEX), 'write'));
  }

  /**
   * Appends to the index files the entries that describe synced data and are not on disk
   * yet, and fsyncs them. Entries are never rewritten, so a failed attempt is simply
   * repeated by the next one.
   */
  async persistIndexes(fs: FileSystem): Promise<void> {
    const offsetTo = this.offsetIndex.countBelowPosition(this.syncedBytes);
    if (offsetTo > this.persistedOffsetEntries) {
      const h = await this.indexFile(fs, 'offset');
      await h.write(this.offsetIndex.bytes(this.persistedOffsetEntries, offsetTo), this.persistedOffsetEntries * OFFSET_INDEX_ENTRY_BYTES);
      await h.datasync();
      this.persistedOffsetEntries = offsetTo;
    }
    const timeTo = this.timeIndex.countUpToRel(this.syncedOffset - this.base);
    if (timeTo > this.persistedTimeEntries) {
      const h = await this.indexFile(fs, 'time');
      await h.write(this.timeIndex.bytes(this.persistedTimeEntries, timeTo), this.persistedTimeEntries * TIME_INDEX_ENTRY_BYTES);
      await h.datasync();
      this.persistedTimeEntries = timeTo;
    }
  }

  /** Replaces both index files with the in-memory indexes (recovery, after the log was synced). */
  async rewriteIndexes(fs: FileSystem): Promise<void> {
    for (const which of ['offset', 'time'] as const) {
      const h = await this.indexFile(fs, which);
      const bytes = which === 'offset' ? this.offsetIndex.bytes() : this.timeIndex.bytes();
      await h.truncate(0);
      if (bytes.length > 0) await h.write(bytes, 0);
      await h.datasync();
    }
    this.persistedOffsetEntries = this.offsetIndex.count;
    this.persistedTimeEntries = this.timeIndex.count;
  }

  /** Marks the index files as matching memory (a segment loaded clean from disk). */
  assumeIndexesPersisted(): void {
    this.persistedOffsetEntries = this.offsetIndex.count;
    this.persistedTimeEntries = this.timeIndex.count;
  }

  /** Closes the index files (a sealed segment's indexes are complete on disk). */
  async closeIndexFiles(): Promise<void> {
    const handles = [this.indexHandle, this.timeIndexHandle];
    this.indexHandle = null;
    this.timeIndexHandle = null;
    for (const h of handles) if (h !== null) await h.close();
  }

  /** Pins the segment's file handle for a read; false once the segment is retired. */
  acquire(): boolean {
    if (this.retired !== null) return false;
    this.refs++;
    return true;
  }
  release(): void {
    this.refs--;
    if (this.refs === 0 && this.idle !== null) this.idle();
  }

  /** Stops new reads and closes the files once the reads in flight are done. */
  retire(): Promise<void> {
    this.retired ??= (this.refs === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.idle = resolve))).then(async () => {
      await this.closeIndexFiles();
      await this.handle.close();
    });
    return this.retired;
  }

  /** Removes the segment's files (after `retire`); files already gone are fine. */
  async removeFiles(fs: FileSystem): Promise<void> {
    await removeSegmentFiles(fs, this.dir, this.base);
  }

  /** Creates the files of a new, empty segment; stale files of that name (a roll that failed half-way) are cleared. */
  static async create(fs: FileSystem, dir: string, base: number, rollAtMs: number, indexIntervalBytes: number): Promise<Segment> {
    const handle = await fs.open(path.join(dir, segmentFileName(base, SegmentFile.LOG)), 'write');
    try {
      if ((await handle.size()) > 0) await handle.truncate(0);
      for (const file of [SegmentFile.INDEX, SegmentFile.TIME_INDEX]) await unlinkIfPresent(fs, path.join(dir, segmentFileName(base, file)));
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    return new Segment(dir, base, handle, rollAtMs, indexIntervalBytes);
  }
}

export async function unlinkIfPresent(fs: FileSystem, file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

export async function removeSegmentFiles(fs: FileSystem, dir: string, base: number): Promise<void> {
  for (const file of [SegmentFile.LOG, SegmentFile.INDEX, SegmentFile.TIME_INDEX]) {
    await unlinkIfPresent(fs, path.join(dir, segmentFileName(base, file)));
  }
}
