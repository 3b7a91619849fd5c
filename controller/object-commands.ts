/**
 * The object-index commands (shared-storage mode) as pure functions: validate a broker's
 * request against the state, answer with Kafka's codes, and return the records that carry
 * it out (none when refused or when there is nothing to do). All or nothing: one bad
 * section refuses the whole request.
 *
 * Fencing: only the partition's owner (brokerId === leader) at its current leader epoch
 * may change its index, so a zombie's late upload or compaction is refused however late
 * it arrives. The one other authority is the controller's own WAL recovery of a dead
 * broker, which commits for that broker's offline partitions while their failover is
 * pending (`recoveryOf`); it is never reachable over HTTP.
 *
 * Order of checks, so that a caller learns the most useful thing first: the shape of
 * the request (42), then per section the partition (3), the owner (6) and the epoch
 * (74), then the offsets against the index (42).
 */
import {
  MetadataErrorCode as Code,
  type AdvanceLogStartRequest,
  type CommitObjectRequest,
  type ObjectSection,
  type PartitionObjectsResponse,
  type ReplaceObjectsRequest,
  type SharedStorageResponse,
} from '../src/metadata/controller-api.ts';
import type { Planned } from './commands.ts';
import { ControllerLimits } from './limits.ts';
import { coveredRun, knowsObject, partitionObjectsOf, type IndexSection } from './object-index.ts';
import type { MetadataState, PartitionState, TopicState } from './state.ts';

export interface ObjectCommandOptions {
  /** Only keys under this prefix may be committed (only they are ever collected). */
  keyPrefix: string;
  /** Wall-clock ms: when replaced objects start their grace period. */
  nowMs: number;
  /** Keys the controller has deleted, or is deleting, from the object store. */
  collected?: (key: string) => boolean;
  /** The controller's WAL recovery of this dead broker (never set for a request from the network). */
  recoveryOf?: number;
}

const OK: SharedStorageResponse = { errorCode: Code.NONE, errorMessage: null };
const refuse = (errorCode: number, errorMessage: string): Planned<SharedStorageResponse> => ({ result: { errorCode, errorMessage }, records: [] });

const isOffset = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** What is wrong with the shape of a commit or replace request, or null. */
function shapeProblem(req: CommitObjectRequest, keyPrefix: string): string | null {
  if (typeof req.key !== 'string' || req.key.length === 0 || Buffer.byteLength(req.key) > ControllerLimits.objectKeyBytesMax) {
    return `the key must have 1 to ${ControllerLimits.objectKeyBytesMax} bytes`;
  }
  if (!req.key.startsWith(keyPrefix)) return `key ${req.key} is not under the object prefix ${keyPrefix}`;
  if (!Number.isSafeInteger(req.size) || req.size < 1) return `size must be a positive integer, got ${req.size}`;
  if (req.sections.length === 0 || req.sections.length > ControllerLimits.objectSectionsPerCommitMax) {
    return `an object must have 1 to ${ControllerLimits.objectSectionsPerCommitMax} sections, got ${req.sections.length}`;
  }
  for (const s of req.sections) {
    const where = `section ${s.topic}-${s.partition}`;
    if (!isOffset(s.startOffset) || !isOffset(s.endOffset) || s.endOffset <= s.startOffset) return `${where}: offsets [${s.startOffset}, ${s.endOffset}) are not a non-empty range`;
    if (!isOffset(s.position) || !Number.isSafeInteger(s.length) || s.length < 1 || s.position + s.length > req.size) {
      return `${where}: bytes [${s.position}, ${s.position + s.length}) do not lie within the object's ${req.size} bytes`;
    }
    if (!Number.isSafeInteger(s.leaderEpoch)) return `${where}: leaderEpoch must be an integer`;
  }
  return null;
}

interface Resolved {
  topic: TopicState;
  partition: PartitionState;
}

