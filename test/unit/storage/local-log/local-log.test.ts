import { describe, expect, it } from 'vitest';
import { readBatchHeader, type BatchHeader } from '../../../../src/protocol/record-batch.ts';
import type { LocalLog } from '../../../../src/storage/local-log/index.ts';
import { OffsetOutOfRangeError, StorageError } from '../../../../src/storage/partition-log.ts';
import { DIR, T0, append, batch, harness, readAll, records } from './helpers.ts';

const DAY_MS = 24 * 3600 * 1000;

async function appendMany(log: LocalLog, n: number, opts: { records?: (i: number) => number; valueBytes?: number; timestamp?: (i: number) => number } = {}): Promise<number[]> {
  const bases: number[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const r = append(log, `b${i}`, opts.records?.(i) ?? 1, {
      valueBytes: opts.valueBytes ?? 16,
      ...(opts.timestamp ? { timestamp: opts.timestamp(i) } : {}),
    });
    bases.push(r.baseOffset);
    pending.push(r.leaderDurable);
  }
  await Promise.all(pending);
  return bases;
}

describe('LocalLog appends and reads', () => {
  it('assigns offsets in call order and reads every record back across segment rolls', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 2048 });
    const bases = await appendMany(log, 120, { records: (i) => 1 + (i % 4), valueBytes: 40 });
    let expected = 0;
    for (let i = 0; i < bases.length; i++) {
      expect(bases[i]).toBe(expected);
      expected += 1 + (i % 4);
    }
    expect(log.logEndOffset()).toBe(expected);
    expect(log.highWatermark()).toBe(expected);
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(5);

    const all = await readAll(log, 0, 700);
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: expected }, (_, i) => i));
    // Record j of batch i carries "b<i>:<j>".
    let at = 0;
    for (let i = 0; i < 120; i++) for (let j = 0; j < 1 + (i % 4); j++) expect(all[at++]!.value).toBe(`b${i}:${j}`);
    await log.close();
  });

  it('lays out segments, indexes and checkpoints like Kafka', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    await appendMany(log, 30, { valueBytes: 40 });
    await log.close();
    const names = await h.fs.readdir(DIR);
    expect(names).toContain('00000000000000000000.log');
    expect(names).toContain('00000000000000000000.index');
    expect(names).toContain('00000000000000000000.timeindex');
    expect(names).toContain('log-start-offset.checkpoint');
    expect(names).toContain('recovery-point.checkpoint');
    expect((await h.fs.readFile(`${DIR}/recovery-point.checkpoint`)).toString()).toBe('0\n30\n');
    expect(names.filter((n) => n.endsWith('.log')).length).toBeGreaterThan(2);
  });

  it('returns the whole batch when the offset is in its middle', async () => {
    for (const tailCacheBytes of [undefined, 0]) {
      const h = harness();
      const log = await h.open({}, tailCacheBytes === undefined ? {} : { tailCacheBytes });
      await appendMany(log, 3, { records: () => 5 });
      const r = await log.read(7, 1 << 20, log.highWatermark());
      expect(records(r)[0]).toEqual({ offset: 5, value: 'b1:0' });
      expect(records(r).map((x) => x.offset)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
      await log.close();
    }
  });

  it('returns one whole batch when maxBytes is smaller than it, from the cache and from disk', async () => {
    for (const tailCacheBytes of [undefined, 0]) {
      const h = harness();
      const log = await h.open({}, tailCacheBytes === undefined ? {} : { tailCacheBytes });
      await appendMany(log, 4, { valueBytes: 500 });
      const r = await log.read(1, 10, log.highWatermark());
      expect(r.chunks.length).toBe(1);
      expect(r.bytes).toBe(readBatchHeader(r.chunks[0]!).sizeBytes);
      expect(records(r)).toEqual([{ offset: 1, value: 'b1:0' }]);
      await log.close();
    }
  });

  it('stops at maxBytes with whole batches only', async () => {
    for (const tailCacheBytes of [undefined, 0]) {
      const h = harness();
      const log = await h.open({}, tailCacheBytes === undefined ? {} : { tailCacheBytes });
      await appendMany(log, 20, { valueBytes: 100 });
      const size = batch('x', 1, { valueBytes: 100 }).buf.length;
      const r = await log.read(3, size * 4 + size / 2, log.highWatermark());
      expect(r.bytes).toBe(size * 4);
      expect(records(r).map((x) => x.offset)).toEqual([3, 4, 5, 6]);
      await log.close();
    }
  });

  it('leaves out batches that do not end below maxOffset', async () => {
    for (const tailCacheBytes of [undefined, 0]) {
      const h = harness();
      const log = await h.open({}, tailCacheBytes === undefined ? {} : { tailCacheBytes });
      await appendMany(log, 4, { records: () => 3 }); // batches [0,3) [3,6) [6,9) [9,12)
      expect(records(await log.read(0, 1 << 20, 6)).map((x) => x.offset)).toEqual([0, 1, 2, 3, 4, 5]);
      // 7 falls inside [6,9): that batch is not wholly below it.
      expect(records(await log.read(0, 1 << 20, 7)).map((x) => x.offset)).toEqual([0, 1, 2, 3, 4, 5]);
      expect((await log.read(6, 1 << 20, 7)).bytes).toBe(0);
      expect((await log.read(6, 1 << 20, 6)).bytes).toBe(0);
      await log.close();
    }
  });

  it('rejects offsets outside [logStart, logEnd] and answers the log end with nothing', async () => {
    const h = harness();
    const log = await h.open();
    await appendMany(log, 5);
    await expect(log.read(6, 100, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    await expect(log.read(-1, 100, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect(await log.read(5, 100, 100)).toEqual({ chunks: [], bytes: 0 });
    await log.advanceLogStart(2);
    await expect(log.read(1, 100, 100)).rejects.toMatchObject({ code: 'FLOE_ERR_OFFSET_OUT_OF_RANGE', logStartOffset: 2, logEndOffset: 5 });
    await log.close();
  });

  it('serves batches appended but not yet written from the tail cache when maxOffset allows', async () => {
    const h = harness();
    const log = await h.open();
    const first = append(log, 'a', 2);
    const second = append(log, 'b', 2);
    // Nothing is written yet: the high watermark has not moved, the log end has.
    expect(log.highWatermark()).toBe(0);
    expect(log.logEndOffset()).toBe(4);
    expect(records(await log.read(0, 1 << 20, log.logEndOffset())).map((x) => x.value)).toEqual(['a:0', 'a:1', 'b:0', 'b:1']);
    expect((await log.read(0, 1 << 20, log.highWatermark())).bytes).toBe(0);
    await Promise.all([first.leaderDurable, second.fullyDurable]);
    expect(log.highWatermark()).toBe(4);
    await log.close();
  });

  it('tells high watermark listeners about every advance, and stops after unsubscribe', async () => {
    const h = harness();
    const log = await h.open();
    const seen: number[] = [];
    const off = log.onHighWatermark((hw) => seen.push(hw));
    await append(log, 'a', 3).leaderDurable;
    await append(log, 'b', 2).leaderDurable;
    off();
    await append(log, 'c', 1).leaderDurable;
    expect(seen).toEqual([3, 5]);
    await log.close();
  });

  it('groups appends made while a write is in flight into one write and one fsync', async () => {
    const h = harness();
    const log = await h.open();
    let writes = 0;
    let syncs = 0;
    const realOpen = h.fs.open.bind(h.fs);
    h.fs.open = async (file, mode) => {
      const handle = await realOpen(file, mode);
      if (!file.endsWith('.log')) return handle;
      return Object.assign(Object.create(handle) as typeof handle, {
        write: (data: Buffer | readonly Buffer[], position: number) => {
          writes++;
          return handle.write(data, position);
        },
        datasync: () => {
          syncs++;
          return handle.datasync();
        },
      });
    };
    // Reopen so that the segment handle goes through the counting wrapper.
    await log.close();
    const counted = await h.open();
    writes = 0;
    syncs = 0; // recovery synced the reopened segment
    const results = Array.from({ length: 100 }, (_, i) => append(counted, `g${i}`));
    await Promise.all(results.map((r) => r.leaderDurable));
    expect(writes).toBe(1);
    expect(syncs).toBe(1);
    expect(new Set(results.map((r) => r.leaderDurable)).size).toBe(1);
    await counted.close();
  });

  it('refuses appends after close with FLOE_ERR_STORAGE_CLOSED and keeps what was appended before', async () => {
    const h = harness();
    const log = await h.open({ fsync: { kind: 'never' } });
    const before = append(log, 'kept');
    await log.close();
    await expect(before.leaderDurable).resolves.toBeUndefined();
    const after = append(log, 'late');
    await expect(after.leaderDurable).rejects.toMatchObject({ code: 'FLOE_ERR_STORAGE_CLOSED' });
    await expect(log.read(0, 100, 1)).rejects.toBeInstanceOf(StorageError);
    // close flushed: a crash now loses nothing.
    h.crash();
    const reopened = await h.open();
    expect(await readAll(reopened)).toEqual([{ offset: 0, value: 'kept:0' }]);
  });

  it('rolls a segment once segment.ms has passed since it started', async () => {
    const h = harness();
    const log = await h.open({ segmentMs: 1000 });
    await append(log, 'a').leaderDurable;
    h.clock.advance(999);
    await append(log, 'b').leaderDurable;
    expect(log.segmentBaseOffsets()).toEqual([0]);
    h.clock.advance(1);
    await append(log, 'c').leaderDurable;
    expect(log.segmentBaseOffsets()).toEqual([0, 2]);
    expect((await readAll(log)).map((r) => r.value)).toEqual(['a:0', 'b:0', 'c:0']);
    await log.close();
  });

  it('reopens after a clean close without re-reading its segments', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 32 * 1024, indexIntervalBytes: 1024 });
    await appendMany(log, 600, { valueBytes: 200 });
    await log.close();
    let readBytes = 0;
    const realOpen = h.fs.open.bind(h.fs);
    h.fs.open = async (file, mode) => {
      const handle = await realOpen(file, mode);
      return Object.assign(Object.create(handle) as typeof handle, {
        read: async (into: Buffer, offset: number, length: number, position: number) => {
          const n = await handle.read(into, offset, length, position);
          readBytes += n;
          return n;
        },
      });
    };
    const reopened = await h.open({ segmentBytes: 32 * 1024, indexIntervalBytes: 1024 });
    const total = reopened.sizeBytes();
    expect(total).toBeGreaterThan(100_000);
    // Only the active segment's tail after its last index entry is checked.
    expect(readBytes).toBeLessThan(4096);
    expect((await readAll(reopened)).length).toBe(600);
    await reopened.close();
  });
});

