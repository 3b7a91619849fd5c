/**
 * RecordBatch v2 (magic 2): the header fields floe reads, the checks a produced batch
 * must pass, and the two fields a broker patches. Batches stay opaque bytes: records are
 * never decoded, decompressed or re-encoded on the produce or fetch path.
 *
 *   0 baseOffset i64 · 8 batchLength i32 (= total − 12) · 12 partitionLeaderEpoch i32 ·
 *   16 magic i8 · 17 crc u32 · 21 attributes i16 · 23 lastOffsetDelta i32 ·
 *   27 baseTimestamp i64 · 35 maxTimestamp i64 · 43 producerId i64 ·
 *   51 producerEpoch i16 · 53 baseSequence i32 · 57 recordCount i32 · 61 records
 *
 * The CRC-32C covers byte 21 to the end, so baseOffset and partitionLeaderEpoch can be
 * rewritten without recomputing it.
 */
import { crc32c } from './crc32c.ts';
import { ErrorCode } from './errors.ts';

export const BATCH_HEADER_BYTES = 61;
/** Offset of batchLength; the batch is batchLength + LOG_OVERHEAD_BYTES long. */
export const LOG_OVERHEAD_BYTES = 12;
const TWO_POW_32 = 2 ** 32;

export const BatchAttr = {
  CODEC_MASK: 0x07,
  TIMESTAMP_LOG_APPEND: 0x08,
  TRANSACTIONAL: 0x10,
  CONTROL: 0x20,
} as const;
export const CODEC_MAX = 4; // none, gzip, snappy, lz4, zstd

export interface BatchHeader {
  baseOffset: number;
  /** Whole batch size in bytes (batchLength + 12). */
  sizeBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}
function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_POW_32);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * TWO_POW_32, at + 4);
}

/** Reads a batch header at `at`; the caller guarantees BATCH_HEADER_BYTES are there. */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  return {
    baseOffset: readInt64(buf, at),
    sizeBytes: buf.readInt32BE(at + 8) + LOG_OVERHEAD_BYTES,
    partitionLeaderEpoch: buf.readInt32BE(at + 12),
    magic: buf.readInt8(at + 16),
    crc: buf.readUInt32BE(at + 17),
    attributes: buf.readInt16BE(at + 21),
    lastOffsetDelta: buf.readInt32BE(at + 23),
    baseTimestamp: readInt64(buf, at + 27),
    maxTimestamp: readInt64(buf, at + 35),
    producerId: readInt64(buf, at + 43),
    producerEpoch: buf.readInt16BE(at + 51),
    baseSequence: buf.readInt32BE(at + 53),
    recordCount: buf.readInt32BE(at + 57),
  };
}

export function lastOffsetOf(h: BatchHeader): number {
  return h.baseOffset + h.lastOffsetDelta;
}

/** Patches baseOffset in place (outside the CRC). */
export function setBaseOffset(batch: Buffer, baseOffset: number, at = 0): void {
  writeInt64(batch, at, baseOffset);
}
/** Patches partitionLeaderEpoch in place (outside the CRC). */
export function setPartitionLeaderEpoch(batch: Buffer, epoch: number, at = 0): void {
  batch.writeInt32BE(epoch, at + 12);
}

/** True when the batch's stored CRC matches its bytes from attributes onwards. */
export function crcMatches(batch: Buffer, at = 0, sizeBytes = batch.length - at): boolean {
  return batch.readUInt32BE(at + 17) === crc32c(batch.subarray(at + 21, at + sizeBytes));
}

export type ProducedBatchCheck =
  | { ok: true; header: BatchHeader }
  | { ok: false; errorCode: ErrorCode; message: string };

/**
 * The checks a produced `records` field must pass before anything is appended: exactly
 * one magic-2 batch whose length, CRC and counts are consistent, a known codec, no
 * client-written control batch, and at most `maxMessageBytes`. Errors are Kafka's codes.
 */
export function checkProducedBatch(records: Buffer, maxMessageBytes: number): ProducedBatchCheck {
  const fail = (errorCode: ErrorCode, message: string): ProducedBatchCheck => ({ ok: false, errorCode, message });
  if (records.length < BATCH_HEADER_BYTES) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `records of ${records.length} bytes hold no batch header`);
  }
  const magic = records.readInt8(16);
  if (magic !== 2) return fail(ErrorCode.UNSUPPORTED_VERSION, `magic ${magic}: only RecordBatch v2 is accepted`);
  const header = readBatchHeader(records, 0);
  if (header.sizeBytes < BATCH_HEADER_BYTES) {
    // A length that cannot even cover the header is corruption, not a second batch.
    return fail(ErrorCode.CORRUPT_MESSAGE, `batchLength says ${header.sizeBytes} bytes, less than a batch header`);
  }
  if (header.sizeBytes !== records.length) {
    // Either a truncated batch or more than one batch: Kafka accepts exactly one.
    return header.sizeBytes < records.length
      ? fail(ErrorCode.INVALID_RECORD, 'more than one batch in one partition of a produce request')
      : fail(ErrorCode.CORRUPT_MESSAGE, `batchLength says ${header.sizeBytes} bytes, ${records.length} present`);
  }
  if (records.length > maxMessageBytes) {
    return fail(ErrorCode.MESSAGE_TOO_LARGE, `batch of ${records.length} bytes exceeds max.message.bytes ${maxMessageBytes}`);
  }
  if (!crcMatches(records)) return fail(ErrorCode.CORRUPT_MESSAGE, 'CRC-32C mismatch');
  if (header.recordCount < 1 || header.lastOffsetDelta !== header.recordCount - 1) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `recordCount ${header.recordCount} disagrees with lastOffsetDelta ${header.lastOffsetDelta}`);
  }
  if ((header.attributes & BatchAttr.CODEC_MASK) > CODEC_MAX) {
    return fail(ErrorCode.CORRUPT_MESSAGE, `unknown compression codec ${header.attributes & BatchAttr.CODEC_MASK}`);
  }
  if ((header.attributes & BatchAttr.CONTROL) !== 0) {
    return fail(ErrorCode.INVALID_RECORD, 'clients may not write control batches');
  }
  return { ok: true, header };
}

/**
 * Walks the whole batches in `buf` from `at`, calling `visit` with each header and its
 * position. Stops at the first incomplete or malformed batch and returns the position
 * where the valid prefix ends (a torn tail starts there).
 */
export function scanBatches(buf: Buffer, visit: (h: BatchHeader, at: number) => void, at = 0): number {
  let pos = at;
  while (buf.length - pos >= BATCH_HEADER_BYTES) {
    const size = buf.readInt32BE(pos + 8) + LOG_OVERHEAD_BYTES;
    if (size < BATCH_HEADER_BYTES || pos + size > buf.length || buf.readInt8(pos + 16) !== 2) break;
    visit(readBatchHeader(buf, pos), pos);
    pos += size;
  }
  return pos;
}
