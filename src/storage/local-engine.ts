/**
 * The local storage engine: one LocalLog directory per partition under
 * `<dataDir>/logs/<topic>-<partition>-<topicId prefix>`.
 *
 * `replicated` says whether followers replicate these logs (a shared-nothing broker that
 * follows a controller): then the ISR the controller records is the real one — leaders
 * keep it up to date through AlterIsr — and Metadata and min.insync.replicas count its
 * members. Without replication (a standalone broker) only the leader holds the data, and
 * the ISR is reported as the leader alone.
 */
import * as path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../common/clock.ts';
import type { FileSystem } from '../common/fs.ts';
import type { PartitionId, StorageEngine } from './engine.ts';
import { LocalLog } from './local-log/index.ts';
import type { LogConfig, PartitionLog } from './partition-log.ts';

export class LocalStorageEngine implements StorageEngine {
  readonly name = 'local';
  constructor(
    private readonly opts: { dataDir: string; fs: FileSystem; clock: Clock; logger: Logger; replicated?: boolean },
  ) {}

  /** Whether followers replicate these logs (see the top of this file). */
  get replicated(): boolean {
    return this.opts.replicated === true;
  }

  private dirOf(id: PartitionId): string {
    return path.join(this.opts.dataDir, 'logs', `${id.topic}-${id.partition}-${id.topicId.slice(0, 8)}`);
  }

  openLog(id: PartitionId, config: LogConfig): Promise<PartitionLog> {
    return this.openLocalLog(id, config);
  }

  /** The partition's LocalLog itself (replication needs more of it than the PartitionLog seam). */
  async openLocalLog(id: PartitionId, config: LogConfig): Promise<LocalLog> {
    const dir = this.dirOf(id);
    await this.opts.fs.mkdirp(dir);
    return LocalLog.open({ dir, fs: this.opts.fs, clock: this.opts.clock, config, logger: this.opts.logger });
  }

  availableReplicas(_id: PartitionId, isr: readonly number[]): number {
    return this.replicated ? isr.length : Math.min(isr.length, 1);
  }

  inSyncReplicas(leader: number, isr: readonly number[]): number[] {
    if (this.replicated) return [...isr];
    return leader >= 0 ? [leader] : [];
  }

  replicasRequired(minInsyncReplicas: number): number {
    return minInsyncReplicas;
  }

  async deleteLog(id: PartitionId): Promise<void> {
    // Opening runs recovery, which a log about to be deleted does not need; it is rare
    // (a topic deleted while this broker was down) and keeps one way of removing a log.
    const log = await this.openLog(id, { segmentBytes: 1 << 30, segmentMs: 1 << 30, retentionMs: -1, retentionBytes: -1, indexIntervalBytes: 4096, fsync: { kind: 'never' } });
    await log.destroy();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Local logs are the data itself: there is nothing another broker could recover. */
  closedClean(): boolean {
    return false;
  }
}
