/**
 * Building and decoding the records inside an uncompressed RecordBatch v2. The broker
 * never needs this on its data path (batches are opaque there); it is used by floe's own
 * producers (perf, internal logs such as committed offsets) and by tests.
 *
 *   Record => length:varint attributes:int8 timestampDelta:varlong offsetDelta:varint
 *             key:varbytes value:varbytes headers:[key:varstring value:varbytes]
 */
import { crc32c } from './crc32c.ts';
import { BATCH_HEADER_BYTES, BatchAttr, LOG_OVERHEAD_BYTES, readBatchHeader } from './record-batch.ts';
import { Reader } from './reader.ts';
import { Writer } from './writer.ts';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}
export interface RecordInput {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: RecordHeader[];
  /** Defaults to the batch's base timestamp. */
  timestamp?: number;
}
export interface BatchOptions {
  baseOffset?: number;
  baseTimestamp?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  partitionLeaderEpoch?: number;
  /** Extra attribute bits (e.g. CONTROL, TRANSACTIONAL). Compression is not built here. */
  attributes?: number;
}

function writeVarBytes(w: Writer, b: Buffer | null): void {
  if (b === null) {
    w.varint(-1);
    return;
  }
  w.varint(b.length);
  w.raw(b);
}

/** Encodes records into one uncompressed RecordBatch v2 with a valid CRC. */
export function encodeRecordBatch(records: readonly RecordInput[], opts: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a record batch holds at least one record');
  const baseTimestamp = opts.baseTimestamp ?? Date.now();
  const body = new Writer(false, 64 + records.length * 32);
  let maxTimestamp = baseTimestamp;
  records.forEach((rec, i) => {
    const ts = rec.timestamp ?? baseTimestamp;
    if (ts > maxTimestamp) maxTimestamp = ts;
    const r = new Writer(false, 32 + (rec.value?.length ?? 0) + (rec.key?.length ?? 0));
    r.int8(0).varlong(ts - baseTimestamp).varint(i);
    writeVarBytes(r, rec.key ?? null);
    writeVarBytes(r, rec.value);
    const headers = rec.headers ?? [];
    r.varint(headers.length);
    for (const h of headers) {
      writeVarBytes(r, Buffer.from(h.key, 'utf8'));
      writeVarBytes(r, h.value);
    }
    const encoded = r.toBuffer();
    body.varint(encoded.length).raw(encoded);
  });
  const recordsBytes = body.toBuffer();
  const batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes.length);
  const w = new Writer(false, BATCH_HEADER_BYTES);
  w.int64(opts.baseOffset ?? 0)
    .int32(batch.length - LOG_OVERHEAD_BYTES)
    .int32(opts.partitionLeaderEpoch ?? -1)
    .int8(2)
    .uint32(0) // CRC, filled in below
    .int16(opts.attributes ?? 0)
    .int32(records.length - 1)
    .int64(baseTimestamp)
    .int64(maxTimestamp)
    .int64(opts.producerId ?? -1)
    .int16(opts.producerEpoch ?? -1)
    .int32(opts.baseSequence ?? -1)
    .int32(records.length);
  w.toBuffer().copy(batch, 0);
  recordsBytes.copy(batch, BATCH_HEADER_BYTES);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

function readVarBytes(r: Reader): Buffer | null {
  const n = r.varint();
  return n < 0 ? null : r.view(n);
}

/** Decodes the records of one uncompressed batch at `at` in `buf`. */
export function decodeRecordBatch(buf: Buffer, at = 0): DecodedRecord[] {
  const h = readBatchHeader(buf, at);
  if ((h.attributes & BatchAttr.CODEC_MASK) !== 0) {
    throw new RangeError('decodeRecordBatch reads only uncompressed batches');
  }
  const r = new Reader(buf, at + BATCH_HEADER_BYTES, false, at + h.sizeBytes);
  const out: DecodedRecord[] = [];
  for (let i = 0; i < h.recordCount; i++) {
    const length = r.varint();
    const end = r.offset + length;
    r.int8();
    const timestamp = h.baseTimestamp + r.varlong();
    const offset = h.baseOffset + r.varint();
    const key = readVarBytes(r);
    const value = readVarBytes(r);
    const headerCount = r.varint();
    const headers: RecordHeader[] = [];
    for (let j = 0; j < headerCount; j++) {
      const k = readVarBytes(r);
      headers.push({ key: k === null ? '' : k.toString('utf8'), value: readVarBytes(r) });
    }
    r.offset = end;
    out.push({ offset, timestamp, key, value, headers });
  }
  return out;
}
