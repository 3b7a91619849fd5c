// Fetch (1), served at v4–12 (message format v2 needs v4+). Reads whole batches from the
// batch containing each fetch offset, up to the high watermark (the last stable offset
// too: floe has no transactions). Long-poll: when fewer than min_bytes of records are
// available, the request waits for any of its partitions to grow, never longer than
// max_wait_ms, and returns early with any error.
//
// Size limits follow KIP-74: partition_max_bytes per partition and max_bytes for the
// whole response, except that the first batch found is always returned whole, so that a
// consumer makes progress past a batch larger than its limits.
//
// A fetch with replica_id ≥ 0 comes from a follower (shared-nothing replication); for a
// partition without replication (shared storage, a standalone broker) it is read as a
// consumer's, as before. It is answered only for partitions this broker leads with that
// replica among their replicas (NOT_LEADER_OR_FOLLOWER otherwise), at the leader epoch
// the follower names (FENCED_LEADER_EPOCH when it names an older one,
// UNKNOWN_LEADER_EPOCH a newer one); it reads up to the leader's committed end rather
// than the high watermark, its fetch offset is the follower's progress report (recorded
// once per request), and it long-polls on appends rather than on high-watermark advances.
import type { RequestOf, ResponseOf } from '../../protocol/api.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { Fetch } from '../../protocol/messages/01-fetch.ts';
import type { Broker } from '../broker.ts';
import { BrokerLimits } from '../limits.ts';
import type { FetchSlice, Partition } from '../partition.ts';
import { defineHandler } from '../registry.ts';

type FetchRequest = RequestOf<typeof Fetch>;
type PartitionResponse = ResponseOf<typeof Fetch>['responses'][number]['partitions'][number];

interface Target {
  topic: string;
  partition: number;
  fetchOffset: number;
  maxBytes: number;
  part: Partition | null;
  lookupError: number;
}

/** A follower's replica id; -1 for consumers. */
type ReplicaId = number;

function targetsOf(broker: Broker, req: FetchRequest): Target[] {
  const out: Target[] = [];
  const replica = req.replicaId >= 0;
  for (const t of req.topics) {
    for (const p of t.partitions) {
      const lookup = broker.partition(t.topic, p.partition);
      let part = lookup.ok ? lookup.partition : null;
      let lookupError: number = lookup.ok ? ErrorCode.NONE : lookup.errorCode;
      if (replica && part?.replication && p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== part.leaderEpoch) {
        lookupError = p.currentLeaderEpoch < part.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
        part = null;
      }
      out.push({ topic: t.topic, partition: p.partition, fetchOffset: p.fetchOffset, maxBytes: Math.max(0, p.partitionMaxBytes), part, lookupError });
    }
  }
  return out;
}

function readOne(t: Target & { part: Partition }, replicaId: ReplicaId, budget: number): Promise<FetchSlice> {
  return replicaId >= 0 && t.part.replication !== null ? t.part.readForFollower(replicaId, t.fetchOffset, budget) : t.part.read(t.fetchOffset, budget);
}

async function readAll(targets: Target[], responseBytesMax: number, replicaId: ReplicaId): Promise<{ slices: (FetchSlice | null)[]; bytes: number; error: boolean }> {
  const slices: (FetchSlice | null)[] = [];
  let bytes = 0;
  let error = false;
  // Sequential on purpose: the response budget left for a partition depends on what the
  // partitions before it returned.
  for (const t of targets) {
    if (!t.part) {
      slices.push(null);
      error = true;
      continue;
    }
    const budget = bytes === 0 ? Math.max(1, t.maxBytes) : Math.min(t.maxBytes, responseBytesMax - bytes);
    if (budget <= 0 && bytes > 0) {
      slices.push({ errorCode: ErrorCode.NONE, highWatermark: t.part.log.highWatermark(), logStartOffset: t.part.log.logStartOffset(), chunks: [], bytes: 0 });
      continue;
    }
    const slice = await readOne({ ...t, part: t.part }, replicaId, budget);
    if (slice.errorCode !== ErrorCode.NONE) error = true;
    bytes += slice.bytes;
    slices.push(slice);
  }
  return { slices, bytes, error };
}

function waitForData(broker: Broker, targets: Target[], ms: number, replicaId: ReplicaId): Promise<void> {
  return new Promise((resolve) => {
    const cancels: (() => void)[] = [];
    const done = (): void => {
      for (const c of cancels) c();
      resolve();
    };
    cancels.push(broker.clock.setTimer(ms, done));
    for (const t of targets) {
      if (!t.part) continue;
      // onData also fires when the partition closes, which ends a follower's wait too.
      cancels.push(t.part.onData(done));
      if (replicaId >= 0 && t.part.replication !== null) cancels.push(t.part.onFollowerData(done));
    }
  });
}

export const fetchHandler = defineHandler({
  api: Fetch,
  minVersion: 4,
  maxVersion: 12,
  async handle(ctx, req) {
    const broker = ctx.broker;
    const responseBytesMax = Math.min(Math.max(req.maxBytes, 1), BrokerLimits.fetchResponseBytesMax);
    const deadline = broker.clock.monotonic() + Math.min(Math.max(req.maxWaitMs, 0), BrokerLimits.fetchWaitMsMax);
    const targets = targetsOf(broker, req);
    const replicaId = Math.max(req.replicaId, -1);
    // A follower's fetch offsets are its progress: recorded once, when the request arrives.
    if (replicaId >= 0) for (const t of targets) t.part?.recordFollowerFetch(replicaId, t.fetchOffset);
    let read = await readAll(targets, responseBytesMax, replicaId);
    for (;;) {
      const left = deadline - broker.clock.monotonic();
      if (read.error || read.bytes >= Math.max(req.minBytes, 1) || left <= 0 || targets.length === 0) break;
      await waitForData(broker, targets, left, replicaId);
      read = await readAll(targets, responseBytesMax, replicaId);
    }
    broker.metrics.fetchedBytes.inc(read.bytes);
    const readCommitted = req.isolationLevel === 1;
    const byTopic = new Map<string, PartitionResponse[]>();
    targets.forEach((t, i) => {
      const slice = read.slices[i] ?? null;
      const list = byTopic.get(t.topic) ?? [];
      byTopic.set(t.topic, list);
      list.push({
        partitionIndex: t.partition,
        errorCode: slice ? slice.errorCode : t.lookupError,
        highWatermark: slice ? slice.highWatermark : -1,
        lastStableOffset: slice ? slice.highWatermark : -1,
        logStartOffset: slice ? slice.logStartOffset : -1,
        abortedTransactions: readCommitted ? [] : null,
        preferredReadReplica: -1,
        records: slice && slice.chunks.length > 0 ? slice.chunks : Buffer.alloc(0),
      });
    });
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      sessionId: 0,
      responses: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    };
  },
});
