import { describe, expect, it } from 'vitest';
import {
  API_VERSIONS_KEY,
  decodeRequestFrame,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  isFlexible,
  readRequestHeaderRest,
  readRequestPrefix,
} from '../../../src/protocol/api.ts';
import { ApiVersions, Fetch, Heartbeat, Metadata } from '../../../src/protocol/messages/index.ts';
import { DecodeError, Reader } from '../../../src/protocol/reader.ts';
import { hex, join, withoutSize } from '../../helpers/protocol-bytes.ts';

describe('request header', () => {
  it('reads the routing prefix, then the client id as a classic string and the tags when flexible', () => {
    // Heartbeat v4 header: client id "ab" (INT16 length even in header v2), one tag.
    const frame = hex('000c 0004 00000063 0002 6162 01 00 01 ff | 2a');
    const r = new Reader(frame);
    expect(readRequestPrefix(r)).toStrictEqual({ apiKey: 12, apiVersion: 4, correlationId: 99 });
    const body = r.withFlexible(true);
    expect(readRequestHeaderRest(body, true)).toBe('ab');
    expect(body.int8()).toBe(0x2a);
  });

  it('reads no tag section in header v1', () => {
    const r = new Reader(hex('000c 0003 00000001 ffff | 2a'));
    readRequestPrefix(r);
    const body = r.withFlexible(false);
    expect(readRequestHeaderRest(body, false)).toBeNull();
    expect(body.int8()).toBe(0x2a);
  });

  it('refuses a truncated header with DecodeError', () => {
    expect(() => decodeRequestFrame(Heartbeat, hex('000c 0004 0000'))).toThrow(DecodeError);
    expect(() => decodeRequestFrame(Heartbeat, hex('000c 0004 00000001 0005 6162'))).toThrow(DecodeError);
  });
});

describe('frame encoding', () => {
  it('prefixes the frame with its size and hands back chunks, referencing large records', () => {
    const records = Buffer.alloc(8192, 1);
    const chunks = encodeResponseFrame(Fetch, 4, 7, {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 't',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: 1,
              lastStableOffset: 1,
              logStartOffset: 0,
              abortedTransactions: null,
              preferredReadReplica: -1,
              records,
            },
          ],
        },
      ],
    });
    expect(chunks).toContain(records);
    const frame = join(chunks);
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    const { correlationId, body } = decodeResponseFrame(Fetch, 4, withoutSize(frame));
    expect(correlationId).toBe(7);
    expect(body.responses[0]!.partitions[0]!.records).toStrictEqual(records);
  });

  it('writes the response header tag section at flexible versions, except for ApiVersions', () => {
    const heartbeat = withoutSize(join(encodeResponseFrame(Heartbeat, 4, 1, { throttleTimeMs: 0, errorCode: 0 })));
    expect(heartbeat.subarray(0, 5)).toStrictEqual(hex('00000001 00'));
    const apiVersions = withoutSize(join(encodeResponseFrame(ApiVersions, 3, 1, { errorCode: 0, apiKeys: [], throttleTimeMs: 0 })));
    // Correlation id, then the body's error code straight away.
    expect(apiVersions).toStrictEqual(hex('00000001 0000 01 00000000 00'));
    expect(API_VERSIONS_KEY).toBe(ApiVersions.key);
  });

  it('round-trips a request frame with a null client id', () => {
    const frame = join(encodeRequestFrame(Metadata, 9, 5, null, { topics: null, allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false }));
    const { header, body } = decodeRequestFrame(Metadata, withoutSize(frame));
    expect(header).toStrictEqual({ apiKey: 3, apiVersion: 9, correlationId: 5, clientId: null });
    expect(body.topics).toBeNull();
  });

  it('says which versions are flexible', () => {
    expect(isFlexible(Metadata, 8)).toBe(false);
    expect(isFlexible(Metadata, 9)).toBe(true);
    expect(isFlexible(ApiVersions, 3)).toBe(true);
  });

  it('refuses a truncated response with DecodeError', () => {
    const frame = withoutSize(join(encodeResponseFrame(Heartbeat, 4, 1, { throttleTimeMs: 0, errorCode: 0 })));
    for (let n = 0; n < frame.length; n++) {
      expect(() => decodeResponseFrame(Heartbeat, 4, frame.subarray(0, n))).toThrow(DecodeError);
    }
  });
});
