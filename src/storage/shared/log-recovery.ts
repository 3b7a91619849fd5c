/**
 * Recovering a broker's WAL log into object storage: what the controller runs before it
 * moves a dead broker's partitions, and what a broker runs on its own log when it starts.
 *
 *  1. Fence the log at a new epoch and read every entry it still holds (wal/recovery.ts:
 *     every entry ever reported durable is among them).
 *  2. Keep the batches of the partitions still owned, from where each one's object index
 *     ends (entries may hold batches already committed but not yet trimmed).
 *  3. Pack them into one object, PUT it, commit its sections to the index.
 *  4. Trim the log: everything recovered is in object storage now.
 *
 * Only then may the partitions move (controller) or open (broker). Repeating a recovery is
 * safe: a second one finds the same entries, keeps nothing already committed, and fences
 * at a newer epoch.
 */
import type { Logger } from 'pino';
import { ObjectBuilder, type ObjectStore } from '../../../objectstore/index.ts';
import { recoverLog, WalClient, type WalEndpoint } from '../../../wal/index.ts';
import type { CommitObjectRequest, ObjectSection, SharedStorageResponse } from '../../metadata/controller-api.ts';
import { readBatchHeader } from '../../protocol/record-batch.ts';
import { recoveryObjectKey } from './object-keys.ts';
import { streamIdOf } from './object-reads.ts';
import { encodeSectionMeta } from './section-meta.ts';
import { decodeWalEntry, type WalBatch } from './wal-entry.ts';

export interface OwnedPartition {
  topicId: string;
  leaderEpoch: number;
  /** The end of the partition's object index: kept batches must continue from here. */
  endOffset: number;
}

export interface RecoverBrokerWalOptions {
  walNodes: readonly WalEndpoint[];
  ackQuorum?: number;
  brokerId: number;
  newEpoch: number;
  objectStore: ObjectStore;
  keyPrefix: string;
  /** The partitions whose recovered batches to keep; null for one not owned any more. */
  owned(topic: string, partition: number): OwnedPartition | null | Promise<OwnedPartition | null>;
  commit(req: CommitObjectRequest): Promise<SharedStorageResponse>;
  logger?: Logger;
  /** Keep the writer opened for the trim (a starting broker writes on with it). */
  keepWriter?: boolean;
}

export interface RecoveredBrokerWal {
  nextEntryId: number;
  sections: ObjectSection[];
  /** The writer at newEpoch, when keepWriter was set. */
  writer: WalClient | null;
}

export class WalRecoveryError extends Error {
  readonly code = 'FLOE_ERR_WAL_RECOVERY';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WalRecoveryError';
  }
}

/** How long a recovery waits for WAL nodes slower than the fence quorum (see above). */
export const RECOVERY_STRAGGLER_MS = 5_000;

export function walLogIdOf(brokerId: number): string {
  return `broker-${brokerId}`;
}

export async function recoverBrokerWal(opts: RecoverBrokerWalOptions): Promise<RecoveredBrokerWal> {
  const logId = walLogIdOf(opts.brokerId);
  const recovered = await recoverLog({
    nodes: opts.walNodes,
    logId,
    newEpoch: opts.newEpoch,
    // acks=1 writes are on one node only: wait for every node that answers at all, not
    // just a fence quorum and a short grace, or a slow node's acknowledged entries would
    // be left behind. A node that is down fails at once and costs no waiting.
    stragglerMs: RECOVERY_STRAGGLER_MS,
    ...(opts.ackQuorum !== undefined ? { ackQuorum: opts.ackQuorum } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });

  // Batches by partition, in entry order (which is offset order within a partition).
  const byPartition = new Map<string, WalBatch[]>();
  for (const e of recovered.entries) {
    for (const b of decodeWalEntry(e.payload)) {
      const k = `${b.topic}\u0000${b.partition}`;
      const list = byPartition.get(k);
      if (list) list.push(b);
      else byPartition.set(k, [b]);
    }
  }

  const builder = new ObjectBuilder();
  const pending: (ObjectSection & { leaderEpoch: number })[] = [];
  for (const batches of byPartition.values()) {
    const { topic, partition, topicId } = batches[0]!;
    const own = await opts.owned(topic, partition);
    if (!own || own.topicId !== topicId) continue;
    const kept = batches.filter((b) => b.baseOffset >= own.endOffset && b.topicId === topicId);
    if (kept.length === 0) continue;
    let expected = own.endOffset;
    for (const b of kept) {
      if (b.baseOffset !== expected) {
        // A gap would mean an acknowledged batch is missing: refuse rather than move on.
        throw new WalRecoveryError(`${topic}-${partition}: recovered batches jump from offset ${expected} to ${b.baseOffset} in ${logId}`);
      }
      expected = b.nextOffset;
    }
    const maxTimestamp = Math.max(...kept.map((b) => readBatchHeader(b.batch).maxTimestamp));
    const entry = builder.addSection({
      streamId: streamIdOf(topic, topicId, partition),
      startOffset: kept[0]!.baseOffset,
      endOffset: expected,
      data: kept.map((b) => b.batch),
      metadata: encodeSectionMeta({ maxTimestamp }),
    });
    pending.push({ topic, topicId, partition, leaderEpoch: own.leaderEpoch, startOffset: entry.startOffset, endOffset: entry.endOffset, position: entry.position, length: entry.length });
  }

  if (pending.length > 0) {
    const built = builder.build();
    const key = recoveryObjectKey(opts.keyPrefix, opts.brokerId, opts.newEpoch);
    await opts.objectStore.put(key, built.chunks);
    const res = await opts.commit({ brokerId: opts.brokerId, key, size: built.size, sections: pending });
    if (res.errorCode !== 0) {
      throw new WalRecoveryError(`committing the recovered data of ${logId} failed: ${res.errorMessage ?? `error ${res.errorCode}`}`);
    }
    opts.logger?.info({ logId, key, sections: pending.length, bytes: built.size }, 'recovered WAL data is in object storage');
  }

  const writer = await WalClient.open({
    nodes: opts.walNodes,
    logId,
    epoch: opts.newEpoch,
    nextEntryId: recovered.nextEntryId,
    ...(opts.ackQuorum !== undefined ? { ackQuorum: opts.ackQuorum } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  try {
    if (recovered.nextEntryId > 0) await writer.trim(recovered.nextEntryId);
  } catch (err) {
    await writer.close();
    throw new WalRecoveryError(`trimming ${logId} after recovery failed`, { cause: err });
  }
  if (!opts.keepWriter) {
    await writer.close();
    return { nextEntryId: recovered.nextEntryId, sections: pending, writer: null };
  }
  return { nextEntryId: recovered.nextEntryId, sections: pending, writer };
}
