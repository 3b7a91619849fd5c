/**
 * The segment record: how one entry is framed on disk. Segments are shared by every log
 * on a node, so each record names its log. All integers are big-endian.
 *
 *   u32 length       bytes that follow (crc and body), 1..recordBytesMax
 *   u32 crc32c       CRC-32C of the body
 *   body:
 *     u8  kind       1 = entry (the only kind; others are refused as corrupt)
 *     u8  logIdLen   1..255
 *     ..  logId      UTF-8
 *     u32 epoch      the writer's epoch
 *     u64 entryId    assigned by the writer; the same id names the same bytes on every node
 *     ..  payload    opaque bytes (the rest of the body)
 *
 * A torn tail (a crash in the middle of an unsynced write) shows up as a length that runs
 * past the end of the file, a zero or oversized length, or a CRC mismatch; parsing stops
 * at the first such record and reports how many bytes before it are valid.
 *
 * Parsing invariants (fuzzed in test/unit/wal/record.test.ts): it never throws; the valid
 * prefix is never longer than the input; re-parsing the valid prefix gives the same
 * records and reports it wholly valid.
 */
import { crc32c, crc32cParts, readU64, writeU64 } from './codec.ts';
import { recordBytesMax } from './limits.ts';

export const RecordKind = { ENTRY: 1 } as const;

/** Length prefix and CRC. */
export const recordPrefixBytes = 8;
/** kind, logIdLen, epoch, entryId (without the log id itself). */
const bodyFixedBytes = 1 + 1 + 4 + 8;

export interface ParsedRecord {
  /** Where the record starts (its length prefix) in the parsed buffer. */
  offset: number;
  /** The whole record, length prefix included. */
  bytes: number;
  logId: string;
  epoch: number;
  entryId: number;
  /** Where the payload starts in the parsed buffer, and its length. */
  payloadOffset: number;
  payloadBytes: number;
}

export interface ParseResult {
  records: ParsedRecord[];
  /** Bytes from the start that hold whole, valid records. */
  validBytes: number;
  /** Why parsing stopped before the end of the input, or null when all of it is valid. */
  tornReason: string | null;
}

/** The bytes a record with this log id and payload occupies on disk. */
export function recordBytes(logIdBytes: number, payloadBytes: number): number {
  return recordPrefixBytes + bodyFixedBytes + logIdBytes + payloadBytes;
}

/**
 * Builds the head of a record (everything before the payload), CRC included; the record
 * on disk is this head followed by the payload parts, written together in one writev.
 */
export function encodeRecordHead(logId: Buffer, epoch: number, entryId: number, payload: readonly Buffer[], payloadBytes: number): Buffer {
  const head = Buffer.allocUnsafe(recordPrefixBytes + bodyFixedBytes + logId.length);
  const bodyBytes = bodyFixedBytes + logId.length + payloadBytes;
  head.writeUInt32BE(4 + bodyBytes, 0);
  let o = recordPrefixBytes;
  head.writeUInt8(RecordKind.ENTRY, o);
  head.writeUInt8(logId.length, o + 1);
  logId.copy(head, o + 2);
  o += 2 + logId.length;
  head.writeUInt32BE(epoch, o);
  writeU64(head, entryId, o + 4);
  const crc = crc32cParts(payload, crc32c(head.subarray(recordPrefixBytes)));
  head.writeUInt32BE(crc, 4);
  return head;
}

/** Parses whole records from the start of `buf` (a segment file's contents). */
export function parseRecords(buf: Buffer): ParseResult {
  const records: ParsedRecord[] = [];
  let o = 0;
  for (;;) {
    if (o === buf.length) return { records, validBytes: o, tornReason: null };
    const r = parseOne(buf, o);
    if (typeof r === 'string') return { records, validBytes: o, tornReason: r };
    records.push(r);
    o += r.bytes;
  }
}

/** Parses the one record that starts at `offset`, or says why it is not a valid record. */
export function parseOne(buf: Buffer, offset: number): ParsedRecord | string {
  if (buf.length - offset < recordPrefixBytes) return 'a partial length prefix';
  const length = buf.readUInt32BE(offset);
  if (length < 4 + bodyFixedBytes + 1 || length > recordBytesMax) return `an impossible record length ${length}`;
  if (buf.length - offset - 4 < length) return `a record of ${length} bytes runs past the end`;
  const body = buf.subarray(offset + recordPrefixBytes, offset + 4 + length);
  if (crc32c(body) !== buf.readUInt32BE(offset + 4)) return 'a CRC mismatch';
  if (body.readUInt8(0) !== RecordKind.ENTRY) return `an unknown record kind ${body.readUInt8(0)}`;
  const logIdLen = body.readUInt8(1);
  if (logIdLen === 0 || bodyFixedBytes + logIdLen > body.length) return 'an impossible log id length';
  const logId = body.toString('utf8', 2, 2 + logIdLen);
  const epoch = body.readUInt32BE(2 + logIdLen);
  const entryId = readU64(body, 6 + logIdLen);
  if (entryId < 0) return 'an entry id beyond 2^53';
  const payloadStart = bodyFixedBytes + logIdLen;
  return {
    offset,
    bytes: 4 + length,
    logId,
    epoch,
    entryId,
    payloadOffset: offset + recordPrefixBytes + payloadStart,
    payloadBytes: body.length - payloadStart,
  };
}
