/**
 * The controller's metadata as a state machine: MetadataState is changed only by
 * applying MetadataRecords, the same records that the metadata log stores. Replaying the
 * log (after the newest snapshot) therefore rebuilds exactly the state that was
 * acknowledged. `applyRecords` is deterministic and does no I/O: every id, epoch and
 * broker choice is decided before a record is written and carried in the record.
 *
 * The metadata `version` (what brokers follow) counts changes of the published view;
 * records that do not change it (producer-id blocks, failover bookkeeping, the object
 * index, WAL epochs) are logged without bumping it, so that the several object commits
 * per second of each broker never make brokers fetch the view again.
 */
import type { BrokerInfo } from '../src/metadata/cluster-view.ts';
import type { ControllerMode, WirePartition, WireTopic, WireView } from '../src/metadata/controller-api.ts';
import { RecordApplyError } from './errors.ts';
import {
  applyCommit,
  applyDeleted,
  applyLogStart,
  applyReplace,
  applyTopicDropped,
  emptyObjectIndex,
  objectIndexFromJson,
  objectIndexToJson,
  type IndexSection,
  type ObjectIndexJson,
  type ObjectIndexState,
} from './object-index.ts';

export { RecordApplyError };

export interface BrokerState {
  id: number;
  incarnation: string;
  host: string;
  port: number;
  rack: string | null;
  alive: boolean;
  /** A draining broker keeps serving what it has but is given nothing new. */
  draining: boolean;
}

export type PartitionState = WirePartition;

export interface TopicState {
  name: string;
  id: string;
  internal: boolean;
  config: Record<string, string>;
  partitions: PartitionState[];
}

/** A partition named durably across topic re-creation (a deleted and re-created topic has a new id). */
export interface PartitionRef {
  topic: string;
  topicId: string;
  partition: number;
}

export interface MetadataState {
  clusterId: string;
  mode: ControllerMode;
  version: number;
  brokers: Map<number, BrokerState>;
  topics: Map<string, TopicState>;
  /** The first producer id not yet handed out. */
  nextProducerId: number;
  /** Dead brokers whose partitions wait, offline, for the beforeReassign hook to finish. */
  pendingFailovers: Map<number, PartitionRef[]>;
  /** Pending failovers of brokers that shut down cleanly with nothing left in their WAL (no recovery). */
  uploadedFailovers: Set<number>;
  /** shared-storage: where each partition's data lives, and the objects awaiting deletion. */
  objects: ObjectIndexState;
  /** shared-storage: the WAL epoch of each broker id's log; only ever grows, kept after broker removal. */
  walEpochs: Map<number, number>;
}

export type MetadataRecord =
  | { type: 'cluster-created'; clusterId: string; mode: ControllerMode; firstProducerId: number }
  | { type: 'broker-registered'; broker: Omit<BrokerState, 'alive' | 'draining'> }
  | { type: 'broker-dead'; id: number }
  | { type: 'broker-draining'; id: number; draining: boolean }
  | { type: 'broker-removed'; id: number }
  | { type: 'topic-created'; topic: TopicState }
  /** `atMs`: wall-clock time of the deletion, when the topic's objects start their grace period. */
  | { type: 'topic-deleted'; name: string; id: string; atMs?: number }
  | { type: 'partitions-added'; topic: string; partitions: PartitionState[] }
  | { type: 'topic-config'; topic: string; config: Record<string, string> }
  | { type: 'partition-changed'; topic: string; partition: PartitionState }
  | { type: 'producer-ids'; nextProducerId: number }
  /** `uploaded`: the broker shut down cleanly with its WAL uploaded and trimmed, so no WAL recovery is needed. */
  | { type: 'failover-pending'; brokerId: number; partitions: PartitionRef[]; uploaded?: boolean }
  | { type: 'failover-done'; brokerId: number }
  | { type: 'objects-committed'; key: string; size: number; sections: IndexSection[] }
  | { type: 'objects-replaced'; key: string; size: number; sections: IndexSection[]; atMs: number }
  | { type: 'log-start-advanced'; topicId: string; partition: number; logStartOffset: number; atMs: number }
  | { type: 'objects-deleted'; keys: string[] }
  | { type: 'wal-epoch'; brokerId: number; epoch: number };

