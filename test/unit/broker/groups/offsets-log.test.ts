import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeBatches, LiveRecords, readOffsetsLog, type ReplayedRecord } from '../../../../src/broker/groups/offsets-log.ts';
import type { OffsetsRecord } from '../../../../src/broker/groups/records.ts';
import { BatchAttr, readBatchHeader } from '../../../../src/protocol/record-batch.ts';
import { encodeRecordBatch } from '../../../../src/protocol/records.ts';
import type { PartitionLog } from '../../../../src/storage/partition-log.ts';
import { Harness } from './harness.ts';
import { MemoryLog } from './memory-log.ts';

const silent = pino({ level: 'silent' });

const offset = (group: string, partition: number, value: number | null): OffsetsRecord => ({
  kind: 'offset',
  group,
  topic: 't',
  partition,
  value: value === null ? null : { offset: value, leaderEpoch: -1, metadata: '', commitTimestamp: 1, expireTimestamp: null },
});

async function readAll(log: PartitionLog, readBytesMax = 1 << 20): Promise<ReplayedRecord[]> {
  const out: ReplayedRecord[] = [];
  await readOffsetsLog(log, { fromOffset: log.logStartOffset(), endOffset: log.logEndOffset(), readBytesMax }, (r) => out.push(r), silent);
  return out;
}

describe('LiveRecords', () => {
  it('keeps the latest record of each key; tombstones remove keys', () => {
    const live = new LiveRecords();
    live.apply(offset('g', 0, 1));
    live.apply(offset('g', 0, 2));
    live.apply(offset('g', 1, 3));
    live.apply(offset('g', 1, null));
    live.apply({ kind: 'group', group: 'g', value: null });
    expect(live.liveCount).toBe(1);
    expect(live.logCount).toBe(5);
    expect(live.takeSnapshot()).toEqual([offset('g', 0, 2)]);
    expect(live.logCount).toBe(1);
  });

  it('asks for a rewrite once the log holds the minimum and twice the live records', () => {
    const live = new LiveRecords();
    for (let i = 0; i < 9; i++) live.apply(offset('g', i % 5, i));
    // 9 records, 5 live: not yet twice as many.
    expect(live.shouldRewrite(5)).toBe(false);
    live.apply(offset('g', 0, 99));
    expect(live.shouldRewrite(5)).toBe(true);
    expect(live.shouldRewrite(11)).toBe(false);
  });
});

describe('encodeBatches', () => {
  it('splits records into batches of bounded size, in order, and a large record gets its own', () => {
    const records = Array.from({ length: 50 }, (_, i) => offset('group', i, i));
    const batches = encodeBatches(records, 1, 600);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.every((b) => b.length <= 600 + 100)).toBe(true);
    const big: OffsetsRecord = { kind: 'group', group: 'g', value: { protocolType: 'consumer', generation: 1, protocol: 'p', leader: 'a', currentStateTimestamp: 1, members: [{ memberId: 'a', groupInstanceId: null, clientId: 'c', clientHost: 'h', rebalanceTimeoutMs: 1, sessionTimeoutMs: 1, subscription: Buffer.alloc(2000), assignment: Buffer.alloc(0) }] } };
    expect(encodeBatches([offset('g', 0, 1), big, offset('g', 1, 1)], 1, 600)).toHaveLength(3);
  });
});

describe('readOffsetsLog', () => {
  it('reads every record in order with its offset, across reads smaller than the log', async () => {
    const log = new MemoryLog();
    log.appendRecords([offset('a', 0, 1), offset('a', 1, 2)]);
    log.appendRecords([offset('b', 0, 3)]);
    log.appendRecords([offset('a', 0, null), { kind: 'group', group: 'a', value: null }]);
    const read = await readAll(log, 10);
    expect(read.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4]);
    expect(read.map((r) => r.record)).toEqual([offset('a', 0, 1), offset('a', 1, 2), offset('b', 0, 3), offset('a', 0, null), { kind: 'group', group: 'a', value: null }]);
  });

  it('starts at the log start, skipping the part of a batch before it', async () => {
    const log = new MemoryLog();
    log.appendRecords([offset('a', 0, 1), offset('a', 1, 2), offset('a', 2, 3)]);
    await log.advanceLogStart(1);
    expect((await readAll(log)).map((r) => r.offset)).toEqual([1, 2]);
  });

  it('skips records it cannot decode and batches the coordinator never writes', async () => {
    const log = new MemoryLog();
    log.appendRecords([offset('a', 0, 1)]);
    const junk = encodeRecordBatch([{ key: Buffer.from([0, 9]), value: null }]);
    log.append(junk, readBatchHeader(junk));
    const control = encodeRecordBatch([{ key: Buffer.alloc(4), value: Buffer.alloc(6) }], { attributes: BatchAttr.CONTROL });
    log.append(control, readBatchHeader(control));
    log.appendRecords([offset('a', 1, 2)]);
    expect((await readAll(log)).map((r) => r.offset)).toEqual([0, 3]);
  });
});

describe('rewriting the log', () => {
  it('replaying the rewrite alone gives the state that replaying the whole log gives', async () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    for (let i = 0; i < 20; i++) h.commit('g', g.generationId, g.members[0]!, [{ partition: i % 3, offset: i }]);
    h.commit('gone', -1, '', [{ offset: 1 }]);
    h.store.complete();
    h.deleteGroups(['gone']);
    h.store.complete();

    const log = new MemoryLog();
    const live = new LiveRecords();
    for (const batch of h.store.appended) {
      log.appendRecords(batch);
      for (const r of batch) live.apply(r);
    }
    expect(live.shouldRewrite(10)).toBe(true);
    const snapshot = live.takeSnapshot();
    let first = -1;
    for (const b of encodeBatches(snapshot, 2, 200)) {
      const base = log.append(b, readBatchHeader(b)).baseOffset;
      if (first < 0) first = base;
    }
    // Before the start moves (a crash in between), and after: the same state.
    const before = await readAll(log);
    await log.advanceLogStart(first);
    const after = await readAll(log);
    expect(after.length).toBe(snapshot.length);
    for (const records of [before, after]) {
      const r = new Harness();
      for (const { record } of records) r.m.replay(record, h.now);
      r.m.finishLoad(h.now);
      expect(r.m.describe('g')).toEqual(h.m.describe('g'));
      expect(r.m.fetchOffsets('g', null)).toEqual(h.m.fetchOffsets('g', null));
      expect(r.m.list([]).map((x) => x.groupId)).toEqual(['g']);
    }
  });
});
