/**
 * The floe object format: the data of many streams in one object, found by an index at
 * the end, so that a reader fetches one stream's bytes with one ranged GET.
 *
 *   object  = section* index footer
 *   section = opaque bytes (a stream's batches, exactly as the caller gave them)
 *   index   = entryCount:u32 entry*
 *   entry   = streamIdBytes:u16 streamId:utf8 startOffset:u64 endOffset:u64
 *             position:u64 length:u32 sectionCrc32c:u32 metadataBytes:u16 metadata
 *   footer  = magic:u32 ("FLOE", 0x464c4f45) version:u16 (1) flags:u16 (0)
 *             indexPosition:u64 indexLength:u32 indexCrc32c:u32 reserved:u32 (0)
 *             footerCrc32c:u32                                      -- 32 bytes
 *
 * All integers are big-endian (as in Kafka). A u64 holds a non-negative integer that
 * fits a JavaScript number (< 2^53); anything larger is corruption. [startOffset,
 * endOffset) is the caller's half-open range of the section (offsets, for floe); the
 * object format gives it no meaning beyond start <= end. Sections are contiguous: the
 * first begins at byte 0, each next one where the previous ended, and the last ends at
 * indexPosition, where the index begins; the footer is the object's last 32 bytes.
 *
 * Checks: the footer carries its own CRC-32C (over its first 28 bytes) and the index's;
 * every entry carries its section's CRC-32C, checked on every read. Nothing that fails a
 * check, or breaks any rule above, is returned: it is FLOE_ERR_OBJECT_CORRUPT.
 *
 * Reading: the footer is found from the object's size (HEAD, or the size the caller's
 * metadata holds), never from a suffix range; the reader fetches the last 64 KiB in one
 * GET, which for ordinary objects holds the whole index, and otherwise fetches the index
 * with one more GET.
 */
import { crc32c } from '@node-rs/crc32';
import { ObjectStoreError, objectStoreErrorCodes } from './object-store.ts';

export const objectFormat = {
  magic: 0x464c4f45,
  version: 1,
  footerBytes: 32,
  /** Index bytes before the first entry (the entry count). */
  indexHeaderBytes: 4,
  /** Entry bytes besides its stream id and metadata. */
  entryFixedBytes: 2 + 8 + 8 + 8 + 4 + 4 + 2,
} as const;

/**
 * Limits, checked before any allocation a corrupt object could make huge. Stream ids
 * are short names ("topic/partition": Kafka topics are at most 249 characters);
 * metadata is a small blob of the caller's (a batch count, a timestamp range).
 */
export const objectLimits = {
  streamIdBytesMax: 1024,
  sectionMetadataBytesMax: 4096,
  indexEntriesMax: 200_000,
  indexBytesMax: 64 * 1024 * 1024,
  /** The u32 length field. */
  sectionBytesMax: 0xffff_ffff,
  /** S3's limit for one PUT. */
  objectBytesMax: 5 * 1024 * 1024 * 1024,
} as const;

/** One section as the index describes it. */
export interface SectionEntry {
  streamId: string;
  /** First offset covered (inclusive). */
  startOffset: number;
  /** Offset after the last one covered (exclusive). */
  endOffset: number;
  /** Byte position of the section in the object. */
  position: number;
  length: number;
  crc32c: number;
  /** The caller's metadata blob; empty when none was given. */
  metadata: Buffer;
}

export interface ObjectIndex {
  formatVersion: number;
  objectSize: number;
  /** Where the index begins: also the byte length of all sections together. */
  indexPosition: number;
  indexLength: number;
  entries: SectionEntry[];
}

export interface Footer {
  formatVersion: number;
  indexPosition: number;
  indexLength: number;
  indexCrc32c: number;
}

export function corrupt(what: string, detail: string, cause?: unknown): ObjectStoreError {
  return new ObjectStoreError(objectStoreErrorCodes.corrupt, `${what}: ${detail}`, cause === undefined ? {} : { cause });
}

export function crc32cOf(chunks: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(chunks)) return crc32c(chunks) >>> 0;
  let crc = 0;
  for (const c of chunks) crc = crc32c(c, crc) >>> 0;
  return crc;
}

const twoTo32 = 0x1_0000_0000;

function writeU64(buf: Buffer, at: number, n: number): void {
  buf.writeUInt32BE(Math.floor(n / twoTo32), at);
  buf.writeUInt32BE(n % twoTo32, at + 4);
}