describe('LocalLog lookups', () => {
  it('finds the first batch at or after a timestamp, across segments and in the tail', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 64 });
    // Batch i has timestamp T0 + 10 i; batch 25 goes back in time (a producer-set timestamp).
    await appendMany(log, 40, { records: () => 2, valueBytes: 30, timestamp: (i) => (i === 25 ? T0 : T0 + 10 * i) });
    expect(await log.offsetForTimestamp(T0 - 5)).toBe(0);
    expect(await log.offsetForTimestamp(T0)).toBe(0);
    expect(await log.offsetForTimestamp(T0 + 1)).toBe(2);
    expect(await log.offsetForTimestamp(T0 + 100)).toBe(20);
    expect(await log.offsetForTimestamp(T0 + 101)).toBe(22);
    // Batch 24 is T0+240 and batch 25 went back to T0: the first at or after T0+245 is batch 26.
    expect(await log.offsetForTimestamp(T0 + 245)).toBe(52);
    expect(await log.offsetForTimestamp(T0 + 390)).toBe(78);
    expect(await log.offsetForTimestamp(T0 + 391)).toBeNull();
    // A batch appended but not committed yet is found too.
    append(log, 'future', 1, { timestamp: T0 + 1000 });
    expect(await log.offsetForTimestamp(T0 + 500)).toBe(80);
    await log.advanceLogStart(31);
    expect(await log.offsetForTimestamp(T0)).toBe(31);
    await log.close();
  });

  it('finds timestamps the same way after a reopen', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 64 });
    await appendMany(log, 40, { records: () => 2, valueBytes: 30, timestamp: (i) => T0 + 10 * i });
    const before = await Promise.all([0, 55, 150, 300, 395].map((d) => log.offsetForTimestamp(T0 + d)));
    await log.close();
    const reopened = await h.open({ segmentBytes: 1024, indexIntervalBytes: 64 });
    const after = await Promise.all([0, 55, 150, 300, 395].map((d) => reopened.offsetForTimestamp(T0 + d)));
    expect(after).toEqual(before);
    expect(before).toEqual([0, 12, 30, 60, null]);
    await reopened.close();
  });

  it('visits every batch header from the one containing the start offset, from disk and cache', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 }, { tailCacheBytes: 2048 });
    await appendMany(log, 60, { records: () => 3, valueBytes: 20 });
    append(log, 'unwritten', 2);
    const seen: BatchHeader[] = [];
    await log.scanHeaders(31, (hd) => seen.push(hd));
    expect(seen[0]!.baseOffset).toBe(30);
    expect(seen.map((x) => x.baseOffset)).toEqual(Array.from({ length: 51 }, (_, i) => 30 + 3 * i));
    expect(seen.at(-1)!.recordCount).toBe(2);
    await log.close();
  });
});

