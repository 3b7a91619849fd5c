/**
 * The records of __consumer_offsets: what the coordinator writes for every offset commit
 * and group change, and replays when it starts coordinating a partition.
 *
 * The layouts are Kafka's own (GroupMetadataManager's key and value schemas), so a
 * Kafka tool that decodes __consumer_offsets reads floe's too. Every key and value starts
 * with an INT16 version; all fields use the classic (non-flexible) encoding.
 *
 *   OffsetCommitKey  v0/v1 => group:string topic:string partition:int32
 *   GroupMetadataKey v2    => group:string
 *
 *   OffsetCommitValue v0 => offset:int64 metadata:string timestamp:int64
 *                     v1 => offset:int64 metadata:string commit_timestamp:int64 expire_timestamp:int64
 *                     v2 => offset:int64 metadata:string commit_timestamp:int64
 *                     v3 => offset:int64 leader_epoch:int32 metadata:string commit_timestamp:int64
 *
 *   GroupMetadataValue v0–3 => protocol_type:string generation:int32 protocol:nullable string
 *                     leader:nullable string current_state_timestamp(v2+):int64
 *                     [member_id:string group_instance_id(v3+):nullable string client_id:string
 *                      client_host:string rebalance_timeout(v1+):int32 session_timeout:int32
 *                      subscription:bytes assignment:bytes]
 *
 * floe writes offset keys at v1, offset values at v3 (v1 when the commit carries an
 * explicit retention, as Kafka does, since only v1 holds an expire timestamp), group keys
 * at v2 and group values at v3. A record with a null value is a tombstone: the key's
 * offset or group no longer exists. Records are written in uncompressed batches without a
 * producer id. Older versions are read so that the log of any version can be replayed.
 */
import { DecodeError, Reader } from '../../protocol/reader.ts';
import { encodeRecordBatch, type RecordInput } from '../../protocol/records.ts';
import { array, bytes, decode, encode, f, int32, int64, nullableString, string, struct } from '../../protocol/schema.ts';
import { Writer } from '../../protocol/writer.ts';

export const OffsetKeyVersion = { V0: 0, V1: 1 } as const;
export const GROUP_KEY_VERSION = 2;
const OFFSET_VALUE_VERSION_MAX = 3;
const GROUP_VALUE_VERSION_MAX = 3;

const OffsetKeySchema = struct({ group: f(string), topic: f(string), partition: f(int32) });
const GroupKeySchema = struct({ group: f(string) });

const OffsetValueSchema = struct({
  offset: f(int64),
  leaderEpoch: f(int32, { since: 3, default: -1 }),
  metadata: f(string),
  commitTimestamp: f(int64),
  expireTimestamp: f(int64, { since: 1, until: 1, default: -1 }),
});

const GroupValueSchema = struct({
  protocolType: f(string),
  generation: f(int32),
  protocol: f(nullableString),
  leader: f(nullableString),
  currentStateTimestamp: f(int64, { since: 2, default: -1 }),
  members: f(
    array(
      struct({
        memberId: f(string),
        groupInstanceId: f(nullableString, { since: 3, default: null }),
        clientId: f(string),
        clientHost: f(string),
        rebalanceTimeoutMs: f(int32, { since: 1, default: -1 }),
        sessionTimeoutMs: f(int32),
        subscription: f(bytes),
        assignment: f(bytes),
      }),
    ),
  ),
});

/** One committed offset as stored. */
export interface OffsetValue {
  offset: number;
  /** -1 when unknown (and always in a v1 value). */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Set only by commits with an explicit retention (OffsetCommit v2–4); null otherwise. */
  expireTimestamp: number | null;
}

export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The member's metadata for the group's selected protocol. */
  subscription: Buffer;
  assignment: Buffer;
}

/** A group as stored: its generation and, when it has members, who they are. */
export interface GroupValue {
  protocolType: string;
  generation: number;
  protocol: string | null;
  leader: string | null;
  /** When the group entered its current state (-1 when unknown, as in v0/v1 values). */
  currentStateTimestamp: number;
  members: StoredMember[];
}

export type OffsetsRecord =
  | { kind: 'offset'; group: string; topic: string; partition: number; value: OffsetValue | null }
  | { kind: 'group'; group: string; value: GroupValue | null };