/** The partition a section names, fenced: an error answer, or the partition. */
function fence(state: MetadataState, s: ObjectSection & { leaderEpoch: number }, brokerId: number, recoveryOf: number | undefined): Planned<SharedStorageResponse> | Resolved {
  const name = `${s.topic}-${s.partition}`;
  const t = state.topics.get(s.topic);
  const p = t?.id === s.topicId ? t.partitions[s.partition] : undefined;
  if (!t || !p) return refuse(Code.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${name} (topic id ${s.topicId})`);
  if (recoveryOf !== undefined) {
    const pending = state.pendingFailovers.get(recoveryOf)?.some((r) => r.topicId === t.id && r.partition === p.index) === true;
    if (brokerId !== recoveryOf || p.leader >= 0 || !pending) return refuse(Code.NOT_LEADER_OR_FOLLOWER, `${name} is not an offline partition of dead broker ${recoveryOf}`);
  } else if (p.leader !== brokerId) {
    return refuse(Code.NOT_LEADER_OR_FOLLOWER, `broker ${brokerId} does not own ${name} (owner ${p.leader})`);
  }
  if (s.leaderEpoch !== p.leaderEpoch) return refuse(Code.FENCED_LEADER_EPOCH, `leader epoch ${s.leaderEpoch} of ${name} is not the current ${p.leaderEpoch}`);
  return { topic: t, partition: p };
}

const toIndexSection = (s: ObjectSection): IndexSection => ({
  topicId: s.topicId,
  partition: s.partition,
  startOffset: s.startOffset,
  endOffset: s.endOffset,
  position: s.position,
  length: s.length,
});

/** Whether every section is already in the index as a range of this key (a repeated request). */
function alreadyApplied(state: MetadataState, req: CommitObjectRequest): boolean {
  return req.sections.every((s) =>
    (partitionObjectsOf(state.objects, s.topicId, s.partition)?.ranges ?? []).some(
      (r) => r.key === req.key && r.startOffset === s.startOffset && r.endOffset === s.endOffset && r.position === s.position && r.length === s.length,
    ),
  );
}

/** Validation shared by commit and replace, up to the offsets: an answer, or null to go on. */
function common(state: MetadataState, req: CommitObjectRequest, opts: ObjectCommandOptions): Planned<SharedStorageResponse> | null {
  if (state.mode !== 'shared-storage') return refuse(Code.INVALID_REQUEST, 'a shared-nothing cluster has no object index');
  const problem = shapeProblem(req, opts.keyPrefix);
  if (problem) return refuse(Code.INVALID_REQUEST, problem);
  for (const s of req.sections) {
    const fenced = fence(state, s, req.brokerId, opts.recoveryOf);
    if ('result' in fenced) return fenced;
  }
  if (state.objects.objects.has(req.key) && alreadyApplied(state, req)) return { result: OK, records: [] };
  if (knowsObject(state.objects, req.key)) return refuse(Code.INVALID_REQUEST, `object ${req.key} is already in the index; keys are never reused`);
  if (opts.collected?.(req.key) === true) return refuse(Code.INVALID_REQUEST, `object ${req.key} was collected (unreferenced past the grace period); upload the data again`);
  return null;
}

/** A broker's uploaded object: its sections extend their partitions' indexes. */
export function planCommitObject(state: MetadataState, req: CommitObjectRequest, opts: ObjectCommandOptions): Planned<SharedStorageResponse> {
  const answered = common(state, req, opts);
  if (answered) return answered;
  // Sections of one partition must follow each other, the first at the index's end.
  const ends = new Map<string, number>();
  for (const s of req.sections) {
    const k = `${s.topicId}\u0000${s.partition}`;
    const end = ends.get(k) ?? partitionObjectsOf(state.objects, s.topicId, s.partition)?.endOffset ?? 0;
    if (s.startOffset !== end) return refuse(Code.INVALID_REQUEST, `section ${s.topic}-${s.partition} starts at ${s.startOffset}, but the partition's index ends at ${end}`);
    ends.set(k, s.endOffset);
  }
  return { result: OK, records: [{ type: 'objects-committed', key: req.key, size: req.size, sections: req.sections.map(toIndexSection) }] };
}

