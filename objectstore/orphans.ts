/**
 * Orphan collection: objects under a prefix that no metadata references any more (left
 * by a merge whose metadata switch never happened, by an uploader that crashed between
 * PUT and commit, or by a delete that failed half way). Which keys are referenced is
 * the caller's knowledge (the controller's object index); this module lists, filters
 * and deletes.
 *
 * The grace period is what makes this safe against uploads in flight: an object younger
 * than graceMs may be an upload whose commit is still on its way, so it is never
 * collected. That is only sound if no commit can reference an object older than
 * graceMs: an uploader must give up on (and not commit) an object whose commit has
 * not succeeded within graceMs of its PUT, and upload its data again instead.
 */
import type { ObjectInfo, ObjectStore } from './object-store.ts';

/** S3 deletes up to 1000 keys per request; batches of that size make collection cheap. */
const deleteBatchKeysMax = 1000;

export interface OrphanScan {
  store: ObjectStore;
  prefix: string;
  /** Whether the metadata of record references the key. */
  isReferenced: (key: string) => boolean;
  /** Objects modified less than this long before `nowMs` are left alone. */
  graceMs: number;
  /** Wall-clock time of the scan (ms since the epoch), as the store's timestamps are. */
  nowMs: number;
}

/** Objects under the prefix that are unreferenced and older than the grace period. */
export async function* findOrphans(scan: OrphanScan): AsyncIterable<ObjectInfo> {
  if (!(scan.graceMs >= 0)) throw new RangeError(`graceMs must be >= 0, got ${scan.graceMs}`);
  for await (const info of scan.store.list(scan.prefix)) {
    if (scan.isReferenced(info.key)) continue;
    if (scan.nowMs - info.lastModifiedMs < scan.graceMs) continue;
    yield info;
  }
}

export interface CollectResult {
  deleted: ObjectInfo[];
  bytes: number;
}

/** Deletes what findOrphans finds, in batches; `dryRun` only reports. */
export async function collectOrphans(scan: OrphanScan & { dryRun?: boolean }): Promise<CollectResult> {
  const deleted: ObjectInfo[] = [];
  let bytes = 0;
  let batch: ObjectInfo[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    if (scan.dryRun !== true) await scan.store.delete(batch.map((o) => o.key));
    deleted.push(...batch);
    for (const o of batch) bytes += o.size;
    batch = [];
  };
  for await (const info of findOrphans(scan)) {
    batch.push(info);
    if (batch.length >= deleteBatchKeysMax) await flush();
  }
  await flush();
  return { deleted, bytes };
}