describe('LocalLog header scans', () => {
  it('lets an exception thrown by the visitor through unchanged', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 }, { tailCacheBytes: 0 });
    await appendMany(log, 30, { valueBytes: 40 });
    const bug = new TypeError('visitor bug');
    await expect(
      log.scanHeaders(0, (hd) => {
        if (hd.baseOffset === 12) throw bug;
      }),
    ).rejects.toBe(bug);
    await log.close();
  });
});

describe('LocalLog retention', () => {
  it('advances the log start durably and removes whole segments below it', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    await appendMany(log, 60, { valueBytes: 40 });
    const segmentsBefore = log.segmentBaseOffsets();
    await log.advanceLogStart(25);
    expect(log.logStartOffset()).toBe(25);
    const kept = log.segmentBaseOffsets();
    expect(kept[0]).toBeLessThanOrEqual(25);
    expect(kept.length).toBeLessThan(segmentsBefore.length);
    expect((await readAll(log)).map((r) => r.offset)[0]).toBe(25);
    await expect(log.advanceLogStart(61)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    await log.advanceLogStart(10); // backwards: no change
    expect(log.logStartOffset()).toBe(25);
    // It survives a crash without a clean close.
    h.crash();
    const reopened = await h.open({ segmentBytes: 1024 });
    expect(reopened.logStartOffset()).toBe(25);
    expect(reopened.logEndOffset()).toBe(60);
    await expect(reopened.read(24, 100, 60)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect((await readAll(reopened))[0]).toEqual({ offset: 25, value: 'b25:0' });
    await reopened.close();
  });

  it('deletes segments whose newest timestamp is older than retention.ms, never the active one', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024, retentionMs: DAY_MS });
    // 3 days of data, then nothing: timestamps T0 .. T0 + 3 days.
    await appendMany(log, 60, { valueBytes: 40, timestamp: (i) => T0 + Math.floor((i * 3 * DAY_MS) / 59) });
    const bases = log.segmentBaseOffsets();
    await log.maintain(T0 + 3 * DAY_MS + 1);
    // Everything older than a day before "now" went; the newest segments stay.
    expect(log.logStartOffset()).toBeGreaterThan(30);
    expect(log.logStartOffset()).toBeLessThanOrEqual(40);
    for (const r of await readAll(log)) expect(r.offset).toBeGreaterThanOrEqual(log.logStartOffset());
    // Far in the future, all sealed segments are expired: the active one stays.
    await log.maintain(T0 + 100 * DAY_MS);
    expect(log.segmentBaseOffsets()).toEqual([bases.at(-1)]);
    expect(log.logStartOffset()).toBe(bases.at(-1));
    expect(log.logEndOffset()).toBe(60);
    await log.close();
    const reopened = await h.open({ segmentBytes: 1024, retentionMs: DAY_MS });
    expect(reopened.logStartOffset()).toBe(bases.at(-1));
    expect((await h.fs.readdir(DIR)).filter((n) => n.endsWith('.log'))).toHaveLength(1);
    await reopened.close();
  });

  it('deletes the oldest segments while the log stays at or above retention.bytes without them', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024, retentionBytes: 3000 });
    await appendMany(log, 80, { valueBytes: 40 });
    const before = log.sizeBytes();
    await log.maintain(h.clock.now());
    expect(log.sizeBytes()).toBeLessThan(before);
    expect(log.sizeBytes()).toBeGreaterThanOrEqual(3000);
    // One more deletion would have taken it under the limit.
    const oldest = log.segmentBaseOffsets()[0]!;
    const next = log.segmentBaseOffsets()[1]!;
    expect(oldest).toBe(log.logStartOffset());
    expect(log.sizeBytes() - (await h.fs.readFile(`${DIR}/${String(oldest).padStart(20, '0')}.log`)).length).toBeLessThan(3000);
    expect(next).toBeGreaterThan(oldest);
    await log.close();
  });

  it('removes every file on destroy', async () => {
    const h = harness();
    const log = await h.open({ segmentBytes: 1024 });
    await appendMany(log, 30, { valueBytes: 40 });
    await log.destroy();
    expect(await h.fs.readdir(DIR)).toEqual([]);
  });
});

