/**
 * SharedLog: one partition of the shared-storage engine. The broker holds no durable
 * state of its own: a partition's log is
 *
 *   [logStart … committedEnd)   object ranges, as committed to the controller's index
 *   [committedEnd … logEnd)     batches in memory, each in an entry of the broker's WAL
 *
 * Appends assign offsets synchronously and go to the broker WAL (acks=1: one node fsynced;
 * acks=all and the high watermark: the ack quorum). The uploader takes durable batches,
 * packs those of many partitions into one object, PUTs it and commits the ranges to the
 * controller (fenced by this broker's leader epoch); only then do the batches leave the
 * pending list (a bounded "recent" list keeps the newest for reads) and their WAL entries
 * become trimmable.
 *
 * Reads: from memory when the offset is at or after the oldest batch kept there; else
 * from the object range that holds it (one ranged GET through the block cache, CRC-checked).
 * A read never spans two sources: the consumer fetches again from where it stopped.
 */
import type { Logger } from 'pino';
import { scanBatches, setBaseOffset, type BatchHeader } from '../../protocol/record-batch.ts';
import type { ObjectRange, ObjectSection } from '../../metadata/controller-api.ts';
import { OffsetOutOfRangeError, StorageError, type AppendResult, type LogConfig, type PartitionLog, type ReadResult } from '../partition-log.ts';
import { ProducerStateTable, type ProducerSnapshot } from '../producer-state.ts';
import type { BrokerWal, WalItem, WalMember } from './broker-wal.ts';
import type { ObjectIndexClient } from './index-client.ts';
import { SharedStorageLimits } from './limits.ts';
import { streamIdOf, type ObjectReads } from './object-reads.ts';

export interface MemBatch {
  base: number;
  next: number;
  buf: Buffer;
  header: BatchHeader;
  state: 'pending' | 'uploading' | 'committed';
  durable: boolean;
  item: WalItem | null;
}

/** What a SharedLog needs from its engine. */
export interface SharedLogServices {
  brokerId: number;
  wal: BrokerWal;
  reads: ObjectReads;
  index: ObjectIndexClient;
  backlog: { add(bytes: number): void; exceeded(): boolean; limitBytes: number };
  uploader: { register(log: SharedLog): void; unregister(log: SharedLog): void; flush(log: SharedLog, timeoutMs: number): Promise<void> };
  logger: Logger;
}

export interface SharedLogIdentity {
  topic: string;
  topicId: string;
  partition: number;
  leaderEpoch: number;
}

