/**
 * Reading batches out of segment files: whole reads, header walks over committed data,
 * batch-by-batch validation for recovery, and the conversion of filesystem errors into
 * StorageError. Batches are never decoded here; only their headers are read.
 */
import type { FileHandle } from '../../common/fs.ts';
import { BATCH_HEADER_BYTES, LOG_OVERHEAD_BYTES, crcMatches, readBatchHeader, type BatchHeader } from '../../protocol/record-batch.ts';
import { StorageError, type ReadResult } from '../partition-log.ts';
import { BATCH_BYTES_MAX, HEADER_SCAN_CHUNK_BYTES, READ_BYTES_MAX, RECOVERY_READ_CHUNK_BYTES } from './limits.ts';

const TWO_POW_32 = 2 ** 32;

/** The errno codes that mean "no space left", reported as FLOE_ERR_STORAGE_FULL. */
const FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** Wraps a filesystem error as a StorageError (FULL for ENOSPC/EDQUOT, IO otherwise); a StorageError passes through. */
export function toStorageError(err: unknown, message: string): StorageError {
  if (err instanceof StorageError) return err;
  const errno = errnoOf(err);
  const code = errno !== undefined && FULL_CODES.has(errno) ? 'FLOE_ERR_STORAGE_FULL' : 'FLOE_ERR_STORAGE_IO';
  const detail = err instanceof Error ? err.message : String(err);
  return new StorageError(code, `${message}: ${detail}`, { cause: err });
}

export function corrupt(message: string): StorageError {
  return new StorageError('FLOE_ERR_STORAGE_CORRUPT', message);
}