/** Reads a u64 that must fit a safe integer; returns -1 when it does not (the caller reports it). */
function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  // 2^53 = 2^21 * 2^32: a high word of 2^21 or more is outside the safe integers.
  if (hi >= 0x20_0000) return -1;
  return hi * twoTo32 + buf.readUInt32BE(at + 4);
}

export function encodeFooter(f: Footer): Buffer {
  const b = Buffer.alloc(objectFormat.footerBytes);
  b.writeUInt32BE(objectFormat.magic, 0);
  b.writeUInt16BE(f.formatVersion, 4);
  b.writeUInt16BE(0, 6);
  writeU64(b, 8, f.indexPosition);
  b.writeUInt32BE(f.indexLength, 16);
  b.writeUInt32BE(f.indexCrc32c, 20);
  b.writeUInt32BE(0, 24);
  b.writeUInt32BE(crc32c(b.subarray(0, 28)) >>> 0, 28);
  return b;
}

/** Parses and checks the footer, given as exactly the last 32 bytes of an object of `objectSize` bytes. */
export function decodeFooter(b: Buffer, objectSize: number, what = 'object'): Footer {
  if (b.length !== objectFormat.footerBytes) throw corrupt(what, `footer must be ${objectFormat.footerBytes} bytes, got ${b.length}`);
  if (objectSize < objectFormat.footerBytes + objectFormat.indexHeaderBytes) throw corrupt(what, `${objectSize} bytes is too small for a floe object`);
  if (b.readUInt32BE(0) !== objectFormat.magic) throw corrupt(what, 'bad magic: not a floe object');
  if ((crc32c(b.subarray(0, 28)) >>> 0) !== b.readUInt32BE(28)) throw corrupt(what, 'footer CRC-32C mismatch');
  const formatVersion = b.readUInt16BE(4);
  if (formatVersion !== objectFormat.version) throw corrupt(what, `unsupported format version ${formatVersion}`);
  if (b.readUInt16BE(6) !== 0 || b.readUInt32BE(24) !== 0) throw corrupt(what, 'reserved footer fields are not zero');
  const indexPosition = readU64(b, 8);
  const indexLength = b.readUInt32BE(16);
  if (indexPosition < 0) throw corrupt(what, 'index position out of range');
  if (indexLength < objectFormat.indexHeaderBytes || indexLength > objectLimits.indexBytesMax) throw corrupt(what, `index length ${indexLength} out of range`);
  if (indexPosition + indexLength + objectFormat.footerBytes !== objectSize) {
    throw corrupt(what, `index [${indexPosition}, +${indexLength}) and footer do not end the ${objectSize}-byte object`);
  }
  return { formatVersion, indexPosition, indexLength, indexCrc32c: b.readUInt32BE(20) };
}

export interface EntryInput {
  streamId: string;
  startOffset: number;
  endOffset: number;
  position: number;
  length: number;
  crc32c: number;
  metadata: Buffer;
}

/** Bytes an entry takes in the index. */
export function entryBytes(streamIdBytes: number, metadataBytes: number): number {
  return objectFormat.entryFixedBytes + streamIdBytes + metadataBytes;
}

export function encodeIndex(entries: readonly EntryInput[]): Buffer {
  const ids = entries.map((e) => Buffer.from(e.streamId, 'utf8'));
  let size = objectFormat.indexHeaderBytes;
  entries.forEach((e, i) => (size += entryBytes(ids[i]!.length, e.metadata.length)));
  const b = Buffer.alloc(size);
  let at = b.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    const id = ids[i]!;
    at = b.writeUInt16BE(id.length, at);
    at += id.copy(b, at);
    writeU64(b, at, e.startOffset);
    writeU64(b, at + 8, e.endOffset);
    writeU64(b, at + 16, e.position);
    at += 24;
    at = b.writeUInt32BE(e.length, at);
    at = b.writeUInt32BE(e.crc32c >>> 0, at);
    at = b.writeUInt16BE(e.metadata.length, at);
    at += e.metadata.copy(b, at);
  });
  return b;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses and checks the index bytes against the footer. Entries are returned in the
 * order of their sections; their metadata are copies (they outlive `b`).
 */
