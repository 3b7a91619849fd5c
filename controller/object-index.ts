/**
 * The object index (shared-storage mode): for each partition, the object ranges that
 * hold its log, contiguous in offsets from `logStartOffset` to `endOffset`; for each
 * object, how many ranges refer to it; and the objects nobody refers to any more, which
 * wait out a grace period before the controller deletes them from the object store.
 *
 * This file is the data structure and the application of its records only: no I/O, no
 * clock (times come in the records), no validation of requests (object-commands.ts
 * decides, in terms of Kafka errors, whether a request may become a record). A record
 * that breaks an invariant here is a bug or a corrupt log: RecordApplyError.
 *
 * Partitions are keyed by topic id and index, so a deleted and re-created topic never
 * sees its predecessor's data. Ranges are kept in one array per partition, sorted and
 * contiguous, and changed in place: a commit is an O(1) append and a compaction or a
 * log-start advance splices only the affected run, because commits arrive several times
 * per second per broker and a partition may hold many thousands of ranges.
 */
import type { ObjectRange } from '../src/metadata/controller-api.ts';
import { RecordApplyError } from './errors.ts';

/** One partition's part of an object, as records carry it (the topic by id only). */
export interface IndexSection {
  topicId: string;
  partition: number;
  startOffset: number;
  endOffset: number;
  position: number;
  length: number;
}

export interface PartitionObjects {
  logStartOffset: number;
  /** The end of the last range; logStartOffset when there is none. */
  endOffset: number;
  /** Sorted by offset and contiguous: ranges[i].endOffset === ranges[i + 1].startOffset. */
  ranges: ObjectRange[];
}

export interface ObjectIndexState {
  /** topicId → partition index → the partition's ranges (absent until its first commit). */
  partitions: Map<string, Map<number, PartitionObjects>>;
  /** Every object at least one range refers to. */
  objects: Map<string, { size: number; refs: number }>;
  /** Objects no range refers to, since `sinceMs` (wall clock): deleted after the grace period. */
  garbage: Map<string, { size: number; sinceMs: number }>;
  /** Sum of the sizes of `objects`. */
  bytes: number;
  /** Sum of the sizes of `garbage`. */
  garbageBytes: number;
  /** Ranges in all partitions. */
  ranges: number;
}

export function emptyObjectIndex(): ObjectIndexState {
  return { partitions: new Map(), objects: new Map(), garbage: new Map(), bytes: 0, garbageBytes: 0, ranges: 0 };
}

export function partitionObjectsOf(index: ObjectIndexState, topicId: string, partition: number): PartitionObjects | undefined {
  return index.partitions.get(topicId)?.get(partition);
}

function partitionFor(index: ObjectIndexState, topicId: string, partition: number): PartitionObjects {
  let byIndex = index.partitions.get(topicId);
  if (!byIndex) {
    byIndex = new Map();
    index.partitions.set(topicId, byIndex);
  }
  let p = byIndex.get(partition);
  if (!p) {
    p = { logStartOffset: 0, endOffset: 0, ranges: [] };
    byIndex.set(partition, p);
  }
  return p;
}

/** Whether the index knows `key` at all: referenced, or garbage not yet deleted. */
export function knowsObject(index: ObjectIndexState, key: string): boolean {
  return index.objects.has(key) || index.garbage.has(key);
}

function addRef(index: ObjectIndexState, key: string, size: number): void {
  if (index.garbage.has(key)) throw new RecordApplyError(`object ${key} is referenced again after it became garbage`);
  const o = index.objects.get(key);
  if (o) {
    if (o.size !== size) throw new RecordApplyError(`object ${key} has size ${o.size}, a record says ${size}`);
    o.refs++;
    return;
  }
  index.objects.set(key, { size, refs: 1 });
  index.bytes += size;
}

function dropRef(index: ObjectIndexState, key: string, sinceMs: number): void {
  const o = index.objects.get(key);
  if (!o) throw new RecordApplyError(`a range refers to object ${key}, which the index does not hold`);
  if (--o.refs > 0) return;
  index.objects.delete(key);
  index.bytes -= o.size;
  index.garbage.set(key, { size: o.size, sinceMs });
  index.garbageBytes += o.size;
}

