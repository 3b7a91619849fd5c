/**
 * ReplicatedLog: the PartitionLog of a partition this broker leads in a shared-nothing
 * cluster, wrapping its LocalLog. Appends go to the local log as before; what changes is
 * what "fully durable" and "high watermark" mean:
 *
 *  - the high watermark is the smallest log end over the ISR (LeaderIsr), where the
 *    leader's own log end is its committed end (what followers can fetch) and a
 *    follower's is the offset of its latest fetch. Consumers read below it only;
 *  - `fullyDurable` (acks=all) resolves once the high watermark passes the batch and the
 *    committed ISR still has at least min.insync.replicas members then; with fewer it
 *    rejects with FLOE_ERR_STORAGE_UNAVAILABLE (NOT_ENOUGH_REPLICAS_AFTER_APPEND), and it
 *    rejects with FLOE_ERR_STORAGE_CLOSED (NOT_LEADER_OR_FOLLOWER) when this broker stops
 *    leading first. The produce handler's deadline gives REQUEST_TIMED_OUT;
 *  - followers read up to the committed end (`readForFollower`), and each fetch they make
 *    is their progress report (`followerFetched`).
 *
 * ISR changes are asked of the controller (AlterIsr, fenced by leader and partition
 * epoch): a shrink when a member has lagged longer than replica.lag.time.max.ms (checked
 * every half of it, as Kafka does), an expansion when a replica has caught up (checked at
 * its fetches). The committed ISR changes only when the controller says so, through its
 * answer or a newer metadata version (`update`).
 *
 * The high watermark is stored in the local log's checkpoint every
 * replica.high.watermark.checkpoint.interval.ms and on close: it is where this replica
 * checks its log from if it becomes a follower (truncation.ts).
 */
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock.ts';
import type { BatchHeader } from '../../protocol/record-batch.ts';
import type { LocalLog } from '../../storage/local-log/index.ts';
import { OffsetOutOfRangeError, StorageError, type AppendResult, type PartitionLog, type ReadResult } from '../../storage/partition-log.ts';
import type { ProducerSnapshot } from '../../storage/producer-state.ts';
import { LeaderIsr, type IsrProposal } from './isr.ts';

/** The controller's answer to an ISR change: Kafka's error code and the partition as it now is. */
export interface AlterIsrAnswer {
  errorCode: number;
  partition: { leader: number; leaderEpoch: number; replicas: number[]; isr: number[]; partitionEpoch: number } | null;
}

/** Asks the controller for a new ISR of this partition (bound to its topic, partition and leader epoch). */
export type AlterIsr = (req: { isr: number[]; partitionEpoch: number }) => Promise<AlterIsrAnswer>;

/** The controller's codes an AlterIsr answer is read by. */
const ALTER_ISR_NONE = 0;
const ALTER_ISR_INVALID_UPDATE_VERSION = 95;

/** What the Kafka layer needs of a replicated leader beyond the PartitionLog seam. */
export interface LeaderReplication {
  replicas(): readonly number[];
  isr(): readonly number[];
  /**
   * A follower's fetch at `fetchOffset` (a valid offset: see `validFetchOffset`): records its
   * progress, which may advance the high watermark or let it join the ISR. False when
   * `replicaId` is not a follower of this partition.
   */
  followerFetched(replicaId: number, fetchOffset: number): boolean;
  /** Whether a follower may fetch at `offset`: from the log start to the leader's committed end. */
  validFetchOffset(offset: number): boolean;
  /** Whole batches from `offset` up to the committed end (not the high watermark). */
  readForFollower(offset: number, maxBytes: number): Promise<ReadResult>;
  /** Calls `listener` whenever the committed end advances (followers long-poll on it); returns its cancel. */
  onFollowerData(listener: () => void): () => void;
  /** A newer committed state from the metadata, and the topic's min.insync.replicas. */
  update(state: { replicas: readonly number[]; isr: readonly number[]; partitionEpoch: number }, minInsyncReplicas: number): void;
}