export function decodeIndex(b: Buffer, footer: Footer, what = 'object'): SectionEntry[] {
  if (b.length !== footer.indexLength) throw corrupt(what, `index must be ${footer.indexLength} bytes, got ${b.length}`);
  if ((crc32c(b) >>> 0) !== footer.indexCrc32c) throw corrupt(what, 'index CRC-32C mismatch');
  const count = b.readUInt32BE(0);
  if (count > objectLimits.indexEntriesMax) throw corrupt(what, `${count} index entries exceed the limit of ${objectLimits.indexEntriesMax}`);
  // Every entry needs its fixed bytes at least: reject an impossible count before allocating for it.
  if (count * objectFormat.entryFixedBytes > b.length - objectFormat.indexHeaderBytes) throw corrupt(what, `index too short for ${count} entries`);
  const entries: SectionEntry[] = [];
  let at = objectFormat.indexHeaderBytes;
  let expectedPosition = 0;
  for (let i = 0; i < count; i++) {
    const need = (n: number): void => {
      if (at + n > b.length) throw corrupt(what, `index entry ${i} runs past the end of the index`);
    };
    need(2);
    const idBytes = b.readUInt16BE(at);
    at += 2;
    if (idBytes === 0 || idBytes > objectLimits.streamIdBytesMax) throw corrupt(what, `index entry ${i}: stream id length ${idBytes} out of range`);
    need(idBytes + 24 + 4 + 4 + 2);
    let streamId: string;
    try {
      streamId = utf8.decode(b.subarray(at, at + idBytes));
    } catch (err) {
      throw corrupt(what, `index entry ${i}: stream id is not UTF-8`, err);
    }
    at += idBytes;
    const startOffset = readU64(b, at);
    const endOffset = readU64(b, at + 8);
    const position = readU64(b, at + 16);
    at += 24;
    const length = b.readUInt32BE(at);
    const crc = b.readUInt32BE(at + 4);
    const metaBytes = b.readUInt16BE(at + 8);
    at += 10;
    if (startOffset < 0 || endOffset < 0 || startOffset > endOffset) throw corrupt(what, `index entry ${i}: bad offset range [${startOffset}, ${endOffset})`);
    if (position !== expectedPosition) throw corrupt(what, `index entry ${i}: section at ${position}, expected ${expectedPosition}`);
    if (position + length > footer.indexPosition) throw corrupt(what, `index entry ${i}: section runs into the index`);
    if (metaBytes > objectLimits.sectionMetadataBytesMax) throw corrupt(what, `index entry ${i}: metadata of ${metaBytes} bytes exceeds the limit`);
    need(metaBytes);
    const metadata = Buffer.from(b.subarray(at, at + metaBytes));
    at += metaBytes;
    expectedPosition = position + length;
    entries.push({ streamId, startOffset, endOffset, position, length, crc32c: crc, metadata });
  }
  if (at !== b.length) throw corrupt(what, `${b.length - at} stray bytes after the last index entry`);
  if (expectedPosition !== footer.indexPosition) throw corrupt(what, `sections end at ${expectedPosition} but the index begins at ${footer.indexPosition}`);
  return entries;
}

/** Parses a whole object held in memory (the reader uses ranged GETs instead). */
export function parseObject(bytes: Buffer, what = 'object'): ObjectIndex {
  if (bytes.length < objectFormat.footerBytes) throw corrupt(what, `${bytes.length} bytes is too small for a floe object`);
  const footer = decodeFooter(bytes.subarray(bytes.length - objectFormat.footerBytes), bytes.length, what);
  const entries = decodeIndex(bytes.subarray(footer.indexPosition, footer.indexPosition + footer.indexLength), footer, what);
  return { formatVersion: footer.formatVersion, objectSize: bytes.length, indexPosition: footer.indexPosition, indexLength: footer.indexLength, entries };
}

/** Throws FLOE_ERR_OBJECT_CORRUPT unless `bytes` are exactly the section `entry` describes. */
export function verifySection(entry: SectionEntry, bytes: Buffer, what = 'object'): void {
  if (bytes.length !== entry.length) throw corrupt(what, `section ${entry.streamId} [${entry.startOffset}, ${entry.endOffset}) is ${bytes.length} bytes, expected ${entry.length}`);
  if ((crc32c(bytes) >>> 0) !== entry.crc32c) throw corrupt(what, `section ${entry.streamId} [${entry.startOffset}, ${entry.endOffset}) CRC-32C mismatch`);
}