function rangeOf(key: string, size: number, s: IndexSection): ObjectRange {
  return { key, size, startOffset: s.startOffset, endOffset: s.endOffset, position: s.position, length: s.length };
}

/** Appends an object's sections to their partitions (each must start at its partition's end). */
export function applyCommit(index: ObjectIndexState, key: string, size: number, sections: readonly IndexSection[]): void {
  for (const s of sections) {
    const p = partitionFor(index, s.topicId, s.partition);
    if (s.startOffset !== p.endOffset || s.endOffset <= s.startOffset) {
      throw new RecordApplyError(`commit of ${key}: section [${s.startOffset}, ${s.endOffset}) does not extend ${s.topicId}/${s.partition}, which ends at ${p.endOffset}`);
    }
    addRef(index, key, size);
    p.ranges.push(rangeOf(key, size, s));
    p.endOffset = s.endOffset;
    index.ranges++;
  }
}

/** The index of the first range starting at `offset`, or -1 (binary search: ranges are sorted). */
export function rangeStartingAt(ranges: readonly ObjectRange[], offset: number): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const start = ranges[mid]?.startOffset ?? 0;
    if (start === offset) return mid;
    if (start < offset) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * The run of whole ranges [first, last] that exactly covers [startOffset, endOffset),
 * or null when no such run exists (the bounds fall inside ranges or outside the index).
 */
export function coveredRun(p: PartitionObjects, startOffset: number, endOffset: number): { first: number; last: number } | null {
  const first = rangeStartingAt(p.ranges, startOffset);
  if (first < 0 || endOffset <= startOffset) return null;
  // The last range of the run ends at endOffset; ranges are contiguous, so search by end.
  let lo = first;
  let hi = p.ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const end = p.ranges[mid]?.endOffset ?? 0;
    if (end === endOffset) return { first, last: mid };
    if (end < endOffset) lo = mid + 1;
    else hi = mid - 1;
  }
  return null;
}

/** Compaction: each section replaces the run of whole ranges it covers exactly. */
export function applyReplace(index: ObjectIndexState, key: string, size: number, sections: readonly IndexSection[], atMs: number): void {
  for (const s of sections) {
    const p = partitionObjectsOf(index, s.topicId, s.partition);
    const run = p ? coveredRun(p, s.startOffset, s.endOffset) : null;
    if (!p || !run) throw new RecordApplyError(`replace by ${key}: [${s.startOffset}, ${s.endOffset}) is not a run of whole ranges of ${s.topicId}/${s.partition}`);
    addRef(index, key, size);
    const removed = p.ranges.splice(run.first, run.last - run.first + 1, rangeOf(key, size, s));
    index.ranges += 1 - removed.length;
    for (const r of removed) dropRef(index, r.key, atMs);
  }
}

/** Moves a partition's log start forward, dropping the ranges wholly below it. */
export function applyLogStart(index: ObjectIndexState, topicId: string, partition: number, logStartOffset: number, atMs: number): void {
  const p = partitionObjectsOf(index, topicId, partition);
  if (!p) {
    if (logStartOffset !== 0) throw new RecordApplyError(`log start ${logStartOffset} for ${topicId}/${partition}, which has no data`);
    return;
  }
  if (logStartOffset < p.logStartOffset || logStartOffset > p.endOffset) {
    throw new RecordApplyError(`log start of ${topicId}/${partition} cannot move from ${p.logStartOffset} to ${logStartOffset} (end ${p.endOffset})`);
  }
  let n = 0;
  while (n < p.ranges.length && (p.ranges[n]?.endOffset ?? Infinity) <= logStartOffset) n++;
  const removed = p.ranges.splice(0, n);
  index.ranges -= removed.length;
  for (const r of removed) dropRef(index, r.key, atMs);
  p.logStartOffset = logStartOffset;
}