/** A string naming the record's key: records with the same key replace each other. */
export function recordKey(r: OffsetsRecord): string {
  return r.kind === 'offset' ? `o\u0000${r.group}\u0000${r.topic}\u0000${r.partition}` : `g\u0000${r.group}`;
}

function versioned(version: number, body: (w: Writer) => void): Buffer {
  const w = new Writer(false);
  w.int16(version);
  body(w);
  return w.toBuffer();
}

export function encodeKey(r: OffsetsRecord): Buffer {
  if (r.kind === 'offset') {
    return versioned(OffsetKeyVersion.V1, (w) => encode(OffsetKeySchema, w, { group: r.group, topic: r.topic, partition: r.partition }, OffsetKeyVersion.V1));
  }
  return versioned(GROUP_KEY_VERSION, (w) => encode(GroupKeySchema, w, { group: r.group }, GROUP_KEY_VERSION));
}

export function encodeValue(r: OffsetsRecord): Buffer | null {
  if (r.value === null) return null;
  if (r.kind === 'offset') {
    const v = r.value;
    const version = v.expireTimestamp === null ? 3 : 1;
    return versioned(version, (w) =>
      encode(OffsetValueSchema, w, { offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata, commitTimestamp: v.commitTimestamp, expireTimestamp: v.expireTimestamp ?? -1 }, version),
    );
  }
  const v = r.value;
  return versioned(GROUP_VALUE_VERSION_MAX, (w) => encode(GroupValueSchema, w, { ...v, members: v.members.map((m) => ({ ...m })) }, GROUP_VALUE_VERSION_MAX));
}

/** The record as a RecordInput for encodeRecordBatch. */
export function toRecordInput(r: OffsetsRecord): RecordInput {
  return { key: encodeKey(r), value: encodeValue(r) };
}

/** One uncompressed batch of records (at least one), stamped with `nowMs`. */
export function encodeOffsetsBatch(records: readonly OffsetsRecord[], nowMs: number): Buffer {
  return encodeRecordBatch(records.map(toRecordInput), { baseTimestamp: nowMs });
}

function readVersion(r: Reader, what: string, max: number): number {
  const version = r.int16();
  if (version < 0 || version > max) throw new DecodeError(`${what} version ${version} is outside 0..${max}`);
  return version;
}

/**
 * Decodes one record of __consumer_offsets. Byte fields are copied: the result may
 * outlive the buffer it was read from. Throws DecodeError on a record it cannot read.
 */
export function decodeOffsetsRecord(key: Buffer | null, value: Buffer | null): OffsetsRecord {
  if (key === null) throw new DecodeError('a __consumer_offsets record without a key');
  const kr = new Reader(key, 0, false);
  const keyVersion = readVersion(kr, 'key', GROUP_KEY_VERSION);
  if (keyVersion === GROUP_KEY_VERSION) {
    const { group } = decode(GroupKeySchema, kr, keyVersion);
    if (value === null) return { kind: 'group', group, value: null };
    const vr = new Reader(value, 0, false);
    const v = decode(GroupValueSchema, vr, readVersion(vr, 'group value', GROUP_VALUE_VERSION_MAX));
    return {
      kind: 'group',
      group,
      value: {
        protocolType: v.protocolType,
        generation: v.generation,
        protocol: v.protocol,
        leader: v.leader,
        currentStateTimestamp: v.currentStateTimestamp,
        members: v.members.map((m) => ({
          ...m,
          // v0 values have no rebalance timeout: the session timeout was both.
          rebalanceTimeoutMs: m.rebalanceTimeoutMs < 0 ? m.sessionTimeoutMs : m.rebalanceTimeoutMs,
          subscription: Buffer.from(m.subscription),
          assignment: Buffer.from(m.assignment),
        })),
      },
    };
  }
  const { group, topic, partition } = decode(OffsetKeySchema, kr, keyVersion);
  if (value === null) return { kind: 'offset', group, topic, partition, value: null };
  const vr = new Reader(value, 0, false);
  const version = readVersion(vr, 'offset value', OFFSET_VALUE_VERSION_MAX);
  const v = decode(OffsetValueSchema, vr, version);
  return {
    kind: 'offset',
    group,
    topic,
    partition,
    value: {
      offset: v.offset,
      leaderEpoch: v.leaderEpoch,
      metadata: v.metadata,
      commitTimestamp: v.commitTimestamp,
      expireTimestamp: version === 1 && v.expireTimestamp >= 0 ? v.expireTimestamp : null,
    },
  };
}
