/**
 * The uploader: moves durable batches of every partition this broker owns from memory
 * (and the WAL) into object storage, in objects that pack many partitions.
 *
 * Trigger: an upload starts when policy.objectBytes durable bytes wait, or when the
 * oldest waiting byte has waited policy.intervalMs, or when a
 * partition asks to be flushed (hand-over, shutdown). Up to uploadsInFlightMax PUTs run at
 * once; commits to the controller happen strictly in the order the uploads took their
 * batches, because each must start where the previous one ended. If a PUT or a commit
 * fails, every later upload fails too (it would leave a gap) and no new one starts until
 * those under way have settled; the batches then wait for the next upload. An object
 * whose commit failed is an orphan: the controller deletes it after its grace period.
 *
 * A commit refused for fencing (another broker owns the partition now, or a newer leader
 * epoch) fences that partition's log here: it takes no more appends and uploads nothing.
 */
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import { ObjectBuilder, type ObjectStore } from '../../../objectstore/index.ts';
import type { CommitObjectRequest, ObjectRange, ObjectSection } from '../../metadata/controller-api.ts';
import type { ObjectIndexClient } from './index-client.ts';
import { SharedStorageLimits, type UploadPolicy } from './limits.ts';
import { dataObjectKey } from './object-keys.ts';
import { encodeSectionMeta } from './section-meta.ts';
import type { MemBatch, SharedLog } from './shared-log.ts';

/** Kafka codes the controller answers a commit with when the committer is fenced. */
const NOT_LEADER_OR_FOLLOWER = 6;
const FENCED_LEADER_EPOCH = 74;
const UNKNOWN_TOPIC_OR_PARTITION = 3;

interface Part {
  log: SharedLog;
  batches: MemBatch[];
  section: ObjectSection & { leaderEpoch: number };
}

export class UploaderMetrics {
  readonly uploads: Counter<'outcome'>;
  readonly uploadBytes: Histogram;
  readonly uploadSeconds: Histogram;
  readonly commitSeconds: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.uploads = new Counter({ name: 'floe_broker_uploads_total', help: 'Objects uploaded, by outcome (committed, put_failed, commit_failed, fenced)', labelNames: ['outcome'], registers });
    this.uploadBytes = new Histogram({
      name: 'floe_broker_upload_object_bytes',
      help: 'Size of uploaded objects',
      buckets: [16_384, 65_536, 262_144, 1_048_576, 4_194_304, 8_388_608, 16_777_216, 67_108_864],
      registers,
    });
    this.uploadSeconds = new Histogram({ name: 'floe_broker_upload_duration_seconds', help: 'PUT of one object, retries included', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.commitSeconds = new Histogram({ name: 'floe_broker_object_commit_duration_seconds', help: 'Committing one object to the controller', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers });
  }
}

export class Uploader {
  private readonly logs = new Set<SharedLog>();
  private readonly flushing = new Set<SharedLog>();
  private inFlight = 0;
  private failed = false;
  private commitChain: Promise<void> = Promise.resolve();
  private seq = 0;
  private waitingSince: number | null = null;
  private cancelTick: (() => void) | null = null;
  private stopped = false;
  private readonly flushWaiters = new Set<() => void>();

  constructor(
    private readonly opts: {
      brokerId: number;
      walEpoch: number;
      prefix: string;
      store: ObjectStore;
      index: ObjectIndexClient;
      clock: Clock;
      logger: Logger;
      metrics: UploaderMetrics;
      policy: UploadPolicy;
    },
  ) {}

  start(): void {
    this.schedule();
  }

  register(log: SharedLog): void {
    this.logs.add(log);
  }

  unregister(log: SharedLog): void {
    this.logs.delete(log);
    this.flushing.delete(log);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancelTick = this.opts.clock.setTimer(SharedStorageLimits.uploadTickMs, () => {
      this.cancelTick = null;
      this.tick();
      this.schedule();
    });
  }

  /** Looks at the triggers and starts an upload when one holds. */
  tick(): void {
    if (this.failed) {
      if (this.inFlight > 0) return;
      this.failed = false;
    }
    let waiting = 0;
    for (const log of this.logs) waiting += log.uploadableBytes();
    if (waiting === 0) {
      this.waitingSince = null;
      return;
    }
    const now = this.opts.clock.monotonic();
    this.waitingSince ??= now;
    const policy = this.opts.policy;
    const due = waiting >= policy.objectBytes || now - this.waitingSince >= policy.intervalMs || this.flushing.size > 0;
    if (due && this.inFlight < SharedStorageLimits.uploadsInFlightMax) this.startUpload();
  }