/** Reads until `length` bytes are in `into` or the file ends; resolves with the bytes read. */
export async function readFully(h: FileHandle, into: Buffer, position: number, length = into.length): Promise<number> {
  let done = 0;
  while (done < length) {
    const n = await h.read(into, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function int64At(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

/** The batch size recorded at `at`, or -1 when it cannot be a batch. */
function sizeAt(buf: Buffer, at: number): number {
  const size = buf.readInt32BE(at + 8) + LOG_OVERHEAD_BYTES;
  return size < BATCH_HEADER_BYTES || size > BATCH_BYTES_MAX || buf.readInt8(at + 16) !== 2 ? -1 : size;
}

/** What walkHeaders resolves with when `startUnverified` is set and no batch starts at the start position. */
export const NO_BATCH_AT_START = -1;

/**
 * Walks the headers of committed batches in [position, end) of a segment, calling `visit`
 * for each until it returns false. Committed data is expected to be well formed: a
 * malformed header is reported as FLOE_ERR_STORAGE_CORRUPT — except the first one when
 * `startUnverified` (the position came from an index), which resolves NO_BATCH_AT_START.
 * Resolves with the position where the walk stopped (the batch `visit` refused, or `end`).
 */
export async function walkHeaders(
  h: FileHandle,
  position: number,
  end: number,
  visit: (header: BatchHeader, position: number) => boolean,
  opts: { startUnverified?: boolean } = {},
): Promise<number> {
  const chunk = Buffer.allocUnsafe(Math.min(HEADER_SCAN_CHUNK_BYTES, Math.max(end - position, BATCH_HEADER_BYTES)));
  let chunkStart = 0;
  let chunkBytes = 0;
  let pos = position;
  while (pos < end) {
    if (end - pos < BATCH_HEADER_BYTES) {
      if (opts.startUnverified === true && pos === position) return NO_BATCH_AT_START;
      throw corrupt(`${h.path}: ${end - pos} bytes at ${pos} hold no batch header`);
    }
    if (pos < chunkStart || pos + BATCH_HEADER_BYTES > chunkStart + chunkBytes) {
      chunkStart = pos;
      chunkBytes = await readFully(h, chunk, pos, Math.min(chunk.length, end - pos));
      if (chunkBytes < BATCH_HEADER_BYTES) throw corrupt(`${h.path}: file ends at ${pos + chunkBytes}, before ${end}`);
    }
    const at = pos - chunkStart;
    const size = sizeAt(chunk, at);
    if (size < 0 || pos + size > end) {
      if (opts.startUnverified === true && pos === position) return NO_BATCH_AT_START;
      throw corrupt(`${h.path}: malformed batch header at ${pos}`);
    }
    if (!visit(readBatchHeader(chunk, at), pos)) return pos;
    pos += size;
  }
  return pos;
}

export interface ValidPrefix {
  /** Where the valid batches end: the file is torn or corrupt from here when below its size. */
  endPosition: number;
  /** The offset after the last valid batch. */
  endOffset: number;
  /** Why validation stopped before the end of the file, or null. */
  stoppedBecause: string | null;
}

/**
 * Validates batches from `position`, expecting the first to have baseOffset `offset` and
 * each next to continue where the previous ended: length within the file and within
 * BATCH_BYTES_MAX, magic 2, contiguous offsets, and CRC-32C. Stops at the first batch
 * that fails (a torn tail). Calls `onBatch` for every valid batch.
 */
export async function validateBatches(
  h: FileHandle,
  start: { position: number; offset: number },
  fileBytes: number,
  onBatch: (header: BatchHeader, position: number) => void,
): Promise<ValidPrefix> {
  let buf = Buffer.allocUnsafe(Math.min(RECOVERY_READ_CHUNK_BYTES, Math.max(fileBytes - start.position, BATCH_HEADER_BYTES)));
  let bufStart = 0;
  let bufBytes = 0;
  let pos = start.position;
  let next = start.offset;
  const stop = (why: string): ValidPrefix => ({ endPosition: pos, endOffset: next, stoppedBecause: why });
  const fill = async (bytes: number): Promise<void> => {
    if (bytes > buf.length) buf = Buffer.allocUnsafe(bytes);
    bufStart = pos;
    bufBytes = await readFully(h, buf, pos, bytes);
  };
  while (pos < fileBytes) {
    const remaining = fileBytes - pos;
    if (remaining < BATCH_HEADER_BYTES) return stop(`${remaining} trailing bytes hold no batch header`);
    if (pos + BATCH_HEADER_BYTES > bufStart + bufBytes) await fill(Math.min(Math.max(buf.length, BATCH_HEADER_BYTES), remaining));
    if (bufBytes < BATCH_HEADER_BYTES) return stop('the file is shorter than its size said');
    let at = pos - bufStart;
    const size = sizeAt(buf, at);
    if (size < 0) return stop('malformed batch header');
    if (size > remaining) return stop(`batch of ${size} bytes runs past the end of the file`);
    if (pos + size > bufStart + bufBytes) {
      await fill(Math.max(Math.min(buf.length, remaining), size));
      if (bufBytes < size) return stop('the file is shorter than its size said');
      at = 0;
    }
    const header = readBatchHeader(buf, at);
    if (header.baseOffset !== next) return stop(`batch has baseOffset ${header.baseOffset}, expected ${next}`);
    if (header.lastOffsetDelta < 0) return stop(`negative lastOffsetDelta ${header.lastOffsetDelta}`);
    if (!crcMatches(buf, at, size)) return stop('CRC-32C mismatch');
    onBatch(header, pos);
    pos += size;
    next = header.baseOffset + header.lastOffsetDelta + 1;
  }
  return { endPosition: pos, endOffset: next, stoppedBecause: null };
}

/**
 * Reads whole batches from `position` (the start of a batch) up to `end`: those that end
 * below `maxOffset`, while their total stays within `maxBytes` — but at least the first
 * batch when it ends below `maxOffset`, however large. One read of at most
 * min(maxBytes, READ_BYTES_MAX) bytes, and a second, exact one when the first batch is
 * larger than that. The result is a view of a fresh buffer.
 */
export async function readBatches(h: FileHandle, position: number, end: number, maxBytes: number, maxOffset: number): Promise<ReadResult> {
  const want = Math.min(Math.max(maxBytes, BATCH_HEADER_BYTES), READ_BYTES_MAX, end - position);
  if (want < BATCH_HEADER_BYTES) throw corrupt(`${h.path}: ${end - position} bytes at ${position} hold no batch header`);
  const buf = Buffer.allocUnsafe(want);
  const got = await readFully(h, buf, position, want);
  if (got < want) throw corrupt(`${h.path}: file ends at ${position + got}, before ${position + want}`);
  let p = 0;
  while (p + BATCH_HEADER_BYTES <= want) {
    const size = sizeAt(buf, p);
    if (size < 0 || position + p + size > end) throw corrupt(`${h.path}: malformed batch header at ${position + p}`);
    const lastOffset = int64At(buf, p) + buf.readInt32BE(p + 23);
    if (lastOffset >= maxOffset) break;
    if (p > 0 && (p + size > want || p + size > maxBytes)) break;
    if (p + size > want) {
      // The first batch alone is larger than what was read: it is returned whole regardless.
      const whole = Buffer.allocUnsafe(size);
      const n = await readFully(h, whole, position, size);
      if (n < size) throw corrupt(`${h.path}: file ends inside the batch at ${position}`);
      return { chunks: [whole], bytes: size };
    }
    p += size;
  }
  return p === 0 ? { chunks: [], bytes: 0 } : { chunks: [buf.subarray(0, p)], bytes: p };
}
