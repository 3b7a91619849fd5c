/**
 * Hand-over of a partition between two live brokers (shared-storage mode), as pure
 * functions. A move of a live owner's partition only names the target (`handoverTo`,
 * see failover.ts moveOwner): the owner stops taking writes, uploads and commits what it
 * holds, then releases the partition with the end offset it committed. Ownership moves
 * only then, with the leader epoch bumped, so that no write the owner acknowledged can be
 * missing from the index the new owner opens. Nothing is copied between brokers.
 *
 * States of one partition:
 *   owned by A ──move to B──▶ owned by A, handoverTo B ──release by A──▶ owned by B (epoch+1)
 *                                 │  timeout, or a move back to A ──▶ owned by A (hand-over abandoned)
 *                                 │  B dies ──▶ owned by A (hand-over dropped, failover.ts)
 *                                 └  A dies ──▶ offline, handoverTo B ──recovery──▶ owned by B if eligible
 */
import { MetadataErrorCode as Code, type ReleasePartitionRequest, type SharedStorageResponse } from '../src/metadata/controller-api.ts';
import type { Planned } from './commands.ts';
import { withHandover, withOwner } from './failover.ts';
import { partitionObjectsOf } from './object-index.ts';
import type { MetadataState } from './state.ts';

/** A hand-over under way: the partition's live owner has been asked to hand it to `to`. */
export interface Handover {
  topic: string;
  topicId: string;
  partition: number;
  from: number;
  to: number;
  /** The owner's epoch; a release or expiry at another epoch is about another ownership. */
  leaderEpoch: number;
}

/** Every hand-over under way (live owner, target named). */
export function handoversOf(state: MetadataState): Handover[] {
  const out: Handover[] = [];
  for (const t of state.topics.values()) {
    for (const p of t.partitions) {
      if (p.handoverTo === undefined || p.leader < 0) continue;
      out.push({ topic: t.name, topicId: t.id, partition: p.index, from: p.leader, to: p.handoverTo, leaderEpoch: p.leaderEpoch });
    }
  }
  return out;
}

export type ReleaseOutcome = SharedStorageResponse & { handover: Handover | null };

/** The owner has committed everything up to `endOffset` and stopped: ownership moves to the target. */
export function planRelease(state: MetadataState, req: ReleasePartitionRequest): Planned<ReleaseOutcome> {
  const refuse = (errorCode: number, errorMessage: string): Planned<ReleaseOutcome> => ({ result: { errorCode, errorMessage, handover: null }, records: [] });
  if (state.mode !== 'shared-storage') return refuse(Code.INVALID_REQUEST, 'a shared-nothing cluster has no hand-over');
  const name = `${req.topic}-${req.partition}`;
  const t = state.topics.get(req.topic);
  const p = t?.partitions[req.partition];
  if (!t || !p) return refuse(Code.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${name}`);
  if (p.leader !== req.brokerId) return refuse(Code.NOT_LEADER_OR_FOLLOWER, `broker ${req.brokerId} does not own ${name} (owner ${p.leader})`);
  if (req.leaderEpoch !== p.leaderEpoch) return refuse(Code.FENCED_LEADER_EPOCH, `leader epoch ${req.leaderEpoch} of ${name} is not the current ${p.leaderEpoch}`);
  const to = p.handoverTo;
  if (to === undefined) return refuse(Code.INVALID_REQUEST, `${name} is not being handed over (the hand-over was abandoned): keep serving it`);
  const end = partitionObjectsOf(state.objects, t.id, p.index)?.endOffset ?? 0;
  if (req.endOffset !== end) return refuse(Code.INVALID_REQUEST, `release of ${name} at ${req.endOffset}, but its index ends at ${end}: commit everything first`);
  // A dead target is dropped when it dies (failover.ts), so this is a broken invariant;
  // refusing keeps the owner serving rather than handing the partition to nobody.
  if (state.brokers.get(to)?.alive !== true) return refuse(Code.INVALID_REQUEST, `the target broker ${to} of ${name} is not alive`);
  const handover: Handover = { topic: t.name, topicId: t.id, partition: p.index, from: p.leader, to, leaderEpoch: p.leaderEpoch };
  return { result: { errorCode: Code.NONE, errorMessage: null, handover }, records: [{ type: 'partition-changed', topic: t.name, partition: withOwner(p, to) }] };
}

/** A hand-over that did not complete in time is abandoned: the owner keeps the partition. */
export function planHandoverExpiry(state: MetadataState, h: Handover): Planned<boolean> {
  const t = state.topics.get(h.topic);
  const p = t?.id === h.topicId ? t.partitions[h.partition] : undefined;
  if (!t || !p || p.leader !== h.from || p.leaderEpoch !== h.leaderEpoch || p.handoverTo !== h.to) return { result: false, records: [] };
  return { result: true, records: [{ type: 'partition-changed', topic: t.name, partition: withHandover(p, undefined) }] };
}
