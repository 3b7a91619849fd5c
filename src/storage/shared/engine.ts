/**
 * The shared-storage engine: brokers keep no durable state of their own. A broker's
 * partitions append to its one WAL log on the quorum WAL (the hot tail) and are uploaded
 * to S3-compatible object storage (everything else), with the object index kept by the
 * controller. See shared-log.ts for one partition, uploader.ts for uploads, broker-wal.ts
 * for the WAL side, log-recovery.ts for what happens after a crash.
 *
 * Starting: the broker registered with the controller and got a WAL epoch newer than any
 * its log was written at. Before it serves anything, it recovers its own log at that
 * epoch (a previous incarnation may have left acknowledged data there that the controller
 * did not recover because the broker came back within its lease), uploads what belongs
 * to partitions it still owns, and then writes on at that epoch.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import { BlockCache, ObjectBuilder, type ObjectStore } from '../../../objectstore/index.ts';
import type { WalEndpoint } from '../../../wal/index.ts';
import type { PartitionId, StorageEngine } from '../engine.ts';
import type { LogConfig, PartitionLog } from '../partition-log.ts';
import { BrokerWal } from './broker-wal.ts';
import type { ObjectIndexClient } from './index-client.ts';
import { uploadPolicyDefault, type UploadPolicy } from './limits.ts';
import { recoverBrokerWal, type OwnedPartition } from './log-recovery.ts';
import { compactedObjectKey } from './object-keys.ts';
import { ObjectReads } from './object-reads.ts';
import { encodeSectionMeta } from './section-meta.ts';
import { SharedLog } from './shared-log.ts';
import { Uploader, UploaderMetrics } from './uploader.ts';

export interface SharedEngineOptions {
  brokerId: number;
  walNodes: readonly WalEndpoint[];
  walAckQuorum?: number;
  /** From the controller's registration answer. */
  walEpoch: number;
  objectStore: ObjectStore;
  /** Keys of this cluster's objects start with it (the controller collects garbage under it). */
  objectPrefix: string;
  index: ObjectIndexClient;
  /** Partitions this broker owns now, for the recovery of its own log at start. */
  owned(topic: string, partition: number): Promise<OwnedPartition | null>;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  /** Bytes of the block cache for reads from object storage. */
  cacheBytes?: number;
  upload?: Partial<UploadPolicy>;
  /** How often compaction looks for runs of small object ranges (default 30 s). */
  compactionIntervalMs?: number;
  /**
   * A recovery at a newer epoch fenced this broker's WAL log (the controller declared it
   * dead): it can never write at this epoch again. The process should stop, so that it
   * restarts, recovers at a new epoch and serves again.
   */
  onFenced?: (err: Error) => void;
}


/** How often compaction looks for runs of small objects, unless configured. */
export const COMPACTION_INTERVAL_MS_DEFAULT = 30_000;

export class SharedStorageEngine implements StorageEngine {
  readonly name = 'shared-storage';
  private readonly logs = new Set<SharedLog>();
  private backlogBytes = 0;
  private cancelCompaction: (() => void) | null = null;
  private compactSeq = 0;
  private clean = false;
  private readonly backlogBytesMax: number;
  private readonly compactions: Counter<'outcome'>;

  private constructor(
    private readonly opts: SharedEngineOptions,
    private readonly wal: BrokerWal,
    private readonly reads: ObjectReads,
    private readonly uploader: Uploader,
  ) {
    this.backlogBytesMax = opts.upload?.backlogBytesMax ?? uploadPolicyDefault.backlogBytesMax;
    const registers = [opts.registry];
    this.compactions = new Counter({ name: 'floe_broker_compactions_total', help: 'Runs of small objects merged into one, by outcome', labelNames: ['outcome'], registers });
    // Gauges read their value when scraped.
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    gauge('floe_broker_backlog_bytes', 'Bytes appended and not yet in object storage (beyond the limit appends are refused)', () => this.backlogBytes);
    gauge('floe_broker_wal_untrimmed_entries', "Entries of this broker's WAL log not yet trimmed", () => this.wal.untrimmedEntries());
    gauge('floe_broker_wal_reachable_nodes', 'WAL nodes this broker can write to now', () => this.wal.reachableNodes());
  }

