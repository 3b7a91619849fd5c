/**
 * Topic and partition commands as pure functions: validate against the state, answer
 * with Kafka's codes, and return the records that carry out the change (none when
 * validating only or refusing). The controller commits the records; these functions
 * never change the state they are given.
 */
import { topicNameProblem, type NewTopic, type TopicResult } from '../src/metadata/cluster-view.ts';
import { MetadataErrorCode as Code, type AlterIsrRequest } from '../src/metadata/controller-api.ts';
import { topicConfigProblem } from '../src/metadata/topic-configs.ts';
import { planOfflineRecovery, withAssignment } from './failover.ts';
import { ControllerLimits } from './limits.ts';
import { Tally, placePartitions, type PlacementBroker } from './placement.ts';
import { eligibleBrokers, type MetadataRecord, type MetadataState, type PartitionState, type TopicState } from './state.ts';

export interface TopicDefaults {
  /** num.partitions: used when a request says -1. */
  partitions: number;
  /** default.replication.factor: used when a request says -1 (shared-nothing). */
  replicationFactor: number;
}

export interface Planned<T> {
  result: T;
  records: MetadataRecord[];
}

const ok = (name: string): TopicResult => ({ name, errorCode: Code.NONE, errorMessage: null });
const fail = (name: string, errorCode: number, errorMessage: string): TopicResult => ({ name, errorCode, errorMessage });

function totalPartitions(state: MetadataState): number {
  let n = 0;
  for (const t of state.topics.values()) n += t.partitions.length;
  return n;
}

function placementBrokers(state: MetadataState): PlacementBroker[] {
  return eligibleBrokers(state).map((b) => ({ id: b.id, rack: b.rack }));
}

/** Tallies of leaders and replicas as they are now, for placing new partitions. */
function tallies(state: MetadataState): { leaders: Tally; replicas: Tally } {
  const leaders = new Tally();
  const replicas = new Tally();
  for (const t of state.topics.values()) {
    for (const p of t.partitions) {
      if (p.leader >= 0) leaders.add(t.name, p.leader);
      for (const r of p.replicas) replicas.add(t.name, r);
    }
  }
  return { leaders, replicas };
}

function newPartitions(lists: number[][], firstIndex: number): PartitionState[] {
  return lists.map((replicas, i) => ({ index: firstIndex + i, leader: replicas[0] ?? -1, leaderEpoch: 0, partitionEpoch: 0, replicas, isr: [...replicas] }));
}

/** Kafka refuses names that differ only in '.' versus '_' (they collide in metric names). */
function collisionOf(state: MetadataState, name: string): string | undefined {
  const norm = name.replaceAll('.', '_');
  for (const other of state.topics.keys()) if (other !== name && other.replaceAll('.', '_') === norm) return other;
  return undefined;
}

