/**
 * A storage engine opens the logs of the partitions a broker serves. Engines: the local
 * segmented log (shared-nothing) and, later, the shared-storage engine.
 */
import type { LogConfig, PartitionLog } from './partition-log.ts';

export interface PartitionId {
  topic: string;
  partition: number;
  /** The topic's id: a re-created topic of the same name gets fresh storage. */
  topicId: string;
  /** This broker's leader epoch for the partition: what fences its writes in shared storage. */
  leaderEpoch: number;
}

export interface StorageEngine {
  readonly name: string;
  openLog(id: PartitionId, config: LogConfig): Promise<PartitionLog>;
  /**
   * How many replicas can acknowledge an acks=all write for this partition right now
   * (ISR members for replicated local logs; reachable WAL nodes for shared storage).
   * Compared with min.insync.replicas before appending.
   */
  availableReplicas(id: PartitionId, isr: readonly number[]): number;
  /**
   * The replicas that really hold a partition's acknowledged data, given its leader and
   * the ISR the controller records: what Metadata reports as the ISR. An engine that does
   * not replicate answers the leader alone, so that clients are never told more copies
   * exist than do.
   */
  inSyncReplicas(leader: number, isr: readonly number[]): number[];
  /**
   * How many replicas an acks=all write needs, given the topic's min.insync.replicas: the
   * setting itself for replicated local logs; never fewer than the WAL ack quorum in
   * shared storage (acks=all waits for the quorum whatever the setting).
   */
  replicasRequired(minInsyncReplicas: number): number;
  /** Removes the data of a partition that is not open (its topic was deleted). */
  deleteLog(id: PartitionId): Promise<void>;
  close(): Promise<void>;
  /** After close(): true when nothing the engine wrote needs a recovery (all uploaded, WAL trimmed). */
  closedClean(): boolean;
}
