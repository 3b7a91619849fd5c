/**
 * The object index (shared-storage) as a pure state machine: the commit validation
 * table with every Kafka code, compaction, log-start advances, topic deletion, garbage
 * accounting, the snapshot round trip, and a property test of the index invariants over
 * random command sequences:
 *  - each partition's ranges are sorted and contiguous from the first range's start to
 *    endOffset, and none lies wholly below logStartOffset;
 *  - an object's reference count is the number of ranges naming it, `bytes` the sum of
 *    referenced sizes, and an object is garbage exactly when nothing refers to it any more;
 *  - the snapshot form loads back to the same index.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planAdvanceLogStart, planCommitObject, planReplaceObjects, describePartitionObjects, type ObjectCommandOptions } from '../../../controller/object-commands.ts';
import { garbageDue, objectIndexFromJson, objectIndexToJson, type ObjectIndexState } from '../../../controller/object-index.ts';
import { applyRecords, stateFromJson, stateToJson, type MetadataState } from '../../../controller/state.ts';
import { RecordApplyError } from '../../../controller/errors.ts';
import type { CommitObjectRequest, ObjectSection } from '../../../src/metadata/controller-api.ts';
import { applied, buildState } from '../../helpers/controller-state.ts';

const PREFIX = 'floe/';
const opts = (extra: Partial<ObjectCommandOptions> = {}): ObjectCommandOptions => ({ keyPrefix: PREFIX, nowMs: 1_000, ...extra });

/** Two brokers; t-0 owned by 1 at epoch 3, t-1 owned by 2 at epoch 0; u-0 owned by 1. */
function cluster(mode: 'shared-storage' | 'shared-nothing' = 'shared-storage'): MetadataState {
  return buildState({
    mode,
    brokers: [{ id: 1 }, { id: 2 }],
    topics: [
      { name: 't', partitions: [{ replicas: [1], leaderEpoch: 3 }, { replicas: [2] }] },
      { name: 'u', partitions: [{ replicas: [1] }] },
    ],
  });
}

type Section = ObjectSection & { leaderEpoch: number };
const sec = (over: Partial<Section> = {}): Section => ({ topic: 't', topicId: 'id-t', partition: 0, startOffset: 0, endOffset: 10, position: 0, length: 100, leaderEpoch: 3, ...over });
const req = (key: string, sections: Section[], over: Partial<CommitObjectRequest> = {}): CommitObjectRequest => ({ brokerId: 1, key: `${PREFIX}${key}`, size: 1000, sections, ...over });

/** Commits and applies; fails the test when refused. */
function commit(s: MetadataState, r: CommitObjectRequest): void {
  const planned = planCommitObject(s, r, opts());
  expect(planned.result).toEqual({ errorCode: 0, errorMessage: null });
  applied(s, planned.records);
}

function ranges(s: MetadataState, topic: string, partition: number): string[] {
  return describePartitionObjects(s, topic, partition).objects.map((r) => `${r.key.slice(PREFIX.length)}:${r.startOffset}-${r.endOffset}`);
}

