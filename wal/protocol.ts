/**
 * The WAL's binary protocol over TCP (the data path; metrics are HTTP elsewhere). This
 * module performs no I/O: it encodes and decodes frames.
 *
 * Every message is a frame; integers are big-endian; u64 entry ids must fit 2^53 − 1.
 *
 *   frame    = u32 length (bytes that follow, ≤ frameBytesMax) · message
 *   request  = u8 op · u32 requestId · body
 *   response = u8 (op | 0x80) · u32 requestId · u8 status · body
 *   str8     = u8 length · UTF-8 bytes          str16 = u16 length · UTF-8 bytes
 *
 * A client may send many requests without waiting (pipelining); the node answers each
 * with the request's id, in the order the answers become ready (appends on one
 * connection are answered in the order they were sent, because one commit covers them in
 * that order).
 *
 *   op  name      request body                                   OK response body
 *   1   HELLO     u16 version                                     u16 version · u32 nodeId
 *   2   APPEND    str8 logId · u32 epoch · u64 entryId · payload  (empty)  — after fdatasync
 *   3   FENCE     str8 logId · u32 epoch                          state    — epoch must be newer
 *   4   READ      str8 logId · u64 fromEntryId · u32 maxBytes     state · u8 more · u32 count ·
 *                                                                 count × (u64 entryId · u32 epoch ·
 *                                                                          u32 length · bytes)
 *   5   TRIM      str8 logId · u32 epoch · u64 upTo               (empty)
 *   6   TRUNCATE  str8 logId · u32 epoch · u64 fromEntryId        (empty)
 *   7   STATE     str8 logId                                      state
 *
 *   state = u32 fenceEpoch · u64 trimmedUpTo · u32 truncEpoch · u64 truncFrom ·
 *           u64 endEntryId · u64 entryCount
 *
 * An APPEND's payload is the rest of its frame. Status codes: 0 OK; 1 FENCED (body: u32
 * fenceEpoch · str16 message); 2 DISK_FULL, 3 STORAGE_ERROR, 4 BAD_REQUEST, 5 CORRUPT,
 * 6 SHUTTING_DOWN (body: str16 message). A frame the node cannot parse at all closes the
 * connection.
 */
import { readU64, writeU64 } from './codec.ts';
import type { WalError } from './errors.ts';
import {
  WalClosedError,
  WalCorruptError,
  WalDiskFullError,
  WalFencedError,
  WalProtocolError,
  WalStorageError,
} from './errors.ts';
import { frameBytesMax } from './limits.ts';
import type { LogState, StoredEntry } from './store.ts';

export const protocolVersion = 1;

export const Op = {
  HELLO: 1,
  APPEND: 2,
  FENCE: 3,
  READ: 4,
  TRIM: 5,
  TRUNCATE: 6,
  STATE: 7,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

export const Status = {
  OK: 0,
  FENCED: 1,
  DISK_FULL: 2,
  STORAGE_ERROR: 3,
  BAD_REQUEST: 4,
  CORRUPT: 5,
  SHUTTING_DOWN: 6,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const responseFlag = 0x80;
const requestHeadBytes = 4 + 1 + 4;
const responseHeadBytes = 4 + 1 + 4 + 1;
const stateBytes = 4 + 8 + 4 + 8 + 8 + 8;

export type Request =
  | { op: typeof Op.HELLO; requestId: number; version: number }
  | { op: typeof Op.APPEND; requestId: number; logId: string; epoch: number; entryId: number; payload: Buffer }
  | { op: typeof Op.FENCE; requestId: number; logId: string; epoch: number }
  | { op: typeof Op.READ; requestId: number; logId: string; fromEntryId: number; maxBytes: number }
  | { op: typeof Op.TRIM; requestId: number; logId: string; epoch: number; upTo: number }
  | { op: typeof Op.TRUNCATE; requestId: number; logId: string; epoch: number; fromEntryId: number }
  | { op: typeof Op.STATE; requestId: number; logId: string };

export interface Response {
  op: Op;
  requestId: number;
  status: Status;
  /** A view into the frame: copy what must outlive it. */
  body: Buffer;
}

// -----------------------------------------------------------------------------------------
// Framing

/**
 * Splits a byte stream into frames. Socket chunks are kept in a list with a running
 * length; a frame wholly inside one chunk is returned as a view of it, one that spans
 * chunks is copied once. The length is checked before any buffer for it is allocated.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  bufferedBytes(): number {
    return this.buffered;
  }

  /** The next whole frame (without its length prefix), or null. Throws WalProtocolError on an impossible length. */
  next(): Buffer | null {
    if (this.buffered < 4) return null;
    const length = this.peekU32();
    if (length < 5 || length > frameBytesMax) throw new WalProtocolError(`frame length ${length} is outside [5, ${frameBytesMax}]`);
    if (this.buffered < 4 + length) return null;
    const first = this.chunks[0]!;
    let frame: Buffer;
    if (first.length >= 4 + length) {
      frame = first.subarray(4, 4 + length);
      this.consume(4 + length);
    } else {
      this.consume(4);
      frame = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const c = this.chunks[0]!;
        const take = Math.min(c.length, length - filled);
        c.copy(frame, filled, 0, take);
        filled += take;
        this.consume(take);
      }
    }
    return frame;
  }

  private peekU32(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.allocUnsafe(4);
    let filled = 0;
    for (const c of this.chunks) {
      const take = Math.min(c.length, 4 - filled);
      c.copy(head, filled, 0, take);
      filled += take;
      if (filled === 4) break;
    }
    return head.readUInt32BE(0);
  }

  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) {
        this.chunks.shift();
        n -= c.length;
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }
}

