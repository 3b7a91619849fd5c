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

export type ShutdownRequest = HeartbeatRequest;

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