/** A topic was deleted: every range of its partitions goes, their objects may become garbage. */
export function applyTopicDropped(index: ObjectIndexState, topicId: string, atMs: number): void {
  const byIndex = index.partitions.get(topicId);
  if (!byIndex) return;
  index.partitions.delete(topicId);
  for (const p of byIndex.values()) {
    index.ranges -= p.ranges.length;
    for (const r of p.ranges) dropRef(index, r.key, atMs);
  }
}

/** Garbage objects the controller has deleted from the object store. */
export function applyDeleted(index: ObjectIndexState, keys: readonly string[]): void {
  for (const key of keys) {
    const g = index.garbage.get(key);
    if (!g) throw new RecordApplyError(`object ${key} was deleted but is not garbage`);
    index.garbage.delete(key);
    index.garbageBytes -= g.size;
  }
}

/** Garbage whose grace period has passed at `nowMs`, oldest first, at most `max` keys. */
export function garbageDue(index: ObjectIndexState, nowMs: number, graceMs: number, max: number): string[] {
  const due: { key: string; sinceMs: number }[] = [];
  for (const [key, g] of index.garbage) if (nowMs - g.sinceMs >= graceMs) due.push({ key, sinceMs: g.sinceMs });
  due.sort((a, b) => a.sinceMs - b.sinceMs || (a.key < b.key ? -1 : 1));
  return due.slice(0, max).map((d) => d.key);
}

// ---- snapshot form -------------------------------------------------------------------
//
// Compact, because the snapshot is serialised synchronously: object keys once in a table
// (an object holds sections of many partitions), each range as five numbers. Reference
// counts and totals are not stored; they are rebuilt from the ranges on load.

export interface ObjectIndexJson {
  keys: string[];
  sizes: number[];
  /** Per partition: [keyIndex, startOffset, endOffset, position, length] per range, flattened. */
  partitions: { topicId: string; partition: number; logStartOffset: number; endOffset: number; ranges: number[] }[];
  garbage: { key: string; size: number; sinceMs: number }[];
}

export function objectIndexToJson(index: ObjectIndexState): ObjectIndexJson {
  const keyIndex = new Map<string, number>();
  const keys: string[] = [];
  const sizes: number[] = [];
  const partitions: ObjectIndexJson['partitions'] = [];
  for (const [topicId, byIndex] of index.partitions) {
    for (const [partition, p] of byIndex) {
      const ranges: number[] = [];
      for (const r of p.ranges) {
        let k = keyIndex.get(r.key);
        if (k === undefined) {
          k = keys.length;
          keyIndex.set(r.key, k);
          keys.push(r.key);
          sizes.push(r.size);
        }
        ranges.push(k, r.startOffset, r.endOffset, r.position, r.length);
      }
      partitions.push({ topicId, partition, logStartOffset: p.logStartOffset, endOffset: p.endOffset, ranges });
    }
  }
  const garbage = [...index.garbage].map(([key, g]) => ({ key, size: g.size, sinceMs: g.sinceMs }));
  return { keys, sizes, partitions, garbage };
}

export function objectIndexFromJson(json: ObjectIndexJson | undefined): ObjectIndexState {
  const index = emptyObjectIndex();
  if (!json) return index;
  for (const jp of json.partitions) {
    const p = partitionFor(index, jp.topicId, jp.partition);
    p.logStartOffset = jp.logStartOffset;
    p.endOffset = jp.endOffset;
    for (let i = 0; i < jp.ranges.length; i += 5) {
      const [k, startOffset, endOffset, position, length] = jp.ranges.slice(i, i + 5) as [number, number, number, number, number];
      const key = json.keys[k];
      const size = json.sizes[k];
      if (key === undefined || size === undefined) throw new RecordApplyError(`snapshot range names object #${k}, which is not in its table`);
      addRef(index, key, size);
      p.ranges.push({ key, size, startOffset, endOffset, position, length });
      index.ranges++;
    }
  }
  for (const g of json.garbage) {
    index.garbage.set(g.key, { size: g.size, sinceMs: g.sinceMs });
    index.garbageBytes += g.size;
  }
  return index;
}