// -----------------------------------------------------------------------------------------
// Encoding

function requestHead(op: Op, requestId: number, bodyBytes: number, extra: number): Buffer {
  const b = Buffer.allocUnsafe(requestHeadBytes + extra);
  b.writeUInt32BE(requestHeadBytes - 4 + bodyBytes, 0);
  b.writeUInt8(op, 4);
  b.writeUInt32BE(requestId >>> 0, 5);
  return b;
}

export function encodeHello(requestId: number): Buffer {
  const b = requestHead(Op.HELLO, requestId, 2, 2);
  b.writeUInt16BE(protocolVersion, requestHeadBytes);
  return b;
}

/** An APPEND as a head buffer followed by the payload parts (written without copying them). */
export function encodeAppend(requestId: number, logId: Buffer, epoch: number, entryId: number, payload: readonly Buffer[], payloadBytes: number): Buffer[] {
  const fixed = 1 + logId.length + 4 + 8;
  const b = requestHead(Op.APPEND, requestId, fixed + payloadBytes, fixed);
  let o = requestHeadBytes;
  b.writeUInt8(logId.length, o);
  logId.copy(b, o + 1);
  o += 1 + logId.length;
  b.writeUInt32BE(epoch, o);
  writeU64(b, entryId, o + 4);
  return [b, ...payload];
}

export function encodeFence(requestId: number, logId: Buffer, epoch: number): Buffer {
  const fixed = 1 + logId.length + 4;
  const b = requestHead(Op.FENCE, requestId, fixed, fixed);
  b.writeUInt8(logId.length, requestHeadBytes);
  logId.copy(b, requestHeadBytes + 1);
  b.writeUInt32BE(epoch, requestHeadBytes + 1 + logId.length);
  return b;
}

export function encodeRead(requestId: number, logId: Buffer, fromEntryId: number, maxBytes: number): Buffer {
  const fixed = 1 + logId.length + 8 + 4;
  const b = requestHead(Op.READ, requestId, fixed, fixed);
  b.writeUInt8(logId.length, requestHeadBytes);
  logId.copy(b, requestHeadBytes + 1);
  writeU64(b, fromEntryId, requestHeadBytes + 1 + logId.length);
  b.writeUInt32BE(maxBytes, requestHeadBytes + 1 + logId.length + 8);
  return b;
}

function encodeEpochAndId(op: typeof Op.TRIM | typeof Op.TRUNCATE, requestId: number, logId: Buffer, epoch: number, id: number): Buffer {
  const fixed = 1 + logId.length + 4 + 8;
  const b = requestHead(op, requestId, fixed, fixed);
  b.writeUInt8(logId.length, requestHeadBytes);
  logId.copy(b, requestHeadBytes + 1);
  b.writeUInt32BE(epoch, requestHeadBytes + 1 + logId.length);
  writeU64(b, id, requestHeadBytes + 1 + logId.length + 4);
  return b;
}

export function encodeTrim(requestId: number, logId: Buffer, epoch: number, upTo: number): Buffer {
  return encodeEpochAndId(Op.TRIM, requestId, logId, epoch, upTo);
}

export function encodeTruncate(requestId: number, logId: Buffer, epoch: number, fromEntryId: number): Buffer {
  return encodeEpochAndId(Op.TRUNCATE, requestId, logId, epoch, fromEntryId);
}