export interface ReplicationEvents {
  isrShrunk(topic: string, partition: number, removed: readonly number[]): void;
  isrExpanded(topic: string, partition: number, added: readonly number[]): void;
}

export interface ReplicatedLogOptions {
  local: LocalLog;
  topic: string;
  partition: number;
  self: number;
  leaderEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
  partitionEpoch: number;
  minInsyncReplicas: number;
  lagTimeMaxMs: number;
  /** No new ISR proposal this long after the controller refused one or could not be reached. */
  isrRetryBackoffMs: number;
  highWatermarkCheckpointIntervalMs: number;
  alterIsr: AlterIsr;
  events: ReplicationEvents;
  clock: Clock;
  logger: Logger;
}

interface DurableWait {
  end: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class ReplicatedLog implements PartitionLog, LeaderReplication {
  private readonly local: LocalLog;
  private readonly state: LeaderIsr;
  private readonly hwListeners = new Set<(highWatermark: number) => void>();
  private readonly dataListeners = new Set<() => void>();
  /** acks=all waits, in offset order. */
  private readonly waits: DurableWait[] = [];
  private minInsync: number;
  private closed = false;
  private checkpointed: number;
  private readonly unsubscribe: () => void;
  private cancelIsrCheck: (() => void) | null = null;
  private cancelCheckpoint: (() => void) | null = null;

  constructor(private readonly o: ReplicatedLogOptions) {
    this.local = o.local;
    this.minInsync = o.minInsyncReplicas;
    const committedEnd = o.local.highWatermark();
    // Start from what this replica last knew was committed; the followers' first fetches
    // move it on (or at once, when the leader is the whole ISR).
    const start = Math.min(Math.max(o.local.storedHighWatermark() ?? o.local.logStartOffset(), o.local.logStartOffset()), committedEnd);
    this.checkpointed = start;
    this.state = new LeaderIsr({
      self: o.self,
      replicas: o.replicas,
      isr: o.isr.includes(o.self) ? o.isr : [o.self, ...o.isr],
      partitionEpoch: o.partitionEpoch,
      highWatermark: start,
      leaderEpochStartOffset: o.local.logEndOffset(),
      lagMaxMs: o.lagTimeMaxMs,
      retryBackoffMs: o.isrRetryBackoffMs,
      nowMs: o.clock.monotonic(),
    });
    this.unsubscribe = o.local.onHighWatermark(() => {
      this.advance();
      for (const l of [...this.dataListeners]) l();
    });
    this.scheduleIsrCheck();
    this.scheduleCheckpoint();
    this.advance();
  }

  // ---------------------------------------------------------------- PartitionLog

  logStartOffset(): number {
    return this.local.logStartOffset();
  }
  logEndOffset(): number {
    return this.local.logEndOffset();
  }
  highWatermark(): number {
    return this.state.highWatermark;
  }
  sizeBytes(): number {
    return this.local.sizeBytes();
  }

  append(batch: Buffer, header: BatchHeader): AppendResult {
    const r = this.local.append(batch, header);
    const end = r.baseOffset + header.lastOffsetDelta + 1;
    let wait!: DurableWait;
    const fullyDurable = new Promise<void>((resolve, reject) => {
      wait = { end, resolve, reject };
    });
    fullyDurable.catch(() => undefined);
    r.leaderDurable.then(
      () => this.enqueue(wait),
      (err: unknown) => wait.reject(err instanceof Error ? err : new Error(String(err))),
    );
    return { baseOffset: r.baseOffset, leaderDurable: r.leaderDurable, fullyDurable };
  }

  read(offset: number, maxBytes: number, maxOffset: number): Promise<ReadResult> {
    return this.local.read(offset, maxBytes, maxOffset);
  }
  offsetForTimestamp(timestamp: number): Promise<number | null> {
    return this.local.offsetForTimestamp(timestamp);
  }
  scanHeaders(fromOffset: number, visit: (h: BatchHeader) => void): Promise<void> {
    return this.local.scanHeaders(fromOffset, visit);
  }
  producerSnapshot(): Promise<{ snapshot: ProducerSnapshot | null; fromOffset: number }> {
    return this.local.producerSnapshot();
  }

  async advanceLogStart(offset: number): Promise<void> {
    // Followers must still find what they have not fetched below the high watermark.
    if (offset > this.highWatermark()) throw new OffsetOutOfRangeError(offset, this.logStartOffset(), this.highWatermark());
    await this.local.advanceLogStart(offset);
  }
  maintain(nowMs: number): Promise<void> {
    return this.local.maintain(nowMs);
  }
  onHighWatermark(listener: (highWatermark: number) => void): () => void {
    this.hwListeners.add(listener);
    return () => this.hwListeners.delete(listener);
  }
  flush(): Promise<void> {
    return this.local.flush();
  }

  async close(): Promise<void> {
    if (!this.stop()) return;
    try {
      await this.local.checkpointHighWatermark(this.state.highWatermark);
    } catch (err) {
      this.o.logger.warn({ err, topic: this.o.topic, partition: this.o.partition }, 'storing the high watermark on close failed');
    }
    await this.local.close();
  }

  async destroy(): Promise<void> {
    this.stop();
    await this.local.destroy();
  }

  // ---------------------------------------------------------------- LeaderReplication

  replicas(): readonly number[] {
    return this.state.replicas;
  }
  isr(): readonly number[] {
    return this.state.isr;
  }

  validFetchOffset(offset: number): boolean {
    return offset >= this.local.logStartOffset() && offset <= this.local.highWatermark();
  }

  followerFetched(replicaId: number, fetchOffset: number): boolean {
    if (this.closed) return false;
    if (!this.state.recordFetch(replicaId, fetchOffset, this.local.highWatermark(), this.o.clock.monotonic())) return false;
    this.advance();
    this.maybePropose();
    return true;
  }

  readForFollower(offset: number, maxBytes: number): Promise<ReadResult> {
    return this.local.read(offset, maxBytes, this.local.highWatermark());
  }

  onFollowerData(listener: () => void): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  update(state: { replicas: readonly number[]; isr: readonly number[]; partitionEpoch: number }, minInsyncReplicas: number): void {
    if (this.closed) return;
    this.minInsync = minInsyncReplicas;
    this.state.applyCommitted(state, this.o.clock.monotonic());
    this.advance();
    this.maybePropose();
  }

  // ---------------------------------------------------------------- internals

  /** Marks the log closed; false when it already was. */
  private stop(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.unsubscribe();
    this.cancelIsrCheck?.();
    this.cancelCheckpoint?.();
    const err = new StorageError('FLOE_ERR_STORAGE_CLOSED', `${this.o.topic}-${this.o.partition} is no longer led here`);
    for (const w of this.waits.splice(0)) w.reject(err);
    this.hwListeners.clear();
    this.dataListeners.clear();
    return true;
  }

  private enqueue(w: DurableWait): void {
    if (this.closed) {
      w.reject(new StorageError('FLOE_ERR_STORAGE_CLOSED', `${this.o.topic}-${this.o.partition} is no longer led here`));
      return;
    }
    // Groups commit in offset order, so this is almost always a push.
    let i = this.waits.length;
    while (i > 0 && this.waits[i - 1]!.end > w.end) i--;
    this.waits.splice(i, 0, w);
    this.settleWaits();
  }

  /** Recomputes the high watermark; on an advance, tells the listeners and settles acks=all waits. */
  private advance(): void {
    if (this.closed || !this.state.updateHighWatermark(this.local.highWatermark())) return;
    const hw = this.state.highWatermark;
    for (const l of [...this.hwListeners]) {
      try {
        l(hw);
      } catch (err) {
        this.o.logger.error({ err, topic: this.o.topic, partition: this.o.partition }, 'high watermark listener threw');
      }
    }
    this.settleWaits();
  }

  private settleWaits(): void {
    const hw = this.state.highWatermark;
    while (this.waits.length > 0 && this.waits[0]!.end <= hw) {
      const w = this.waits.shift()!;
      const isr = this.state.isr.length;
      if (isr >= this.minInsync) w.resolve();
      else w.reject(new StorageError('FLOE_ERR_STORAGE_UNAVAILABLE', `the ISR shrank to ${isr} replica(s), below min.insync.replicas ${this.minInsync}, while the batch waited`));
    }
  }

  private maybePropose(): void {
    if (this.closed) return;
    const proposal = this.state.propose(this.local.highWatermark(), this.o.clock.monotonic());
    if (proposal === null) return;
    this.o
      .alterIsr({ isr: proposal.isr, partitionEpoch: this.state.partitionEpoch })
      .then(
        (answer) => this.onAnswer(proposal, answer),
        (err: unknown) => {
          this.o.logger.warn({ err, topic: this.o.topic, partition: this.o.partition, proposal }, 'ISR change not delivered to the controller; retrying later');
          this.state.settle(null, this.o.clock.monotonic());
        },
      )
      .finally(() => {
        this.advance();
        this.maybePropose();
      });
  }

  private onAnswer(proposal: IsrProposal, answer: AlterIsrAnswer): void {
    if (this.closed) return;
    const now = this.o.clock.monotonic();
    const p = answer.partition;
    const ours = p !== null && p.leader === this.o.self && p.leaderEpoch === this.o.leaderEpoch;
    if (answer.errorCode === ALTER_ISR_NONE && ours) {
      this.state.settle(p, now);
      this.o.logger.info({ topic: this.o.topic, partition: this.o.partition, isr: p.isr, partitionEpoch: p.partitionEpoch }, `ISR ${proposal.kind === 'shrink' ? 'shrunk' : 'expanded'}`);
      if (proposal.kind === 'shrink') this.o.events.isrShrunk(this.o.topic, this.o.partition, proposal.removed);
      else this.o.events.isrExpanded(this.o.topic, this.o.partition, proposal.added);
      return;
    }
    if (answer.errorCode === ALTER_ISR_INVALID_UPDATE_VERSION && ours) {
      // The partition changed meanwhile (a broker died, say): decide again from its state now.
      this.state.settle(p, now);
      return;
    }
    // Not the leader any more (the metadata will close this log), or a replica the
    // controller holds dead: try again after the backoff.
    this.o.logger.warn({ topic: this.o.topic, partition: this.o.partition, proposal, errorCode: answer.errorCode }, 'the controller refused an ISR change');
    this.state.settle(null, now);
  }

  private scheduleIsrCheck(): void {
    const every = Math.max(1, Math.floor(this.o.lagTimeMaxMs / 2));
    this.cancelIsrCheck = this.o.clock.setTimer(every, () => {
      this.cancelIsrCheck = null;
      if (this.closed) return;
      this.maybePropose();
      this.scheduleIsrCheck();
    });
  }

  private scheduleCheckpoint(): void {
    this.cancelCheckpoint = this.o.clock.setTimer(this.o.highWatermarkCheckpointIntervalMs, () => {
      this.cancelCheckpoint = null;
      if (this.closed) return;
      const hw = this.state.highWatermark;
      const done = hw === this.checkpointed ? Promise.resolve() : this.local.checkpointHighWatermark(hw).then(() => void (this.checkpointed = hw));
      void done
        .catch((err: unknown) => this.o.logger.warn({ err, topic: this.o.topic, partition: this.o.partition }, 'storing the high watermark failed'))
        .finally(() => {
          if (!this.closed) this.scheduleCheckpoint();
        });
    });
  }
}
