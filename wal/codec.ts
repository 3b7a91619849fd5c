/**
 * Byte-level helpers shared by the segment record format and the wire protocol: u64
 * entry ids carried in JavaScript numbers (exact up to 2^53 − 1), log ids as UTF-8 with
 * a one-byte length, and CRC-32C.
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { entryIdMax, epochMax, logIdBytesMax } from './limits.ts';
import { WalInvalidArgumentError } from './errors.ts';

const two32 = 2 ** 32;

/** CRC-32C (Castagnoli); `initial` continues a running checksum over several parts. */
export function crc32c(bytes: Uint8Array, initial = 0): number {
  return nativeCrc32c(bytes, initial) >>> 0;
}

export function crc32cParts(parts: readonly Uint8Array[], initial = 0): number {
  let crc = initial;
  for (const p of parts) crc = crc32c(p, crc);
  return crc;
}

/** Writes a safe non-negative integer as a big-endian u64. */
export function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / two32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

/** Reads a big-endian u64; returns -1 when it does not fit a safe integer (the caller rejects it). */
export function readU64(buf: Buffer, offset: number): number {
  const high = buf.readUInt32BE(offset);
  const low = buf.readUInt32BE(offset + 4);
  if (high > 0x1f_ffff) return -1;
  return high * two32 + low;
}

export function isEntryId(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0 && v <= entryIdMax;
}

export function isEpoch(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= epochMax;
}

/** Encodes a log id, checking its limits (a programmer error when violated). */
export function encodeLogId(logId: string): Buffer {
  const bytes = Buffer.from(logId, 'utf8');
  if (bytes.length === 0 || bytes.length > logIdBytesMax) {
    throw new WalInvalidArgumentError(`a log id is 1..${logIdBytesMax} UTF-8 bytes, got ${bytes.length}`);
  }
  return bytes;
}

export function checkEntryId(v: number, what: string): void {
  if (!isEntryId(v)) throw new WalInvalidArgumentError(`${what} must be a safe non-negative integer, got ${v}`);
}

export function checkEpoch(v: number, what: string): void {
  if (!isEpoch(v)) throw new WalInvalidArgumentError(`${what} must be a u32, got ${v}`);
}

/** The payload as a list of parts and its total length (an entry may be given as several buffers). */
export function payloadParts(payload: Buffer | readonly Buffer[]): { parts: readonly Buffer[]; bytes: number } {
  if (Buffer.isBuffer(payload)) return { parts: [payload], bytes: payload.length };
  let bytes = 0;
  for (const p of payload) bytes += p.length;
  return { parts: payload, bytes };
}