export function emptyState(): MetadataState {
  return {
    clusterId: '',
    mode: 'shared-nothing',
    version: 0,
    brokers: new Map(),
    topics: new Map(),
    nextProducerId: 0,
    pendingFailovers: new Map(),
    uploadedFailovers: new Set(),
    objects: emptyObjectIndex(),
    walEpochs: new Map(),
  };
}

function topicOf(state: MetadataState, name: string): TopicState {
  const t = state.topics.get(name);
  if (!t) throw new RecordApplyError(`record names unknown topic ${name}`);
  return t;
}

/** Applies one record; returns whether the published view changed. */
export function applyRecord(state: MetadataState, r: MetadataRecord): boolean {
  switch (r.type) {
    case 'cluster-created':
      state.clusterId = r.clusterId;
      state.mode = r.mode;
      state.nextProducerId = r.firstProducerId;
      return true;
    case 'broker-registered': {
      const old = state.brokers.get(r.broker.id);
      state.brokers.set(r.broker.id, { ...r.broker, alive: true, draining: old?.draining ?? false });
      return true;
    }
    case 'broker-dead': {
      const b = state.brokers.get(r.id);
      if (!b) throw new RecordApplyError(`broker-dead names unknown broker ${r.id}`);
      state.brokers.set(r.id, { ...b, alive: false });
      return true;
    }
    case 'broker-draining': {
      const b = state.brokers.get(r.id);
      if (!b) throw new RecordApplyError(`broker-draining names unknown broker ${r.id}`);
      state.brokers.set(r.id, { ...b, draining: r.draining });
      return true;
    }
    case 'broker-removed':
      state.brokers.delete(r.id);
      return true;
    case 'topic-created':
      if (state.topics.has(r.topic.name)) throw new RecordApplyError(`topic ${r.topic.name} created twice`);
      state.topics.set(r.topic.name, r.topic);
      return true;
    case 'topic-deleted': {
      const t = topicOf(state, r.name);
      if (t.id !== r.id) throw new RecordApplyError(`topic-deleted for ${r.name} names id ${r.id}, not ${t.id}`);
      state.topics.delete(r.name);
      applyTopicDropped(state.objects, r.id, r.atMs ?? 0);
      return true;
    }
    case 'partitions-added': {
      const t = topicOf(state, r.topic);
      r.partitions.forEach((p, i) => {
        if (p.index !== t.partitions.length + i) throw new RecordApplyError(`partitions-added for ${r.topic} skips an index`);
      });
      state.topics.set(r.topic, { ...t, partitions: [...t.partitions, ...r.partitions] });
      return true;
    }
    case 'topic-config': {
      const t = topicOf(state, r.topic);
      state.topics.set(r.topic, { ...t, config: { ...r.config } });
      return true;
    }
    case 'partition-changed': {
      const t = topicOf(state, r.topic);
      if (!t.partitions[r.partition.index]) throw new RecordApplyError(`partition-changed names ${r.topic}-${r.partition.index}, which does not exist`);
      const partitions = [...t.partitions];
      partitions[r.partition.index] = r.partition;
      state.topics.set(r.topic, { ...t, partitions });
      return true;
    }
    case 'producer-ids':
      if (r.nextProducerId < state.nextProducerId) throw new RecordApplyError('producer ids would be handed out twice');
      state.nextProducerId = r.nextProducerId;
      return false;
    case 'failover-pending':
      state.pendingFailovers.set(r.brokerId, r.partitions);
      if (r.uploaded === true) state.uploadedFailovers.add(r.brokerId);
      else state.uploadedFailovers.delete(r.brokerId);
      return false;
    case 'failover-done':
      state.pendingFailovers.delete(r.brokerId);
      state.uploadedFailovers.delete(r.brokerId);
      return false;
    case 'objects-committed':
      applyCommit(state.objects, r.key, r.size, r.sections);
      return false;
    case 'objects-replaced':
      applyReplace(state.objects, r.key, r.size, r.sections, r.atMs);
      return false;
    case 'log-start-advanced':
      applyLogStart(state.objects, r.topicId, r.partition, r.logStartOffset, r.atMs);
      return false;
    case 'objects-deleted':
      applyDeleted(state.objects, r.keys);
      return false;
    case 'wal-epoch': {
      const current = state.walEpochs.get(r.brokerId) ?? 0;
      if (!(r.epoch > current)) throw new RecordApplyError(`the WAL epoch of broker ${r.brokerId} would go from ${current} to ${r.epoch}`);
      state.walEpochs.set(r.brokerId, r.epoch);
      return false;
    }
  }
}

