/**
 * The broker: a Kafka listener, the partitions this broker serves, and the metadata it
 * answers from. It follows its MetadataStore: after every metadata change it opens the
 * partitions it now owns and closes (or deletes) the ones it no longer serves.
 *
 * With replication (shared-nothing, following a controller) it also follows the
 * partitions it holds a replica of without leading them (ReplicaManager), and a
 * partition it leads is opened over a ReplicatedLog. A role change closes the partition
 * in its old role before opening it in the new one, so the two never share a log.
 */
import * as net from 'node:net';
import type { Logger } from 'pino';
import type { Clock } from '../common/clock.ts';
import type { BrokerInfo, ClusterView, MetadataStore, PartitionInfo, TopicInfo } from '../metadata/cluster-view.ts';
import { ErrorCode, type ErrorCode as ErrorCodeT } from '../protocol/errors.ts';
import type { StorageEngine } from '../storage/engine.ts';
import { Connection } from './connection.ts';
import { assertLimits } from './limits.ts';
import { Partition } from './partition.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { HandlerRegistry } from './registry.ts';
import type { ReplicaManager, ReplicaState } from './replication/replica-manager.ts';
import { InvalidConfigError, topicSettings, type TopicConfigOverrides } from './topic-config.ts';

export interface BrokerConfig {
  nodeId: number;
  /** Address to listen on. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Address given to clients in Metadata (defaults to host:port actually bound). */
  advertisedHost?: string;
  rack: string | null;
  autoCreateTopics: boolean;
  /** num.partitions for auto-created topics. */
  defaultPartitions: number;
  defaultReplicationFactor: number;
  /** Broker-level defaults for topic configs (e.g. flush.messages), by Kafka name. */
  topicDefaults: TopicConfigOverrides;
  /**
   * Other broker settings by Kafka name (e.g. offsets.topic.num.partitions,
   * group.initial.rebalance.delay.ms); each subsystem reads its own, with Kafka's default.
   */
  settings: Record<string, string>;
}

/** Told when this broker starts or stops serving a partition (the group coordinator follows these). */
export interface PartitionListener {
  opened(part: Partition): void | Promise<void>;
  closing(part: Partition): void | Promise<void>;
}

/** A partition this broker owns and is asked to hand to another broker (shared storage). */
export interface Handover {
  topic: string;
  partition: number;
  leaderEpoch: number;
  to: number;
  /** The partition as it was open here, closed now (null when it was not open). */
  closed: Partition | null;
}

export interface BrokerDeps {
  config: BrokerConfig;
  metadata: (self: BrokerInfo) => Promise<MetadataStore>;
  /** Opened once the metadata store is (a shared-storage engine needs it to recover). */
  storage: (store: MetadataStore) => Promise<StorageEngine>;
  /** Completes a hand-over once the partition is closed here (shared storage). */
  handover?: (h: Handover) => Promise<void>;
  /** Follower replication (shared-nothing with a controller), created once storage is open. */
  replication?: (ctx: { store: MetadataStore; storage: StorageEngine }) => ReplicaManager;
  registry: HandlerRegistry;
  logger: Logger;
  clock: Clock;
  metrics: BrokerMetrics;
}

export type PartitionLookup = { ok: true; partition: Partition } | { ok: false; errorCode: ErrorCodeT };