export function encodeState(requestId: number, logId: Buffer): Buffer {
  const fixed = 1 + logId.length;
  const b = requestHead(Op.STATE, requestId, fixed, fixed);
  b.writeUInt8(logId.length, requestHeadBytes);
  logId.copy(b, requestHeadBytes + 1);
  return b;
}

function responseHead(op: Op, requestId: number, status: Status, bodyBytes: number, extra: number): Buffer {
  const b = Buffer.allocUnsafe(responseHeadBytes + extra);
  b.writeUInt32BE(responseHeadBytes - 4 + bodyBytes, 0);
  b.writeUInt8(op | responseFlag, 4);
  b.writeUInt32BE(requestId >>> 0, 5);
  b.writeUInt8(status, 9);
  return b;
}

export function encodeOk(op: Op, requestId: number): Buffer {
  return responseHead(op, requestId, Status.OK, 0, 0);
}

export function encodeHelloOk(requestId: number, nodeId: number): Buffer {
  const b = responseHead(Op.HELLO, requestId, Status.OK, 6, 6);
  b.writeUInt16BE(protocolVersion, responseHeadBytes);
  b.writeUInt32BE(nodeId >>> 0, responseHeadBytes + 2);
  return b;
}

function writeState(b: Buffer, s: LogState, o: number): void {
  b.writeUInt32BE(s.fenceEpoch, o);
  writeU64(b, s.trimmedUpTo, o + 4);
  b.writeUInt32BE(s.truncEpoch, o + 12);
  writeU64(b, s.truncFrom, o + 16);
  writeU64(b, s.endEntryId, o + 24);
  writeU64(b, s.entryCount, o + 32);
}

export function encodeStateOk(op: typeof Op.FENCE | typeof Op.STATE, requestId: number, s: LogState): Buffer {
  const b = responseHead(op, requestId, Status.OK, stateBytes, stateBytes);
  writeState(b, s, responseHeadBytes);
  return b;
}

/** A READ answer as a list of buffers (payloads are not copied). */
export function encodeReadOk(requestId: number, s: LogState, entries: readonly StoredEntry[], more: boolean): Buffer[] {
  let bodyBytes = stateBytes + 1 + 4;
  for (const e of entries) bodyBytes += 16 + e.payload.length;
  const head = responseHead(Op.READ, requestId, Status.OK, bodyBytes, stateBytes + 5);
  writeState(head, s, responseHeadBytes);
  head.writeUInt8(more ? 1 : 0, responseHeadBytes + stateBytes);
  head.writeUInt32BE(entries.length, responseHeadBytes + stateBytes + 1);
  const out: Buffer[] = [head];
  for (const e of entries) {
    const h = Buffer.allocUnsafe(16);
    writeU64(h, e.entryId, 0);
    h.writeUInt32BE(e.epoch, 8);
    h.writeUInt32BE(e.payload.length, 12);
    out.push(h, e.payload);
  }
  return out;
}

export function encodeError(op: Op, requestId: number, status: Exclude<Status, 0>, message: string, fenceEpoch = 0): Buffer {
  const text = Buffer.from(message.slice(0, 1000), 'utf8');
  const extra = (status === Status.FENCED ? 4 : 0) + 2 + text.length;
  const b = responseHead(op, requestId, status, extra, extra);
  let o = responseHeadBytes;
  if (status === Status.FENCED) {
    b.writeUInt32BE(fenceEpoch, o);
    o += 4;
  }
  b.writeUInt16BE(text.length, o);
  text.copy(b, o + 2);
  return b;
}

// -----------------------------------------------------------------------------------------
// Decoding