  private startUpload(): void {
    const parts: Part[] = [];
    const builder = new ObjectBuilder();
    let budget = this.opts.policy.objectBytes;
    // Partitions being flushed go first, so that a hand-over is not held up by others.
    const order = [...this.flushing, ...[...this.logs].filter((l) => !this.flushing.has(l))];
    for (const log of order) {
      if (budget <= 0) break;
      const batches = log.takeForUpload(budget);
      if (batches.length === 0) continue;
      let bytes = 0;
      let maxTimestamp = -1;
      for (const b of batches) {
        bytes += b.buf.length;
        if (b.header.maxTimestamp > maxTimestamp) maxTimestamp = b.header.maxTimestamp;
      }
      budget -= bytes;
      const first = batches[0]!;
      const last = batches[batches.length - 1]!;
      const entry = builder.addSection({
        streamId: log.streamId,
        startOffset: first.base,
        endOffset: last.next,
        data: batches.map((b) => b.buf),
        metadata: encodeSectionMeta({ maxTimestamp, producers: log.producersAfter(batches) }),
      });
      parts.push({ log, batches, section: log.sectionOf(entry) });
    }
    if (parts.length === 0) return;
    this.waitingSince = null;
    const built = builder.build();
    const key = dataObjectKey(this.opts.prefix, this.opts.brokerId, this.opts.walEpoch, this.seq++);
    this.inFlight++;
    const m = this.opts.metrics;
    const endPut = m.uploadSeconds.startTimer();
    const put = this.opts.store.put(key, built.chunks).then(
      () => {
        endPut();
        m.uploadBytes.observe(built.size);
        return true;
      },
      (err: unknown) => {
        this.opts.logger.warn({ err, key }, 'object upload failed; its batches wait for the next upload');
        m.uploads.inc({ outcome: 'put_failed' });
        return false;
      },
    );
    // Commits run one after another, in the order the uploads took their batches.
    this.commitChain = this.commitChain.then(async () => {
      const ok = await put;
      if (!ok || this.failed) {
        this.failed = true;
        for (const p of parts) p.log.uploadFailed(p.batches);
      } else {
        await this.commit(key, built.size, parts);
      }
      this.inFlight--;
      this.notifyFlushWaiters();
    });
  }

  private async commit(key: string, size: number, parts: Part[]): Promise<void> {
    const m = this.opts.metrics;
    const req: CommitObjectRequest = { brokerId: this.opts.brokerId, key, size, sections: parts.map((p) => p.section) };
    const endCommit = m.commitSeconds.startTimer();
    let res;
    try {
      res = await this.opts.index.commitObject(req);
    } catch (err) {
      this.opts.logger.warn({ err, key }, 'committing an object failed; its batches wait for the next upload');
      m.uploads.inc({ outcome: 'commit_failed' });
      this.failed = true;
      for (const p of parts) p.log.uploadFailed(p.batches);
      return;
    } finally {
      endCommit();
    }
    if (res.errorCode === 0) {
      m.uploads.inc({ outcome: 'committed' });
      for (const p of parts) p.log.uploadCommitted(p.batches, rangeOf(key, size, p.section));
      return;
    }
    if (res.errorCode === NOT_LEADER_OR_FOLLOWER || res.errorCode === FENCED_LEADER_EPOCH || res.errorCode === UNKNOWN_TOPIC_OR_PARTITION) {
      // One partition moved away (or its topic was deleted): commit the others one by one
      // to find it; the object already holds their bytes.
      m.uploads.inc({ outcome: 'fenced' });
      for (const p of parts) {
        const one = await this.opts.index.commitObject({ ...req, sections: [p.section] }).catch(() => null);
        if (one?.errorCode === 0) {
          p.log.uploadCommitted(p.batches, rangeOf(key, size, p.section));
        } else if (one && (one.errorCode === NOT_LEADER_OR_FOLLOWER || one.errorCode === FENCED_LEADER_EPOCH || one.errorCode === UNKNOWN_TOPIC_OR_PARTITION)) {
          this.opts.logger.warn({ topic: p.section.topic, partition: p.section.partition, error: one.errorMessage }, 'commit refused: the partition belongs to another writer now');
          p.log.uploadFenced(p.batches, one.errorMessage ?? `commit refused with error ${one.errorCode}`);
        } else {
          this.failed = true;
          p.log.uploadFailed(p.batches);
        }
      }
      return;
    }
    this.opts.logger.error({ key, errorCode: res.errorCode, error: res.errorMessage }, 'the controller refused an object commit');
    m.uploads.inc({ outcome: 'commit_failed' });
    this.failed = true;
    for (const p of parts) p.log.uploadFailed(p.batches);
  }

  private notifyFlushWaiters(): void {
    for (const w of [...this.flushWaiters]) w();
  }

  /**
   * Uploads and commits everything `log` holds now (and anything appended meanwhile),
   * within `timeoutMs`. Rejects when that does not happen in time or the log is fenced.
   */
  flush(log: SharedLog, timeoutMs: number): Promise<void> {
    if (!log.hasUncommitted()) return Promise.resolve();
    this.flushing.add(log);
    return new Promise<void>((resolve, reject) => {
      const cancelTimer = this.opts.clock.setTimer(timeoutMs, () => {
        done();
        reject(new Error(`${log.id.topic}-${log.id.partition}: not uploaded within ${timeoutMs} ms`));
      });
      const check = (): void => {
        if (log.isFenced()) {
          done();
          reject(new Error(`${log.id.topic}-${log.id.partition}: fenced; not uploaded`));
        } else if (!log.hasUncommitted()) {
          done();
          resolve();
        }
      };
      const done = (): void => {
        cancelTimer();
        this.flushWaiters.delete(check);
        this.flushing.delete(log);
      };
      this.flushWaiters.add(check);
      this.tick();
    });
  }

  /** Stops starting uploads; waits for the ones under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTick?.();
    this.cancelTick = null;
    await this.commitChain;
  }
}

function rangeOf(key: string, size: number, s: ObjectSection): ObjectRange {
  return { key, size, startOffset: s.startOffset, endOffset: s.endOffset, position: s.position, length: s.length };
}
