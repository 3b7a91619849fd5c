/**
 * The controller's side of a dead broker's WAL recovery (shared-storage mode): the seam
 * to the recovery procedure itself (src/storage/shared/log-recovery.ts, recoverBrokerWal,
 * which fences the broker's WAL log on the WAL nodes, reads every entry the fenced nodes
 * hold, uploads the batches of the partitions the broker still owned and commits them),
 * and the parsing of the `--wal-nodes` flag.
 *
 * The controller runs it in its failover, after bumping the dead broker's WAL epoch
 * durably and before the broker's partitions get new owners (controller.ts). The
 * procedure is injected as a function so that the controller's logic is tested with a
 * stub and the process wires the real one (main.ts).
 */
import type { Logger } from 'pino';
import type { ObjectStore } from '../objectstore/object-store.ts';
import type { CommitObjectRequest, ObjectSection, SharedStorageResponse } from '../src/metadata/controller-api.ts';
import { parseWalEndpoints } from '../wal/endpoints.ts';
import { ControllerConfigError } from './errors.ts';

export interface WalNode {
  host: string;
  port: number;
}

/** A partition the dead broker owned, as its recovery must continue it. */
export interface OwnedPartition {
  topicId: string;
  leaderEpoch: number;
  endOffset: number;
}

/** The options of recoverBrokerWal (src/storage/shared/log-recovery.ts). */
export interface RecoverBrokerWalOptions {
  walNodes: WalNode[];
  ackQuorum?: number;
  brokerId: number;
  newEpoch: number;
  objectStore: ObjectStore;
  keyPrefix: string;
  /** The partitions whose recovered batches to keep, with the end offset each must continue from. */
  owned(topic: string, partition: number): OwnedPartition | null;
  /** Commits the uploaded object (same validation as the commitObject route; sections carry leaderEpoch from owned()). */
  commit(req: CommitObjectRequest): Promise<SharedStorageResponse>;
  logger?: Logger;
}

export type RecoverBrokerWal = (opts: RecoverBrokerWalOptions) => Promise<{ nextEntryId: number; sections: ObjectSection[] }>;

export interface WalRecoveryConfig {
  recover: RecoverBrokerWal;
  walNodes: WalNode[];
  /** Default: a majority of walNodes. */
  ackQuorum?: number;
}

/** `host:port,host:port,…` as WAL node addresses (parsed by wal/; errors are config errors here). */
export function parseWalNodes(spec: string): WalNode[] {
  try {
    return parseWalEndpoints(spec);
  } catch (err) {
    throw new ControllerConfigError(err instanceof Error ? err.message : String(err));
  }
}

/** The ack quorum: as given (checked against the node count), else a majority. */
export function ackQuorumFor(nodes: number, given: number | undefined): number {
  const q = given ?? Math.floor(nodes / 2) + 1;
  if (!Number.isInteger(q) || q < 1 || q > nodes) throw new ControllerConfigError(`the WAL ack quorum must be in [1, ${nodes}], got ${q}`);
  return q;
}
