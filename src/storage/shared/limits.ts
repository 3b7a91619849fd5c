/**
 * Limits and defaults of the shared-storage engine. Defaults of the upload policy, and the
 * cost argument behind them, are in the README ("Object size and upload interval").
 */
/** The upload policy: defaults below, overridable per broker (floe.upload.* settings). */
export interface UploadPolicy {
  objectBytes: number;
  intervalMs: number;
  backlogBytesMax: number;
}

export const SharedStorageLimits = {
  /** An upload starts once this many durable bytes wait (one object per upload). */
  uploadObjectBytesTarget: 8 * 1024 * 1024,
  /** …or once the oldest durable byte has waited this long (only when data waits). */
  uploadIntervalMs: 2_000,
  /** How often the uploader looks at the triggers. */
  uploadTickMs: 50,
  /** Uploads under way at once (PUTs overlap; commits stay in order). */
  uploadsInFlightMax: 4,
  /**
   * Bytes appended but not yet in object storage, over all partitions of the broker.
   * Beyond it appends are refused (KAFKA_STORAGE_ERROR, retriable): this bounds memory
   * and the WAL when the object store is down or slow.
   */
  backlogBytesMax: 256 * 1024 * 1024,
  /** Committed batches kept in memory per partition for reads near the head. */
  recentBytesPerPartition: 4 * 1024 * 1024,
  /** Parsed object indexes kept (LRU), so that reading a section costs one ranged GET. */
  objectIndexCacheEntries: 1024,
  /** A WAL entry is closed once it holds this many bytes (well under the WAL's entryBytesMax). */
  walEntryBytesTarget: 4 * 1024 * 1024,
  /** How often durability is re-checked while an entry waits after a failed quorum. */
  durabilityPollMs: 100,
  /** Closing a partition waits at most this long for its data to reach object storage. */
  closeFlushMsMax: 30_000,
  /** Objects looked back through for a producer snapshot before scanning from the log start. */
  snapshotLookbackObjects: 16,
  /** Compaction: ranges smaller than this are merged… */
  compactRangeBytesMax: 1024 * 1024,
  /** …when at least this many of them are consecutive… */
  compactRangesMin: 8,
  /** …into objects of at most this size. */
  compactObjectBytesMax: 8 * 1024 * 1024,
} as const;

export const uploadPolicyDefault: UploadPolicy = {
  objectBytes: SharedStorageLimits.uploadObjectBytesTarget,
  intervalMs: SharedStorageLimits.uploadIntervalMs,
  backlogBytesMax: SharedStorageLimits.backlogBytesMax,
};
