import { describe, expect, it } from 'vitest';
import { decodeOffsetsRecord, encodeKey, encodeOffsetsBatch, encodeValue, recordKey, type OffsetsRecord } from '../../../../src/broker/groups/records.ts';
import { DecodeError } from '../../../../src/protocol/reader.ts';
import { decodeRecordBatch } from '../../../../src/protocol/records.ts';
import { crcMatches } from '../../../../src/protocol/record-batch.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const roundTrip = (r: OffsetsRecord): OffsetsRecord => decodeOffsetsRecord(encodeKey(r), encodeValue(r));

const offset: OffsetsRecord = {
  kind: 'offset',
  group: 'g',
  topic: 't',
  partition: 3,
  value: { offset: 42, leaderEpoch: 7, metadata: 'm', commitTimestamp: 1_700_000_000_000, expireTimestamp: null },
};
const group: OffsetsRecord = {
  kind: 'group',
  group: 'g',
  value: {
    protocolType: 'consumer',
    generation: 5,
    protocol: 'range',
    leader: 'a-1',
    currentStateTimestamp: 1_700_000_000_123,
    members: [
      { memberId: 'a-1', groupInstanceId: null, clientId: 'a', clientHost: '/127.0.0.1', rebalanceTimeoutMs: 60000, sessionTimeoutMs: 10000, subscription: Buffer.from([1, 2]), assignment: Buffer.from([3]) },
      { memberId: 'b-2', groupInstanceId: 'static-b', clientId: 'b', clientHost: '/10.0.0.2', rebalanceTimeoutMs: 30000, sessionTimeoutMs: 6000, subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) },
    ],
  },
};

describe('__consumer_offsets records', () => {
  it("writes Kafka's OffsetCommitKey v1 and OffsetCommitValue v3 byte for byte", () => {
    expect(encodeKey(offset)).toEqual(hex('0001 0001 67 0001 74 00000003'));
    expect(encodeValue(offset)).toEqual(hex('0003 000000000000002a 00000007 0001 6d 0000018bcfe56800'));
  });

  it('writes OffsetCommitValue v1 (with the expire timestamp) when a retention was given', () => {
    const r: OffsetsRecord = { ...offset, value: { offset: 1, leaderEpoch: -1, metadata: '', commitTimestamp: 10, expireTimestamp: 20 } };
    expect(encodeValue(r)).toEqual(hex('0001 0000000000000001 0000 000000000000000a 0000000000000014'));
    expect(roundTrip(r)).toEqual(r);
  });

  it("writes Kafka's GroupMetadataKey v2", () => {
    expect(encodeKey(group)).toEqual(hex('0002 0001 67'));
  });

  it.each([
    ['an offset', offset],
    ['a negative offset', { ...offset, value: { offset: -2, leaderEpoch: -1, metadata: '', commitTimestamp: 0, expireTimestamp: null } }],
    ['a group with members', group],
    ['an empty group', { kind: 'group', group: 'g', value: { protocolType: 'consumer', generation: 2, protocol: null, leader: null, currentStateTimestamp: 5, members: [] } }],
    ['an offset tombstone', { ...offset, value: null }],
    ['a group tombstone', { kind: 'group', group: 'g', value: null }],
  ] as [string, OffsetsRecord][])('round-trips %s', (_name, r) => {
    expect(roundTrip(r)).toEqual(r);
  });

  it('reads older value versions: v0 offsets, v0 groups (the session timeout is also the rebalance timeout)', () => {
    const key = encodeKey(offset);
    expect(decodeOffsetsRecord(key, hex('0000 0000000000000005 0002 6869 0000000000000009'))).toEqual({
      ...offset,
      value: { offset: 5, leaderEpoch: -1, metadata: 'hi', commitTimestamp: 9, expireTimestamp: null },
    });
    const v0 = hex('0000 0008' + Buffer.from('consumer').toString('hex') + '00000001 0001 72 0001 61 00000001 0001 61 0001 63 0001 68 00001388 00000000 00000000');
    const decoded = decodeOffsetsRecord(encodeKey(group), v0);
    expect(decoded).toEqual({
      kind: 'group',
      group: 'g',
      value: {
        protocolType: 'consumer',
        generation: 1,
        protocol: 'r',
        leader: 'a',
        currentStateTimestamp: -1,
        members: [{ memberId: 'a', groupInstanceId: null, clientId: 'c', clientHost: 'h', rebalanceTimeoutMs: 5000, sessionTimeoutMs: 5000, subscription: Buffer.alloc(0), assignment: Buffer.alloc(0) }],
      },
    });
  });

  it('refuses unknown versions and a missing key', () => {
    expect(() => decodeOffsetsRecord(hex('0003 0001 67'), null)).toThrow(DecodeError);
    expect(() => decodeOffsetsRecord(encodeKey(offset), hex('0009 00'))).toThrow(DecodeError);
    expect(() => decodeOffsetsRecord(null, null)).toThrow(DecodeError);
  });

  it('copies bytes out of the buffer it decodes', () => {
    const value = encodeValue(group)!;
    const decoded = decodeOffsetsRecord(encodeKey(group), value);
    value.fill(0);
    expect(decoded).toEqual(group);
  });

  it('names records by key: an offset and a group of the same id never collide', () => {
    expect(recordKey(offset)).not.toBe(recordKey(group));
    expect(recordKey({ ...offset, value: null })).toBe(recordKey(offset));
  });

  it('encodes a batch with a valid CRC whose records decode back', () => {
    const batch = encodeOffsetsBatch([offset, group, { kind: 'group', group: 'h', value: null }], 1000);
    expect(crcMatches(batch)).toBe(true);
    const decoded = decodeRecordBatch(batch).map((r) => decodeOffsetsRecord(r.key, r.value));
    expect(decoded).toEqual([offset, group, { kind: 'group', group: 'h', value: null }]);
  });
});
