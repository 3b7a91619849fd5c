/**
 * The follower's decisions about its own log, as pure functions: where it starts checking
 * its log against a leader's, how it places each batch of a fetch answer, and what it does
 * when the leader says its fetch offset is out of range. FollowerReplica carries them out
 * on its LocalLog.
 *
 * The rule: a replica that starts following a leader (after a restart, or when leadership
 * moved) fetches from the high watermark it last knew, not from its log end, and checks
 * what it holds above that point against what the leader sends: a batch byte-identical to
 * its own batch at the same offset is kept (the fetch position moves past it), and at the
 * first batch that differs — or when the leader has nothing past the checked point while
 * this log goes on — it truncates there and appends the leader's batches instead. Until
 * the check reaches its log end, the replica reports (as its fetch offset) and counts (as
 * its high watermark) only what it has checked.
 *
 * Why from the high watermark: everything below it was in every ISR member's log when it
 * was reached, so the new leader (an ISR member, or any replica with unclean election) has
 * it too, at the same offsets; above it this replica may hold a tail the new leader never
 * had (an old leader's acks=1 records). Why check rather than truncate at once (Kafka's
 * rule before KIP-101): truncating to a high watermark that lags the leader's would drop
 * acknowledged acks=all records from a live ISR member, and if the new leader then died
 * before the member fetched them again, electing it would lose them (KIP-101's first
 * scenario). A replica here drops only records the current leader does not have at that
 * offset, and with clean elections the leader has every acknowledged acks=all record.
 *
 * The known anomaly left: what lies below the check's starting point is trusted. A
 * replica that lost unflushed data (power loss, flush.messages unset) can come back with a
 * log that differs from the leader's below its stored high watermark — two replicas that
 * both lost different unflushed tails, one then elected and taking new records at those
 * offsets (KIP-101's second scenario) — and the difference is never found. Leader epochs
 * compared per offset (OffsetForLeaderEpoch, KIP-101/279) are Kafka's fix; floe's
 * batches already carry the epoch it would need. A process crash (kill -9) does not cause
 * it: what the local log wrote survives in the page cache, and a follower reports an
 * offset only once the log has written what came before it.
 *
 * Which acknowledged records a leader's crash can lose: an acks=1 record the leader had
 * written but no follower had fetched when it died. The new leader never had it; the old
 * leader, when it comes back as a follower, checks from its high watermark (which never
 * passed that record), finds the new leader's records at those offsets, and truncates
 * its own. An acks=all record cannot be lost that way: it was answered only once the high
 * watermark passed it, that is once every ISR member had it; the new leader is an ISR
 * member (without unclean election) and so has it at the same offset, and no replica
 * drops a record the leader has.
 */

/** Where a replica starts checking its log against a (new) leader's: its stored high watermark, within its log. */
export function verifyFrom(local: { storedHighWatermark: number | null; logStartOffset: number; logEndOffset: number }): number {
  // Without a stored high watermark (a log that never replicated) nothing above the log
  // start is known to be committed.
  return Math.min(Math.max(local.storedHighWatermark ?? local.logStartOffset, local.logStartOffset), local.logEndOffset);
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
  /** The batch starts at the fetch position, below the log end: compare it with this log's batch there. */
  | { kind: 'verify' }
  /** The log is empty and the batch starts before it (the leader's log start is inside that batch): restart the log at the batch. */
  | { kind: 'reset'; offset: number }
  /** The batch starts below the fetch position, inside this log: the logs disagree on batch boundaries there, and the leader is right. */
  | { kind: 'truncate'; offset: number }
  /** The batch starts after the fetch position: offsets are missing; fetch again. */
  | { kind: 'gap' };

/** How a follower places a fetched batch starting at `batchBase`, given where it fetched from. */
export function placeBatch(batchBase: number, local: { logStartOffset: number; logEndOffset: number; fetchOffset: number }): Placement {
  if (batchBase > local.fetchOffset) return { kind: 'gap' };
  if (batchBase === local.fetchOffset) return local.fetchOffset === local.logEndOffset ? { kind: 'append' } : { kind: 'verify' };
  if (local.logStartOffset === local.logEndOffset) return { kind: 'reset', offset: batchBase };
  return { kind: 'truncate', offset: batchBase };
}

/** The high watermark a follower knows: the leader's, as far as its checked log reaches. */
export function followerHighWatermark(leaderHighWatermark: number, checkedEnd: number): number {
  return Math.max(0, Math.min(leaderHighWatermark, checkedEnd));
}
