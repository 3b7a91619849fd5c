/**
 * The group coordinator's settings and limits. Settings are read by their Kafka names
 * (`--config group.min.session.timeout.ms=…`) with Kafka's defaults; limits that Kafka
 * does not have are floe's own and say so. Units are the last word of each name.
 */

/** The internal topic that holds committed offsets and group metadata. */
export const OFFSETS_TOPIC = '__consumer_offsets';

/** Kafka's settings the coordinator reads, with Kafka's defaults. */
export const GroupSettingDefaults = {
  'offsets.topic.num.partitions': 50,
  'offsets.topic.replication.factor': 3,
  'offsets.topic.segment.bytes': 100 * 1024 * 1024,
  'offsets.retention.minutes': 7 * 24 * 60,
  'offsets.retention.check.interval.ms': 600_000,
  'offsets.commit.timeout.ms': 5_000,
  'offsets.load.buffer.size': 5 * 1024 * 1024,
  'group.min.session.timeout.ms': 6_000,
  'group.max.session.timeout.ms': 1_800_000,
  'group.initial.rebalance.delay.ms': 3_000,
  'group.max.size': 2_147_483_647,
  /**
   * floe's own: the coordinator rewrites the live state of an offsets partition as new
   * records, and drops everything before them, once the partition's log holds at least
   * this many records and at least twice as many as are live (see offsets-log.ts).
   */
  'offsets.rewrite.min.records': 1_000,
} as const;

export type GroupSettingName = keyof typeof GroupSettingDefaults;

export const GroupLimits = {
  /** Kafka's offset.metadata.max.bytes: longer commit metadata gets OFFSET_METADATA_TOO_LARGE. */
  offsetMetadataBytesMax: 4096,
  /**
   * floe's own: the protocol names and metadata one member may send in JoinGroup. Every
   * member's metadata is stored in the group's record, so one record must stay within
   * the offsets topic's max.message.bytes; a member above this gets MESSAGE_TOO_LARGE.
   */
  memberMetadataBytesMax: 256 * 1024,
  /**
   * floe's own: the metadata of all members of one group together. A member that would
   * take the group past it gets GROUP_MAX_SIZE_REACHED, as when group.max.size is reached.
   */
  groupMetadataBytesMax: 8 * 1024 * 1024,
  /**
   * max.message.bytes of the offsets topic: a group record holds every member's metadata
   * (bounded above) and assignment; an assignment that does not fit fails the SyncGroup
   * as a failed append does in Kafka.
   */
  offsetsRecordBytesMax: 16 * 1024 * 1024,
  /** Records of one rewrite batch (the rewrite of a large partition is several batches). */
  rewriteBatchBytesMax: 1024 * 1024,
  /** Kafka's NewMemberJoinTimeoutMs: how long a new member's JoinGroup may wait for the rebalance. */
  newMemberJoinTimeoutMs: 5 * 60 * 1000,
} as const;

/** The settings one coordinator runs with (the pure state machine's view of them). */
export interface GroupConfig {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  maxSize: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataBytesMax: number;
  memberMetadataBytesMax: number;
  groupMetadataBytesMax: number;
  newMemberJoinTimeoutMs: number;
}

/** The config from broker settings (a lookup by Kafka name with Kafka's default). */
export function groupConfigFrom(setting: (name: GroupSettingName) => number): GroupConfig {
  const config: GroupConfig = {
    minSessionTimeoutMs: setting('group.min.session.timeout.ms'),
    maxSessionTimeoutMs: setting('group.max.session.timeout.ms'),
    initialRebalanceDelayMs: Math.max(0, setting('group.initial.rebalance.delay.ms')),
    maxSize: Math.max(1, setting('group.max.size')),
    offsetsRetentionMs: setting('offsets.retention.minutes') * 60_000,
    offsetsRetentionCheckIntervalMs: Math.max(1, setting('offsets.retention.check.interval.ms')),
    offsetMetadataBytesMax: GroupLimits.offsetMetadataBytesMax,
    memberMetadataBytesMax: GroupLimits.memberMetadataBytesMax,
    groupMetadataBytesMax: GroupLimits.groupMetadataBytesMax,
    newMemberJoinTimeoutMs: GroupLimits.newMemberJoinTimeoutMs,
  };
  if (config.minSessionTimeoutMs > config.maxSessionTimeoutMs) {
    throw new RangeError(`group.min.session.timeout.ms ${config.minSessionTimeoutMs} exceeds group.max.session.timeout.ms ${config.maxSessionTimeoutMs}`);
  }
  return config;
}

/** Relations between the limits, checked once at start. */
export function assertGroupLimits(): void {
  const l = GroupLimits;
  if (l.groupMetadataBytesMax + l.memberMetadataBytesMax > l.offsetsRecordBytesMax) {
    throw new Error('a group record (all members metadata) must fit within offsetsRecordBytesMax');
  }
  if (l.rewriteBatchBytesMax > l.offsetsRecordBytesMax) throw new Error('rewriteBatchBytesMax must not exceed offsetsRecordBytesMax');
}