/** A bounds-checked cursor over a frame; every read throws WalProtocolError past the end. */
class Cursor {
  constructor(
    private readonly b: Buffer,
    public o: number,
  ) {}
  private need(n: number): void {
    if (this.o + n > this.b.length) throw new WalProtocolError(`truncated frame: needed ${n} bytes at ${this.o} of ${this.b.length}`);
  }
  u8(): number {
    this.need(1);
    return this.b.readUInt8(this.o++);
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16BE(this.o);
    this.o += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32BE(this.o);
    this.o += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = readU64(this.b, this.o);
    if (v < 0) throw new WalProtocolError('a u64 beyond 2^53 − 1');
    this.o += 8;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  str8(): string {
    const n = this.u8();
    if (n === 0) throw new WalProtocolError('an empty log id');
    return this.bytes(n).toString('utf8');
  }
  str16(): string {
    return this.bytes(this.u16()).toString('utf8');
  }
  rest(): Buffer {
    const v = this.b.subarray(this.o);
    this.o = this.b.length;
    return v;
  }
  end(): void {
    if (this.o !== this.b.length) throw new WalProtocolError(`${this.b.length - this.o} unexpected bytes at the end of a frame`);
  }
}

/** Decodes a request frame (without its length prefix). Throws WalProtocolError. */
export function decodeRequest(frame: Buffer): Request {
  const c = new Cursor(frame, 0);
  const op = c.u8();
  const requestId = c.u32();
  let r: Request;
  switch (op) {
    case Op.HELLO:
      r = { op, requestId, version: c.u16() };
      break;
    case Op.APPEND: {
      const logId = c.str8();
      const epoch = c.u32();
      const entryId = c.u64();
      return { op, requestId, logId, epoch, entryId, payload: c.rest() };
    }
    case Op.FENCE:
      r = { op, requestId, logId: c.str8(), epoch: c.u32() };
      break;
    case Op.READ:
      r = { op, requestId, logId: c.str8(), fromEntryId: c.u64(), maxBytes: c.u32() };
      break;
    case Op.TRIM:
      r = { op, requestId, logId: c.str8(), epoch: c.u32(), upTo: c.u64() };
      break;
    case Op.TRUNCATE:
      r = { op, requestId, logId: c.str8(), epoch: c.u32(), fromEntryId: c.u64() };
      break;
    case Op.STATE:
      r = { op, requestId, logId: c.str8() };
      break;
    default:
      throw new WalProtocolError(`unknown request op ${op}`);
  }
  c.end();
  return r;
}

const knownOps = new Set<number>(Object.values(Op));
const knownStatuses = new Set<number>(Object.values(Status));

/** Decodes a response frame's head; the body is left for the op's own decoder. Throws WalProtocolError. */
export function decodeResponse(frame: Buffer): Response {
  const c = new Cursor(frame, 0);
  const flagged = c.u8();
  const op = flagged & ~responseFlag;
  if ((flagged & responseFlag) === 0 || !knownOps.has(op)) throw new WalProtocolError(`not a response op: ${flagged}`);
  const requestId = c.u32();
  const status = c.u8();
  if (!knownStatuses.has(status)) throw new WalProtocolError(`unknown status ${status}`);
  return { op: op as Op, requestId, status: status as Status, body: c.rest() };
}

export function decodeHelloOk(body: Buffer): { version: number; nodeId: number } {
  const c = new Cursor(body, 0);
  const r = { version: c.u16(), nodeId: c.u32() };
  c.end();
  return r;
}

function readState(c: Cursor): LogState {
  return { fenceEpoch: c.u32(), trimmedUpTo: c.u64(), truncEpoch: c.u32(), truncFrom: c.u64(), endEntryId: c.u64(), entryCount: c.u64() };
}

export function decodeStateOk(body: Buffer): LogState {
  const c = new Cursor(body, 0);
  const s = readState(c);
  c.end();
  return s;
}

/** Decodes a READ answer; payloads are views into `body`. */
export function decodeReadOk(body: Buffer): { state: LogState; more: boolean; entries: StoredEntry[] } {
  const c = new Cursor(body, 0);
  const state = readState(c);
  const more = c.u8() === 1;
  const count = c.u32();
  // Each entry takes at least 16 bytes: a count beyond that is a lie, refused before looping.
  if (count * 16 > body.length) throw new WalProtocolError(`a READ answer claims ${count} entries in ${body.length} bytes`);
  const entries: StoredEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entryId = c.u64();
    const epoch = c.u32();
    const payload = c.bytes(c.u32());
    entries.push({ entryId, epoch, payload });
  }
  c.end();
  return { state, more, entries };
}

/** The typed error a non-OK response stands for. */
export function decodeError(r: Response, node: string): WalError {
  try {
    const c = new Cursor(r.body, 0);
    if (r.status === Status.FENCED) {
      const fenceEpoch = c.u32();
      return new WalFencedError(`${node}: ${c.str16()}`, fenceEpoch);
    }
    const message = `${node}: ${c.str16()}`;
    switch (r.status) {
      case Status.DISK_FULL:
        return new WalDiskFullError(message);
      case Status.STORAGE_ERROR:
        return new WalStorageError(message);
      case Status.CORRUPT:
        return new WalCorruptError(message);
      case Status.SHUTTING_DOWN:
        return new WalClosedError(message);
      case Status.BAD_REQUEST:
      case Status.OK:
        return new WalProtocolError(message);
    }
  } catch (err) {
    return new WalProtocolError(`${node}: an error response (status ${r.status}) with a malformed body`, { cause: err });
  }
}
