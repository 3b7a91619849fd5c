import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodeError,
  decodeHelloOk,
  decodeReadOk,
  decodeRequest,
  decodeResponse,
  decodeStateOk,
  encodeAppend,
  encodeError,
  encodeFence,
  encodeHello,
  encodeHelloOk,
  encodeOk,
  encodeRead,
  encodeReadOk,
  encodeState,
  encodeStateOk,
  encodeTrim,
  encodeTruncate,
  FrameReader,
  Op,
  protocolVersion,
  Status,
} from '../../../wal/protocol.ts';
import type { LogState } from '../../../wal/store.ts';
import { frameBytesMax } from '../../../wal/limits.ts';
import { WalDiskFullError, WalFencedError, WalProtocolError } from '../../../wal/errors.ts';
import { testSeed } from '../../helpers/wal-random.ts';

/** Frames of one message, as the reader would split them from a stream. */
function frames(bytes: Buffer | readonly Buffer[]): Buffer[] {
  const r = new FrameReader();
  r.push(Buffer.isBuffer(bytes) ? bytes : Buffer.concat(bytes));
  const out: Buffer[] = [];
  for (let f = r.next(); f; f = r.next()) out.push(f);
  expect(r.bufferedBytes()).toBe(0);
  return out;
}

function one(bytes: Buffer | readonly Buffer[]): Buffer {
  const f = frames(bytes);
  expect(f).toHaveLength(1);
  return f[0]!;
}

const log = Buffer.from('broker-3');
const state: LogState = { fenceEpoch: 4, trimmedUpTo: 2 ** 40, truncEpoch: 3, truncFrom: 17, endEntryId: 2 ** 53 - 1, entryCount: 12 };

describe('WAL protocol requests', () => {
  it('round-trips every request', () => {
    const payload = [Buffer.from('pay'), Buffer.from('load')];
    expect(decodeRequest(one(encodeHello(1)))).toEqual({ op: Op.HELLO, requestId: 1, version: protocolVersion });
    expect(decodeRequest(one(encodeAppend(2, log, 9, 2 ** 53 - 1, payload, 7)))).toEqual({
      op: Op.APPEND,
      requestId: 2,
      logId: 'broker-3',
      epoch: 9,
      entryId: 2 ** 53 - 1,
      payload: Buffer.from('payload'),
    });
    expect(decodeRequest(one(encodeFence(3, log, 0xffff_ffff)))).toEqual({ op: Op.FENCE, requestId: 3, logId: 'broker-3', epoch: 0xffff_ffff });
    expect(decodeRequest(one(encodeRead(4, log, 5, 1000)))).toEqual({ op: Op.READ, requestId: 4, logId: 'broker-3', fromEntryId: 5, maxBytes: 1000 });
    expect(decodeRequest(one(encodeTrim(5, log, 2, 100)))).toEqual({ op: Op.TRIM, requestId: 5, logId: 'broker-3', epoch: 2, upTo: 100 });
    expect(decodeRequest(one(encodeTruncate(6, log, 2, 50)))).toEqual({ op: Op.TRUNCATE, requestId: 6, logId: 'broker-3', epoch: 2, fromEntryId: 50 });
    expect(decodeRequest(one(encodeState(0xffff_ffff, log)))).toEqual({ op: Op.STATE, requestId: 0xffff_ffff, logId: 'broker-3' });
  });

  it('refuses malformed requests with WalProtocolError', () => {
    const fence = one(encodeFence(3, log, 1));
    expect(() => decodeRequest(fence.subarray(0, fence.length - 1))).toThrow(WalProtocolError);
    expect(() => decodeRequest(Buffer.concat([fence, Buffer.from([0])]))).toThrow(WalProtocolError);
    expect(() => decodeRequest(Buffer.from([99, 0, 0, 0, 1]))).toThrow(/unknown request op/);
    const bigId = one(encodeRead(4, log, 0, 1));
    bigId.writeUInt32BE(0x0020_0000, 1 + 4 + 1 + log.length);
    expect(() => decodeRequest(bigId)).toThrow(/2\^53/);
  });

  it('fuzz: decodeRequest throws nothing but WalProtocolError', () => {
    const seed = testSeed('wal protocol request fuzz');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (u) => {
        try {
          decodeRequest(Buffer.from(u));
        } catch (err) {
          expect(err).toBeInstanceOf(WalProtocolError);
        }
      }),
      { seed, numRuns: 3000 },
    );
  });
});

