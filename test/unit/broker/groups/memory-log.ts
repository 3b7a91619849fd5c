/**
 * An in-memory PartitionLog, just enough of one for the coordinator: append (with
 * durability completed at once or by the test, and failures on demand), read, trim.
 * A failed append drops that batch and every later one, as the PartitionLog contract says.
 */
import { encodeOffsetsBatch, type OffsetsRecord } from '../../../../src/broker/groups/records.ts';
import { lastOffsetOf, readBatchHeader, setBaseOffset, type BatchHeader } from '../../../../src/protocol/record-batch.ts';
import { OffsetOutOfRangeError, StorageError, type AppendResult, type PartitionLog, type ReadResult } from '../../../../src/storage/partition-log.ts';

interface InFlight {
  baseOffset: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class MemoryLog implements PartitionLog {
  private batches: Buffer[] = [];
  private start = 0;
  private end = 0;
  private inFlight: InFlight[] = [];
  /** When false, appends stay in flight until `completeAppends` or `failAppends`. */
  autoComplete = true;
  /** While set, reads wait for it (a slow load). */
  readGate: Promise<void> | null = null;

  logStartOffset(): number {
    return this.start;
  }
  logEndOffset(): number {
    return this.end;
  }
  highWatermark(): number {
    return this.end;
  }
  sizeBytes(): number {
    return this.batches.reduce((n, b) => n + b.length, 0);
  }
  append(batch: Buffer, header: BatchHeader): AppendResult {
    const baseOffset = this.end;
    setBaseOffset(batch, baseOffset);
    this.batches.push(batch);
    this.end = baseOffset + header.recordCount;
    if (this.autoComplete) return { baseOffset, leaderDurable: Promise.resolve(), fullyDurable: Promise.resolve() };
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const durable = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.inFlight.push({ baseOffset, resolve, reject });
    return { baseOffset, leaderDurable: durable, fullyDurable: durable };
  }
  completeAppends(): void {
    for (const f of this.inFlight.splice(0)) f.resolve();
  }
  /** Fails every append in flight: they and everything after them leave the log. */
  failAppends(): void {
    const failed = this.inFlight.splice(0);
    if (failed.length === 0) return;
    const from = failed[0]!.baseOffset;
    this.batches = this.batches.filter((b) => readBatchHeader(b).baseOffset < from);
    this.end = from;
    for (const f of failed) f.reject(new StorageError('FLOE_ERR_STORAGE_IO', 'injected append failure'));
  }
  async read(offset: number, maxBytes: number, maxOffset: number): Promise<ReadResult> {
    if (this.readGate) await this.readGate;
    if (offset < this.start || offset > this.end) throw new OffsetOutOfRangeError(offset, this.start, this.end);
    const chunks: Buffer[] = [];
    let bytes = 0;
    for (const b of this.batches) {
      const h = readBatchHeader(b);
      if (lastOffsetOf(h) < offset) continue;
      if (h.baseOffset >= maxOffset) break;
      if (chunks.length > 0 && bytes + b.length > maxBytes) break;
      chunks.push(b);
      bytes += b.length;
    }
    return { chunks, bytes };
  }
  offsetForTimestamp(): Promise<number | null> {
    return Promise.resolve(null);
  }
  producerSnapshot(): Promise<{ snapshot: null; fromOffset: number }> {
    return Promise.resolve({ snapshot: null, fromOffset: this.logStartOffset() });
  }
  scanHeaders(): Promise<void> {
    return Promise.resolve();
  }
  advanceLogStart(offset: number): Promise<void> {
    this.start = Math.max(this.start, offset);
    this.batches = this.batches.filter((b) => lastOffsetOf(readBatchHeader(b)) >= this.start);
    return Promise.resolve();
  }
  maintain(): Promise<void> {
    return Promise.resolve();
  }
  onHighWatermark(): () => void {
    return () => undefined;
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    return Promise.resolve();
  }
  /** Appends records as the coordinator would (a test's starting log). */
  appendRecords(records: OffsetsRecord[]): number {
    const batch = encodeOffsetsBatch(records, 1);
    return this.append(batch, readBatchHeader(batch)).baseOffset;
  }
  /** Records in the log from its start (for checks). */
  recordCount(): number {
    return this.end - this.start;
  }
}
