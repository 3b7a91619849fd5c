/**
 * FollowerReplica: one partition this broker holds a replica of but does not lead. It owns
 * the partition's LocalLog and applies what a Fetcher brings from the leader: batches
 * appended at the leader's offsets, the leader's high watermark, its log start.
 *
 * The fetch position is the log end, except after a new leader (or leader epoch): then it
 * starts at the high watermark this replica knew, and the batches the leader sends are
 * checked against this log's own until the position reaches the log end; the log is
 * truncated at the first difference (truncation.ts says why). The position is what the
 * leader hears as this replica's progress, so it only ever covers records that are both
 * written here and known to be the leader's: a fetch goes out only once what the previous
 * one brought is written (appendAsFollower's leaderDurable).
 *
 * Every change to the log runs through one promise chain, so truncations, appends,
 * high-watermark checkpoints and the close never overlap. Each new leader starts a new
 * generation; answers to fetches of an older generation, or from another position, are
 * dropped.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock.ts';
import { ErrorCode, errorName } from '../../protocol/errors.ts';
import { crcMatches, readBatchHeader, scanBatches, type BatchHeader } from '../../protocol/record-batch.ts';
import type { LocalLog } from '../../storage/local-log/index.ts';
import { followerHighWatermark, onOutOfRange, placeBatch, verifyFrom } from './truncation.ts';

/** One partition of a fetch answer, as the follower reads it. */
export interface FetchedPartition {
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer | null;
  /**
   * True when the whole answer (every partition) carried no records: the leader waited and
   * had nothing past any fetch position, so its log ends at this partition's position.
   */
  answerEmpty: boolean;
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
  /** True once positioned for the current leader; false without a leader. */
  private ready = false;
  private retryAtMs = 0;
  /** Where the next fetch starts: the log end, or below it while checking (see the top). */
  private fetchOffset: number;
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
    this.hw = verifyFrom({ storedHighWatermark: this.checkpointed, logStartOffset: o.local.logStartOffset(), logEndOffset: o.local.logEndOffset() });
    this.fetchOffset = this.hw;
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

  /** Whether a fetch for this replica may go out now. */
  canFetch(nowMs: number): boolean {
    return !this.closed && this.ready && this.leaderId >= 0 && nowMs >= this.retryAtMs;
  }
  /** When a replica that cannot fetch now will be able to on its own (backoff), or null. */
  retryAt(): number | null {
    return !this.closed && this.ready && this.leaderId >= 0 ? this.retryAtMs : null;
  }

  position(): FetchPosition {
    return { generation: this.gen, leaderEpoch: this.epoch, fetchOffset: this.fetchOffset, logStartOffset: this.local.logStartOffset() };
  }

  /**
   * Follows `leader` at `leaderEpoch` (-1: no leader now). A change moves the fetch
   * position back to the known high watermark, from where the log is checked against the
   * new leader's. Resolves once the replica is ready to fetch.
   */
  follow(leader: number, leaderEpoch: number): Promise<void> {
    if (this.closed || (leader === this.leaderId && leaderEpoch === this.epoch)) return this.chain;
    this.leaderId = leader;
    this.epoch = leaderEpoch;
    const generation = ++this.gen;
    this.ready = false;
    this.retryAtMs = 0;
    if (leader < 0) return this.chain;
    // Behind whatever the previous leader's answer is still doing to the log.
    return this.run(() => {
      if (this.closed || generation !== this.gen) return Promise.resolve();
      this.fetchOffset = verifyFrom({ storedHighWatermark: this.hw, logStartOffset: this.local.logStartOffset(), logEndOffset: this.local.logEndOffset() });
      this.hw = Math.min(this.hw, this.fetchOffset);
      this.ready = true;
      this.o.onReady();
      return Promise.resolve();
    });
  }