describe('WAL protocol responses', () => {
  it('round-trips every answer', () => {
    const hello = decodeResponse(one(encodeHelloOk(1, 7)));
    expect(hello).toMatchObject({ op: Op.HELLO, requestId: 1, status: Status.OK });
    expect(decodeHelloOk(hello.body)).toEqual({ version: protocolVersion, nodeId: 7 });
    expect(decodeResponse(one(encodeOk(Op.APPEND, 2)))).toMatchObject({ op: Op.APPEND, requestId: 2, status: Status.OK, body: Buffer.alloc(0) });
    expect(decodeStateOk(decodeResponse(one(encodeStateOk(Op.FENCE, 3, state))).body)).toEqual(state);
    const entries = [
      { entryId: 5, epoch: 1, payload: Buffer.from('five') },
      { entryId: 6, epoch: 2, payload: Buffer.alloc(0) },
    ];
    const read = decodeResponse(one(encodeReadOk(4, state, entries, true)));
    expect(decodeReadOk(read.body)).toEqual({ state, more: true, entries });
  });

  it('carries typed errors: FENCED with the epoch, the others with their message', () => {
    const fenced = decodeError(decodeResponse(one(encodeError(Op.APPEND, 1, Status.FENCED, 'fenced at 9', 9))), 'node-a');
    expect(fenced).toBeInstanceOf(WalFencedError);
    expect(fenced).toMatchObject({ fenceEpoch: 9, message: 'node-a: fenced at 9' });
    const full = decodeError(decodeResponse(one(encodeError(Op.APPEND, 1, Status.DISK_FULL, 'limit reached'))), 'node-b');
    expect(full).toBeInstanceOf(WalDiskFullError);
    expect(full.code).toBe('FLOE_ERR_WAL_DISK_FULL');
  });

  it('refuses a READ answer whose count exceeds its bytes before looping over it', () => {
    const body = decodeResponse(one(encodeReadOk(4, state, [], false))).body;
    body.writeUInt32BE(0xffff_ffff, body.length - 4);
    expect(() => decodeReadOk(body)).toThrow(/claims/);
  });
});

describe('FrameReader', () => {
  it('refuses an impossible length before allocating anything', () => {
    const r = new FrameReader();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(frameBytesMax + 1, 0);
    r.push(head);
    expect(() => r.next()).toThrow(WalProtocolError);
  });

  it('reassembles frames from any chunking of the stream', () => {
    const seed = testSeed('wal frame chunking');
    const stream = Buffer.concat([
      encodeHello(1),
      ...encodeAppend(2, log, 1, 0, [Buffer.alloc(3000, 1)], 3000),
      encodeFence(3, log, 2),
      ...encodeAppend(4, log, 1, 1, [Buffer.alloc(1, 2)], 1),
    ]);
    const expected = frames(stream);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }), (cuts) => {
        const r = new FrameReader();
        const got: Buffer[] = [];
        let o = 0;
        for (let i = 0; o < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          r.push(stream.subarray(o, o + n));
          o += n;
          for (let f = r.next(); f; f = r.next()) got.push(Buffer.from(f));
        }
        expect(got.map((f) => f.length)).toEqual(expected.map((f) => f.length));
        expect(Buffer.concat(got).equals(Buffer.concat(expected))).toBe(true);
      }),
      { seed, numRuns: 200 },
    );
  });
});
