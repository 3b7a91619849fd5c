/**
 * Limits of the local segmented log: each a named constant with its unit last. Their
 * relations are checked when this module loads, so that a bad edit fails at start rather
 * than at the first oversized read.
 */
import { BATCH_HEADER_BYTES } from '../../protocol/record-batch.ts';

/** Default bytes of recent batches a partition keeps in memory to serve tail reads. */
export const TAIL_CACHE_BYTES_DEFAULT = 4 * 1024 * 1024;

/**
 * Group writes under way at once when fsync is not per batch: Node's thread pool has 4
 * threads, and a page-cache write costs mostly the trip to one of them.
 */
export const PIPELINED_WRITES_MAX = 4;

/**
 * The largest batch `append` accepts and recovery will read. Kafka's message.max.bytes is
 * far below it in practice; a length field above it in a segment is a torn or corrupt batch.
 */
export const BATCH_BYTES_MAX = 64 * 1024 * 1024;

/** The most bytes one `read` allocates, unless its first batch alone is larger. */
export const READ_BYTES_MAX = 16 * 1024 * 1024;

/** Header walks (locating an offset, scanHeaders, offsetForTimestamp) read segments in chunks of this size. */
export const HEADER_SCAN_CHUNK_BYTES = 64 * 1024;

/** Recovery reads segments in chunks of this size to check every batch's CRC (a larger batch is read whole). */
export const RECOVERY_READ_CHUNK_BYTES = 1024 * 1024;

/** segment.bytes bounds: positions in the offset index are unsigned 32-bit numbers. */
export const SEGMENT_BYTES_MIN = BATCH_HEADER_BYTES;
export const SEGMENT_BYTES_MAX = 2 ** 31 - 1;

/**
 * Offsets relative to a segment's base are stored as 32-bit numbers in its indexes, so a
 * segment rolls before a batch would end further than this from its base.
 */
export const SEGMENT_RELATIVE_OFFSET_MAX = 2 ** 31 - 1;

/** index.interval.bytes lower bound: 1 indexes every batch after a segment's first. */
export const INDEX_INTERVAL_BYTES_MIN = 1;

/** The shortest fsync interval accepted: a shorter one is per-batch fsync in disguise. */
export const FSYNC_INTERVAL_MS_MIN = 1;

function check(ok: boolean, relation: string): void {
  if (!ok) throw new Error(`local-log limits: ${relation} does not hold`);
}
check(HEADER_SCAN_CHUNK_BYTES >= BATCH_HEADER_BYTES, 'HEADER_SCAN_CHUNK_BYTES >= BATCH_HEADER_BYTES');
check(RECOVERY_READ_CHUNK_BYTES >= BATCH_HEADER_BYTES, 'RECOVERY_READ_CHUNK_BYTES >= BATCH_HEADER_BYTES');
check(READ_BYTES_MAX >= BATCH_HEADER_BYTES, 'READ_BYTES_MAX >= BATCH_HEADER_BYTES');
check(BATCH_BYTES_MAX <= SEGMENT_BYTES_MAX, 'BATCH_BYTES_MAX <= SEGMENT_BYTES_MAX');
check(SEGMENT_BYTES_MAX <= 2 ** 32 - 1, 'positions fit the 32-bit index field');