  /** Applies one partition of an answer to a fetch made at `asked`; stale answers are dropped. */
  apply(asked: FetchPosition, data: FetchedPartition): Promise<void> {
    return this.run(async () => {
      if (this.closed || asked.generation !== this.gen || asked.fetchOffset !== this.fetchOffset) return;
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
        await this.take(data);
        this.learn(data);
        return;
      case ErrorCode.OFFSET_OUT_OF_RANGE: {
        const action = onOutOfRange(asked.fetchOffset, data);
        this.o.logger.warn({ topic: this.topic, partition: this.partition, fetchOffset: asked.fetchOffset, leaderLogStart: data.logStartOffset, leaderHighWatermark: data.highWatermark, action }, 'fetch offset out of the leader\'s range');
        if (action.kind === 'reset') {
          await this.local.truncateFullyAndStartAt(action.offset);
          this.fetchOffset = action.offset;
          this.hw = action.offset;
        } else if (action.kind === 'truncate') {
          await this.truncate(Math.min(action.offset, this.local.logEndOffset()));
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

  /** Checks or appends the fetched batches in order; resolves once what it appended is written. */
  private async take(data: FetchedPartition): Promise<void> {
    const records = data.records;
    const batches: { at: number; header: BatchHeader }[] = [];
    // A trailing partial batch (a leader that cut its answer at a byte limit) is left for the next fetch.
    if (records !== null) scanBatches(records, (header, at) => batches.push({ at, header }));
    if (batches.length === 0) {
      // The leader's log ends where this replica's checked part does: the rest is not the leader's.
      if (data.answerEmpty && this.fetchOffset < this.local.logEndOffset()) await this.truncate(this.fetchOffset, 'the leader has nothing past the checked part');
      return;
    }
    let written: Promise<void> | null = null;
    for (const { at, header } of batches) {
      if (!crcMatches(records!, at, header.sizeBytes)) {
        this.o.logger.warn({ topic: this.topic, partition: this.partition, baseOffset: header.baseOffset }, 'fetched batch failed its CRC; fetching it again');
        this.backoff(this.o.errorBackoffMs);
        break;
      }
      const theirs = records!.subarray(at, at + header.sizeBytes);
      const placement = placeBatch(header.baseOffset, { logStartOffset: this.local.logStartOffset(), logEndOffset: this.local.logEndOffset(), fetchOffset: this.fetchOffset });
      if (placement.kind === 'verify') {
        if (await this.same(theirs, header)) {
          this.fetchOffset = header.baseOffset + header.lastOffsetDelta + 1;
          continue;
        }
        if (written !== null) await written;
        await this.truncate(header.baseOffset, 'the leader has another batch at this offset');
        if (header.baseOffset !== this.local.logEndOffset()) break;
      } else if (placement.kind !== 'append') {
        if (written !== null) await written;
        if (placement.kind === 'gap') {
          this.o.logger.warn({ topic: this.topic, partition: this.partition, baseOffset: header.baseOffset, fetchOffset: this.fetchOffset }, 'fetched batch does not continue the log; fetching again after a backoff');
          this.backoff(this.o.errorBackoffMs);
          break;
        }
        if (placement.kind === 'reset') {
          this.o.logger.warn({ topic: this.topic, partition: this.partition, baseOffset: header.baseOffset, logStart: this.local.logStartOffset() }, 'the leader\'s first batch starts before this empty log; restarting the log there');
          await this.local.truncateFullyAndStartAt(placement.offset);
          this.fetchOffset = placement.offset;
        } else {
          await this.truncate(placement.offset, 'the leader\'s batch boundaries differ from this log\'s');
        }
        if (header.baseOffset !== this.local.logEndOffset()) break;
      }
      // A copy: a view would pin the whole answer in the tail cache.
      const batch = Buffer.from(theirs);
      written = this.local.appendAsFollower(batch, readBatchHeader(batch)).leaderDurable;
      this.fetchOffset = this.local.logEndOffset();
    }
    if (written !== null) await written;
  }

  /** Whether this log holds exactly `theirs` at its base offset. */
  private async same(theirs: Buffer, header: BatchHeader): Promise<boolean> {
    const { chunks } = await this.local.read(header.baseOffset, 1, Number.MAX_SAFE_INTEGER);
    const first = chunks[0];
    if (first === undefined || first.length < header.sizeBytes) return false;
    return first.subarray(0, header.sizeBytes).equals(theirs);
  }

  /** Truncates the log at `offset` (a batch boundary at or below it) and moves the position back with it. */
  private async truncate(offset: number, why?: string): Promise<void> {
    const before = this.local.logEndOffset();
    const end = await this.local.truncateTo(offset);
    this.fetchOffset = Math.min(this.fetchOffset, end);
    this.hw = Math.min(this.hw, end);
    if (end < before) this.o.logger.info({ topic: this.topic, partition: this.partition, from: before, to: end, leader: this.leaderId, leaderEpoch: this.epoch, why }, 'truncated the log to follow the leader');
  }

  /** Takes the leader's high watermark and log start from an answer. */
  private learn(data: FetchedPartition): void {
    this.hw = followerHighWatermark(data.highWatermark, this.fetchOffset);
    this.o.onLag(Math.max(0, data.highWatermark - this.fetchOffset));
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