/** Compaction: each section's new object replaces the run of whole ranges it covers exactly. */
export function planReplaceObjects(state: MetadataState, req: ReplaceObjectsRequest, opts: ObjectCommandOptions): Planned<SharedStorageResponse> {
  // Compaction is the owner's alone: a WAL recovery only ever commits.
  const { recoveryOf: _recovery, ...ownerOnly } = opts;
  const answered = common(state, req, ownerOnly);
  if (answered) return answered;
  const taken = new Map<string, { start: number; end: number }[]>();
  for (const s of req.sections) {
    const name = `${s.topic}-${s.partition}`;
    const p = partitionObjectsOf(state.objects, s.topicId, s.partition);
    if (!p || !coveredRun(p, s.startOffset, s.endOffset)) {
      return refuse(Code.INVALID_REQUEST, `section ${name} [${s.startOffset}, ${s.endOffset}) does not cover a run of whole ranges of the partition's index`);
    }
    const k = `${s.topicId}\u0000${s.partition}`;
    const mine = taken.get(k) ?? [];
    if (mine.some((o) => s.startOffset < o.end && o.start < s.endOffset)) return refuse(Code.INVALID_REQUEST, `sections of ${name} overlap`);
    mine.push({ start: s.startOffset, end: s.endOffset });
    taken.set(k, mine);
  }
  return { result: OK, records: [{ type: 'objects-replaced', key: req.key, size: req.size, sections: req.sections.map(toIndexSection), atMs: opts.nowMs }] };
}

/** Retention or DeleteRecords: the log start moves forward (never back, never past the end). */
export function planAdvanceLogStart(state: MetadataState, req: AdvanceLogStartRequest, nowMs: number): Planned<SharedStorageResponse> {
  if (state.mode !== 'shared-storage') return refuse(Code.INVALID_REQUEST, 'a shared-nothing cluster has no object index');
  const name = `${req.topic}-${req.partition}`;
  const t = state.topics.get(req.topic);
  const p = t?.partitions[req.partition];
  if (!t || !p) return refuse(Code.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${name}`);
  if (p.leader !== req.brokerId) return refuse(Code.NOT_LEADER_OR_FOLLOWER, `broker ${req.brokerId} does not own ${name} (owner ${p.leader})`);
  if (req.leaderEpoch !== p.leaderEpoch) return refuse(Code.FENCED_LEADER_EPOCH, `leader epoch ${req.leaderEpoch} of ${name} is not the current ${p.leaderEpoch}`);
  const index = partitionObjectsOf(state.objects, t.id, p.index);
  const start = index?.logStartOffset ?? 0;
  const end = index?.endOffset ?? 0;
  if (!isOffset(req.logStartOffset) || req.logStartOffset > end) return refuse(Code.INVALID_REQUEST, `log start ${req.logStartOffset} of ${name} is beyond its end offset ${end}`);
  // Moving back is a no-op, as Kafka's DeleteRecords below the log start is.
  if (req.logStartOffset <= start) return { result: OK, records: [] };
  return { result: OK, records: [{ type: 'log-start-advanced', topicId: t.id, partition: p.index, logStartOffset: req.logStartOffset, atMs: nowMs }] };
}

/** Where a partition's data lives, for its (new) owner and for readers. */
export function describePartitionObjects(state: MetadataState, topic: string, partition: number): PartitionObjectsResponse {
  const t = state.topics.get(topic);
  const p = t?.partitions[partition];
  if (!t || !p) {
    return { errorCode: Code.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown partition ${topic}-${partition}`, topicId: '', leaderEpoch: -1, logStartOffset: 0, endOffset: 0, objects: [] };
  }
  const index = partitionObjectsOf(state.objects, t.id, p.index);
  return {
    errorCode: Code.NONE,
    errorMessage: null,
    topicId: t.id,
    leaderEpoch: p.leaderEpoch,
    logStartOffset: index?.logStartOffset ?? 0,
    endOffset: index?.endOffset ?? 0,
    // A copy: the index's array changes in place with later commits.
    objects: index ? index.ranges.map((r) => ({ ...r })) : [],
  };
}

/** The index end of a partition, or null for an unknown partition. */
export function indexEndOffset(state: MetadataState, topic: string, partition: number): number | null {
  const t = state.topics.get(topic);
  if (!t?.partitions[partition]) return null;
  return partitionObjectsOf(state.objects, t.id, partition)?.endOffset ?? 0;
}