/** Applies the records of one log entry; bumps the version once if the view changed. */
export function applyRecords(state: MetadataState, records: readonly MetadataRecord[]): boolean {
  let changed = false;
  for (const r of records) changed = applyRecord(state, r) || changed;
  if (changed) state.version++;
  return changed;
}

export function liveBrokers(state: MetadataState): BrokerState[] {
  return [...state.brokers.values()].filter((b) => b.alive).sort((a, b) => a.id - b.id);
}

/** Brokers that may be given partitions: alive and not draining. */
export function eligibleBrokers(state: MetadataState): BrokerState[] {
  return liveBrokers(state).filter((b) => !b.draining);
}

/**
 * The broker Kafka clients treat as the controller (they send InitProducerId and admin
 * requests there): the lowest live broker id, preferring brokers that are not draining,
 * so that it stays where it is while brokers come and go.
 */
export function clientControllerId(state: MetadataState): number {
  const live = liveBrokers(state);
  return (live.find((b) => !b.draining) ?? live[0])?.id ?? -1;
}

export function toWireView(state: MetadataState): WireView {
  const brokers: BrokerInfo[] = liveBrokers(state).map((b) => ({ id: b.id, host: b.host, port: b.port, rack: b.rack }));
  const topics: WireTopic[] = [...state.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { version: state.version, clusterId: state.clusterId, controllerId: clientControllerId(state), mode: state.mode, brokers, topics };
}

interface StateJson {
  clusterId: string;
  mode: ControllerMode;
  version: number;
  nextProducerId: number;
  brokers: BrokerState[];
  topics: TopicState[];
  pendingFailovers: { brokerId: number; partitions: PartitionRef[] }[];
  /** Absent in snapshots written before shared storage (issue 7). */
  uploadedFailovers?: number[];
  objects?: ObjectIndexJson;
  walEpochs?: [number, number][];
}

/** The snapshot form of the state. */
export function stateToJson(state: MetadataState): string {
  const json: StateJson = {
    clusterId: state.clusterId,
    mode: state.mode,
    version: state.version,
    nextProducerId: state.nextProducerId,
    brokers: [...state.brokers.values()],
    topics: [...state.topics.values()],
    pendingFailovers: [...state.pendingFailovers].map(([brokerId, partitions]) => ({ brokerId, partitions })),
    uploadedFailovers: [...state.uploadedFailovers],
    objects: objectIndexToJson(state.objects),
    walEpochs: [...state.walEpochs],
  };
  return JSON.stringify(json);
}

export function stateFromJson(text: string): MetadataState {
  const json = JSON.parse(text) as StateJson;
  return {
    clusterId: json.clusterId,
    mode: json.mode,
    version: json.version,
    nextProducerId: json.nextProducerId,
    brokers: new Map(json.brokers.map((b) => [b.id, b])),
    topics: new Map(json.topics.map((t) => [t.name, t])),
    pendingFailovers: new Map(json.pendingFailovers.map((f) => [f.brokerId, f.partitions])),
    uploadedFailovers: new Set(json.uploadedFailovers ?? []),
    objects: objectIndexFromJson(json.objects),
    walEpochs: new Map(json.walEpochs ?? []),
  };
}
