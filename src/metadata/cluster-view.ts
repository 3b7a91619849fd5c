/**
 * The cluster metadata every broker answers from: brokers, topics, partitions and their
 * owners (leader) with leader epochs, and the version that orders changes. A standalone
 * broker keeps it itself (local-metadata-store.ts); with a controller, brokers follow the
 * controller's copy. Either way the broker only reads it through MetadataStore.
 */
export interface BrokerInfo {
  id: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  index: number;
  /** Owning broker (shared-storage) or leader (shared-nothing); -1 when none is alive. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

export interface TopicInfo {
  name: string;
  /** 32 hex digits; Kafka's topic id. */
  id: string;
  partitions: PartitionInfo[];
  /** Topic-level overrides by Kafka config name. */
  config: Record<string, string>;
  internal: boolean;
}

export interface ClusterView {
  version: number;
  clusterId: string;
  controllerId: number;
  brokers: BrokerInfo[];
  topics: Map<string, TopicInfo>;
}

export interface NewTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  config: Record<string, string>;
  internal?: boolean;
}

/** The outcome of one topic operation, as a Kafka error code and message. */
export interface TopicResult {
  name: string;
  errorCode: number;
  errorMessage: string | null;
}

export interface MetadataStore {
  current(): ClusterView;
  /** Called after every change, with the new view. */
  onChange(listener: (view: ClusterView) => void): void;
  createTopics(topics: NewTopic[], validateOnly: boolean): Promise<TopicResult[]>;
  deleteTopics(names: string[]): Promise<TopicResult[]>;
  createPartitions(changes: { name: string; count: number }[], validateOnly: boolean): Promise<TopicResult[]>;
  alterTopicConfig(name: string, config: Record<string, string>, validateOnly: boolean): Promise<TopicResult>;
  /** Reserves `count` producer ids that no other broker will hand out. */
  allocateProducerIds(count: number): Promise<{ firstId: number; count: number }>;
  /**
   * Leaves the cluster. `uploaded`: the broker's storage holds nothing a recovery would
   * need (shared storage: everything is in object storage and its WAL log is trimmed).
   */
  close(opts?: { uploaded?: boolean }): Promise<void>;
}

/** Kafka's legal topic names: ASCII alphanumerics, '.', '_', '-'; not '.' or '..'. */
export function topicNameProblem(name: string, lengthMax: number): string | null {
  if (name.length === 0) return 'topic name is empty';
  if (name.length > lengthMax) return `topic name longer than ${lengthMax}`;
  if (name === '.' || name === '..') return `topic name ${name} is not allowed`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) return `topic name ${name} has characters other than [a-zA-Z0-9._-]`;
  return null;
}
