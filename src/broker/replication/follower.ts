/**
 * FollowerReplica: one partition this broker holds a replica of but does not lead. It owns
 * the partition's LocalLog and applies what a Fetcher brings from the leader: batches
 * appended at the leader's offsets, the leader's high watermark, its log start.
 *
 * Every change to the log runs through one promise chain, so truncations, appends,
 * high-watermark checkpoints and the close never overlap. A new leader (or leader epoch)
 * starts a new generation: the replica first truncates to the high watermark it knows
 * (truncation.ts), then fetches again; answers to fetches of an older generation are
 * dropped. A fetch is reported to the leader only once what the previous one brought is
 * written to the log (appendAsFollower's leaderDurable): the offset a follower fetches
 * from is what it has, which is what the leader's high watermark counts.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock.ts';
import { ErrorCode, errorName } from '../../protocol/errors.ts';
import { crcMatches, readBatchHeader, scanBatches, type BatchHeader } from '../../protocol/record-batch.ts';
import type { LocalLog } from '../../storage/local-log/index.ts';
import { followerHighWatermark, onOutOfRange, placeBatch, truncationPoint } from './truncation.ts';

/** One partition of a fetch answer, as the follower reads it. */
export interface FetchedPartition {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer | null;
}

/** What a fetch for this replica asks for, and the generation its answer must match. */
export interface FetchPosition {
  generation: number;
  leaderEpoch: number;
  fetchOffset: number;
  logStartOffset: number;
}

/** After a leadership error (the metadata is catching up), fetch again this soon. */
const LEADERSHIP_RETRY_MS = 100;

export interface FollowerOptions {
  topic: string;
  partition: number;
  topicId: string;
  local: LocalLog;
  clock: Clock;
  logger: Logger;
  /** replica.fetch.backoff.ms: the wait after a storage or data error. */
  errorBackoffMs: number;
  /** Told whenever the replica becomes ready to fetch (its fetcher may be waiting). */
  onReady: () => void;
  /** Told the follower's lag behind the leader's high watermark after each fetch. */
  onLag: (lagOffsets: number) => void;
}