export function planCreateTopics(
  state: MetadataState,
  topics: readonly NewTopic[],
  opts: { validateOnly: boolean; defaults: TopicDefaults; newTopicId: () => string },
): Planned<TopicResult[]> {
  const records: MetadataRecord[] = [];
  const brokers = placementBrokers(state);
  const { leaders, replicas } = tallies(state);
  const seen = new Map<string, number>();
  for (const t of topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
  let partitionsTotal = totalPartitions(state);
  const results = topics.map((t): TopicResult => {
    const name = t.name;
    if ((seen.get(name) ?? 0) > 1) return fail(name, Code.INVALID_REQUEST, `topic ${name} appears more than once in the request`);
    const nameProblem = topicNameProblem(name, ControllerLimits.topicNameLengthMax);
    if (nameProblem) return fail(name, Code.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (state.topics.has(name)) return fail(name, Code.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`);
    const collision = collisionOf(state, name);
    if (collision) return fail(name, Code.INVALID_TOPIC_EXCEPTION, `topic ${name} collides with ${collision} ('.' and '_' are the same in metric names)`);
    const count = t.numPartitions === -1 ? opts.defaults.partitions : t.numPartitions;
    if (!Number.isInteger(count) || count < 1 || count > ControllerLimits.partitionsPerTopicMax) {
      return fail(name, Code.INVALID_PARTITIONS, `the number of partitions must be in [1, ${ControllerLimits.partitionsPerTopicMax}], got ${t.numPartitions}`);
    }
    if (partitionsTotal + count > ControllerLimits.partitionsTotalMax) {
      return fail(name, Code.INVALID_PARTITIONS, `the cluster would have more than ${ControllerLimits.partitionsTotalMax} partitions`);
    }
    const rfAsked = t.replicationFactor === -1 ? opts.defaults.replicationFactor : t.replicationFactor;
    if (!Number.isInteger(rfAsked) || rfAsked < 1 || rfAsked > ControllerLimits.replicationFactorMax) {
      return fail(name, Code.INVALID_REPLICATION_FACTOR, `the replication factor must be in [1, ${ControllerLimits.replicationFactorMax}], got ${t.replicationFactor}`);
    }
    // In shared-storage mode durability comes from the WAL quorum: one owner per
    // partition whatever the factor asked for.
    const rf = state.mode === 'shared-storage' ? 1 : rfAsked;
    if (rf > brokers.length) {
      return fail(name, Code.INVALID_REPLICATION_FACTOR, `replication factor ${rf} is larger than the ${brokers.length} live, non-draining broker(s)`);
    }
    const configProblem = topicConfigProblem(t.config);
    if (configProblem) return fail(name, Code.INVALID_CONFIG, configProblem);
    if (opts.validateOnly) return ok(name);
    const lists = placePartitions({ topic: name, count, replicationFactor: rf, brokers, leaders, replicas });
    const topic: TopicState = { name, id: opts.newTopicId(), internal: t.internal ?? false, config: { ...t.config }, partitions: newPartitions(lists, 0) };
    records.push({ type: 'topic-created', topic });
    partitionsTotal += count;
    return ok(name);
  });
  return { result: results, records };
}

export function planDeleteTopics(state: MetadataState, names: readonly string[]): Planned<TopicResult[]> {
  const records: MetadataRecord[] = [];
  const done = new Set<string>();
  const results = names.map((name): TopicResult => {
    const t = state.topics.get(name);
    if (!t || done.has(name)) return fail(name, Code.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic ${name}`);
    done.add(name);
    records.push({ type: 'topic-deleted', name, id: t.id });
    return ok(name);
  });
  return { result: results, records };
}

export function planCreatePartitions(state: MetadataState, changes: readonly { name: string; count: number }[], validateOnly: boolean): Planned<TopicResult[]> {
  const records: MetadataRecord[] = [];
  const brokers = placementBrokers(state);
  const { leaders, replicas } = tallies(state);
  const done = new Set<string>();
  let partitionsTotal = totalPartitions(state);
  const results = changes.map(({ name, count }): TopicResult => {
    const t = state.topics.get(name);
    if (!t) return fail(name, Code.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic ${name}`);
    if (done.has(name)) return fail(name, Code.INVALID_REQUEST, `topic ${name} appears more than once in the request`);
    done.add(name);
    const have = t.partitions.length;
    if (!Number.isInteger(count) || count <= have || count > ControllerLimits.partitionsPerTopicMax) {
      return fail(name, Code.INVALID_PARTITIONS, `topic ${name} has ${have} partitions; the new count must be larger and at most ${ControllerLimits.partitionsPerTopicMax}, got ${count}`);
    }
    if (partitionsTotal + count - have > ControllerLimits.partitionsTotalMax) {
      return fail(name, Code.INVALID_PARTITIONS, `the cluster would have more than ${ControllerLimits.partitionsTotalMax} partitions`);
    }
    const rf = state.mode === 'shared-storage' ? 1 : Math.max(1, t.partitions[0]?.replicas.length ?? 1);
    if (rf > brokers.length) {
      return fail(name, Code.INVALID_REPLICATION_FACTOR, `topic ${name} has replication factor ${rf}, more than the ${brokers.length} live, non-draining broker(s)`);
    }
    if (validateOnly) return ok(name);
    const lists = placePartitions({ topic: name, count: count - have, replicationFactor: rf, brokers, leaders, replicas });
    records.push({ type: 'partitions-added', topic: name, partitions: newPartitions(lists, have) });
    partitionsTotal += count - have;
    return ok(name);
  });
  return { result: results, records };
}

/** Replaces a topic's overrides (Kafka's AlterConfigs semantics). */
export function planAlterConfig(state: MetadataState, name: string, config: Readonly<Record<string, string>>, validateOnly: boolean): Planned<TopicResult> {
  const t = state.topics.get(name);
  if (!t) return { result: fail(name, Code.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic ${name}`), records: [] };
  const problem = topicConfigProblem(config);
  if (problem) return { result: fail(name, Code.INVALID_CONFIG, problem), records: [] };
  if (validateOnly) return { result: ok(name), records: [] };
  const records: MetadataRecord[] = [{ type: 'topic-config', topic: name, config: { ...config } }];
  // Turning on unclean leader election may bring offline partitions back at once.
  if (state.mode === 'shared-nothing') {
    const after: MetadataState = { ...state, topics: new Map(state.topics).set(name, { ...t, config: { ...config } }) };
    records.push(...planOfflineRecovery(after).filter((r) => r.type === 'partition-changed' && r.topic === name));
  }
  return { result: ok(name), records };
}

export interface AlterIsrOutcome {
  errorCode: number;
  errorMessage: string | null;
  partition: PartitionState | null;
}

/** Kafka's AlterPartition, from the leader: a new ISR, fenced by leader (and partition) epoch. */
export function planAlterIsr(state: MetadataState, req: AlterIsrRequest): Planned<AlterIsrOutcome> {
  const refuse = (errorCode: number, errorMessage: string, partition: PartitionState | null): Planned<AlterIsrOutcome> => ({ result: { errorCode, errorMessage, partition }, records: [] });
  const t = state.topics.get(req.topic);
  const p = t?.partitions[req.partition];
  if (!t || !p) return refuse(Code.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${req.topic}-${req.partition}`, null);
  if (state.mode === 'shared-storage') return refuse(Code.INVALID_REQUEST, 'shared-storage partitions have no ISR to alter', p);
  if (p.leader !== req.brokerId) return refuse(Code.NOT_LEADER_OR_FOLLOWER, `broker ${req.brokerId} does not lead ${req.topic}-${req.partition} (leader ${p.leader})`, p);
  if (req.leaderEpoch !== p.leaderEpoch) return refuse(Code.FENCED_LEADER_EPOCH, `leader epoch ${req.leaderEpoch} is not the current ${p.leaderEpoch}`, p);
  if (req.partitionEpoch !== undefined && req.partitionEpoch !== p.partitionEpoch) {
    return refuse(Code.INVALID_UPDATE_VERSION, `partition epoch ${req.partitionEpoch} is not the current ${p.partitionEpoch}`, p);
  }
  const isr = req.isr;
  if (isr.length === 0 || new Set(isr).size !== isr.length || !isr.includes(p.leader) || isr.some((b) => !p.replicas.includes(b))) {
    return refuse(Code.INVALID_REQUEST, `ISR ${JSON.stringify(isr)} must be distinct replicas of ${JSON.stringify(p.replicas)} including the leader`, p);
  }
  const dead = isr.filter((b) => !state.brokers.get(b)?.alive);
  if (dead.length > 0) return refuse(Code.INELIGIBLE_REPLICA, `broker(s) ${dead.join(', ')} are not alive`, p);
  const next = withAssignment(p, { leader: p.leader, replicas: p.replicas, isr: [...isr] });
  if (next === p) return { result: { errorCode: Code.NONE, errorMessage: null, partition: p }, records: [] };
  return { result: { errorCode: Code.NONE, errorMessage: null, partition: next }, records: [{ type: 'partition-changed', topic: t.name, partition: next }] };
}
