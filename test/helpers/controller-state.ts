/**
 * Builds controller metadata states for unit tests from a compact description, through
 * the real record path (applyRecords), so that a test state is one the controller could
 * reach.
 */
import type { ControllerMode } from '../../src/metadata/controller-api.ts';
import { applyRecords, emptyState, type MetadataRecord, type MetadataState, type PartitionState } from '../../controller/state.ts';

export interface BrokerSpec {
  id: number;
  rack?: string | null;
  alive?: boolean;
  draining?: boolean;
}

export interface TopicSpec {
  name: string;
  config?: Record<string, string>;
  /** One entry per partition: the replicas (first = leader unless `leader` says otherwise). */
  partitions: { replicas: number[]; leader?: number; isr?: number[]; leaderEpoch?: number }[];
}

export function partition(index: number, spec: TopicSpec['partitions'][number]): PartitionState {
  return {
    index,
    leader: spec.leader ?? spec.replicas[0] ?? -1,
    leaderEpoch: spec.leaderEpoch ?? 0,
    partitionEpoch: 0,
    replicas: spec.replicas,
    isr: spec.isr ?? [...spec.replicas],
  };
}

export function buildState(opts: { mode: ControllerMode; brokers: BrokerSpec[]; topics?: TopicSpec[] }): MetadataState {
  const state = emptyState();
  const records: MetadataRecord[] = [{ type: 'cluster-created', clusterId: 'test-cluster', mode: opts.mode, firstProducerId: 1000 }];
  for (const b of opts.brokers) {
    records.push({ type: 'broker-registered', broker: { id: b.id, incarnation: `inc-${b.id}`, host: '127.0.0.1', port: 9000 + b.id, rack: b.rack ?? null } });
    if (b.draining) records.push({ type: 'broker-draining', id: b.id, draining: true });
  }
  for (const t of opts.topics ?? []) {
    records.push({
      type: 'topic-created',
      topic: { name: t.name, id: `id-${t.name}`, internal: false, config: t.config ?? {}, partitions: t.partitions.map((p, i) => partition(i, p)) },
    });
  }
  for (const b of opts.brokers) if (b.alive === false) records.push({ type: 'broker-dead', id: b.id });
  applyRecords(state, records);
  return state;
}

/** Applies planned records to a state, as the controller's commit does. */
export function applied(state: MetadataState, records: MetadataRecord[]): MetadataState {
  applyRecords(state, records);
  return state;
}

/** `leader@epoch` of every partition of a topic, for compact assertions. */
export function leaders(state: MetadataState, topic: string): string[] {
  return (state.topics.get(topic)?.partitions ?? []).map((p) => `${p.leader}@${p.leaderEpoch}`);
}