/** A numeric setting by name from `settings`, `fallback` when absent; InvalidConfigError when not a number. */
export function numberSetting(settings: Record<string, string>, name: string, fallback: number): number {
  const v = settings[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidConfigError(`${name}=${v}: not a number`);
  return n;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class Broker {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics: BrokerMetrics;
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly partitions = new Map<string, Partition>();
  /** Partitions being opened: requests for them get a retriable error meanwhile. */
  private readonly opening = new Map<string, Promise<void>>();
  private store!: MetadataStore;
  private storage!: StorageEngine;
  private replication: ReplicaManager | null = null;
  /** Resolves once metadata and storage are open: connections wait for it. */
  private readonly ready: Promise<void>;
  private markReady!: () => void;
  private readonly handingOver = new Set<string>();
  private cancelRetention: (() => void) | null = null;
  private reconciling: Promise<void> = Promise.resolve();
  private producerIds = { next: 0, end: 0 };
  private producerIdQueue: Promise<unknown> = Promise.resolve();
  private boundPort = 0;
  private readonly partitionListeners: PartitionListener[] = [];

  constructor(private readonly deps: BrokerDeps) {
    assertLimits();
    this.config = deps.config;
    this.logger = deps.logger;
    this.clock = deps.clock;
    this.metrics = deps.metrics;
    this.ready = new Promise<void>((resolve) => {
      this.markReady = resolve;
    });
  }

  get nodeId(): number {
    return this.config.nodeId;
  }
  get port(): number {
    return this.boundPort;
  }
  get metadata(): MetadataStore {
    return this.store;
  }
  get view(): ClusterView {
    return this.store.current();
  }
  get registry(): HandlerRegistry {
    return this.deps.registry;
  }

  async start(): Promise<void> {
    const server = net.createServer((socket) => {
      // The port must be bound before the broker registers, but requests are read only
      // once metadata and storage are open: until then the socket buffers them.
      socket.pause();
      void this.ready.then(() => {
        if (socket.destroyed) return;
        const c = new Connection(socket, this, this.deps.registry, this.logger, (conn) => {
          this.connections.delete(conn);
          this.metrics.connections.set(this.connections.size);
        });
        this.connections.add(c);
        this.metrics.connections.set(this.connections.size);
        socket.resume();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.config.port;
    const self: BrokerInfo = {
      id: this.config.nodeId,
      host: this.config.advertisedHost ?? this.config.host,
      port: this.boundPort,
      rack: this.config.rack,
    };
    this.store = await this.deps.metadata(self);
    this.storage = await this.deps.storage(this.store);
    this.replication = this.deps.replication?.({ store: this.store, storage: this.storage }) ?? null;
    this.metrics.countUnderReplicatedWith(() => {
      let n = 0;
      for (const p of this.partitions.values()) if (p.replication !== null && p.replication.isr().length < p.replication.replicas().length) n++;
      return n;
    });
    this.store.onChange(() => void this.reconcile());
    await this.reconcile();
    this.scheduleRetention();
    this.markReady();
    this.logger.info({ nodeId: this.nodeId, port: this.boundPort }, 'broker listening');
  }

  /**
   * Retention runs on every partition this broker serves every
   * log.retention.check.interval.ms (Kafka's setting and default, 5 minutes).
   */
  private scheduleRetention(): void {
    const every = this.numberSetting('log.retention.check.interval.ms', 300_000);
    this.cancelRetention = this.clock.setTimer(every, () => {
      const now = this.clock.now();
      void Promise.all(
        [...this.partitions.values()].map((p) =>
          p.log.maintain(now).catch((err: unknown) => this.logger.warn({ err, topic: p.topic, partition: p.index }, 'retention failed')),
        ),
      ).finally(() => {
        if (this.cancelRetention) this.scheduleRetention();
      });
    });
  }

  /** Adds a listener; it is told about partitions opened and closed from now on. */
  addPartitionListener(listener: PartitionListener): void {
    this.partitionListeners.push(listener);
  }

  /** A broker setting by Kafka name, as a number, with its Kafka default. */
  numberSetting(name: string, kafkaDefault: number): number {
    return numberSetting(this.config.settings, name, kafkaDefault);
  }

  /** Opens what this broker now serves and closes what it no longer does. Serialised. */
  reconcile(): Promise<void> {
    const run = async (): Promise<void> => {
      const view = this.store.current();
      const wanted = new Map<string, { topic: TopicInfo; index: number; epoch: number; state: ReplicaState }>();
      const handovers = new Map<string, Omit<Handover, 'closed'>>();
      const follows = new Map<string, { topic: TopicInfo; state: ReplicaState }>();
      const replication = this.replication;
      for (const topic of view.topics.values()) {
        for (const p of topic.partitions as (PartitionInfo & { handoverTo?: number; partitionEpoch?: number })[]) {
          const k = key(topic.name, p.index);
          if (p.leader !== this.nodeId) {
            if (replication && p.replicas.includes(this.nodeId)) follows.set(k, { topic, state: p });
            continue;
          }
          if (p.handoverTo !== undefined && this.deps.handover) handovers.set(k, { topic: topic.name, partition: p.index, leaderEpoch: p.leaderEpoch, to: p.handoverTo });
          else wanted.set(k, { topic, index: p.index, epoch: p.leaderEpoch, state: p });
        }
      }
      const closing: Promise<void>[] = [];
      const closedNow = new Map<string, Partition>();
      for (const [k, part] of this.partitions) {
        const w = wanted.get(k);
        // A replicated leader whose epoch moved lost and regained leadership meanwhile:
        // what it knew of its followers is stale, so it is opened afresh.
        if (w && w.topic.id === part.topicId && (part.replication === null || w.epoch === part.leaderEpoch)) {
          part.leaderEpoch = w.epoch;
          part.settings = topicSettings(w.topic.config, this.config.topicDefaults);
          part.replication?.update({ replicas: w.state.replicas, isr: w.state.isr, partitionEpoch: w.state.partitionEpoch ?? 0 }, part.settings.minInsyncReplicas);
          continue;
        }
        this.partitions.delete(k);
        closedNow.set(k, part);
        const topicGone = view.topics.get(part.topic)?.id !== part.topicId;
        closing.push(
          (async () => {
            for (const l of this.partitionListeners) await l.closing(part);
            await (topicGone ? part.destroy() : part.close());
          })(),
        );
      }
      if (replication) {
        for (const [k, f] of [...replication.followed()]) {
          const w = follows.get(k);
          if (w && w.topic.id === f.topicId) continue;
          const topicGone = ![...view.topics.values()].some((t) => t.id === f.topicId);
          closing.push(replication.stopFollowing(k, { destroy: topicGone }));
        }
      }
      await Promise.all(closing);
      // Hand-overs: the partition is closed here (its data uploaded); release it.
      for (const [k, h] of handovers) {
        if (this.handingOver.has(k)) continue;
        this.handingOver.add(k);
        const closed = closedNow.get(k) ?? null;
        this.deps.handover!({ ...h, closed })
          .catch((err: unknown) => this.logger.warn({ err, topic: h.topic, partition: h.partition }, 'hand-over not completed; the controller will give up on it'))
          .finally(() => this.handingOver.delete(k));
      }
      const opens: Promise<void>[] = [];
      for (const [k, w] of wanted) {
        if (this.partitions.has(k)) continue;
        opens.push(this.openPartition(k, w.topic, w.index, w.epoch, w.state));
      }
      if (replication) {
        for (const [k, w] of follows) {
          const settings = topicSettings(w.topic.config, this.config.topicDefaults);
          const id = { topic: w.topic.name, partition: w.state.index, topicId: w.topic.id, leaderEpoch: w.state.leaderEpoch };
          opens.push(
            replication.follow(k, id, settings.log, w.state).catch((err: unknown) => this.logger.error({ err, topic: id.topic, partition: id.partition }, 'cannot follow partition')),
          );
        }
      }
      await Promise.all(opens);
      this.metrics.partitions.set(this.partitions.size);
    };
    const next = this.reconciling.then(run, run);
    this.reconciling = next.catch((err: unknown) => this.logger.error({ err }, 'reconcile failed'));
    return this.reconciling;
  }

  private async openPartition(k: string, topic: TopicInfo, index: number, epoch: number, state: ReplicaState): Promise<void> {
    const settings = topicSettings(topic.config, this.config.topicDefaults);
    const opened = (async () => {
      const id = { topic: topic.name, partition: index, topicId: topic.id, leaderEpoch: epoch };
      const replicated = this.replication ? await this.replication.openLeader(id, settings.log, state, settings.minInsyncReplicas) : null;
      const log = replicated ?? (await this.storage.openLog(id, settings.log));
      const part = new Partition({
        topic: topic.name,
        topicId: topic.id,
        index,
        log,
        settings,
        leaderEpoch: epoch,
        logger: this.logger,
        now: () => this.clock.now(),
        ...(replicated ? { replication: replicated } : {}),
      });
      await part.loadProducerState();
      this.partitions.set(k, part);
      for (const l of this.partitionListeners) await l.opened(part);
    })();
    this.opening.set(k, opened);
    try {
      await opened;
    } catch (err) {
      this.logger.error({ err, topic: topic.name, partition: index }, 'cannot open partition');
    } finally {
      this.opening.delete(k);
    }
  }

  /** The partition if this broker serves it now, else the Kafka error a client should see. */
  partition(topic: string, index: number): PartitionLookup {
    const part = this.partitions.get(key(topic, index));
    if (part) return { ok: true, partition: part };
    const t = this.view.topics.get(topic);
    const p = t?.partitions[index];
    if (!t || !p) return { ok: false, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
    if (p.leader < 0) return { ok: false, errorCode: ErrorCode.LEADER_NOT_AVAILABLE };
    return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
  }

  /**
   * Replicas able to acknowledge an acks=all write to `part` now (see StorageEngine). A
   * replicated leader counts the ISR it holds itself: it learns the controller's answer to
   * its own ISR changes first.
   */
  availableReplicas(part: Partition): number {
    const info = this.view.topics.get(part.topic)?.partitions[part.index];
    const isr = part.replication?.isr() ?? info?.isr ?? [];
    return this.storage.availableReplicas({ topic: part.topic, partition: part.index, topicId: part.topicId, leaderEpoch: part.leaderEpoch }, isr);
  }

  /** What Metadata reports as a partition's ISR (see StorageEngine.inSyncReplicas). */
  inSyncReplicas(leader: number, isr: readonly number[]): number[] {
    return this.storage.inSyncReplicas(leader, isr);
  }

  /** Replicas an acks=all write to `part` needs (see StorageEngine.replicasRequired). */
  replicasRequired(part: Partition): number {
    return this.storage.replicasRequired(part.settings.minInsyncReplicas);
  }

  /** Waits until metadata changes made so far are reflected in the open partitions. */
  settled(): Promise<void> {
    return this.reconciling;
  }

  /** A fresh producer id (InitProducerId without a transactional id). */
  allocateProducerId(): Promise<number> {
    const run = async (): Promise<number> => {
      if (this.producerIds.next >= this.producerIds.end) {
        const block = await this.store.allocateProducerIds(1000);
        this.producerIds = { next: block.firstId, end: block.firstId + block.count };
      }
      return this.producerIds.next++;
    };
    const next = this.producerIdQueue.then(run, run);
    this.producerIdQueue = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    this.cancelRetention?.();
    this.cancelRetention = null;
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const c of this.connections) c.close('shutdown', 'broker stopping');
    await closed;
    await this.reconciling;
    await Promise.all([...this.opening.values()].map((p) => p.catch(() => undefined)));
    await Promise.all(
      [...this.partitions.values()].map(async (p) => {
        for (const l of this.partitionListeners) await l.closing(p);
        await p.close();
      }),
    );
    this.partitions.clear();
    await this.replication?.close();
    // Storage first: a shared-storage engine finishes its uploads and closes its WAL log,
    // and only then does the store tell the controller that this broker is gone.
    await this.storage?.close();
    await this.store?.close({ uploaded: this.storage?.closedClean() ?? false });
  }
}
