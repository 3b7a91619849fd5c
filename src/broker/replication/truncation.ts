/**
 * The follower's decisions about its own log, as pure functions: where it truncates
 * before fetching from a leader, what it does when the leader says its fetch offset is out
 * of range, and how it places the first batch of a fetch answer. FollowerReplica carries
 * them out on its LocalLog.
 *
 * The truncation rule is Kafka's before KIP-101: a replica that starts following a leader
 * (after a restart, or when leadership moved) first truncates its log to the high
 * watermark it last knew, then fetches from there. Everything below that high watermark
 * was in every ISR member's log when it was reached, so the new leader (an ISR member, or
 * any replica with unclean election) has it too, at the same offsets; everything above it
 * may be a tail the new leader never had, and is fetched again from the new leader.
 *
 * What this rule costs (the known anomaly): the high watermark a replica knows lags the
 * leader's by up to one fetch, and a replica that loses unflushed data (power loss with
 * flush.messages unset) can come back with a shorter log than its stored high watermark
 * says. Kafka's KIP-101 scenarios follow from that: (1) a follower truncates below a
 * record every ISR member had, and if the leader then dies before it fetches again, it
 * leads without the record; (2) two replicas that both lost unflushed data can come back
 * with different records at the same offset, and neither truncates the other's. In floe,
 * (1) needs the truncating replica to be an ISR member, which a restarted broker is not:
 * the controller removes a broker from every ISR when its lease runs out, before it can
 * register again, and it rejoins only once it has caught up with the leader's high
 * watermark. A leader change without a restart (the controller moves leadership while
 * both brokers live) can still show it. OffsetForLeaderEpoch (KIP-101/279) is the fix
 * Kafka adopted; floe's batches already carry the leader epoch it would need.
 *
 * Which acknowledged records a leader's crash can lose: an acks=1 record the leader had
 * written but no follower had fetched when it died. The new leader never had it; the old
 * leader, when it comes back as a follower, truncates to its high watermark, which is
 * below that record (the high watermark never passed it), and fetches the new leader's
 * records at those offsets. An acks=all record cannot be lost that way: it was answered
 * only once the high watermark passed it, that is once every ISR member had it, and the
 * new leader is an ISR member (without unclean election); no replica truncates below its
 * own high watermark, and the new leader's log end is at least every other replica's
 * high watermark.
 */

/** Where a replica truncates before it fetches from a (new) leader: its stored high watermark, at most its log end. */
export function truncationPoint(local: { storedHighWatermark: number | null; logStartOffset: number; logEndOffset: number }): number {
  // Without a stored high watermark (a log that never replicated) nothing above the log
  // start is known to be committed.
  return Math.min(local.storedHighWatermark ?? local.logStartOffset, local.logEndOffset);
}

export type OutOfRangeAction =
  /** The leader no longer has the offset: empty the log and start at the leader's log start. */
  | { kind: 'reset'; offset: number }
  /** The leader's log ends below the fetch offset (an unclean election): truncate to its high watermark. */
  | { kind: 'truncate'; offset: number }
  /** Nothing to do but fetch again (the answer was stale). */
  | { kind: 'retry' };

/** What a follower does when a fetch at `fetchOffset` answers OFFSET_OUT_OF_RANGE. */
export function onOutOfRange(fetchOffset: number, leader: { logStartOffset: number; highWatermark: number }): OutOfRangeAction {
  if (leader.logStartOffset >= 0 && fetchOffset < leader.logStartOffset) return { kind: 'reset', offset: leader.logStartOffset };
  if (leader.highWatermark >= 0 && leader.highWatermark < fetchOffset) return { kind: 'truncate', offset: leader.highWatermark };
  return { kind: 'retry' };
}

export type Placement =
  /** The batch starts at the log end: append it. */
  | { kind: 'append' }
  /** The log is empty and the batch starts before it (the leader's log start is inside that batch): restart the log at the batch. */
  | { kind: 'reset'; offset: number }
  /** The batch starts inside this log: the logs diverge there, and the leader's is right. */
  | { kind: 'truncate'; offset: number }
  /** The batch starts after the log end: offsets are missing; fetch again from the log end. */
  | { kind: 'gap' };

/** How a follower places a fetched batch starting at `batchBase`. */
export function placeBatch(batchBase: number, local: { logStartOffset: number; logEndOffset: number }): Placement {
  if (batchBase === local.logEndOffset) return { kind: 'append' };
  if (batchBase > local.logEndOffset) return { kind: 'gap' };
  if (local.logStartOffset === local.logEndOffset) return { kind: 'reset', offset: batchBase };
  return { kind: 'truncate', offset: batchBase };
}

/** The high watermark a follower knows: the leader's, as far as its own log reaches. */
export function followerHighWatermark(leaderHighWatermark: number, logEndOffset: number): number {
  return Math.max(0, Math.min(leaderHighWatermark, logEndOffset));
}
