/**
 * The consumer group's embedded protocol: what Java-style consumers (and kafkajs,
 * librdkafka) put into JoinGroup's protocol metadata (a Subscription) and SyncGroup's
 * assignment (an Assignment). The broker never needs to read them to run a group; floe's
 * own consumer, DescribeGroups tooling and the tests do.
 *
 * Each is encoded as an INT16 version followed by the body at that version, always in the
 * classic (non-flexible) encoding. A version newer than floe knows is read with the newest
 * layout floe knows, as Kafka does: later versions only append fields.
 *
 *   Subscription v0–3 => version topics:[string] user_data:nullable bytes
 *                        owned_partitions(v1+):[topic [partition]] generation_id(v2+)
 *                        rack_id(v3+):nullable string
 *   Assignment v0–3   => version assigned_partitions:[topic [partition]] user_data
 */
import { DecodeError, Reader } from './reader.ts';
import { array, decode, encode, f, int32, nullableBytes, nullableString, string, struct, type TypeOf } from './schema.ts';
import { Writer } from './writer.ts';

export const CONSUMER_PROTOCOL_TYPE = 'consumer';
/** Newest Subscription / Assignment version floe reads and writes. */
export const CONSUMER_PROTOCOL_VERSION_MAX = 3;

const topicPartitions = struct({ topic: f(string), partitions: f(array(int32)) });

export const ConsumerProtocolSubscription = struct({
  topics: f(array(string)),
  userData: f(nullableBytes, { default: null }),
  ownedPartitions: f(array(topicPartitions), { since: 1 }),
  generationId: f(int32, { since: 2, default: -1 }),
  rackId: f(nullableString, { since: 3, default: null }),
});
export type ConsumerSubscription = TypeOf<typeof ConsumerProtocolSubscription>;

export const ConsumerProtocolAssignment = struct({
  assignedPartitions: f(array(topicPartitions)),
  userData: f(nullableBytes, { default: null }),
});
export type ConsumerAssignment = TypeOf<typeof ConsumerProtocolAssignment>;

export interface Versioned<T> {
  version: number;
  value: T;
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > CONSUMER_PROTOCOL_VERSION_MAX) {
    throw new RangeError(`consumer protocol version ${version} is outside 0..${CONSUMER_PROTOCOL_VERSION_MAX}`);
  }
}

function readVersion(r: Reader, what: string): number {
  const version = r.int16();
  if (version < 0) throw new DecodeError(`${what} version ${version} is negative`);
  return version;
}

export function encodeSubscription(value: ConsumerSubscription, version = CONSUMER_PROTOCOL_VERSION_MAX): Buffer {
  checkVersion(version);
  const w = new Writer(false);
  w.int16(version);
  encode(ConsumerProtocolSubscription, w, value, version);
  return w.toBuffer();
}

/** Decodes a Subscription; byte fields are views into `buf`. Throws DecodeError on bad input. */
export function decodeSubscription(buf: Buffer): Versioned<ConsumerSubscription> {
  const r = new Reader(buf, 0, false);
  const version = readVersion(r, 'subscription');
  const value = decode(ConsumerProtocolSubscription, r, Math.min(version, CONSUMER_PROTOCOL_VERSION_MAX));
  return { version, value };
}

export function encodeAssignment(value: ConsumerAssignment, version = CONSUMER_PROTOCOL_VERSION_MAX): Buffer {
  checkVersion(version);
  const w = new Writer(false);
  w.int16(version);
  encode(ConsumerProtocolAssignment, w, value, version);
  return w.toBuffer();
}

/**
 * Decodes an Assignment; byte fields are views into `buf`. An empty buffer (what a group
 * leader may hand a member it gives nothing, and what SyncGroup carries on an error) is
 * not an encoded assignment: it throws DecodeError like any other bad input.
 */
export function decodeAssignment(buf: Buffer): Versioned<ConsumerAssignment> {
  const r = new Reader(buf, 0, false);
  const version = readVersion(r, 'assignment');
  const value = decode(ConsumerProtocolAssignment, r, Math.min(version, CONSUMER_PROTOCOL_VERSION_MAX));
  return { version, value };
}
