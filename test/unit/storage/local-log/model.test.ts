/**
 * A property test of the local log against a model (a list of batches and a log start):
 * random appends, reads, reopenings, crashes, DeleteRecords, retention, timestamp lookups
 * and header scans, with random segment sizes, index intervals and tail cache sizes.
 *
 * Invariants, after every step:
 *  - offsets are assigned contiguously in call order;
 *  - a read returns whole batches, starting with the one containing the offset, each
 *    ending at or below maxOffset, within maxBytes unless it is a single batch, and at
 *    least one batch when the first one is allowed by maxOffset;
 *  - every record read is the one appended at that offset;
 *  - a reopen (clean, or after a crash with per-batch fsync once all appends resolved)
 *    gives back exactly the model; a crash with appends in flight keeps every resolved
 *    one and ends on a batch boundary;
 *  - a failed write or fsync rejects its whole group and leaves the log as it was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/common/clock.ts';
import { SimulatedFileSystem } from '../../../../src/common/sim-fs.ts';
import { readBatchHeader } from '../../../../src/protocol/record-batch.ts';
import { LocalLog } from '../../../../src/storage/local-log/index.ts';
import { OffsetOutOfRangeError } from '../../../../src/storage/partition-log.ts';
import { DIR, ProcessFileSystem, T0, batch, config, records, seededRandom } from './helpers.ts';

const SEED = Number(process.env.FLOE_SEED ?? Date.now() % 2 ** 31);

type Op =
  | { kind: 'append'; records: number; valueBytes: number }
  | { kind: 'settle' }
  | { kind: 'read'; at: number; maxBytes: number; bound: number }
  | { kind: 'reopen' }
  | { kind: 'crash' }
  | { kind: 'crashInFlight' }
  | { kind: 'fail'; op: 'write' | 'datasync'; appends: number }
  | { kind: 'deleteRecords'; at: number }
  | { kind: 'retention'; keepBytes: number }
  | { kind: 'byTime'; at: number }
  | { kind: 'scan'; at: number };

const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('append' as const), records: fc.integer({ min: 1, max: 4 }), valueBytes: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'settle' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), at: frac, maxBytes: fc.integer({ min: 0, max: 3000 }), bound: frac }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crashInFlight' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), op: fc.constantFrom('write' as const, 'datasync' as const), appends: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteRecords' as const), at: frac }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retention' as const), keepBytes: fc.integer({ min: 0, max: 8000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('byTime' as const), at: frac }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('scan' as const), at: frac }) },
);

interface ModelBatch {
  base: number;
  records: number;
  tag: string;
  size: number;
  acked: boolean;
}

describe('LocalLog against a model', () => {
  it('behaves like a list of batches under random operations', async () => {
    console.log(`local-log model test: FLOE_SEED=${SEED}`);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          segmentBytes: fc.constantFrom(512, 2048, 64 * 1024),
          indexIntervalBytes: fc.constantFrom(1, 100, 4096),
          tailCacheBytes: fc.constantFrom(0, 1024, 4 * 1024 * 1024),
        }),
        fc.array(opArb, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (cfg, ops, crashSeed) => {
          const fs = new SimulatedFileSystem();
          const clock = new ManualClock(T0);
          const random = seededRandom(crashSeed);
          // Each open is a new process; a crash kills the current one (see ProcessFileSystem).
          let proc = new ProcessFileSystem(fs);
          const crash = (): void => {
            proc.kill();
            fs.crash(random);
            proc = new ProcessFileSystem(fs);
          };
          const open = (): Promise<LocalLog> =>
            LocalLog.open({
              dir: DIR,
              fs: proc,
              clock,
              config: config({ segmentBytes: cfg.segmentBytes, indexIntervalBytes: cfg.indexIntervalBytes }),
              tailCacheBytes: cfg.tailCacheBytes,
            });
          let log = await open();
          const model: ModelBatch[] = [];
          let logStart = 0;
          let pending: Promise<void>[] = [];
          let n = 0;
          const end = (): number => model.at(-1)!.base + model.at(-1)!.records;
          const settle = async (): Promise<void> => {
            await Promise.all(pending);
            pending = [];
            expect(log.highWatermark()).toBe(model.length === 0 ? logStart : Math.max(end(), logStart));
          };
          const checkAll = async (): Promise<void> => {
            expect(log.logStartOffset()).toBe(logStart);
            expect(log.logEndOffset()).toBe(model.length === 0 ? logStart : Math.max(end(), logStart));
            let offset = logStart;
            const hw = log.highWatermark();
            while (offset < hw) {
              const r = await log.read(offset, 1500, hw);
              const recs = records(r);
              expect(recs.length).toBeGreaterThan(0);
              for (const rec of recs) {
                const b = model.find((m) => rec.offset >= m.base && rec.offset < m.base + m.records)!;
                expect(rec.value).toBe(`${b.tag}:${rec.offset - b.base}`);
              }
              offset = recs.at(-1)!.offset + 1;
            }
          };

          for (const op of ops) {
            switch (op.kind) {
              case 'append': {
                const tag = `t${n++}`;
                const b = batch(tag, op.records, { valueBytes: op.valueBytes, timestamp: T0 + log.logEndOffset() });
                const r = log.append(b.buf, b.header);
                expect(r.baseOffset).toBe(log.logEndOffset() - op.records);
                expect(r.baseOffset).toBe(model.length === 0 ? logStart : end());
                const entry: ModelBatch = { base: r.baseOffset, records: op.records, tag, size: b.buf.length, acked: false };
                model.push(entry);
                pending.push(r.leaderDurable);
                r.leaderDurable.then(
                  () => (entry.acked = true),
                  () => undefined,
                );
                break;
              }
              case 'settle':
                await settle();
                break;
              case 'read': {
                await settle();
                const hw = log.highWatermark();
                const offset = logStart + Math.floor(op.at * (hw - logStart + 1));
                const maxOffset = offset + Math.floor(op.bound * (hw - offset + 1));
                const r = await log.read(offset, op.maxBytes, maxOffset);
                let at = 0;
                const bases: number[] = [];
                for (const chunk of r.chunks) {
                  for (let p = 0; p < chunk.length; ) {
                    const hd = readBatchHeader(chunk, p);
                    bases.push(hd.baseOffset);
                    expect(hd.baseOffset + hd.lastOffsetDelta + 1).toBeLessThanOrEqual(maxOffset);
                    p += hd.sizeBytes;
                    at += hd.sizeBytes;
                  }
                }
                expect(at).toBe(r.bytes);
                const first = model.findIndex((m) => offset >= m.base && offset < m.base + m.records);
                if (first >= 0 && model[first]!.base + model[first]!.records <= maxOffset) {
                  expect(bases.length).toBeGreaterThan(0);
                  expect(bases).toEqual(model.slice(first, first + bases.length).map((m) => m.base));
                  if (bases.length > 1) expect(r.bytes).toBeLessThanOrEqual(op.maxBytes);
                  for (const rec of records(r)) {
                    const b = model.find((m) => rec.offset >= m.base && rec.offset < m.base + m.records)!;
                    expect(rec.value).toBe(`${b.tag}:${rec.offset - b.base}`);
                  }
                } else expect(r.bytes).toBe(0);
                if (logStart > 0) await expect(log.read(logStart - 1, 100, hw)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
                await expect(log.read(log.logEndOffset() + 1, 100, hw)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
                break;
              }
              case 'reopen':
                await settle();
                await log.close();
                log = await open();
                await checkAll();
                break;
              case 'crash':
                // Per-batch fsync: once every append resolved, a crash loses nothing.
                await settle();
                crash();
                log = await open();
                await checkAll();
                break;
              case 'crashInFlight': {
                // Appends still in flight may or may not survive; resolved ones must.
                crash();
                pending = [];
                log = await open();
                const recovered = log.logEndOffset();
                const lastAcked = model.filter((m) => m.acked).at(-1);
                if (lastAcked) expect(recovered).toBeGreaterThanOrEqual(lastAcked.base + lastAcked.records);
                while (model.length > 0 && model.at(-1)!.base >= recovered) model.pop();
                expect(recovered).toBe(model.length === 0 ? Math.max(recovered, logStart) : Math.max(end(), logStart));
                if (model.length === 0) logStart = Math.max(logStart, recovered);
                await checkAll();
                break;
              }
              case 'fail': {
                await settle();
                // The writer may still be cleaning up an earlier failure: let it finish
                // first, so that the injected fault hits the appends below.
                await log.flush();
                const before = log.logEndOffset();
                fs.failNext(op.op, '.log');
                const results = Array.from({ length: op.appends }, (_, i) => {
                  const b = batch(`f${i}`, 1, { timestamp: T0 + log.logEndOffset() });
                  return log.append(b.buf, b.header);
                });
                const outcomes = await Promise.allSettled(results.map((r) => r.leaderDurable));
                expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
                expect(log.logEndOffset()).toBe(before);
                expect(log.highWatermark()).toBe(before);
                // Once the writer has cut them (durably), rejected batches never come back,
                // not even after a crash. (A crash before that may keep them, like any
                // write in flight.)
                await log.flush();
                break;
              }
              case 'deleteRecords': {
                await settle();
                const target = logStart + Math.floor(op.at * (log.highWatermark() - logStart + 1));
                await log.advanceLogStart(target);
                logStart = Math.max(logStart, target);
                expect(log.logStartOffset()).toBe(logStart);
                break;
              }
              case 'retention': {
                await settle();
                const before = log.sizeBytes();
                const seg = log.segmentBaseOffsets();
                // retention.bytes is a LogConfig setting: reopen with it, then maintain.
                await log.close();
                log = await LocalLog.open({
                  dir: DIR,
                  fs: proc,
                  clock,
                  config: config({ segmentBytes: cfg.segmentBytes, indexIntervalBytes: cfg.indexIntervalBytes, retentionBytes: op.keepBytes }),
                  tailCacheBytes: cfg.tailCacheBytes,
                });
                await log.maintain(clock.now());
                const kept = log.segmentBaseOffsets();
                expect(kept.at(-1)).toBe(seg.at(-1));
                if (kept.length < seg.length) {
                  // Size-based deletions stop before going under the limit; segments wholly
                  // below the log start go regardless.
                  if (kept[0]! > logStart) expect(log.sizeBytes()).toBeGreaterThanOrEqual(op.keepBytes);
                  expect(log.logStartOffset()).toBe(Math.max(kept[0]!, logStart));
                } else expect(log.sizeBytes()).toBe(before);
                logStart = log.logStartOffset();
                await log.close();
                log = await open();
                await checkAll();
                break;
              }
              case 'byTime': {
                await settle();
                // Batch timestamps are T0 + baseOffset.
                const target = Math.floor(op.at * (log.logEndOffset() + 2));
                const expected = model.find((m) => m.base >= target && m.base + m.records > logStart);
                expect(await log.offsetForTimestamp(T0 + target)).toBe(expected === undefined ? null : Math.max(expected.base, logStart));
                break;
              }
              case 'scan': {
                await settle();
                const from = logStart + Math.floor(op.at * (log.logEndOffset() - logStart + 1));
                const seen: number[] = [];
                await log.scanHeaders(from, (hd) => seen.push(hd.baseOffset));
                expect(seen).toEqual(model.filter((m) => m.base + m.records > from).map((m) => m.base));
                break;
              }
            }
          }
          await settle();
          await checkAll();
          await log.close();
        },
      ),
      { seed: SEED, numRuns: Number(process.env.FLOE_RUNS ?? 60) },
    );
  });
});