export class FollowerReplica {
  readonly topic: string;
  readonly partition: number;
  readonly topicId: string;
  private readonly local: LocalLog;
  private leaderId = -1;
  private epoch = -1;
  private gen = 0;
  /** True once truncated for the current leader; false while truncating or without a leader. */
  private prepared = false;
  private retryAtMs = 0;
  private hw: number;
  private checkpointed: number | null;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly o: FollowerOptions) {
    this.topic = o.topic;
    this.partition = o.partition;
    this.topicId = o.topicId;
    this.local = o.local;
    this.checkpointed = o.local.storedHighWatermark();
    this.hw = truncationPoint({ storedHighWatermark: this.checkpointed, logStartOffset: o.local.logStartOffset(), logEndOffset: o.local.logEndOffset() });
  }

  get leader(): number {
    return this.leaderId;
  }
  get leaderEpoch(): number {
    return this.epoch;
  }
  get generation(): number {
    return this.gen;
  }
  /** The high watermark this replica knows. */
  get highWatermark(): number {
    return this.hw;
  }
  logEndOffset(): number {
    return this.local.logEndOffset();
  }

  /** Whether a fetch for this replica may go out now. */
  canFetch(nowMs: number): boolean {
    return !this.closed && this.prepared && this.leaderId >= 0 && nowMs >= this.retryAtMs;
  }
  /** When a replica that cannot fetch now will be able to on its own (backoff), or null. */
  retryAt(): number | null {
    return !this.closed && this.prepared && this.leaderId >= 0 ? this.retryAtMs : null;
  }

  position(): FetchPosition {
    return { generation: this.gen, leaderEpoch: this.epoch, fetchOffset: this.local.logEndOffset(), logStartOffset: this.local.logStartOffset() };
  }

  /**
   * Follows `leader` at `leaderEpoch` (-1: no leader now). A change truncates the log to
   * the known high watermark before the first fetch. Resolves once that truncation ran.
   */
  follow(leader: number, leaderEpoch: number): Promise<void> {
    if (this.closed || (leader === this.leaderId && leaderEpoch === this.epoch)) return this.chain;
    this.leaderId = leader;
    this.epoch = leaderEpoch;
    this.gen++;
    this.prepared = false;
    this.retryAtMs = 0;
    if (leader < 0) return this.chain;
    return this.run(() => this.prepare(this.gen));
  }

  private async prepare(generation: number): Promise<void> {
    if (this.closed || generation !== this.gen) return;
    const to = truncationPoint({ storedHighWatermark: this.hw, logStartOffset: this.local.logStartOffset(), logEndOffset: this.local.logEndOffset() });
    try {
      const before = this.local.logEndOffset();
      const end = await this.local.truncateTo(to);
      this.hw = Math.min(this.hw, end);
      if (end < before) this.o.logger.info({ topic: this.topic, partition: this.partition, from: before, to: end, leader: this.leaderId, leaderEpoch: this.epoch }, 'truncated to the high watermark before following');
    } catch (err) {
      this.o.logger.error({ err, topic: this.topic, partition: this.partition }, 'truncation before following failed; retrying');
      this.o.clock.setTimer(this.o.errorBackoffMs, () => void this.run(() => this.prepare(generation)));
      return;
    }
    if (generation !== this.gen || this.closed) return;
    this.prepared = true;
    this.o.onReady();
  }

  /** Applies one partition of an answer to a fetch made at `asked`; stale answers are dropped. */
  apply(asked: FetchPosition, data: FetchedPartition): Promise<void> {
    return this.run(async () => {
      if (this.closed || asked.generation !== this.gen || asked.fetchOffset !== this.local.logEndOffset()) return;
      try {
        await this.applyNow(asked, data);
      } catch (err) {
        this.o.logger.warn({ err, topic: this.topic, partition: this.partition }, 'applying fetched data failed; fetching again after a backoff');
        this.backoff(this.o.errorBackoffMs);
      }
    });
  }

  private async applyNow(asked: FetchPosition, data: FetchedPartition): Promise<void> {
    switch (data.errorCode) {
      case ErrorCode.NONE:
        await this.append(data.records);
        this.learn(data);
        return;
      case ErrorCode.OFFSET_OUT_OF_RANGE: {
        const action = onOutOfRange(asked.fetchOffset, data);
        this.o.logger.warn({ topic: this.topic, partition: this.partition, fetchOffset: asked.fetchOffset, leaderLogStart: data.logStartOffset, leaderHighWatermark: data.highWatermark, action }, 'fetch offset out of the leader\'s range');
        if (action.kind === 'reset') {
          await this.local.truncateFullyAndStartAt(action.offset);
          this.hw = action.offset;
        } else if (action.kind === 'truncate') {
          const end = await this.local.truncateTo(Math.min(action.offset, this.local.logEndOffset()));
          this.hw = Math.min(this.hw, end);
        } else {
          this.backoff(LEADERSHIP_RETRY_MS);
        }
        return;
      }
      case ErrorCode.NOT_LEADER_OR_FOLLOWER:
      case ErrorCode.LEADER_NOT_AVAILABLE:
      case ErrorCode.FENCED_LEADER_EPOCH:
      case ErrorCode.UNKNOWN_LEADER_EPOCH:
      case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
        // The leader has not opened the partition yet, or the metadata moved on: both
        // sides catch up within moments.
        this.backoff(LEADERSHIP_RETRY_MS);
        return;
      default:
        this.o.logger.warn({ topic: this.topic, partition: this.partition, error: errorName(data.errorCode) }, 'the leader answered a fetch with an error');
        this.backoff(this.o.errorBackoffMs);
    }
  }

  /** Appends the fetched batches in order; resolves once they are written. */
  private async append(records: Buffer | null): Promise<void> {
    if (records === null || records.length === 0) return;
    const batches: { at: number; header: BatchHeader }[] = [];
    // A trailing partial batch (a leader that cut its answer at a byte limit) is left for the next fetch.
    scanBatches(records, (header, at) => batches.push({ at, header }));
    let written: Promise<void> | null = null;
    for (const { at, header } of batches) {
      if (!crcMatches(records, at, header.sizeBytes)) {
        this.o.logger.warn({ topic: this.topic, partition: this.partition, baseOffset: header.baseOffset }, 'fetched batch failed its CRC; fetching it again');
        this.backoff(this.o.errorBackoffMs);
        break;
      }
      const placement = placeBatch(header.baseOffset, { logStartOffset: this.local.logStartOffset(), logEndOffset: this.local.logEndOffset() });
      if (placement.kind !== 'append') {
        if (written !== null) await written;
        if (placement.kind === 'gap') {
          this.o.logger.warn({ topic: this.topic, partition: this.partition, baseOffset: header.baseOffset, logEnd: this.local.logEndOffset() }, 'fetched batch does not continue the log; fetching again after a backoff');
          this.backoff(this.o.errorBackoffMs);
          break;
        }
        this.o.logger.warn({ topic: this.topic, partition: this.partition, baseOffset: header.baseOffset, logEnd: this.local.logEndOffset(), placement }, 'fetched batch starts inside the log; following the leader');
        if (placement.kind === 'reset') await this.local.truncateFullyAndStartAt(placement.offset);
        else this.hw = Math.min(this.hw, await this.local.truncateTo(placement.offset));
        if (header.baseOffset !== this.local.logEndOffset()) break;
      }
      // A copy: a view would pin the whole answer in the tail cache.
      const batch = Buffer.from(records.subarray(at, at + header.sizeBytes));
      written = this.local.appendAsFollower(batch, readBatchHeader(batch)).leaderDurable;
    }
    if (written !== null) await written;
  }

  /** Takes the leader's high watermark and log start from an answer. */
  private learn(data: FetchedPartition): void {
    const end = this.local.logEndOffset();
    this.hw = followerHighWatermark(data.highWatermark, end);
    this.o.onLag(Math.max(0, data.highWatermark - end));
    const start = data.logStartOffset;
    // The leader moved its log start (retention, DeleteRecords, a coordinator rewrite):
    // follow it, as far as this log holds committed data.
    if (start > this.local.logStartOffset() && start <= this.hw) {
      this.local.advanceLogStart(start).catch((err: unknown) => this.o.logger.warn({ err, topic: this.topic, partition: this.partition }, 'following the leader\'s log start failed'));
    }
  }

  private backoff(ms: number): void {
    this.retryAtMs = this.o.clock.monotonic() + ms;
  }

  /** Stores the known high watermark if it changed (periodically and before closing). */
  checkpoint(): Promise<void> {
    return this.run(async () => {
      if (this.hw === this.checkpointed) return;
      const hw = this.hw;
      try {
        await this.local.checkpointHighWatermark(hw);
        this.checkpointed = hw;
      } catch (err) {
        this.o.logger.warn({ err, topic: this.topic, partition: this.partition }, 'storing the high watermark failed');
      }
    });
  }

  /** Stops following and closes the log (or removes it: `destroy`) once whatever runs now is done. */
  close(opts: { destroy?: boolean } = {}): Promise<void> {
    const wasOpen = !this.closed;
    if (wasOpen && opts.destroy !== true) void this.checkpoint();
    this.closed = true;
    this.gen++;
    if (!wasOpen) return this.chain;
    return this.run(() => (opts.destroy === true ? this.local.destroy() : this.local.close()));
  }

  /** Runs `task` after everything queued before it; a failure is logged, never thrown into the chain. */
  private run(task: () => Promise<void>): Promise<void> {
    const next = this.chain.then(task).catch((err: unknown) => this.o.logger.error({ err, topic: this.topic, partition: this.partition }, 'follower task failed'));
    this.chain = next;
    return next;
  }
}
