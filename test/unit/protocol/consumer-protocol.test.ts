import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONSUMER_PROTOCOL_VERSION_MAX,
  ConsumerProtocolAssignment,
  ConsumerProtocolSubscription,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
} from '../../../src/protocol/consumer-protocol.ts';
import { DecodeError } from '../../../src/protocol/reader.ts';
import { arbitraryOf, buffersEqual, restrictTo } from '../../helpers/protocol-arbitrary.ts';
import { hex } from '../../helpers/protocol-bytes.ts';

expect.addEqualityTesters([buffersEqual]);

const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const versions = Array.from({ length: CONSUMER_PROTOCOL_VERSION_MAX + 1 }, (_, v) => v);

describe('consumer protocol: Subscription', () => {
  it('v0 as kafkajs writes it: version, topics, user data', () => {
    const bytes = hex('0000' + '00000001 0001' + ascii('t') + '00000000');
    const { version, value } = decodeSubscription(bytes);
    expect(version).toBe(0);
    expect(value).toStrictEqual({ topics: ['t'], userData: Buffer.alloc(0), ownedPartitions: [], generationId: -1, rackId: null });
    expect(encodeSubscription(value, 0)).toStrictEqual(bytes);
  });

  it('v3 carries owned partitions, the generation and the rack', () => {
    const value = { topics: ['a'], userData: null, ownedPartitions: [{ topic: 'a', partitions: [0, 2] }], generationId: 7, rackId: 'r1' };
    const bytes = hex(
      [
        '0003',
        '00000001 0001' + ascii('a'),
        'ffffffff', // user data null
        '00000001 0001' + ascii('a') + '00000002 00000000 00000002',
        '00000007',
        '0002' + ascii('r1'),
      ].join(''),
    );
    expect(encodeSubscription(value, 3)).toStrictEqual(bytes);
    expect(decodeSubscription(bytes)).toStrictEqual({ version: 3, value });
  });

  it.each(versions)('round-trips at v%d', (v) => {
    fc.assert(
      fc.property(arbitraryOf(ConsumerProtocolSubscription, v, { absent: 'random' }), (x) => {
        expect(decodeSubscription(encodeSubscription(x, v))).toStrictEqual({
          version: v,
          value: restrictTo(ConsumerProtocolSubscription, v, x),
        });
      }),
      { numRuns: 50 },
    );
  });

  it('reads a newer version with the newest layout it knows, ignoring what follows', () => {
    const v3 = encodeSubscription({ topics: ['t'], userData: null, ownedPartitions: [], generationId: 1, rackId: null }, 3);
    const v9 = Buffer.concat([hex('0009'), v3.subarray(2), hex('deadbeef')]);
    expect(decodeSubscription(v9)).toStrictEqual({
      version: 9,
      value: { topics: ['t'], userData: null, ownedPartitions: [], generationId: 1, rackId: null },
    });
  });

  it('refuses a negative version, an empty buffer and a truncated body with DecodeError', () => {
    expect(() => decodeSubscription(hex('ffff 00000000 ffffffff'))).toThrow(DecodeError);
    expect(() => decodeSubscription(Buffer.alloc(0))).toThrow(DecodeError);
    expect(() => decodeSubscription(hex('0000 00000002 0001'))).toThrow(DecodeError);
  });

  it('refuses to encode a version it does not know', () => {
    expect(() => encodeSubscription({ topics: [], userData: null, ownedPartitions: [], generationId: -1, rackId: null }, 4)).toThrow(RangeError);
  });
});

describe('consumer protocol: Assignment', () => {
  it('v0 bytes: version, [topic [partition]], user data', () => {
    const bytes = hex('0000' + '00000001 0001' + ascii('t') + '00000002 00000000 00000001' + 'ffffffff');
    const { version, value } = decodeAssignment(bytes);
    expect(version).toBe(0);
    expect(value).toStrictEqual({ assignedPartitions: [{ topic: 't', partitions: [0, 1] }], userData: null });
    expect(encodeAssignment(value, 0)).toStrictEqual(bytes);
  });

  it.each(versions)('round-trips at v%d', (v) => {
    fc.assert(
      fc.property(arbitraryOf(ConsumerProtocolAssignment, v), (x) => {
        expect(decodeAssignment(encodeAssignment(x, v))).toStrictEqual({ version: v, value: x });
      }),
      { numRuns: 50 },
    );
  });

  it('refuses an empty buffer (no assignment) with DecodeError', () => {
    expect(() => decodeAssignment(Buffer.alloc(0))).toThrow(DecodeError);
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (a) => {
        for (const decodeAny of [decodeAssignment, decodeSubscription]) {
          try {
            decodeAny(Buffer.from(a));
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