describe('commitObject validation', () => {
  const table: { name: string; prepare?: (s: MetadataState) => void; request: CommitObjectRequest; options?: Partial<ObjectCommandOptions>; mode?: 'shared-nothing'; code: number; message?: RegExp }[] = [
    { name: 'the owner at its epoch, from the end offset', request: req('a', [sec()]), code: 0 },
    { name: 'two sections of one partition, one after the other', request: req('a', [sec(), sec({ startOffset: 10, endOffset: 12, position: 100, length: 10 })]), code: 0 },
    { name: 'sections of partitions of two topics with the same owner', request: req('a', [sec(), sec({ topic: 'u', topicId: 'id-u', leaderEpoch: 0, position: 100 })]), code: 0 },
    { name: 'not the owner', request: req('a', [sec()], { brokerId: 2 }), code: 6, message: /does not own t-0/ },
    { name: 'a stale leader epoch', request: req('a', [sec({ leaderEpoch: 2 })]), code: 74, message: /epoch 2 of t-0 is not the current 3/ },
    { name: 'a newer leader epoch than the controller knows', request: req('a', [sec({ leaderEpoch: 4 })]), code: 74 },
    { name: 'an unknown topic', request: req('a', [sec({ topic: 'nope' })]), code: 3 },
    { name: 'an unknown partition', request: req('a', [sec({ partition: 9 })]), code: 3 },
    { name: 'a topic id of a deleted incarnation of the topic', request: req('a', [sec({ topicId: 'old-id' })]), code: 3 },
    { name: 'a gap after the end offset', request: req('a', [sec({ startOffset: 5, endOffset: 10 })]), code: 42, message: /starts at 5, but the partition's index ends at 0/ },
    { name: 'an overlap with what is committed', prepare: (s) => commit(s, req('x', [sec()])), request: req('a', [sec({ startOffset: 5, endOffset: 15 })]), code: 42 },
    { name: 'a second section not following the first', request: req('a', [sec(), sec({ startOffset: 11, endOffset: 12, position: 100, length: 10 })]), code: 42 },
    { name: 'an empty offset range', request: req('a', [sec({ endOffset: 0 })]), code: 42, message: /not a non-empty range/ },
    { name: 'a negative offset', request: req('a', [sec({ startOffset: -1 })]), code: 42 },
    { name: 'bytes past the end of the object', request: req('a', [sec({ position: 950, length: 51 })]), code: 42, message: /do not lie within/ },
    { name: 'a zero-length section', request: req('a', [sec({ length: 0 })]), code: 42 },
    { name: 'a size of zero', request: req('a', [sec()], { size: 0 }), code: 42 },
    { name: 'no sections', request: req('a', []), code: 42 },
    { name: 'a key outside the object prefix', request: req('a', [sec()], { key: 'elsewhere/a' }), code: 42, message: /not under the object prefix/ },
    { name: 'a key longer than S3 allows', request: req('k'.repeat(1100), [sec()]), code: 42 },
    { name: 'a key the index holds with other sections (keys are never reused)', prepare: (s) => commit(s, req('a', [sec()])), request: req('a', [sec({ startOffset: 10, endOffset: 20 })]), code: 42, message: /never reused/ },
    { name: 'a key the collector has deleted', request: req('a', [sec()]), options: { collected: (k) => k === `${PREFIX}a` }, code: 42, message: /collected/ },
    { name: 'a shared-nothing cluster', mode: 'shared-nothing', request: req('a', [sec()]), code: 42 },
    // All or nothing: the first section is fine, the second is not.
    { name: 'one fenced section among good ones', request: req('a', [sec(), sec({ topic: 't', partition: 1, leaderEpoch: 0, position: 100 })]), code: 6 },
  ];
  for (const c of table) {
    it(`answers ${c.code} for ${c.name}`, () => {
      const s = cluster(c.mode);
      c.prepare?.(s);
      const before = stateToJson(s);
      const version = s.version;
      const planned = planCommitObject(s, c.request, opts(c.options));
      expect(planned.result.errorCode).toBe(c.code);
      if (c.message) expect(planned.result.errorMessage).toMatch(c.message);
      if (c.code === 0) {
        expect(planned.records).toHaveLength(1);
        applied(s, planned.records);
        // Commits never change the published view.
        expect(s.version).toBe(version);
      } else {
        expect(planned.records).toEqual([]);
        expect(stateToJson(s)).toBe(before);
      }
    });
  }

  it('answers 0 and changes nothing for a commit repeated exactly (a retry after a lost answer)', () => {
    const s = cluster();
    commit(s, req('a', [sec()]));
    const again = planCommitObject(s, req('a', [sec()]), opts());
    expect(again).toEqual({ result: { errorCode: 0, errorMessage: null }, records: [] });
    expect(ranges(s, 't', 0)).toEqual(['a:0-10']);
  });

  it('refuses a key that is garbage awaiting deletion', () => {
    const s = cluster();
    commit(s, req('a', [sec()]));
    applied(s, planReplaceObjects(s, req('b', [sec()]), opts()).records);
    expect(s.objects.garbage.has(`${PREFIX}a`)).toBe(true);
    expect(planCommitObject(s, req('a', [sec({ startOffset: 10, endOffset: 20 })]), opts()).result.errorCode).toBe(42);
  });

  it('lets the WAL recovery of a dead broker commit for its offline partitions, and nobody else', () => {
    const s = cluster();
    applied(s, [{ type: 'broker-dead', id: 1 }, { type: 'partition-changed', topic: 't', partition: { index: 0, leader: -1, leaderEpoch: 4, partitionEpoch: 1, replicas: [1], isr: [1] } }, { type: 'failover-pending', brokerId: 1, partitions: [{ topic: 't', topicId: 'id-t', partition: 0 }] }]);
    const r = req('rec', [sec({ leaderEpoch: 4 })]);
    expect(planCommitObject(s, r, opts()).result.errorCode).toBe(6);
    expect(planCommitObject(s, { ...r, brokerId: 2 }, opts({ recoveryOf: 1 })).result.errorCode).toBe(6);
    expect(planCommitObject(s, r, opts({ recoveryOf: 2 })).result.errorCode).toBe(6);
    expect(planCommitObject(s, req('rec', [sec({ leaderEpoch: 3 })]), opts({ recoveryOf: 1 })).result.errorCode).toBe(74);
    // u-0 was owned by 1 too, but is not part of the pending failover here.
    expect(planCommitObject(s, req('rec', [sec({ topic: 'u', topicId: 'id-u', leaderEpoch: 0 })]), opts({ recoveryOf: 1 })).result.errorCode).toBe(6);
    const ok = planCommitObject(s, r, opts({ recoveryOf: 1 }));
    expect(ok.result.errorCode).toBe(0);
    applied(s, ok.records);
    expect(ranges(s, 't', 0)).toEqual(['rec:0-10']);
  });
});

describe('replaceObjects (compaction)', () => {
  /** t-0: a 0-10, b 10-20, c 20-30; t-1: a1 0-5. */
  function base(): MetadataState {
    const s = cluster();
    // Owners differ per partition: commit each partition's part as its owner.
    commit(s, req('a', [sec()]));
    commit(s, { ...req('a1', [sec({ partition: 1, leaderEpoch: 0, endOffset: 5 })]), brokerId: 2 });
    commit(s, req('b', [sec({ startOffset: 10, endOffset: 20 })]));
    commit(s, req('c', [sec({ startOffset: 20, endOffset: 30 })]));
    return s;
  }

  it('replaces a run of whole ranges, making the replaced objects garbage from that moment', () => {
    const s = base();
    const planned = planReplaceObjects(s, req('d', [sec({ startOffset: 0, endOffset: 20, length: 300 })]), opts({ nowMs: 5_000 }));
    expect(planned.result.errorCode).toBe(0);
    applied(s, planned.records);
    expect(ranges(s, 't', 0)).toEqual(['d:0-20', 'c:20-30']);
    expect([...s.objects.garbage].map(([k, g]) => [k, g.sinceMs])).toEqual([
      [`${PREFIX}a`, 5_000],
      [`${PREFIX}b`, 5_000],
    ]);
    expect(s.objects.objects.size).toBe(3);
    expect(s.objects.bytes).toBe(3_000);
    expect(s.objects.garbageBytes).toBe(2_000);
    expect(s.objects.ranges).toBe(3);
  });

  it('keeps an object referenced while another partition still refers to it', () => {
    const s = cluster();
    commit(s, req('a', [sec(), sec({ topic: 'u', topicId: 'id-u', leaderEpoch: 0, position: 100 })]));
    applied(s, planReplaceObjects(s, req('d', [sec()]), opts()).records);
    expect(s.objects.garbage.size).toBe(0);
    expect(s.objects.objects.get(`${PREFIX}a`)?.refs).toBe(1);
    applied(s, planReplaceObjects(s, req('e', [sec({ topic: 'u', topicId: 'id-u', leaderEpoch: 0 })]), opts()).records);
    expect([...s.objects.garbage.keys()]).toEqual([`${PREFIX}a`]);
  });

  const refusals: { name: string; sections: Section[]; brokerId?: number; code: number }[] = [
    { name: 'a bound inside a range', sections: [sec({ startOffset: 5, endOffset: 20 })], code: 42 },
    { name: 'an end inside a range', sections: [sec({ startOffset: 0, endOffset: 25 })], code: 42 },
    { name: 'a range past the end', sections: [sec({ startOffset: 20, endOffset: 40 })], code: 42 },
    { name: 'overlapping sections', sections: [sec({ startOffset: 0, endOffset: 20 }), sec({ startOffset: 10, endOffset: 30, position: 200 })], code: 42 },
    { name: 'a partition with no data', sections: [sec({ topic: 'u', topicId: 'id-u', leaderEpoch: 0 })], code: 42 },
    { name: 'not the owner', sections: [sec({ startOffset: 0, endOffset: 20 })], brokerId: 2, code: 6 },
    { name: 'a stale epoch (a zombie compactor)', sections: [sec({ startOffset: 0, endOffset: 20, leaderEpoch: 1 })], code: 74 },
    { name: 'an unknown partition', sections: [sec({ partition: 7 })], code: 3 },
  ];
  for (const c of refusals) {
    it(`refuses ${c.name} with ${c.code}, changing nothing`, () => {
      const s = base();
      const before = stateToJson(s);
      const planned = planReplaceObjects(s, req('d', c.sections, c.brokerId !== undefined ? { brokerId: c.brokerId } : {}), opts());
      expect(planned.result.errorCode).toBe(c.code);
      expect(planned.records).toEqual([]);
      expect(stateToJson(s)).toBe(before);
    });
  }
});

describe('advanceLogStart', () => {
  function threeRanges(): MetadataState {
    const s = cluster();
    commit(s, req('a', [sec()]));
    commit(s, req('b', [sec({ startOffset: 10, endOffset: 20 })]));
    commit(s, req('c', [sec({ startOffset: 20, endOffset: 30 })]));
    return s;
  }
  const advance = (s: MetadataState, logStartOffset: number, over: { brokerId?: number; leaderEpoch?: number; nowMs?: number } = {}) =>
    planAdvanceLogStart(s, { brokerId: over.brokerId ?? 1, topic: 't', partition: 0, leaderEpoch: over.leaderEpoch ?? 3, logStartOffset }, over.nowMs ?? 7_000);

  it('drops the ranges wholly below the new log start, and only those', () => {
    const s = threeRanges();
    applied(s, advance(s, 15).records);
    expect(ranges(s, 't', 0)).toEqual(['b:10-20', 'c:20-30']);
    expect(describePartitionObjects(s, 't', 0)).toMatchObject({ logStartOffset: 15, endOffset: 30 });
    expect([...s.objects.garbage]).toEqual([[`${PREFIX}a`, { size: 1000, sinceMs: 7_000 }]]);
  });

  it('never moves back (a no-op), never past the end (42), and may reach the end, keeping it', () => {
    const s = threeRanges();
    applied(s, advance(s, 20).records);
    expect(advance(s, 5)).toEqual({ result: { errorCode: 0, errorMessage: null }, records: [] });
    expect(advance(s, 31).result.errorCode).toBe(42);
    applied(s, advance(s, 30).records);
    expect(describePartitionObjects(s, 't', 0)).toMatchObject({ logStartOffset: 30, endOffset: 30, objects: [] });
    // The next commit continues from the end, not from 0.
    expect(planCommitObject(s, req('d', [sec({ startOffset: 30, endOffset: 31 })]), opts()).result.errorCode).toBe(0);
  });

  it('is fenced like a commit', () => {
    const s = threeRanges();
    expect(advance(s, 15, { brokerId: 2 }).result.errorCode).toBe(6);
    expect(advance(s, 15, { leaderEpoch: 2 }).result.errorCode).toBe(74);
    expect(planAdvanceLogStart(s, { brokerId: 1, topic: 't', partition: 5, leaderEpoch: 3, logStartOffset: 1 }, 0).result.errorCode).toBe(3);
  });
});

describe('partitionObjects, topic deletion and garbage', () => {
  it('answers 3 for an unknown partition and an empty index at 0 for a partition without data', () => {
    const s = cluster();
    expect(describePartitionObjects(s, 'nope', 0)).toMatchObject({ errorCode: 3 });
    expect(describePartitionObjects(s, 't', 1)).toEqual({ errorCode: 0, errorMessage: null, topicId: 'id-t', leaderEpoch: 0, logStartOffset: 0, endOffset: 0, objects: [] });
  });

  it('drops a deleted topic\'s index; a re-created topic starts empty; shared objects stay referenced', () => {
    const s = cluster();
    commit(s, req('a', [sec(), sec({ topic: 'u', topicId: 'id-u', leaderEpoch: 0, position: 100 })]));
    commit(s, req('b', [sec({ startOffset: 10, endOffset: 20 })]));
    applied(s, [{ type: 'topic-deleted', name: 't', id: 'id-t', atMs: 9_000 }]);
    expect(s.objects.partitions.has('id-t')).toBe(false);
    expect([...s.objects.garbage]).toEqual([[`${PREFIX}b`, { size: 1000, sinceMs: 9_000 }]]);
    expect(s.objects.objects.get(`${PREFIX}a`)?.refs).toBe(1);
    applied(s, [{ type: 'topic-created', topic: { name: 't', id: 'id-t2', internal: false, config: {}, partitions: [{ index: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] }] } }]);
    expect(describePartitionObjects(s, 't', 0)).toMatchObject({ topicId: 'id-t2', endOffset: 0, objects: [] });
    // A late commit for the old incarnation is refused.
    expect(planCommitObject(s, req('c', [sec({ startOffset: 20, endOffset: 30, leaderEpoch: 0 })]), opts()).result.errorCode).toBe(3);
  });

  it('hands out due garbage oldest first, and forgets it once deleted', () => {
    const s = cluster();
    for (const [i, k] of ['a', 'b', 'c'].entries()) commit(s, req(k, [sec({ startOffset: i * 10, endOffset: i * 10 + 10 })]));
    applied(s, planReplaceObjects(s, req('bc', [sec({ startOffset: 10, endOffset: 30 })]), opts({ nowMs: 2_000 })).records);
    applied(s, planReplaceObjects(s, req('abc', [sec({ startOffset: 0, endOffset: 30 })]), opts({ nowMs: 1_000 })).records);
    const idx: ObjectIndexState = s.objects;
    expect(garbageDue(idx, 1_500, 1_000, 10)).toEqual([]);
    expect(garbageDue(idx, 2_000, 1_000, 10)).toEqual([`${PREFIX}a`, `${PREFIX}bc`]);
    expect(garbageDue(idx, 3_000, 1_000, 10)).toEqual([`${PREFIX}a`, `${PREFIX}bc`, `${PREFIX}b`, `${PREFIX}c`]);
    expect(garbageDue(idx, 3_000, 1_000, 1)).toEqual([`${PREFIX}a`]);
    applied(s, [{ type: 'objects-deleted', keys: [`${PREFIX}a`, `${PREFIX}b`] }]);
    expect([...idx.garbage.keys()].sort()).toEqual([`${PREFIX}bc`, `${PREFIX}c`]);
    expect(idx.garbageBytes).toBe(2_000);
    expect(() => applied(s, [{ type: 'objects-deleted', keys: [`${PREFIX}a`] }])).toThrow(RecordApplyError);
  });

  it('keeps WAL epochs in the state, never letting one go back', () => {
    const s = cluster();
    applied(s, [{ type: 'wal-epoch', brokerId: 1, epoch: 1 }, { type: 'wal-epoch', brokerId: 1, epoch: 3 }]);
    expect(s.walEpochs.get(1)).toBe(3);
    expect(() => applyRecords(s, [{ type: 'wal-epoch', brokerId: 1, epoch: 3 }])).toThrow(RecordApplyError);
    const v = s.version;
    applied(s, [{ type: 'wal-epoch', brokerId: 2, epoch: 1 }]);
    expect(s.version).toBe(v);
  });
});