describe('LocalLog fsync policies', () => {
  it('interval: fsyncs committed data once the interval has passed', async () => {
    const h = harness();
    const log = await h.open({ fsync: { kind: 'interval', intervalMs: 100 } });
    await append(log, 'a').leaderDurable;
    await append(log, 'b').leaderDurable;
    h.clock.advance(100);
    await log.flush(); // queued behind the timer's sync; its own sync finds nothing to do
    await append(log, 'c').leaderDurable; // committed, not yet synced
    h.crash();
    const reopened = await h.open({ fsync: { kind: 'interval', intervalMs: 100 } });
    expect((await readAll(reopened)).map((r) => r.value)).toEqual(['a:0', 'b:0']);
  });

  it('interval: the timer alone makes data durable', async () => {
    const h = harness();
    const log = await h.open({ fsync: { kind: 'interval', intervalMs: 50 } });
    await append(log, 'a').leaderDurable;
    h.clock.advance(50);
    // The timer enqueued a sync; an append behind it resolves after it ran.
    await append(log, 'b').leaderDurable;
    h.crash();
    const reopened = await h.open();
    expect((await readAll(reopened)).map((r) => r.value)[0]).toBe('a:0');
  });

  it('never: only roll, flush and close fsync', async () => {
    const h = harness();
    const log = await h.open({ fsync: { kind: 'never' }, segmentBytes: 1024 });
    await appendMany(log, 30, { valueBytes: 40 }); // rolls several times
    const sealed = log.segmentBaseOffsets().at(-1)!;
    h.crash();
    const reopened = await h.open({ fsync: { kind: 'never' }, segmentBytes: 1024 });
    // Everything before the last roll was synced by the roll; the active segment's data was not.
    expect(reopened.logEndOffset()).toBe(sealed);
    expect((await readAll(reopened)).map((r) => r.offset)).toEqual(Array.from({ length: sealed }, (_, i) => i));
    await append(reopened, 'x').leaderDurable;
    await reopened.flush();
    h.crash();
    const again = await h.open({ fsync: { kind: 'never' }, segmentBytes: 1024 });
    expect((await readAll(again)).at(-1)).toEqual({ offset: sealed, value: 'x:0' });
  });
});
