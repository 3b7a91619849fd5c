/**
 * ReplicaManager: the shared-nothing broker's replication, between the broker (which
 * follows the metadata and decides which partitions it leads and which it follows) and
 * the pieces that do the work:
 *  - for a partition it leads: a ReplicatedLog over the partition's LocalLog, whose ISR
 *    changes go to the controller through `alterIsr`;
 *  - for a partition it follows: a FollowerReplica over the LocalLog, fetched for by the
 *    Fetcher of its leader (one per leader broker, stopped when it has nothing to fetch).
 *
 * A role change closes the log in its old role and opens it again in the new one (a
 * clean close stores the high watermark and leaves nothing for recovery to check), so that
 * each role owns its log outright. A follower that becomes leader is opened as a new
 * Partition, which rebuilds its idempotent-producer table from the batch headers it
 * replicated. High watermarks of followers are stored every
 * replica.high.watermark.checkpoint.interval.ms; leaders store their own.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock.ts';
import type { ClusterView, PartitionInfo } from '../../metadata/cluster-view.ts';
import type { PartitionId } from '../../storage/engine.ts';
import type { LocalStorageEngine } from '../../storage/local-engine.ts';
import type { LogConfig } from '../../storage/partition-log.ts';
import type { BrokerMetrics } from '../metrics.ts';
import { Fetcher, type Connect } from './fetcher.ts';
import { FollowerReplica } from './follower.ts';
import { ReplicatedLog, type AlterIsrAnswer } from './replicated-log.ts';
import type { ReplicationSettings } from './settings.ts';

/** The controller's AlterIsr, as the broker's metadata store offers it. */
export type AlterIsrCall = (req: { topic: string; partition: number; leaderEpoch: number; partitionEpoch?: number; isr: number[] }) => Promise<AlterIsrAnswer>;

/** A partition as the metadata gives it, with the ISR version when the controller sends one. */
export type ReplicaState = PartitionInfo & { partitionEpoch?: number };

export interface ReplicaManagerOptions {
  self: number;
  engine: LocalStorageEngine;
  view: () => ClusterView;
  alterIsr: AlterIsrCall;
  settings: ReplicationSettings;
  clock: Clock;
  logger: Logger;
  metrics: BrokerMetrics;
  /** How fetchers connect to leaders (tests replace it). */
  connect?: Connect;
}

export class ReplicaManager {
  private readonly followers = new Map<string, FollowerReplica>();
  private readonly fetchers = new Map<number, Fetcher>();
  private cancelCheckpoints: (() => void) | null = null;
  private closed = false;

  constructor(private readonly o: ReplicaManagerOptions) {
    this.scheduleCheckpoints();
  }

  get settings(): ReplicationSettings {
    return this.o.settings;
  }

  /** Opens the log of a partition this broker now leads. */
  async openLeader(id: PartitionId, config: LogConfig, p: ReplicaState, minInsyncReplicas: number): Promise<ReplicatedLog> {
    const local = await this.o.engine.openLocalLog(id, config);
    const m = this.o.metrics;
    return new ReplicatedLog({
      local,
      topic: id.topic,
      partition: id.partition,
      self: this.o.self,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
      partitionEpoch: p.partitionEpoch ?? 0,
      minInsyncReplicas,
      lagTimeMaxMs: this.o.settings.lagTimeMaxMs,
      isrRetryBackoffMs: this.o.settings.fetchBackoffMs,
      highWatermarkCheckpointIntervalMs: this.o.settings.highWatermarkCheckpointIntervalMs,
      alterIsr: ({ isr, partitionEpoch }) => this.o.alterIsr({ topic: id.topic, partition: id.partition, leaderEpoch: p.leaderEpoch, partitionEpoch, isr }),
      events: {
        isrShrunk: (_topic, _partition, removed) => m.isrShrinks.inc(removed.length),
        isrExpanded: (_topic, _partition, added) => m.isrExpands.inc(added.length),
      },
      clock: this.o.clock,
      logger: this.o.logger,
    });
  }

  /** The partitions followed now, by the broker's key. */
  followed(): ReadonlyMap<string, { topicId: string }> {
    return this.followers;
  }

  /** Follows a partition: opens its replica if needed and points it at the current leader. */
  async follow(key: string, id: PartitionId, config: LogConfig, p: ReplicaState): Promise<void> {
    if (this.closed) return;
    let f = this.followers.get(key);
    if (!f) {
      const local = await this.o.engine.openLocalLog(id, config);
      const lag = this.o.metrics.followerLagOffsets.labels({ topic: id.topic, partition: String(id.partition) });
      f = new FollowerReplica({
        topic: id.topic,
        partition: id.partition,
        topicId: id.topicId,
        local,
        clock: this.o.clock,
        logger: this.o.logger,
        errorBackoffMs: this.o.settings.fetchBackoffMs,
        onReady: () => this.fetchers.get(this.followers.get(key)?.leader ?? -1)?.poke(),
        onLag: (n) => lag.set(n),
      });
      this.followers.set(key, f);
    }
    const from = f.leader;
    if (from === p.leader && f.leaderEpoch === p.leaderEpoch) return;
    if (from >= 0) await this.detach(f, from);
    await f.follow(p.leader, p.leaderEpoch);
    if (p.leader >= 0 && this.followers.get(key) === f) this.fetcherFor(p.leader).add(f);
  }

  /** Stops following a partition and closes its log (removes it when its topic is gone). */
  async stopFollowing(key: string, opts: { destroy?: boolean } = {}): Promise<void> {
    const f = this.followers.get(key);
    if (!f) return;
    this.followers.delete(key);
    if (f.leader >= 0) await this.detach(f, f.leader);
    this.o.metrics.followerLagOffsets.remove({ topic: f.topic, partition: String(f.partition) });
    await f.close(opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelCheckpoints?.();
    this.cancelCheckpoints = null;
    await Promise.all([...this.followers.keys()].map((k) => this.stopFollowing(k)));
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()));
    this.fetchers.clear();
  }

  private fetcherFor(leader: number): Fetcher {
    let f = this.fetchers.get(leader);
    if (!f) {
      f = new Fetcher({
        self: this.o.self,
        leader,
        address: () => {
          const b = this.o.view().brokers.find((x) => x.id === leader);
          return b ? { host: b.host, port: b.port } : null;
        },
        settings: this.o.settings,
        clock: this.o.clock,
        logger: this.o.logger,
        ...(this.o.connect ? { connect: this.o.connect } : {}),
        onFetched: (bytes) => this.o.metrics.replicationFetchedBytes.inc(bytes),
      });
      this.fetchers.set(leader, f);
    }
    return f;
  }

  /** Takes `f` off its leader's fetcher, stopping the fetcher when nothing is left to fetch there. */
  private async detach(f: FollowerReplica, leader: number): Promise<void> {
    const fetcher = this.fetchers.get(leader);
    if (!fetcher) return;
    fetcher.remove(f);
    if (fetcher.size === 0) {
      this.fetchers.delete(leader);
      await fetcher.stop();
    }
  }

  private scheduleCheckpoints(): void {
    this.cancelCheckpoints = this.o.clock.setTimer(this.o.settings.highWatermarkCheckpointIntervalMs, () => {
      this.cancelCheckpoints = null;
      if (this.closed) return;
      void Promise.all([...this.followers.values()].map((f) => f.checkpoint())).finally(() => {
        if (!this.closed) this.scheduleCheckpoints();
      });
    });
  }
}