describe('snapshot form', () => {
  it('round-trips the index, garbage, WAL epochs and clean-shutdown failovers', () => {
    const s = cluster();
    commit(s, req('a', [sec(), sec({ topic: 'u', topicId: 'id-u', leaderEpoch: 0, position: 100 })]));
    commit(s, req('b', [sec({ startOffset: 10, endOffset: 20 })]));
    applied(s, planReplaceObjects(s, req('ab', [sec({ startOffset: 0, endOffset: 20 })]), opts()).records);
    applied(s, [{ type: 'wal-epoch', brokerId: 2, epoch: 5 }]);
    applied(s, [{ type: 'broker-dead', id: 2 }, { type: 'failover-pending', brokerId: 2, partitions: [], uploaded: true }]);
    const back = stateFromJson(stateToJson(s));
    expect(back.objects).toEqual(s.objects);
    expect(back.walEpochs).toEqual(s.walEpochs);
    expect(back.uploadedFailovers).toEqual(new Set([2]));
    expect(stateToJson(back)).toBe(stateToJson(s));
  });

  it('loads a snapshot written before shared storage existed', () => {
    const s = cluster();
    const old = JSON.parse(stateToJson(s)) as Record<string, unknown>;
    delete old['objects'];
    delete old['walEpochs'];
    delete old['uploadedFailovers'];
    const back = stateFromJson(JSON.stringify(old));
    expect(back.objects.objects.size).toBe(0);
    expect(back.walEpochs.size).toBe(0);
  });
});