/** Index of the first element whose `key(el) > x`, in a sorted array. */
function upperBound<T>(arr: readonly T[], x: number, key: (el: T) => number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(arr[mid]!) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SharedLog implements PartitionLog, WalMember {
  readonly streamId: string;
  private ranges: ObjectRange[];
  private logStart: number;
  private committedEnd: number;
  /** Committed batches kept for reads, then pending ones: sorted, contiguous. */
  private mem: MemBatch[] = [];
  private recentBytes = 0;
  private pendingBytes = 0;
  private logEnd: number;
  private hw: number;
  private readonly hwListeners = new Set<(hw: number) => void>();
  /** The producer table as of committedEnd: the snapshot each upload carries. */
  readonly uploadedProducers = new ProducerStateTable();
  private state: 'open' | 'closing' | 'closed' = 'open';
  /** Set when the controller refused a commit for this partition: another broker owns it now. */
  private fencedBy: StorageError | null = null;

  private constructor(
    readonly id: SharedLogIdentity,
    private readonly config: LogConfig,
    private readonly services: SharedLogServices,
    index: { logStartOffset: number; endOffset: number; objects: ObjectRange[] },
  ) {
    this.streamId = streamIdOf(id.topic, id.topicId, id.partition);
    this.ranges = index.objects;
    this.logStart = index.logStartOffset;
    this.committedEnd = index.endOffset;
    this.logEnd = index.endOffset;
    this.hw = index.endOffset;
  }

  /** Opens the partition from the controller's object index (its data is all in objects). */
  static async open(id: SharedLogIdentity, config: LogConfig, services: SharedLogServices): Promise<SharedLog> {
    const res = await services.index.partitionObjects(id.topic, id.partition);
    if (res.errorCode !== 0) {
      throw new StorageError('FLOE_ERR_STORAGE_IO', `the controller has no object index for ${id.topic}-${id.partition}: ${res.errorMessage ?? `error ${res.errorCode}`}`);
    }
    if (res.topicId !== id.topicId) {
      throw new StorageError('FLOE_ERR_STORAGE_CLOSED', `${id.topic}-${id.partition} belongs to topic id ${res.topicId} now, not ${id.topicId}`);
    }
    const log = new SharedLog(id, config, services, res);
    try {
      const snap = await log.producerSnapshot();
      if (snap.snapshot) log.uploadedProducers.load(snap.snapshot);
      await log.scanRanges(snap.fromOffset, (h) => log.uploadedProducers.record(h, h.baseOffset));
    } catch (err) {
      // An object that fails its checks must not make the whole partition unavailable: the
      // good ranges are still served and the bad one is reported on every read. Producers
      // whose state was in it must start over (OUT_OF_ORDER_SEQUENCE_NUMBER until then).
      services.logger.error({ err, topic: id.topic, partition: id.partition }, 'cannot rebuild the producer table from object storage; opening without it');
      log.uploadedProducers.clear();
    }
    services.uploader.register(log);
    return log;
  }

  logStartOffset(): number {
    return this.logStart;
  }
  logEndOffset(): number {
    return this.logEnd;
  }
  highWatermark(): number {
    return this.hw;
  }
  sizeBytes(): number {
    let n = this.pendingBytes;
    for (const r of this.ranges) n += r.length;
    return n;
  }
  /** Bytes appended and not yet committed to object storage. */
  pendingByteCount(): number {
    return this.pendingBytes;
  }

  // ------------------------------------------------------------------ append path

  append(batch: Buffer, header: BatchHeader): AppendResult {
    const refuse = (err: StorageError): AppendResult => {
      const p = Promise.reject(err);
      p.catch(() => undefined);
      return { baseOffset: this.logEnd, leaderDurable: p, fullyDurable: p };
    };
    if (this.state !== 'open') return refuse(new StorageError('FLOE_ERR_STORAGE_CLOSED', `${this.id.topic}-${this.id.partition} is closed on this broker`));
    if (this.fencedBy) return refuse(this.fencedBy);
    if (this.services.backlog.exceeded()) {
      return refuse(new StorageError('FLOE_ERR_STORAGE_BACKLOG', `more than ${this.services.backlog.limitBytes} bytes wait for object storage; retry later`));
    }
    const base = this.logEnd;
    const next = base + header.lastOffsetDelta + 1;
    setBaseOffset(batch, base);
    const m: MemBatch = { base, next, buf: batch, header: { ...header, baseOffset: base }, state: 'pending', durable: false, item: null };
    this.mem.push(m);
    this.logEnd = next;
    this.pendingBytes += batch.length;
    this.services.backlog.add(batch.length);
    let item;
    try {
      item = this.services.wal.add(
        { topic: this.id.topic, topicId: this.id.topicId, partition: this.id.partition, leaderEpoch: this.id.leaderEpoch, baseOffset: base, nextOffset: next, batch },
        this,
      );
    } catch (err) {
      this.dropFrom(base);
      throw err;
    }
    m.item = item;
    return { baseOffset: base, leaderDurable: item.group.one.promise, fullyDurable: item.group.quorum.promise };
  }

  /** WalMember: the batch is on the ack quorum. Batches become durable in offset order. */
  durable(item: WalItem): void {
    const m = this.memAt(item.batch.baseOffset);
    if (!m || m.durable) return;
    m.durable = true;
    if (m.next > this.hw) {
      this.hw = m.next;
      for (const l of this.hwListeners) {
        try {
          l(this.hw);
        } catch (err) {
          this.services.logger.error({ err }, 'high watermark listener threw');
        }
      }
    }
  }

  /** WalMember: the batch never reached the WAL; its offsets are given back. */
  rolledBack(item: WalItem): void {
    this.dropFrom(item.batch.baseOffset);
  }

  private dropFrom(base: number): void {
    const i = this.mem.findIndex((m) => m.base === base);
    if (i < 0) return;
    for (const m of this.mem.splice(i)) {
      this.pendingBytes -= m.buf.length;
      this.services.backlog.add(-m.buf.length);
    }
    this.logEnd = base;
  }

  private memAt(base: number): MemBatch | undefined {
    const i = upperBound(this.mem, base, (m) => m.base) - 1;
    const m = this.mem[i];
    return m && m.base === base ? m : undefined;
  }

  // ------------------------------------------------------------------ upload path (driven by the uploader)

  /**
   * Durable batches not yet in an upload, contiguous from the first such one, up to about
   * `maxBytes` (at least one). Marks them as uploading.
   */
  takeForUpload(maxBytes: number): MemBatch[] {
    if (this.fencedBy) return [];
    const out: MemBatch[] = [];
    let bytes = 0;
    for (const m of this.mem) {
      if (m.state === 'committed') continue;
      if (m.state === 'uploading') {
        if (out.length > 0) break;
        continue;
      }
      if (!m.durable || (out.length > 0 && bytes + m.buf.length > maxBytes)) break;
      m.state = 'uploading';
      out.push(m);
      bytes += m.buf.length;
    }
    return out;
  }

  /** An object section of this partition at this broker's leader epoch, for a commit. */
  sectionOf(entry: { startOffset: number; endOffset: number; position: number; length: number }): ObjectSection & { leaderEpoch: number } {
    return {
      topic: this.id.topic,
      topicId: this.id.topicId,
      partition: this.id.partition,
      leaderEpoch: this.id.leaderEpoch,
      startOffset: entry.startOffset,
      endOffset: entry.endOffset,
      position: entry.position,
      length: entry.length,
    };
  }

  /** Durable bytes waiting for an upload (the uploader's size trigger). */
  uploadableBytes(): number {
    let n = 0;
    for (const m of this.mem) if (m.state === 'pending' && m.durable) n += m.buf.length;
    return n;
  }

  /** The producer table after `batches` (which follow committedEnd): the section's snapshot. */
  producersAfter(batches: readonly MemBatch[]): ProducerSnapshot {
    const t = new ProducerStateTable();
    t.load(this.uploadedProducers.toJSON());
    for (const b of batches) t.record(b.header, b.base);
    return t.toJSON();
  }

  /** The uploader committed `batches` (the oldest uncommitted ones) as `range`. */
  uploadCommitted(batches: readonly MemBatch[], range: ObjectRange): void {
    this.ranges.push(range);
    this.committedEnd = range.endOffset;
    for (const b of batches) {
      b.state = 'committed';
      this.uploadedProducers.record(b.header, b.base);
      this.pendingBytes -= b.buf.length;
      this.services.backlog.add(-b.buf.length);
      this.recentBytes += b.buf.length;
      if (b.item?.group) this.services.wal.committed(b.item.group);
      b.item = null;
    }
    // Keep only the newest committed batches in memory.
    while (this.recentBytes > SharedStorageLimits.recentBytesPerPartition && this.mem[0]?.state === 'committed') {
      this.recentBytes -= this.mem.shift()!.buf.length;
    }
  }

  /** The upload failed before commit: the batches wait for the next one. */
  uploadFailed(batches: readonly MemBatch[]): void {
    for (const b of batches) if (b.state === 'uploading') b.state = 'pending';
  }

  /** The controller refused the commit: this broker no longer owns the partition. */
  uploadFenced(batches: readonly MemBatch[], reason: string): void {
    this.fencedBy = new StorageError('FLOE_ERR_STORAGE_FENCED', `${this.id.topic}-${this.id.partition}: ${reason}`);
    this.uploadFailed(batches);
  }

  hasUncommitted(): boolean {
    return this.mem.some((m) => m.state !== 'committed');
  }

  isFenced(): boolean {
    return this.fencedBy !== null;
  }

  // ------------------------------------------------------------------ read path

  async read(offset: number, maxBytes: number, maxOffset: number): Promise<ReadResult> {
    if (this.state === 'closed') throw new StorageError('FLOE_ERR_STORAGE_CLOSED', `${this.id.topic}-${this.id.partition} is closed`);
    if (offset < this.logStart || offset > this.logEnd) throw new OffsetOutOfRangeError(offset, this.logStart, this.logEnd);
    if (offset >= this.logEnd || offset >= maxOffset) return { chunks: [], bytes: 0 };
    const firstInMemory = this.mem[0]?.base ?? this.committedEnd;
    if (offset >= firstInMemory) return this.readMemory(offset, maxBytes, maxOffset);
    return this.readObjects(offset, maxBytes, maxOffset);
  }

  private readMemory(offset: number, maxBytes: number, maxOffset: number): ReadResult {
    const chunks: Buffer[] = [];
    let bytes = 0;
    for (let i = Math.max(0, upperBound(this.mem, offset, (m) => m.base) - 1); i < this.mem.length; i++) {
      const m = this.mem[i]!;
      if (m.next <= offset) continue;
      if (m.next > maxOffset) break;
      if (chunks.length > 0 && bytes + m.buf.length > maxBytes) break;
      chunks.push(m.buf);
      bytes += m.buf.length;
    }
    return { chunks, bytes };
  }

  private rangeAt(offset: number): ObjectRange | undefined {
    const i = upperBound(this.ranges, offset, (r) => r.startOffset) - 1;
    const r = this.ranges[i];
    return r && offset < r.endOffset ? r : undefined;
  }

  private async readObjects(offset: number, maxBytes: number, maxOffset: number): Promise<ReadResult> {
    const range = this.rangeAt(offset);
    if (!range) throw new OffsetOutOfRangeError(offset, this.logStart, this.logEnd);
    const data = await this.services.reads.section(range, this.streamId);
    const chunks: Buffer[] = [];
    let bytes = 0;
    let start = -1;
    let end = -1;
    scanBatches(data, (h, at) => {
      const next = h.baseOffset + h.lastOffsetDelta + 1;
      if (next <= offset || end >= 0) return;
      if (next > maxOffset || (start >= 0 && at + h.sizeBytes - start > maxBytes)) {
        end = at;
        return;
      }
      if (start < 0) start = at;
    });
    if (start >= 0) {
      const view = data.subarray(start, end >= 0 ? end : data.length);
      chunks.push(view);
      bytes = view.length;
    }
    return { chunks, bytes };
  }

  async offsetForTimestamp(timestamp: number): Promise<number | null> {
    for (const r of this.ranges) {
      if (r.endOffset <= this.logStart) continue;
      const meta = await this.services.reads.meta(r, this.streamId);
      if (meta && meta.maxTimestamp < timestamp) continue;
      const data = await this.services.reads.section(r, this.streamId);
      let found: number | null = null;
      scanBatches(data, (h) => {
        if (found === null && h.maxTimestamp >= timestamp && h.baseOffset + h.lastOffsetDelta >= this.logStart) found = Math.max(h.baseOffset, this.logStart);
      });
      if (found !== null) return found;
    }
    for (const m of this.mem) {
      if (m.state !== 'committed' && m.base >= this.committedEnd && m.header.maxTimestamp >= timestamp && m.next > this.logStart) return Math.max(m.base, this.logStart);
    }
    return null;
  }

  /** Visits batch headers in objects from the range holding `fromOffset` up to committedEnd. */
  private async scanRanges(fromOffset: number, visit: (h: BatchHeader) => void): Promise<void> {
    for (const r of this.ranges) {
      if (r.endOffset <= fromOffset) continue;
      const data = await this.services.reads.section(r, this.streamId);
      scanBatches(data, (h) => {
        if (h.baseOffset + h.lastOffsetDelta >= fromOffset) visit(h);
      });
    }
  }

  async scanHeaders(fromOffset: number, visit: (h: BatchHeader) => void): Promise<void> {
    await this.scanRanges(fromOffset, visit);
    for (const m of this.mem) if (m.base >= this.committedEnd && m.next > fromOffset) visit(m.header);
  }

  /**
   * The newest producer snapshot among the last few objects' section metadata, and the
   * offset after it; without one, the whole log is replayed from its start.
   */
  async producerSnapshot(): Promise<{ snapshot: ProducerSnapshot | null; fromOffset: number }> {
    const lookback = this.ranges.slice(-SharedStorageLimits.snapshotLookbackObjects).reverse();
    for (const r of lookback) {
      const meta = await this.services.reads.meta(r, this.streamId);
      if (meta?.producers) return { snapshot: meta.producers, fromOffset: r.endOffset };
    }
    return { snapshot: null, fromOffset: this.logStart };
  }

  onHighWatermark(listener: (hw: number) => void): () => void {
    this.hwListeners.add(listener);
    return () => this.hwListeners.delete(listener);
  }

  // ------------------------------------------------------------------ retention and compaction

  async advanceLogStart(offset: number): Promise<void> {
    if (offset <= this.logStart) return;
    if (offset > this.hw) throw new OffsetOutOfRangeError(offset, this.logStart, this.hw);
    // Only committed data can be dropped from the index; a start inside the in-memory part
    // is remembered here and reaches the controller with a later call.
    const toIndex = Math.min(offset, this.committedEnd);
    if (toIndex > this.logStart) {
      const res = await this.services.index.advanceLogStart({
        brokerId: this.services.brokerId,
        topic: this.id.topic,
        partition: this.id.partition,
        leaderEpoch: this.id.leaderEpoch,
        logStartOffset: toIndex,
      });
      if (res.errorCode !== 0) throw new StorageError('FLOE_ERR_STORAGE_FENCED', `the controller refused to move the log start: ${res.errorMessage ?? res.errorCode}`);
    }
    this.logStart = offset;
    this.ranges = this.ranges.filter((r) => r.endOffset > toIndex);
  }

  /** Retention by size and time, on whole object ranges (never the in-memory part). */
  async maintain(nowMs: number): Promise<void> {
    if (this.state !== 'open' || this.fencedBy) return;
    let start = this.logStart;
    if (this.config.retentionBytes >= 0) {
      let total = this.sizeBytes();
      for (const r of this.ranges) {
        if (r.endOffset <= start) continue;
        if (total - r.length < this.config.retentionBytes) break;
        total -= r.length;
        start = r.endOffset;
      }
    }
    if (this.config.retentionMs >= 0) {
      for (const r of this.ranges) {
        if (r.endOffset <= start) continue;
        const meta = await this.services.reads.meta(r, this.streamId);
        if (!meta || meta.maxTimestamp < 0 || nowMs - meta.maxTimestamp <= this.config.retentionMs) break;
        start = r.endOffset;
      }
    }
    if (start > this.logStart) await this.advanceLogStart(start);
  }

  /** Ranges of this partition small enough to be worth merging: a run of consecutive ones. */
  compactionCandidates(): ObjectRange[] {
    let run: ObjectRange[] = [];
    for (const r of this.ranges) {
      if (r.endOffset <= this.logStart) continue;
      if (r.length < SharedStorageLimits.compactRangeBytesMax && run.reduce((n, x) => n + x.length, 0) + r.length <= SharedStorageLimits.compactObjectBytesMax) {
        run.push(r);
        continue;
      }
      if (run.length >= SharedStorageLimits.compactRangesMin) return run;
      run = [];
    }
    return run.length >= SharedStorageLimits.compactRangesMin ? run : [];
  }

  /** Reads the sections of `ranges` (for compaction). */
  async sectionsOf(ranges: readonly ObjectRange[]): Promise<Buffer[]> {
    return Promise.all(ranges.map((r) => this.services.reads.section(r, this.streamId)));
  }

  /** Compaction committed: `replaced` are now one range. */
  rangesReplaced(replaced: readonly ObjectRange[], merged: ObjectRange): void {
    const first = this.ranges.indexOf(replaced[0]!);
    if (first < 0) return;
    this.ranges.splice(first, replaced.length, merged);
  }

  // ------------------------------------------------------------------ lifecycle

  flush(): Promise<void> {
    return this.services.uploader.flush(this, SharedStorageLimits.closeFlushMsMax);
  }

  /**
   * Stops taking appends and uploads what it holds (a hand-over or a clean shutdown needs
   * it in object storage). When that fails within the bound, the data stays in the WAL,
   * where a recovery finds it.
   */
  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    try {
      if (!this.fencedBy) await this.flush();
    } catch (err) {
      this.services.logger.warn({ err, topic: this.id.topic, partition: this.id.partition }, 'closing: data not uploaded; it stays in the WAL');
    } finally {
      this.state = 'closed';
      this.services.uploader.unregister(this);
    }
  }

  /** The topic was deleted: nothing is uploaded; the controller drops its index. */
  destroy(): Promise<void> {
    this.state = 'closed';
    this.fencedBy = new StorageError('FLOE_ERR_STORAGE_CLOSED', 'topic deleted');
    for (const m of this.mem) {
      if (m.state !== 'committed') {
        this.services.backlog.add(-m.buf.length);
        if (m.item?.group) this.services.wal.committed(m.item.group);
      }
    }
    this.mem = [];
    this.pendingBytes = 0;
    this.services.uploader.unregister(this);
    return Promise.resolve();
  }
}
