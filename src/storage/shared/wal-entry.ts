/**
 * The payload of one broker WAL entry: record batches of many partitions, group-committed
 * together. The WAL itself sees opaque bytes; this format is shared by the broker that
 * writes entries and by the recovery that replays a dead broker's log (which needs only
 * the offsets, never the records, so it does not parse RecordBatches).
 *
 *   entry  = magic:u16 (0xF10E) version:u8 count:u32 item*
 *   item   = topicIdBytes:u8 topicId:utf8 topicBytes:u16 topic:utf8 partition:u32
 *            leaderEpoch:i32 baseOffset:u64 nextOffset:u64 batchBytes:u32 batch
 *
 * All integers big-endian. [baseOffset, nextOffset) is the batch's offset range as the
 * broker assigned it; `batch` is the RecordBatch exactly as stored (baseOffset patched).
 */

export const WAL_ENTRY_MAGIC = 0xf10e;
export const WAL_ENTRY_VERSION = 1;
const TWO_POW_32 = 2 ** 32;

export interface WalBatch {
  topic: string;
  topicId: string;
  partition: number;
  leaderEpoch: number;
  baseOffset: number;
  nextOffset: number;
  batch: Buffer;
}

export class WalEntryFormatError extends Error {
  readonly code = 'FLOE_ERR_WAL_ENTRY_FORMAT';
  constructor(message: string) {
    super(message);
    this.name = 'WalEntryFormatError';
  }
}

function writeU64(buf: Buffer, v: number, at: number): void {
  const hi = Math.floor(v / TWO_POW_32);
  buf.writeUInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * TWO_POW_32, at + 4);
}

/** Encodes the items as a list of buffers: item headers are small, batches are referenced, not copied. */
export function encodeWalEntry(items: readonly WalBatch[]): Buffer[] {
  const out: Buffer[] = [];
  const head = Buffer.allocUnsafe(7);
  head.writeUInt16BE(WAL_ENTRY_MAGIC, 0);
  head.writeUInt8(WAL_ENTRY_VERSION, 2);
  head.writeUInt32BE(items.length, 3);
  out.push(head);
  for (const it of items) {
    const topicId = Buffer.from(it.topicId, 'utf8');
    const topic = Buffer.from(it.topic, 'utf8');
    const h = Buffer.allocUnsafe(1 + topicId.length + 2 + topic.length + 4 + 4 + 8 + 8 + 4);
    let at = 0;
    at = h.writeUInt8(topicId.length, at);
    at += topicId.copy(h, at);
    at = h.writeUInt16BE(topic.length, at);
    at += topic.copy(h, at);
    at = h.writeUInt32BE(it.partition, at);
    at = h.writeInt32BE(it.leaderEpoch, at);
    writeU64(h, it.baseOffset, at);
    writeU64(h, it.nextOffset, at + 8);
    h.writeUInt32BE(it.batch.length, at + 16);
    out.push(h, it.batch);
  }
  return out;
}

/** Decodes an entry; batches are views into `buf`. Throws WalEntryFormatError on anything malformed. */
export function decodeWalEntry(buf: Buffer): WalBatch[] {
  let at = 0;
  const need = (n: number): number => {
    if (at + n > buf.length) throw new WalEntryFormatError(`entry truncated at byte ${at} (needs ${n} more)`);
    const was = at;
    at += n;
    return was;
  };
  const u64 = (): number => {
    const p = need(8);
    return buf.readUInt32BE(p) * TWO_POW_32 + buf.readUInt32BE(p + 4);
  };
  if (buf.readUInt16BE(need(2)) !== WAL_ENTRY_MAGIC) throw new WalEntryFormatError('not a floe WAL entry (bad magic)');
  const version = buf.readUInt8(need(1));
  if (version !== WAL_ENTRY_VERSION) throw new WalEntryFormatError(`unknown WAL entry version ${version}`);
  const count = buf.readUInt32BE(need(4));
  const items: WalBatch[] = [];
  for (let i = 0; i < count; i++) {
    const idLen = buf.readUInt8(need(1));
    const topicId = buf.toString('utf8', need(idLen), at);
    const topicLen = buf.readUInt16BE(need(2));
    const topic = buf.toString('utf8', need(topicLen), at);
    const partition = buf.readUInt32BE(need(4));
    const leaderEpoch = buf.readInt32BE(need(4));
    const baseOffset = u64();
    const nextOffset = u64();
    const batchLen = buf.readUInt32BE(need(4));
    const start = need(batchLen);
    if (nextOffset <= baseOffset) throw new WalEntryFormatError(`empty offset range [${baseOffset}, ${nextOffset}) for ${topic}-${partition}`);
    items.push({ topic, topicId, partition, leaderEpoch, baseOffset, nextOffset, batch: buf.subarray(start, start + batchLen) });
  }
  if (at !== buf.length) throw new WalEntryFormatError(`${buf.length - at} trailing bytes after ${count} items`);
  return items;
}