describe('index invariants (property)', () => {
  type Op = { kind: 'commit'; partition: number; count: number } | { kind: 'compact'; partition: number; from: number; n: number } | { kind: 'trim'; partition: number; by: number } | { kind: 'drop-topic' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('commit' as const), partition: fc.integer({ min: 0, max: 1 }), count: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ kind: fc.constant('compact' as const), partition: fc.integer({ min: 0, max: 1 }), from: fc.nat(20), n: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ kind: fc.constant('trim' as const), partition: fc.integer({ min: 0, max: 1 }), by: fc.nat(60) }),
    fc.constant({ kind: 'drop-topic' as const }),
  );

  function check(s: MetadataState): void {
    const idx = s.objects;
    const refs = new Map<string, number>();
    let n = 0;
    for (const byIndex of idx.partitions.values()) {
      for (const p of byIndex.values()) {
        let at = p.ranges[0]?.startOffset ?? p.endOffset;
        for (const r of p.ranges) {
          expect(r.startOffset).toBe(at);
          expect(r.endOffset).toBeGreaterThan(r.startOffset);
          expect(r.endOffset).toBeGreaterThan(p.logStartOffset);
          at = r.endOffset;
          refs.set(r.key, (refs.get(r.key) ?? 0) + 1);
          n++;
        }
        expect(at).toBe(p.endOffset);
        expect(p.logStartOffset).toBeLessThanOrEqual(p.endOffset);
      }
    }
    expect(idx.ranges).toBe(n);
    expect(new Map([...idx.objects].map(([k, o]) => [k, o.refs]))).toEqual(refs);
    expect(idx.bytes).toBe([...idx.objects.values()].reduce((a, o) => a + o.size, 0));
    expect(idx.garbageBytes).toBe([...idx.garbage.values()].reduce((a, o) => a + o.size, 0));
    for (const k of idx.garbage.keys()) expect(idx.objects.has(k)).toBe(false);
    expect(objectIndexFromJson(objectIndexToJson(idx))).toEqual(idx);
  }

  it('holds after any sequence of commits, compactions, trims and topic deletions', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }], topics: [{ name: 't', partitions: [{ replicas: [1] }, { replicas: [1] }] }] });
        let topicId = 'id-t';
        let seq = 0;
        for (const o of ops) {
          const key = `k${seq++}`;
          const view = (p: number) => describePartitionObjects(s, 't', p);
          const base = (p: number): Section => ({ topic: 't', topicId, partition: p, startOffset: 0, endOffset: 0, position: 0, length: 1, leaderEpoch: 0 });
          switch (o.kind) {
            case 'commit': {
              const end = view(o.partition).endOffset;
              commit(s, { brokerId: 1, key: `${PREFIX}${key}`, size: 10, sections: [{ ...base(o.partition), startOffset: end, endOffset: end + o.count }] });
              break;
            }
            case 'compact': {
              const objects = view(o.partition).objects.slice(o.from, o.from + o.n);
              const first = objects[0];
              const last = objects.at(-1);
              if (!first || !last) break;
              const planned = planReplaceObjects(s, { brokerId: 1, key: `${PREFIX}${key}`, size: 10, sections: [{ ...base(o.partition), startOffset: first.startOffset, endOffset: last.endOffset }] }, opts());
              expect(planned.result.errorCode).toBe(0);
              applied(s, planned.records);
              break;
            }
            case 'trim': {
              const v = view(o.partition);
              applied(s, planAdvanceLogStart(s, { brokerId: 1, topic: 't', partition: o.partition, leaderEpoch: 0, logStartOffset: Math.min(v.endOffset, v.logStartOffset + o.by) }, 0).records);
              break;
            }
            case 'drop-topic':
              applied(s, [{ type: 'topic-deleted', name: 't', id: topicId, atMs: 0 }]);
              topicId = `id-t-${seq}`;
              applied(s, [{ type: 'topic-created', topic: { name: 't', id: topicId, internal: false, config: {}, partitions: [0, 1].map((index) => ({ index, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] })) } }]);
              break;
          }
          check(s);
        }
      }),
      { numRuns: 200 },
    );
  });
});
