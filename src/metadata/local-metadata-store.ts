/**
 * The metadata of a standalone broker (no controller process): topics, partitions and
 * producer-id blocks kept in one JSON file, replaced atomically and durably on every
 * change. With a controller, brokers use the controller-backed store instead; this one
 * keeps `floe cluster up --brokers 1` self-contained.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { FileSystem } from '../common/fs.ts';
import type { BrokerInfo, ClusterView, MetadataStore, NewTopic, TopicInfo, TopicResult } from './cluster-view.ts';
import { topicNameProblem } from './cluster-view.ts';

/** Kafka codes the store answers with (the store sits below the protocol layer). */
const Code = {
  NONE: 0,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_TOPIC_EXCEPTION: 17,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_CONFIG: 40,
} as const;

const PRODUCER_ID_BLOCK = 1000;

interface Persisted {
  clusterId: string;
  version: number;
  nextProducerId: number;
  topics: TopicInfo[];
}

export interface LocalMetadataOptions {
  fs: FileSystem;
  dataDir: string;
  self: BrokerInfo;
  topicNameLengthMax: number;
  partitionsPerTopicMax: number;
  /** Validates topic config overrides; returns a problem or null. */
  configProblem: (config: Record<string, string>) => string | null;
}

export class LocalMetadataStore implements MetadataStore {
  private view: ClusterView;
  private nextProducerId: number;
  private readonly listeners: ((v: ClusterView) => void)[] = [];
  /** Serialises changes so that each one reads the state the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly opts: LocalMetadataOptions,
    state: Persisted,
  ) {
    this.nextProducerId = state.nextProducerId;
    this.view = {
      version: state.version,
      clusterId: state.clusterId,
      controllerId: opts.self.id,
      brokers: [opts.self],
      topics: new Map(state.topics.map((t) => [t.name, t])),
    };
  }

  private get file(): string {
    return path.join(this.opts.dataDir, 'metadata.json');
  }

  static async open(opts: LocalMetadataOptions): Promise<LocalMetadataStore> {
    await opts.fs.mkdirp(opts.dataDir);
    const file = path.join(opts.dataDir, 'metadata.json');
    let state: Persisted;
    if (await opts.fs.exists(file)) {
      state = JSON.parse((await opts.fs.readFile(file)).toString('utf8')) as Persisted;
    } else {
      state = { clusterId: randomBytes(16).toString('base64url').slice(0, 22), version: 1, nextProducerId: 1000, topics: [] };
      await opts.fs.writeFileAtomic(file, Buffer.from(JSON.stringify(state)));
    }
    // The broker's own address may change between runs (ephemeral ports); ownership
    // stays with this broker id.
    for (const t of state.topics) for (const p of t.partitions) p.leader = opts.self.id;
    return new LocalMetadataStore(opts, state);
  }

  current(): ClusterView {
    return this.view;
  }

  onChange(listener: (view: ClusterView) => void): void {
    this.listeners.push(listener);
  }

  private change<T>(fn: (topics: Map<string, TopicInfo>) => { result: T; changed: boolean }): Promise<T> {
    const run = async (): Promise<T> => {
      const topics = new Map(this.view.topics);
      const { result, changed } = fn(topics);
      if (!changed) return result;
      await this.persist(topics, this.nextProducerId);
      return result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async persist(topics: Map<string, TopicInfo>, nextProducerId: number): Promise<void> {
    const state: Persisted = { clusterId: this.view.clusterId, version: this.view.version + 1, nextProducerId, topics: [...topics.values()] };
    await this.opts.fs.writeFileAtomic(this.file, Buffer.from(JSON.stringify(state)));
    this.nextProducerId = nextProducerId;
    this.view = { ...this.view, version: state.version, topics };
    for (const l of this.listeners) l(this.view);
  }

  createTopics(newTopics: NewTopic[], validateOnly: boolean): Promise<TopicResult[]> {
    return this.change((topics) => {
      let changed = false;
      const results = newTopics.map((t): TopicResult => {
        const fail = (errorCode: number, errorMessage: string): TopicResult => ({ name: t.name, errorCode, errorMessage });
        const nameProblem = topicNameProblem(t.name, this.opts.topicNameLengthMax);
        if (nameProblem) return fail(Code.INVALID_TOPIC_EXCEPTION, nameProblem);
        if (topics.has(t.name)) return fail(Code.TOPIC_ALREADY_EXISTS, `topic ${t.name} already exists`);
        if (t.numPartitions < 1 || t.numPartitions > this.opts.partitionsPerTopicMax) {
          return fail(Code.INVALID_PARTITIONS, `numPartitions must be in [1, ${this.opts.partitionsPerTopicMax}], got ${t.numPartitions}`);
        }
        if (t.replicationFactor !== 1) {
          return fail(Code.INVALID_REPLICATION_FACTOR, `replication factor ${t.replicationFactor} is larger than the 1 available broker`);
        }
        const configProblem = this.opts.configProblem(t.config);
        if (configProblem) return fail(Code.INVALID_CONFIG, configProblem);
        if (!validateOnly) {
          topics.set(t.name, {
            name: t.name,
            id: randomUUID().replaceAll('-', ''),
            internal: t.internal ?? false,
            config: { ...t.config },
            partitions: Array.from({ length: t.numPartitions }, (_, index) => this.newPartition(index)),
          });
          changed = true;
        }
        return { name: t.name, errorCode: Code.NONE, errorMessage: null };
      });
      return { result: results, changed };
    });
  }

  private newPartition(index: number): TopicInfo['partitions'][number] {
    const self = this.opts.self.id;
    return { index, leader: self, leaderEpoch: 0, replicas: [self], isr: [self] };
  }

  deleteTopics(names: string[]): Promise<TopicResult[]> {
    return this.change((topics) => {
      let changed = false;
      const results = names.map((name): TopicResult => {
        if (!topics.delete(name)) return { name, errorCode: Code.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown topic ${name}` };
        changed = true;
        return { name, errorCode: Code.NONE, errorMessage: null };
      });
      return { result: results, changed };
    });
  }

  createPartitions(changes: { name: string; count: number }[], validateOnly: boolean): Promise<TopicResult[]> {
    return this.change((topics) => {
      let changed = false;
      const results = changes.map(({ name, count }): TopicResult => {
        const topic = topics.get(name);
        if (!topic) return { name, errorCode: Code.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown topic ${name}` };
        if (count <= topic.partitions.length || count > this.opts.partitionsPerTopicMax) {
          return {
            name,
            errorCode: Code.INVALID_PARTITIONS,
            errorMessage: `topic ${name} has ${topic.partitions.length} partitions; the new count must be larger (and at most ${this.opts.partitionsPerTopicMax}), got ${count}`,
          };
        }
        if (!validateOnly) {
          const added = Array.from({ length: count - topic.partitions.length }, (_, i) => this.newPartition(topic.partitions.length + i));
          topics.set(name, { ...topic, partitions: [...topic.partitions, ...added] });
          changed = true;
        }
        return { name, errorCode: Code.NONE, errorMessage: null };
      });
      return { result: results, changed };
    });
  }

  alterTopicConfig(name: string, config: Record<string, string>, validateOnly: boolean): Promise<TopicResult> {
    return this.change<TopicResult>((topics) => {
      const topic = topics.get(name);
      if (!topic) return { result: { name, errorCode: Code.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown topic ${name}` }, changed: false };
      const problem = this.opts.configProblem(config);
      if (problem) return { result: { name, errorCode: Code.INVALID_CONFIG, errorMessage: problem }, changed: false };
      if (!validateOnly) topics.set(name, { ...topic, config: { ...config } });
      return { result: { name, errorCode: Code.NONE, errorMessage: null }, changed: !validateOnly };
    });
  }

  allocateProducerIds(count: number): Promise<{ firstId: number; count: number }> {
    const run = async (): Promise<{ firstId: number; count: number }> => {
      const n = Math.max(count, PRODUCER_ID_BLOCK);
      const firstId = this.nextProducerId;
      // The block is persisted before any id in it is handed out, so a restart never
      // hands out an id twice.
      await this.persist(this.view.topics, firstId + n);
      return { firstId, count: n };
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): Promise<void> {
    return this.queue.then(() => undefined);
  }
}
