/**
 * The contract between the controller process and the brokers that follow it: the
 * broker-facing HTTP paths (under /internal/v1), their JSON bodies, and the metadata view
 * as it travels. Both sides import this file, so a change to the wire shows up as a type
 * error on the other side. The admin API (/v1) is described by the controller's OpenAPI
 * document instead; brokers never call it.
 *
 * Every response that follows a change carries the metadata `version` the change
 * produced, so that a caller can wait until its own view has caught up before it
 * answers a Kafka client (a created topic must be in Metadata at once).
 */
import type { BrokerInfo, ClusterView, NewTopic, PartitionInfo, TopicInfo, TopicResult } from './cluster-view.ts';

export const CONTROLLER_MODES = ['shared-storage', 'shared-nothing'] as const;
export type ControllerMode = (typeof CONTROLLER_MODES)[number];

/** Kafka error codes the controller answers with (it sits below the protocol layer). */
export const MetadataErrorCode = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  INVALID_TOPIC_EXCEPTION: 17,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_CONFIG: 40,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  FENCED_LEADER_EPOCH: 74,
  INVALID_UPDATE_VERSION: 95,
  INELIGIBLE_REPLICA: 107,
} as const;
export type MetadataErrorCode = (typeof MetadataErrorCode)[keyof typeof MetadataErrorCode];

export const InternalPaths = {
  register: '/internal/v1/brokers/register',
  heartbeat: '/internal/v1/brokers/heartbeat',
  shutdown: '/internal/v1/brokers/shutdown',
  metadata: '/internal/v1/metadata',
  createTopics: '/internal/v1/topics/create',
  deleteTopics: '/internal/v1/topics/delete',
  createPartitions: '/internal/v1/topics/create-partitions',
  alterConfig: '/internal/v1/topics/alter-config',
  producerIds: '/internal/v1/producer-ids',
  alterIsr: '/internal/v1/partitions/alter-isr',
} as const;

/** A partition as the controller publishes it: PartitionInfo plus the ISR version. */
export interface WirePartition extends PartitionInfo {
  /** Bumped on every change of leader, replicas or ISR; AlterIsr may be checked against it. */
  partitionEpoch: number;
  /**
   * Shared storage: the broker this partition is being handed to. The owner stops taking
   * writes, uploads and commits what it holds, and releases the partition (release path).
   */
  handoverTo?: number;
}

export interface WireTopic extends Omit<TopicInfo, 'partitions'> {
  partitions: WirePartition[];
}

export interface WireView {
  version: number;
  clusterId: string;
  /** A live broker (the lowest live id); -1 when none is alive. Not the controller process. */
  controllerId: number;
  mode: ControllerMode;
  /** Live brokers only. */
  brokers: BrokerInfo[];
  topics: WireTopic[];
}

export interface RegisterRequest {
  id: number;
  /** Unique per broker process start: tells a restart from a second process with the same id. */
  incarnation: string;
  host: string;
  port: number;
  rack: string | null;
}

export interface RegisterResponse {
  view: WireView;
  leaseMs: number;
  /** How often the broker should heartbeat. */
  heartbeatMs: number;
  /**
   * Shared storage: the epoch at which this broker incarnation recovers and then writes its
   * WAL log (`broker-<id>`); newer than every epoch the log was written or fenced at.
   */
  walEpoch?: number;
}

export interface HeartbeatRequest {
  id: number;
  incarnation: string;
}

export interface HeartbeatResponse {
  /** false: the controller does not hold this incarnation as alive; register again. */
  registered: boolean;
  version: number;
}

export interface ShutdownRequest extends HeartbeatRequest {
  /**
   * Shared storage: the broker has uploaded and committed everything and trimmed its WAL
   * log, so the controller moves its partitions without recovering that log. Default
   * false: the log is fenced and recovered first, as after a crash.
   */
  uploaded?: boolean;
}

export type MetadataPollResponse = { changed: true; view: WireView } | { changed: false; version: number };

export interface CreateTopicsRequest {
  topics: NewTopic[];
  validateOnly: boolean;
}

export interface DeleteTopicsRequest {
  names: string[];
}

export interface CreatePartitionsRequest {
  changes: { name: string; count: number }[];
  validateOnly: boolean;
}

export interface TopicResultsResponse {
  results: TopicResult[];
  version: number;
}

export interface AlterConfigRequest {
  name: string;
  config: Record<string, string>;
  validateOnly: boolean;
}

export interface AlterConfigResponse {
  result: TopicResult;
  version: number;
}

export interface ProducerIdsRequest {
  brokerId: number;
  count: number;
}

export interface ProducerIdsResponse {
  firstId: number;
  count: number;
}

/** Kafka's AlterPartition: the leader reports a new ISR, fenced by its leader epoch. */
export interface AlterIsrRequest {
  brokerId: number;
  topic: string;
  partition: number;
  leaderEpoch: number;
  /** When given, must equal the partition's current partitionEpoch (a concurrent change fails). */
  partitionEpoch?: number;
  isr: number[];
}