  static async start(opts: SharedEngineOptions): Promise<SharedStorageEngine> {
    const recovered = await recoverBrokerWal({
      walNodes: opts.walNodes,
      ...(opts.walAckQuorum !== undefined ? { ackQuorum: opts.walAckQuorum } : {}),
      brokerId: opts.brokerId,
      newEpoch: opts.walEpoch,
      objectStore: opts.objectStore,
      keyPrefix: opts.objectPrefix,
      owned: (topic, partition) => opts.owned(topic, partition),
      commit: (req) => opts.index.commitObject(req),
      logger: opts.logger,
      keepWriter: true,
    });
    const commitSeconds = new Histogram({
      name: 'floe_broker_wal_commit_duration_seconds',
      help: 'From handing a WAL entry to the WAL client to its durability, by level (one node: acks=1; quorum: acks=all)',
      labelNames: ['level'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [opts.registry],
    });
    const wal = new BrokerWal(recovered.writer!, opts.clock, opts.logger, opts.onFenced, (level, seconds) => commitSeconds.observe({ level }, seconds));
    const cache = new BlockCache(opts.objectStore, { registry: opts.registry, ...(opts.cacheBytes !== undefined ? { capacityBytes: opts.cacheBytes } : {}) });
    const reads = new ObjectReads(opts.objectStore, cache);
    const uploader = new Uploader({
      brokerId: opts.brokerId,
      walEpoch: opts.walEpoch,
      prefix: opts.objectPrefix,
      store: opts.objectStore,
      index: opts.index,
      clock: opts.clock,
      logger: opts.logger,
      metrics: new UploaderMetrics(opts.registry),
      policy: { ...uploadPolicyDefault, ...opts.upload },
    });
    const engine = new SharedStorageEngine(opts, wal, reads, uploader);
    uploader.start();
    engine.scheduleCompaction();
    opts.logger.info({ walEpoch: opts.walEpoch, nextEntryId: recovered.nextEntryId, recoveredSections: recovered.sections.length }, 'shared storage ready');
    return engine;
  }

  async openLog(id: PartitionId, config: LogConfig): Promise<PartitionLog> {
    const log = await SharedLog.open(id, config, {
      brokerId: this.opts.brokerId,
      wal: this.wal,
      reads: this.reads,
      index: this.opts.index,
      backlog: {
        add: (bytes) => {
          this.backlogBytes += bytes;
        },
        exceeded: () => this.backlogBytes > this.backlogBytesMax,
        limitBytes: this.backlogBytesMax,
      },
      uploader: {
        register: (l) => {
          this.logs.add(l);
          this.uploader.register(l);
        },
        unregister: (l) => {
          this.logs.delete(l);
          this.uploader.unregister(l);
        },
        flush: (l, ms) => this.uploader.flush(l, ms),
      },
      logger: this.opts.logger,
    });
    return log;
  }

  availableReplicas(): number {
    return this.wal.reachableNodes();
  }

  /** The owner is the only replica; the WAL quorum and object storage hold the copies. */
  inSyncReplicas(_leader: number, isr: readonly number[]): number[] {
    return [...isr];
  }

  replicasRequired(minInsyncReplicas: number): number {
    return Math.max(minInsyncReplicas, this.wal.ackQuorum);
  }

  /** The partition's data lives in objects the controller indexes; deleting its topic drops the index. */
  deleteLog(): Promise<void> {
    return Promise.resolve();
  }

  private scheduleCompaction(): void {
    this.cancelCompaction = this.opts.clock.setTimer(this.opts.compactionIntervalMs ?? COMPACTION_INTERVAL_MS_DEFAULT, () => {
      this.compactAll()
        .catch((err: unknown) => this.opts.logger.warn({ err }, 'compaction pass failed'))
        .finally(() => this.scheduleCompaction());
    });
  }

  /** Merges, per partition, a run of small consecutive object ranges into one object. */
  async compactAll(): Promise<number> {
    let merged = 0;
    for (const log of [...this.logs]) {
      const run = log.compactionCandidates();
      if (run.length === 0) continue;
      try {
        const sections = await log.sectionsOf(run);
        const metas = await Promise.all(run.map((r) => this.reads.meta(r, log.streamId)));
        const last = metas[metas.length - 1];
        const builder = new ObjectBuilder();
        const entry = builder.addSection({
          streamId: log.streamId,
          startOffset: run[0]!.startOffset,
          endOffset: run[run.length - 1]!.endOffset,
          data: sections,
          metadata: encodeSectionMeta({
            maxTimestamp: Math.max(...metas.map((m) => m?.maxTimestamp ?? -1)),
            ...(last?.producers ? { producers: last.producers } : {}),
          }),
        });
        const built = builder.build();
        const key = compactedObjectKey(this.opts.objectPrefix, this.opts.brokerId, this.opts.walEpoch, this.compactSeq++);
        await this.opts.objectStore.put(key, built.chunks);
        const res = await this.opts.index.replaceObjects({
          brokerId: this.opts.brokerId,
          key,
          size: built.size,
          sections: [log.sectionOf(entry)],
        });
        if (res.errorCode !== 0) {
          this.compactions.inc({ outcome: 'refused' });
          this.opts.logger.info({ topic: log.id.topic, partition: log.id.partition, error: res.errorMessage }, 'compaction refused by the controller; the new object is garbage');
          continue;
        }
        log.rangesReplaced(run, { key, size: built.size, startOffset: entry.startOffset, endOffset: entry.endOffset, position: entry.position, length: entry.length });
        this.compactions.inc({ outcome: 'merged' });
        merged++;
      } catch (err) {
        this.compactions.inc({ outcome: 'failed' });
        this.opts.logger.warn({ err, topic: log.id.topic, partition: log.id.partition }, 'compaction failed');
      }
    }
    return merged;
  }

  async close(): Promise<void> {
    this.cancelCompaction?.();
    this.cancelCompaction = null;
    await this.uploader.stop();
    try {
      await this.wal.trimCommitted();
    } catch (err) {
      this.opts.logger.warn({ err }, 'final WAL trim failed; a recovery will find the data again (and keep nothing twice)');
    }
    this.clean = this.backlogBytes === 0 && this.wal.untrimmedEntries() === 0;
    await this.wal.close();
  }

  closedClean(): boolean {
    return this.clean;
  }
}
