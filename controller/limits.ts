/**
 * The controller's limits and defaults, in one place. Units are the last word of each
 * name. Relations between them are checked at start (assertControllerLimits), so a bad
 * combination fails when the process starts rather than during a failover.
 */
export const ControllerLimits = {
  /** A broker that has not heartbeated for this long is declared dead (overridable). */
  leaseMsDefault: 3_000,
  leaseMsMin: 200,
  leaseMsMax: 600_000,
  /** Brokers heartbeat this many times per lease, so one or two lost beats are harmless. */
  heartbeatsPerLease: 6,
  /** Longest a broker's metadata long-poll is held open before an "unchanged" answer. */
  longPollWaitMsMax: 30_000,
  /** Long-polls held at once; more get 503 (a broker retries). */
  longPollWaitersMax: 10_000,
  /** Largest request body of either HTTP API. */
  requestBodyBytesMax: 1024 * 1024,
  /** Kafka's 249. */
  topicNameLengthMax: 249,
  partitionsPerTopicMax: 10_000,
  /** Partitions in the whole cluster (placement and views are O(partitions)). */
  partitionsTotalMax: 200_000,
  replicationFactorMax: 16,
  topicsPerRequestMax: 1_000,
  /** Producer ids are handed out in blocks of at least this many (Kafka's block size). */
  producerIdBlockSizeMin: 1_000,
  producerIdBlockSizeMax: 1_000_000,
  /** Producer ids are int64 in Kafka; we stay within exact doubles. */
  producerIdMax: Number.MAX_SAFE_INTEGER,
  /** One metadata log entry; a longer length field means a torn or corrupt frame. */
  logEntryBytesMax: 16 * 1024 * 1024,
  /** A snapshot is written after this many entries since the last one... */
  snapshotEveryEntries: 10_000,
  /** ...or this many log bytes, whichever comes first. */
  snapshotEveryBytes: 64 * 1024 * 1024,
  /** Retry delay of a failing beforeReassign hook (the partitions stay offline meanwhile). */
  reassignHookRetryMs: 1_000,

  // ---- shared storage (issue 7) ----
  /** S3's limit on a key. */
  objectKeyBytesMax: 1024,
  /**
   * Sections in one commit or compaction (one per partition the object holds). Bounded so
   * that the largest such request fits in requestBodyBytesMax (checked at start); an
   * uploader holding more partitions splits its upload into several objects.
   */
  objectSectionsPerCommitMax: 2_000,
  /** The JSON of one section, at most: a 249-byte topic name, a 32-byte id and the numbers (≈ 450). */
  objectSectionJsonBytesMax: 500,
  /** Unreferenced objects are deleted this long after they lost their last reference (readers may still hold the old index). */
  objectGraceMsDefault: 60_000,
  objectGraceMsMin: 0,
  objectGraceMsMax: 7 * 24 * 3_600_000,
  /** How often due garbage is looked for; the actual period is min(this, grace / 2), at least garbageCheckMsMin. */
  garbageCheckMsMax: 5_000,
  garbageCheckMsMin: 50,
  /** Keys deleted per garbage pass (one metadata record, DeleteObjects batches of 1000). */
  garbageKeysPerPassMax: 10_000,
  /** How often the bucket is listed for orphans (uploads never committed); 0 disables the scan. */
  orphanScanIntervalMsDefault: 10 * 60_000,
  /** Keys collected recently (garbage or orphans) remembered so that a late commit of one is refused. */
  deletedKeysRememberedMax: 100_000,
  /** A hand-over the owner has not completed (released) in this time is abandoned. */
  handoverTimeoutMsDefault: 30_000,
  handoverTimeoutMsMin: 100,
  handoverTimeoutMsMax: 3_600_000,
} as const;

export function assertControllerLimits(leaseMs: number): void {
  const l = ControllerLimits;
  if (!Number.isInteger(leaseMs) || leaseMs < l.leaseMsMin || leaseMs > l.leaseMsMax) {
    throw new RangeError(`lease must be an integer in [${l.leaseMsMin}, ${l.leaseMsMax}] ms, got ${leaseMs}`);
  }
  if (l.partitionsPerTopicMax > l.partitionsTotalMax) throw new RangeError('partitionsPerTopicMax must not exceed partitionsTotalMax');
  if (l.producerIdBlockSizeMin > l.producerIdBlockSizeMax) throw new RangeError('producerIdBlockSizeMin must not exceed producerIdBlockSizeMax');
  if (l.requestBodyBytesMax > l.logEntryBytesMax) throw new RangeError('a request must fit in one metadata log entry');
  if (l.objectSectionJsonBytesMax < l.topicNameLengthMax) throw new RangeError('a section\'s JSON holds its topic name');
  if (l.objectSectionsPerCommitMax * l.objectSectionJsonBytesMax + l.objectKeyBytesMax + 100 > l.requestBodyBytesMax) {
    throw new RangeError('the largest object commit must fit in one request body');
  }
}

/** How often brokers heartbeat for a given lease. */
export function heartbeatMsFor(leaseMs: number): number {
  return Math.max(20, Math.floor(leaseMs / ControllerLimits.heartbeatsPerLease));
}