export interface AlterIsrResponse {
  errorCode: number;
  errorMessage: string | null;
  /** The partition after the call (changed or not); null for an unknown partition. */
  partition: WirePartition | null;
  version: number;
}

/** The body of every 4xx/5xx answer of the controller's HTTP APIs. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function viewFromWire(wire: WireView): ClusterView {
  return {
    version: wire.version,
    clusterId: wire.clusterId,
    controllerId: wire.controllerId,
    brokers: wire.brokers,
    topics: new Map(wire.topics.map((t) => [t.name, t])),
  };
}

// ---------------------------------------------------------------------------------
// Shared storage (issue 7): the object index, WAL epochs and partition hand-over.
//
// The controller is the metadata of record for where a partition's data lives: a list of
// object ranges per partition, contiguous in offsets, from the partition's log start to
// its end offset. Only the partition's current owner may extend it, fenced by the leader
// epoch, so a zombie's late upload can never be committed. Objects hold sections of many
// partitions; an object is deleted (after a grace period) once no partition refers to it.

export const SharedStoragePaths = {
  commitObject: '/internal/v1/objects/commit',
  replaceObjects: '/internal/v1/objects/replace',
  partitionObjects: '/internal/v1/partitions/objects',
  advanceLogStart: '/internal/v1/partitions/log-start',
  release: '/internal/v1/partitions/release',
} as const;

/** One partition's part of an object: offsets [startOffset, endOffset) at bytes [position, position + length). */
export interface ObjectSection {
  topic: string;
  topicId: string;
  partition: number;
  startOffset: number;
  endOffset: number;
  position: number;
  length: number;
}

/** A range of a partition's log and the object section that holds it. */
export interface ObjectRange {
  key: string;
  /** The whole object's size in bytes (its footer is at the end). */
  size: number;
  startOffset: number;
  endOffset: number;
  position: number;
  length: number;
}

/**
 * Appends an uploaded object's sections to their partitions' indexes, all or nothing.
 * Each section must come from the partition's owner (brokerId) at its current
 * leaderEpoch and start exactly at the partition's end offset.
 * errorCode: 0; NOT_LEADER_OR_FOLLOWER (6) not the owner; FENCED_LEADER_EPOCH (74) stale
 * epoch; INVALID_REQUEST (42) not contiguous; UNKNOWN_TOPIC_OR_PARTITION (3).
 * A commit repeated exactly (its key and sections already in the index, e.g. a retry
 * after a lost answer) answers 0 and changes nothing. A key the index holds otherwise,
 * or an object already collected, is refused with 42: keys are never reused.
 */
export interface CommitObjectRequest {
  brokerId: number;
  key: string;
  size: number;
  sections: (ObjectSection & { leaderEpoch: number })[];
}

export interface SharedStorageResponse {
  errorCode: number;
  errorMessage: string | null;
}

/**
 * Compaction: each section replaces a contiguous run of whole ranges of its partition
 * that it covers exactly ([startOffset, endOffset) equals the run's union). All or nothing;
 * same fencing as a commit. The replaced objects become garbage once unreferenced.
 */
export type ReplaceObjectsRequest = CommitObjectRequest;

export interface PartitionObjectsRequest {
  topic: string;
  partition: number;
}

export interface PartitionObjectsResponse extends SharedStorageResponse {
  topicId: string;
  leaderEpoch: number;
  logStartOffset: number;
  /** The end of the last range, or logStartOffset when there is none (0 for a new partition). */
  endOffset: number;
  objects: ObjectRange[];
}

/** Retention and DeleteRecords: ranges wholly below logStartOffset are dropped from the index. */
export interface AdvanceLogStartRequest {
  brokerId: number;
  topic: string;
  partition: number;
  leaderEpoch: number;
  logStartOffset: number;
}

/**
 * Completes a hand-over: the owner (brokerId, at leaderEpoch) has stopped taking writes
 * and committed everything up to endOffset; ownership moves to the partition's
 * `handoverTo` with the leader epoch bumped.
 */
export interface ReleasePartitionRequest {
  brokerId: number;
  topic: string;
  partition: number;
  leaderEpoch: number;
  endOffset: number;
}

/**
 * errorCode: 0 (ownership moved; `version` is the view that says so);
 * UNKNOWN_TOPIC_OR_PARTITION (3); NOT_LEADER_OR_FOLLOWER (6) not the owner;
 * FENCED_LEADER_EPOCH (74) stale epoch; INVALID_REQUEST (42) no hand-over in progress
 * (it was abandoned or re-targeted: keep serving), or endOffset is not the index's end
 * (commit the rest first).
 */
export interface ReleasePartitionResponse extends SharedStorageResponse {
  version: number;
}
