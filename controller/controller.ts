/**
 * The controller: the metadata of record and the decisions that change it.
 *
 * Every change goes the same way: a pure planner (commands.ts, failover.ts,
 * placement.ts) turns a request or an event into records; `commit` applies them to the
 * in-memory state at once (so the next request sees them), appends them to the metadata
 * log, and only when they are durable publishes the new view to brokers and answers the
 * caller. The state machine is synchronous, so changes are ordered by the event loop and
 * never interleave; only durability and the beforeReassign hook are awaited.
 *
 * Liveness: brokers hold leases renewed by heartbeats (liveness.ts). A lease that runs
 * out, or a broker's controlled shutdown, declares the broker dead and fails over what it
 * led. After a restart every broker the metadata holds as alive gets a fresh lease, so
 * restarting the controller alone changes nothing for brokers or clients.
 *
 * Shared storage (issue 7): the controller also keeps the object index (object-index.ts,
 * object-commands.ts), whose commits are logged without changing the published view;
 * deletes unreferenced objects after a grace period and collects orphans; gives each
 * broker incarnation a WAL epoch; recovers a dead broker's WAL before its partitions move
 * (wal-recovery.ts); and moves partitions between live brokers by hand-over (handover.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { findOrphans } from '../objectstore/orphans.ts';
import type { ObjectStore } from '../objectstore/object-store.ts';
import type { Clock } from '../src/common/clock.ts';
import type { FileSystem } from '../src/common/fs.ts';
import type { NewTopic, TopicResult } from '../src/metadata/cluster-view.ts';
import {
  MetadataErrorCode as Code,
  type AdvanceLogStartRequest,
  type AlterIsrRequest,
  type CommitObjectRequest,
  type ControllerMode,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type PartitionObjectsResponse,
  type RegisterRequest,
  type ReleasePartitionRequest,
  type ReleasePartitionResponse,
  type ReplaceObjectsRequest,
  type SharedStorageResponse,
  type ShutdownRequest,
} from '../src/metadata/controller-api.ts';
import { planAlterConfig, planAlterIsr, planCreatePartitions, planCreateTopics, planDeleteTopics, type AlterIsrOutcome, type Planned, type TopicDefaults } from './commands.ts';
import { ApiError, ControllerConfigError, MetadataLogCorruptError } from './errors.ts';
import { moveOwner, planBrokerDeath, planFailoverCompletion, planMoves, planOfflineRecovery, unitsOf, withReplicas } from './failover.ts';
import { handoversOf, planHandoverExpiry, planRelease, type Handover } from './handover.ts';
import { ControllerLimits, assertControllerLimits, heartbeatMsFor } from './limits.ts';
import { LeaseTable } from './liveness.ts';
import { MetadataLog } from './metadata-log.ts';
import type { ControllerMetrics, HandoverOutcome, IndexOutcome, ReassignReason } from './metrics.ts';
import { describePartitionObjects, planAdvanceLogStart, planCommitObject, planReplaceObjects, type ObjectCommandOptions } from './object-commands.ts';
import { garbageDue, knowsObject, partitionObjectsOf } from './object-index.ts';
import { planDrain, planRebalance, zoneOf, type Move } from './placement.ts';
import type { OwnedPartition, WalRecoveryConfig } from './wal-recovery.ts';
import {
  applyRecords,
  clientControllerId,
  eligibleBrokers,
  emptyState,
  liveBrokers,
  stateFromJson,
  stateToJson,
  toWireView,
  type BrokerState,
  type MetadataRecord,
  type MetadataState,
  type PartitionRef,
  type PartitionState,
} from './state.ts';

/**
 * Awaited before a dead broker's partitions get new owners (shared-storage mode). The
 * shared-storage engine fences the dead broker's WAL log here and recovers what it
 * holds; the partitions stay offline (leader -1) until it resolves. It must be
 * idempotent: after a controller restart it runs again for failovers not finished. If
 * it throws, it is retried every `reassignHookRetryMs` and the partitions stay offline.
 */
export type BeforeReassignHook = (ctx: { deadBrokerId: number; partitions: PartitionRef[] }) => Promise<void>;

export interface ControllerOptions {
  fs: FileSystem;
  dataDir: string;
  clock: Clock;
  logger: Logger;
  metrics: ControllerMetrics;
  /** Fixed when the cluster is created; a restart with another mode is refused. */
  mode: ControllerMode;
  leaseMs: number;
  defaults: TopicDefaults;
  /** For a new cluster only (22 characters of base64url, Kafka's form); random by default. */
  clusterId?: string;
  beforeReassign?: BeforeReassignHook;
  /** Called once if the metadata log fails; the process should exit and be restarted. */
  onFatal?: (err: Error) => void;
  newTopicId?: () => string;
  /** The first producer id of a new cluster. */
  firstProducerId?: number;
  snapshotEveryEntries?: number;
  /**
   * shared-storage: the object store that holds the brokers' objects. Without it the index
   * still works, but nothing is ever deleted (garbage stays pending) and WAL recovery is
   * impossible.
   */
  objectStore?: ObjectStore;
  /** Keys the index accepts and the collector may delete start with this (default `floe/`). */
  objectPrefix?: string;
  /** How long an unreferenced or uncommitted object is kept (default objectGraceMsDefault). */
  objectGraceMs?: number;
  /** How often the bucket is listed for orphans; 0: never (default orphanScanIntervalMsDefault). */
  orphanScanIntervalMs?: number;
  /** A hand-over not released in this time is abandoned (default handoverTimeoutMsDefault). */
  handoverTimeoutMs?: number;
  /** shared-storage: recover a dead broker's WAL before its partitions move (needs objectStore). */
  walRecovery?: WalRecoveryConfig;
}

export const OBJECT_PREFIX_DEFAULT = 'floe/';

/** What GET /v1/objects/stats answers. */
export interface ObjectStats {
  objectStore: boolean;
  prefix: string;
  graceMs: number;
  objects: number;
  bytes: number;
  ranges: number;
  partitionsWithData: number;
  garbagePending: { objects: number; bytes: number; oldestSinceMs: number | null };
  deleted: { garbage: number; orphans: number };
  lastOrphanScan: { atMs: number; deleted: number; bytes: number } | null;
}

/** The object index of one partition, summarised for the admin API. */
export interface PartitionObjectsSummary {
  logStartOffset: number;
  endOffset: number;
  objects: number;
  ranges: number;
  /** Bytes of the partition's sections (not of the whole objects, which hold other partitions too). */
  bytes: number;
}

export type PollResult = { changed: true; version: number; json: string } | { changed: false; version: number };

interface Waiter {
  after: number;
  resolve: (r: PollResult) => void;
  cancelTimer: () => void;
}

export interface BrokerDescription {
  id: number;
  host: string;
  port: number;
  rack: string | null;
  status: 'alive' | 'dead';
  draining: boolean;
  incarnation: string;
  /** Partitions it leads (owns, in shared-storage mode). */
  leaders: number;
  /** Partitions it is a replica of. */
  replicas: number;
  /** Milliseconds since its last heartbeat, while it holds a lease. */
  lastHeartbeatAgoMs: number | null;
}

function defaultTopicId(): string {
  return randomUUID().replaceAll('-', '');
}

export class Controller {
  private published: { version: number; json: string };
  private waiters = new Set<Waiter>();
  private cancelLeaseTimer: (() => void) | null = null;
  private readonly runningFailovers = new Set<number>();
  private fatalError: Error | null = null;
  private closed = false;
  readonly leases: LeaseTable;
  readonly heartbeatMs: number;
  private readonly objectPrefix: string;
  private readonly graceMs: number;
  private readonly orphanScanMs: number;
  private readonly handoverTimeoutMs: number;
  /** Live hand-overs and their timeouts, by `topicId NUL partition`. */
  private readonly handoverTimers = new Map<string, { h: Handover; startedMs: number; cancel: () => void }>();
  /** Keys deleted (or being deleted) from the object store, newest last: a late commit of one is refused. */
  private readonly collected = new Set<string>();
  private cancelGcTimer: (() => void) | null = null;
  private gcRun: Promise<void> | null = null;
  private nextOrphanScanMs = 0;
  private readonly deletedCounts = { garbage: 0, orphans: 0 };
  private lastOrphanScan: { atMs: number; deleted: number; bytes: number } | null = null;

  private constructor(
    private readonly opts: ControllerOptions,
    private readonly log: MetadataLog,
    private readonly state: MetadataState,
  ) {
    this.leases = new LeaseTable(opts.leaseMs);
    this.heartbeatMs = heartbeatMsFor(opts.leaseMs);
    this.published = { version: state.version, json: JSON.stringify(toWireView(state)) };
    this.objectPrefix = opts.objectPrefix ?? OBJECT_PREFIX_DEFAULT;
    this.graceMs = opts.objectGraceMs ?? ControllerLimits.objectGraceMsDefault;
    this.orphanScanMs = opts.orphanScanIntervalMs ?? ControllerLimits.orphanScanIntervalMsDefault;
    this.handoverTimeoutMs = opts.handoverTimeoutMs ?? ControllerLimits.handoverTimeoutMsDefault;
  }

  private static checkOptions(opts: ControllerOptions): void {
    const l = ControllerLimits;
    const grace = opts.objectGraceMs ?? l.objectGraceMsDefault;
    if (!Number.isInteger(grace) || grace < l.objectGraceMsMin || grace > l.objectGraceMsMax) {
      throw new ControllerConfigError(`the object grace period must be an integer in [${l.objectGraceMsMin}, ${l.objectGraceMsMax}] ms, got ${grace}`);
    }
    const handover = opts.handoverTimeoutMs ?? l.handoverTimeoutMsDefault;
    if (!Number.isInteger(handover) || handover < l.handoverTimeoutMsMin || handover > l.handoverTimeoutMsMax) {
      throw new ControllerConfigError(`the hand-over timeout must be an integer in [${l.handoverTimeoutMsMin}, ${l.handoverTimeoutMsMax}] ms, got ${handover}`);
    }
    const scan = opts.orphanScanIntervalMs ?? l.orphanScanIntervalMsDefault;
    if (!Number.isInteger(scan) || scan < 0) throw new ControllerConfigError(`the orphan scan interval must be a non-negative integer of ms, got ${scan}`);
    if (opts.objectPrefix !== undefined && opts.objectPrefix.length === 0) throw new ControllerConfigError('the object prefix must not be empty (orphan collection would own the whole bucket)');
    if (opts.mode === 'shared-nothing' && (opts.objectStore || opts.walRecovery)) {
      throw new ControllerConfigError('an object store and WAL nodes belong to shared-storage mode; a shared-nothing controller takes neither');
    }
    if (opts.walRecovery && !opts.objectStore) throw new ControllerConfigError('WAL recovery uploads what it recovers: it needs an object store');
  }

  static async open(opts: ControllerOptions): Promise<Controller> {
    assertControllerLimits(opts.leaseMs);
    Controller.checkOptions(opts);
    const { log, recovered } = await MetadataLog.open({
      fs: opts.fs,
      dir: path.join(opts.dataDir, 'metadata'),
      monotonic: () => opts.clock.monotonic(),
      onCommit: (c) => {
        opts.metrics.logCommits.inc();
        opts.metrics.logFsyncSeconds.observe(c.fsyncSeconds);
      },
      ...(opts.snapshotEveryEntries !== undefined ? { snapshotEveryEntries: opts.snapshotEveryEntries } : {}),
    });
    let state: MetadataState;
    try {
      state = recovered.snapshot ? stateFromJson(recovered.snapshot.payload.toString('utf8')) : emptyState();
      for (const e of recovered.entries) applyRecords(state, JSON.parse(e.payload.toString('utf8')) as MetadataRecord[]);
    } catch (err) {
      throw new MetadataLogCorruptError(`cannot replay the metadata log in ${opts.dataDir}`, { cause: err });
    }
    if (recovered.truncatedBytes > 0) opts.logger.warn({ bytes: recovered.truncatedBytes }, 'cut a torn tail off the metadata log');
    if (state.clusterId !== '' && state.mode !== opts.mode) {
      throw new ControllerConfigError(`${opts.dataDir} holds a ${state.mode} cluster; it cannot be run as ${opts.mode}`);
    }
    const c = new Controller(opts, log, state);
    if (state.clusterId === '') {
      const clusterId = opts.clusterId ?? randomBytes(16).toString('base64url').slice(0, 22);
      await c.commit([{ type: 'cluster-created', clusterId, mode: opts.mode, firstProducerId: opts.firstProducerId ?? 1000 }]);
      opts.logger.info({ clusterId, mode: opts.mode }, 'created a new cluster');
    } else {
      opts.logger.info(
        { clusterId: state.clusterId, version: state.version, topics: state.topics.size, brokers: state.brokers.size, entries: recovered.entries.length, fromSnapshot: recovered.snapshot?.seq ?? null },
        'recovered the metadata',
      );
    }
    // Grace: every broker held alive gets one whole lease to heartbeat to this process
    // (unconfirmed until it does, see liveness.ts).
    const now = opts.clock.monotonic();
    for (const b of state.brokers.values()) if (b.alive) c.leases.grant(b.id, b.incarnation, now, false);
    c.scheduleLeaseCheck();
    for (const id of state.pendingFailovers.keys()) c.startFailoverCompletion(id, now);
    c.armHandovers();
    c.updateGauges();
    c.updateObjectGauges();
    if (opts.objectStore && state.mode === 'shared-storage') {
      c.nextOrphanScanMs = now + c.orphanScanMs;
      c.scheduleGc();
    }
    return c;
  }

  get mode(): ControllerMode {
    return this.state.mode;
  }
  get clusterId(): string {
    return this.state.clusterId;
  }
  get leaseMs(): number {
    return this.opts.leaseMs;
  }
  /** The state as last changed (read-only by contract; durable once `readBarrier` resolves). */
  get metadata(): Readonly<MetadataState> {
    return this.state;
  }
  /** The view brokers follow: only durable changes. */
  get view(): { version: number; json: string } {
    return this.published;
  }

  /** Resolves once every change made so far is durable, so that reads never show a change that a crash could undo. */
  async readBarrier(): Promise<void> {
    this.assertUsable();
    await this.log.barrier();
  }

  private assertUsable(): void {
    if (this.fatalError) throw new ApiError('CONTROLLER_FAILED', `the metadata log failed: ${this.fatalError.message}`, { cause: this.fatalError });
    if (this.closed) throw new ApiError('CONTROLLER_FAILED', 'the controller is stopping');
  }

  private fatal(err: Error): void {
    if (this.fatalError) return;
    this.fatalError = err;
    this.opts.logger.fatal({ err }, 'the metadata log failed; no further change is accepted');
    this.opts.onFatal?.(err);
  }

  /** Applies, logs and (once durable) publishes one change; resolves with the version after it. */
  private commit(records: MetadataRecord[]): Promise<number> {
    try {
      this.assertUsable();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (records.length === 0) return this.log.barrier().then(() => this.state.version);
    let changed: boolean;
    try {
      changed = applyRecords(this.state, records);
    } catch (err) {
      // A planner produced records the state machine rejects: a bug. The in-memory state
      // may be half-changed and no longer matches the log, so stop here.
      const e = err instanceof Error ? err : new Error(String(err));
      this.fatal(e);
      return Promise.reject(new ApiError('INTERNAL', e.message, { cause: e }));
    }
    const version = this.state.version;
    const json = changed ? JSON.stringify(toWireView(this.state)) : null;
    if (changed) this.armHandovers();
    const payload = Buffer.from(JSON.stringify(records));
    const durable = this.log.append(payload);
    this.opts.metrics.logEntries.inc();
    this.opts.metrics.logBytes.inc(payload.length);
    if (this.log.snapshotDue()) {
      this.log.snapshot(Buffer.from(stateToJson(this.state))).catch((err: unknown) => this.opts.logger.warn({ err }, 'metadata snapshot failed; the log keeps everything'));
    }
    return durable.then(
      () => {
        if (json !== null) this.publish(version, json);
        return version;
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        this.fatal(e);
        throw new ApiError('CONTROLLER_FAILED', `the metadata log failed: ${e.message}`, { cause: e });
      },
    );
  }

  private publish(version: number, json: string): void {
    if (version <= this.published.version) return;
    this.published = { version, json };
    for (const w of this.waiters) {
      if (w.after < version) {
        this.waiters.delete(w);
        w.cancelTimer();
        w.resolve({ changed: true, version, json });
      }
    }
    this.opts.metrics.longPolls.set(this.waiters.size);
    this.updateGauges();
  }

  private updateGauges(): void {
    const m = this.opts.metrics;
    const brokers = [...this.state.brokers.values()];
    m.brokersAlive.set(brokers.filter((b) => b.alive).length);
    m.brokersRegistered.set(brokers.length);
    m.metadataVersion.set(this.published.version);
    m.topics.set(this.state.topics.size);
    let partitions = 0;
    let offline = 0;
    for (const t of this.state.topics.values()) {
      partitions += t.partitions.length;
      for (const p of t.partitions) if (p.leader < 0) offline++;
    }
    m.partitions.set(partitions);
    m.offlinePartitions.set(offline);
  }

  /**
   * A broker's long-poll: resolves with the published view as soon as its version is
   * not `after`, or unchanged after `waitMs`. `cancel` drops the wait (client gone).
   */
  poll(after: number, waitMs: number): { result: Promise<PollResult>; cancel: () => void } {
    const current = this.published;
    if (current.version !== after) return { result: Promise.resolve({ changed: true, ...current }), cancel: () => undefined };
    if (waitMs <= 0 || this.closed) return { result: Promise.resolve({ changed: false, version: current.version }), cancel: () => undefined };
    if (this.waiters.size >= ControllerLimits.longPollWaitersMax) throw new ApiError('TOO_MANY_WAITERS', `${this.waiters.size} long-polls are open`);
    let waiter: Waiter | undefined;
    const result = new Promise<PollResult>((resolve) => {
      const w: Waiter = {
        after,
        resolve,
        cancelTimer: this.opts.clock.setTimer(Math.min(waitMs, ControllerLimits.longPollWaitMsMax), () => {
          this.waiters.delete(w);
          this.opts.metrics.longPolls.set(this.waiters.size);
          resolve({ changed: false, version: this.published.version });
        }),
      };
      waiter = w;
      this.waiters.add(w);
    });
    this.opts.metrics.longPolls.set(this.waiters.size);
    return {
      result,
      cancel: () => {
        if (!waiter || !this.waiters.delete(waiter)) return;
        waiter.cancelTimer();
        this.opts.metrics.longPolls.set(this.waiters.size);
        waiter.resolve({ changed: false, version: this.published.version });
      },
    };
  }

  // ---- liveness ------------------------------------------------------------------

  private scheduleLeaseCheck(): void {
    this.cancelLeaseTimer?.();
    this.cancelLeaseTimer = null;
    // After a fatal error expireLeases does nothing, so an expired lease would re-arm this
    // timer at 0 ms forever.
    if (this.closed || this.fatalError) return;
    const next = this.leases.nextExpiryMs();
    if (next === null) return;
    const delay = Math.max(0, next - this.opts.clock.monotonic());
    this.cancelLeaseTimer = this.opts.clock.setTimer(delay, () => {
      this.cancelLeaseTimer = null;
      this.expireLeases();
      this.scheduleLeaseCheck();
    });
  }

  /** Declares dead every broker whose lease has run out (the synchronous part of it). */
  private expireLeases(): void {
    if (this.closed || this.fatalError) return;
    for (const id of this.leases.expired(this.opts.clock.monotonic())) {
      this.leases.revoke(id);
      this.opts.metrics.leaseExpiries.inc();
      this.opts.logger.warn({ broker: id, leaseMs: this.opts.leaseMs }, 'broker lease expired');
      this.failBroker(id).catch((err: unknown) => this.opts.logger.error({ err, broker: id }, 'failover failed'));
    }
  }

  /** Declares `id` dead and fails over what it held; resolves once that is committed. */
  private async failBroker(id: number, opts: { uploaded?: boolean } = {}): Promise<void> {
    const records = planBrokerDeath(this.state, id, opts);
    if (records.length === 0) return;
    for (const h of handoversOf(this.state)) {
      if (h.from === id) this.endHandover(h, 'owner_died');
      else if (h.to === id) this.endHandover(h, 'target_died');
    }
    const started = this.opts.clock.monotonic();
    const moved = records.filter((r) => r.type === 'partition-changed' && r.partition.leader >= 0).length;
    const offline = records.filter((r) => r.type === 'partition-changed' && r.partition.leader < 0).length;
    this.opts.logger.warn({ broker: id, moved, offline, mode: this.state.mode }, 'broker declared dead');
    await this.commit(records);
    this.opts.metrics.reassignments.inc({ reason: 'failover' }, moved);
    if (this.state.mode === 'shared-storage') {
      this.startFailoverCompletion(id, started);
    } else {
      this.opts.metrics.failovers.inc({ outcome: 'completed' });
      this.opts.metrics.failoverSeconds.observe((this.opts.clock.monotonic() - started) / 1000);
    }
  }

  private startFailoverCompletion(id: number, started: number): void {
    if (this.runningFailovers.has(id)) return;
    this.runningFailovers.add(id);
    this.completeFailover(id, started)
      .catch((err: unknown) => this.opts.logger.error({ err, broker: id }, 'failover completion failed'))
      .finally(() => this.runningFailovers.delete(id));
  }

  /** Whether a failover of `id` is waiting for its WAL recovery (a new process for the id must wait too). */
  private walRecoveryPending(id: number): boolean {
    return this.state.mode === 'shared-storage' && this.opts.walRecovery !== undefined && this.state.pendingFailovers.has(id) && !this.state.uploadedFailovers.has(id);
  }

  /**
   * shared-storage: recovers the WAL of dead broker `id` (and then awaits the hook),
   * retrying until both succeed, then gives the dead broker's partitions owners.
   */
  private async completeFailover(id: number, started: number): Promise<void> {
    const hook = this.opts.beforeReassign;
    let recovered = false;
    for (;;) {
      if (this.closed || this.fatalError) return;
      const refs = this.state.pendingFailovers.get(id);
      if (!refs) return;
      const recoverWal = this.walRecoveryPending(id);
      if (!hook && !recoverWal) break;
      try {
        if (recoverWal) {
          await this.recoverWal(id);
          recovered = true;
        }
        if (hook) await hook({ deadBrokerId: id, partitions: refs });
        // The broker may have died again meanwhile, adding partitions: fence again for them.
        if (this.state.pendingFailovers.get(id) === refs) break;
      } catch (err) {
        this.opts.metrics.failovers.inc({ outcome: 'hook_failed' });
        this.opts.logger.error({ err, broker: id, retryMs: ControllerLimits.reassignHookRetryMs }, 'beforeReassign failed; its partitions stay offline');
        await new Promise<void>((resolve) => this.opts.clock.setTimer(ControllerLimits.reassignHookRetryMs, resolve));
      }
    }
    // A clean shutdown that uploaded everything needs no recovery.
    if (this.opts.walRecovery && !recovered) this.opts.metrics.walRecoveries.inc({ outcome: 'skipped' });
    const records = planFailoverCompletion(this.state, id);
    await this.commit(records);
    const moved = records.filter((r) => r.type === 'partition-changed').length;
    this.opts.metrics.reassignments.inc({ reason: 'failover' }, moved);
    this.opts.metrics.failovers.inc({ outcome: 'completed' });
    this.opts.metrics.failoverSeconds.observe((this.opts.clock.monotonic() - started) / 1000);
    this.opts.logger.info({ broker: id, moved }, 'failover completed');
  }

  /**
   * Fences and recovers the WAL log of dead broker `id`: its WAL epoch is bumped durably
   * first (so that the fencing epoch is never reused, even across a controller crash),
   * then the recovery commits what the log holds for the partitions the broker owned, as
   * that broker, while they are offline. Throws when it cannot finish (the caller retries).
   */
  private async recoverWal(id: number): Promise<void> {
    const cfg = this.opts.walRecovery;
    const store = this.opts.objectStore;
    if (!cfg || !store) return;
    const epoch = (this.state.walEpochs.get(id) ?? 0) + 1;
    await this.commit([{ type: 'wal-epoch', brokerId: id, epoch }]);
    const t0 = this.opts.clock.monotonic();
    this.opts.logger.info({ broker: id, walEpoch: epoch }, 'recovering the WAL of a dead broker');
    try {
      const result = await cfg.recover({
        walNodes: cfg.walNodes,
        ...(cfg.ackQuorum !== undefined ? { ackQuorum: cfg.ackQuorum } : {}),
        brokerId: id,
        newEpoch: epoch,
        objectStore: store,
        keyPrefix: this.objectPrefix,
        owned: (topic, partition) => this.ownedForRecovery(id, topic, partition),
        commit: (req) => this.commitObjectAs(req, id),
        logger: this.opts.logger.child({ walRecoveryOf: id }),
      });
      const seconds = (this.opts.clock.monotonic() - t0) / 1000;
      this.opts.metrics.walRecoveries.inc({ outcome: 'completed' });
      this.opts.metrics.walRecoverySeconds.observe(seconds);
      this.opts.logger.info({ broker: id, walEpoch: epoch, sections: result.sections.length, nextEntryId: result.nextEntryId, seconds }, 'recovered the WAL of a dead broker');
    } catch (err) {
      this.opts.metrics.walRecoveries.inc({ outcome: 'failed' });
      throw err;
    }
  }

  /** A partition dead broker `id` owned and whose failover waits for its WAL recovery. */
  private ownedForRecovery(id: number, topic: string, partition: number): OwnedPartition | null {
    const t = this.state.topics.get(topic);
    const p = t?.partitions[partition];
    if (!t || !p || p.leader >= 0) return null;
    if (this.state.pendingFailovers.get(id)?.some((r) => r.topicId === t.id && r.partition === partition) !== true) return null;
    return { topicId: t.id, leaderEpoch: p.leaderEpoch, endOffset: partitionObjectsOf(this.state.objects, t.id, partition)?.endOffset ?? 0 };
  }

  /** Offline partitions that can have a leader again get one (after a broker became eligible). */
  private async recoverOffline(): Promise<void> {
    const records = planOfflineRecovery(this.state);
    if (records.length === 0) return;
    await this.commit(records);
    this.opts.metrics.reassignments.inc({ reason: 'recovery' }, records.length);
  }

  // ---- broker-facing -------------------------------------------------------------

  /**
   * A broker (re)registers. In shared-storage mode the answer carries the WAL epoch of
   * this incarnation: a new process (or one that was declared dead, whose log was fenced
   * meanwhile) gets a bumped epoch; the same live process registering again (after a
   * controller restart, or a lost answer) keeps its epoch. While the WAL of the id's
   * previous process is being recovered, registration is refused with
   * FAILOVER_IN_PROGRESS (503, retried by the broker): two fencings of one log at once
   * would fence each other.
   */
  async register(req: RegisterRequest): Promise<{ version: number; leaseMs: number; heartbeatMs: number; walEpoch?: number }> {
    this.assertUsable();
    // A lease that ran out but has not been processed yet is processed first, so that a
    // restarted broker is treated as a restart rather than refused as a duplicate.
    this.expireLeases();
    const now = this.opts.clock.monotonic();
    const known = this.state.brokers.get(req.id);
    const kind = this.leases.classify({ id: req.id, incarnation: req.incarnation, known, nowMs: now });
    this.opts.metrics.registrations.inc({ kind });
    if (kind === 'duplicate') {
      throw new ApiError('DUPLICATE_BROKER_REGISTRATION', `broker ${req.id} is registered by another process (incarnation ${known?.incarnation}) that holds a live lease`);
    }
    // A restart while the old process still counts as alive (its lease was only the
    // grace of a controller restart): the old process is declared dead first, so that
    // what it held is fenced before it is given back (to this new process, see failover.ts).
    const oldDeath = kind === 'restart' && known?.alive === true ? this.failBroker(req.id) : Promise.resolve();
    if (this.walRecoveryPending(req.id)) {
      await oldDeath;
      throw new ApiError('FAILOVER_IN_PROGRESS', `the WAL of broker ${req.id}'s previous process is being recovered; register again shortly`);
    }
    const same = known?.alive === true && known.incarnation === req.incarnation && known.host === req.host && known.port === req.port && known.rack === req.rack;
    const shared = this.state.mode === 'shared-storage';
    const walEpoch = this.state.walEpochs.get(req.id);
    const bump = shared && (walEpoch === undefined || known?.alive !== true || known.incarnation !== req.incarnation);
    const epochRecords: MetadataRecord[] = bump ? [{ type: 'wal-epoch', brokerId: req.id, epoch: (walEpoch ?? 0) + 1 }] : [];
    this.leases.grant(req.id, req.incarnation, now);
    if (!this.cancelLeaseTimer) this.scheduleLeaseCheck();
    if (same) {
      await this.commit(epochRecords);
    } else {
      this.opts.logger.info({ broker: req.id, kind, host: req.host, port: req.port, rack: req.rack, ...(bump ? { walEpoch: (walEpoch ?? 0) + 1 } : {}) }, 'broker registered');
      const registered = this.commit([{ type: 'broker-registered', broker: { id: req.id, incarnation: req.incarnation, host: req.host, port: req.port, rack: req.rack } }, ...epochRecords]);
      await oldDeath;
      await registered;
      await this.recoverOffline();
    }
    const epoch = this.state.walEpochs.get(req.id);
    return { version: this.published.version, leaseMs: this.opts.leaseMs, heartbeatMs: this.heartbeatMs, ...(shared && epoch !== undefined ? { walEpoch: epoch } : {}) };
  }

  heartbeat(req: HeartbeatRequest): HeartbeatResponse {
    const b = this.state.brokers.get(req.id);
    const version = this.published.version;
    if (!b?.alive || b.incarnation !== req.incarnation) return { registered: false, version };
    return { registered: this.leases.renew(req.id, req.incarnation, this.opts.clock.monotonic()) === 'renewed', version };
  }

  /**
   * A broker stopping cleanly: declared dead now instead of after its lease. With
   * `uploaded` (shared-storage) its WAL holds nothing and is not recovered.
   */
  async shutdown(req: ShutdownRequest): Promise<void> {
    this.assertUsable();
    const b = this.state.brokers.get(req.id);
    if (!b?.alive || b.incarnation !== req.incarnation) return;
    this.leases.revoke(req.id);
    const uploaded = req.uploaded === true;
    this.opts.logger.info({ broker: req.id, uploaded }, 'broker shutting down');
    await this.failBroker(req.id, { uploaded });
  }

  async createTopics(topics: NewTopic[], validateOnly: boolean): Promise<{ results: TopicResult[]; version: number }> {
    this.assertUsable();
    const { result, records } = planCreateTopics(this.state, topics, { validateOnly, defaults: this.opts.defaults, newTopicId: this.opts.newTopicId ?? defaultTopicId });
    return { results: result, version: await this.commit(records) };
  }

  async deleteTopics(names: string[]): Promise<{ results: TopicResult[]; version: number }> {
    this.assertUsable();
    const { result, records } = planDeleteTopics(this.state, names);
    // The deleted topics' objects start their grace period now (readers may still be at them).
    const atMs = this.opts.clock.now();
    const stamped = records.map((r): MetadataRecord => (r.type === 'topic-deleted' ? { ...r, atMs } : r));
    const version = await this.commit(stamped);
    if (stamped.length > 0) this.updateObjectGauges();
    return { results: result, version };
  }

  async createPartitions(changes: { name: string; count: number }[], validateOnly: boolean): Promise<{ results: TopicResult[]; version: number }> {
    this.assertUsable();
    const { result, records } = planCreatePartitions(this.state, changes, validateOnly);
    return { results: result, version: await this.commit(records) };
  }

  async alterTopicConfig(name: string, config: Record<string, string>, validateOnly: boolean): Promise<{ result: TopicResult; version: number }> {
    this.assertUsable();
    const { result, records } = planAlterConfig(this.state, name, config, validateOnly);
    return { result, version: await this.commit(records) };
  }

  /** A block of producer ids no other caller gets, durably (never twice, even across crashes). */
  async allocateProducerIds(brokerId: number, count: number): Promise<{ firstId: number; count: number }> {
    this.assertUsable();
    if (!Number.isInteger(count) || count < 1) throw new ApiError('INVALID_REQUEST', `count must be a positive integer, got ${count}`);
    const n = Math.min(Math.max(count, ControllerLimits.producerIdBlockSizeMin), ControllerLimits.producerIdBlockSizeMax);
    const firstId = this.state.nextProducerId;
    if (firstId + n > ControllerLimits.producerIdMax) throw new ApiError('INVALID_REQUEST', 'producer ids are exhausted');
    await this.commit([{ type: 'producer-ids', nextProducerId: firstId + n }]);
    this.opts.logger.debug({ broker: brokerId, firstId, count: n }, 'producer ids allocated');
    return { firstId, count: n };
  }

  async alterIsr(req: AlterIsrRequest): Promise<AlterIsrOutcome & { version: number }> {
    this.assertUsable();
    const { result, records } = planAlterIsr(this.state, req);
    return { ...result, version: await this.commit(records) };
  }

  // ---- shared storage: the object index --------------------------------------------

  private objectOptions(recoveryOf?: number): ObjectCommandOptions {
    return {
      keyPrefix: this.objectPrefix,
      nowMs: this.opts.clock.now(),
      collected: (key) => this.collected.has(key),
      ...(recoveryOf !== undefined ? { recoveryOf } : {}),
    };
  }

  private static outcomeOf(planned: Planned<SharedStorageResponse>): IndexOutcome {
    switch (planned.result.errorCode) {
      case Code.NONE:
        return planned.records.length > 0 ? 'committed' : 'duplicate';
      case Code.UNKNOWN_TOPIC_OR_PARTITION:
        return 'unknown_partition';
      case Code.NOT_LEADER_OR_FOLLOWER:
        return 'not_owner';
      case Code.FENCED_LEADER_EPOCH:
        return 'fenced';
      default:
        return 'invalid';
    }
  }

  /** Commits a planned index change (also when nothing changes, so that the answer follows durability). */
  private async commitIndex(planned: Planned<SharedStorageResponse>): Promise<SharedStorageResponse> {
    await this.commit(planned.records);
    if (planned.records.length > 0) this.updateObjectGauges();
    return planned.result;
  }

  /** A broker's uploaded object: its sections extend their partitions' indexes (object-commands.ts). */
  async commitObject(req: CommitObjectRequest): Promise<SharedStorageResponse> {
    this.assertUsable();
    const planned = planCommitObject(this.state, req, this.objectOptions());
    this.opts.metrics.objectCommits.inc({ outcome: Controller.outcomeOf(planned) });
    return this.commitIndex(planned);
  }

  /** The WAL recovery's commits, as dead broker `recoveryOf`, for its offline partitions. */
  private async commitObjectAs(req: CommitObjectRequest, recoveryOf: number): Promise<SharedStorageResponse> {
    this.assertUsable();
    const planned = planCommitObject(this.state, req, this.objectOptions(recoveryOf));
    this.opts.metrics.objectCommits.inc({ outcome: Controller.outcomeOf(planned) });
    if (planned.result.errorCode !== Code.NONE) this.opts.logger.warn({ broker: recoveryOf, key: req.key, errorCode: planned.result.errorCode, message: planned.result.errorMessage }, 'WAL recovery commit refused');
    return this.commitIndex(planned);
  }

  /** Compaction: a new object replaces runs of whole ranges. */
  async replaceObjects(req: ReplaceObjectsRequest): Promise<SharedStorageResponse> {
    this.assertUsable();
    const planned = planReplaceObjects(this.state, req, this.objectOptions());
    this.opts.metrics.objectReplacements.inc({ outcome: Controller.outcomeOf(planned) });
    return this.commitIndex(planned);
  }

  async advanceLogStart(req: AdvanceLogStartRequest): Promise<SharedStorageResponse> {
    this.assertUsable();
    return this.commitIndex(planAdvanceLogStart(this.state, req, this.opts.clock.now()));
  }

  /** Where a partition's data lives (durable state only). */
  async partitionObjects(topic: string, partition: number): Promise<PartitionObjectsResponse> {
    await this.readBarrier();
    return describePartitionObjects(this.state, topic, partition);
  }

  partitionObjectsSummary(topic: string, partition: number): PartitionObjectsSummary | null {
    const t = this.state.topics.get(topic);
    if (!t?.partitions[partition]) return null;
    const p = partitionObjectsOf(this.state.objects, t.id, partition);
    let bytes = 0;
    const keys = new Set<string>();
    for (const r of p?.ranges ?? []) {
      bytes += r.length;
      keys.add(r.key);
    }
    return { logStartOffset: p?.logStartOffset ?? 0, endOffset: p?.endOffset ?? 0, objects: keys.size, ranges: p?.ranges.length ?? 0, bytes };
  }

  objectStats(): ObjectStats {
    const idx = this.state.objects;
    let partitionsWithData = 0;
    for (const byIndex of idx.partitions.values()) for (const p of byIndex.values()) if (p.ranges.length > 0) partitionsWithData++;
    let oldest: number | null = null;
    for (const g of idx.garbage.values()) if (oldest === null || g.sinceMs < oldest) oldest = g.sinceMs;
    return {
      objectStore: this.opts.objectStore !== undefined,
      prefix: this.objectPrefix,
      graceMs: this.graceMs,
      objects: idx.objects.size,
      bytes: idx.bytes,
      ranges: idx.ranges,
      partitionsWithData,
      garbagePending: { objects: idx.garbage.size, bytes: idx.garbageBytes, oldestSinceMs: oldest },
      deleted: { ...this.deletedCounts },
      lastOrphanScan: this.lastOrphanScan,
    };
  }

  private updateObjectGauges(): void {
    const m = this.opts.metrics;
    const idx = this.state.objects;
    m.objects.set(idx.objects.size);
    m.objectBytes.set(idx.bytes);
    m.garbageObjects.set(idx.garbage.size);
    m.garbageBytes.set(idx.garbageBytes);
  }

  // ---- shared storage: garbage and orphan collection -------------------------------

  /** Remembers a collected key (bounded, oldest forgotten first), so that a late commit of it is refused. */
  private rememberCollected(key: string): void {
    this.collected.add(key);
    if (this.collected.size > ControllerLimits.deletedKeysRememberedMax) {
      const oldest = this.collected.values().next();
      if (oldest.done !== true) this.collected.delete(oldest.value);
    }
  }

  private scheduleGc(): void {
    if (this.closed) return;
    const l = ControllerLimits;
    const every = Math.max(l.garbageCheckMsMin, Math.min(l.garbageCheckMsMax, Math.floor(this.graceMs / 2)));
    this.cancelGcTimer = this.opts.clock.setTimer(every, () => {
      this.cancelGcTimer = null;
      this.gcRun = this.collectOnce()
        .catch((err: unknown) => this.opts.logger.error({ err }, 'object collection failed'))
        .finally(() => {
          this.gcRun = null;
          this.scheduleGc();
        });
    });
  }

  /** One collection pass (run by a timer): due garbage is deleted, and the bucket scanned for orphans when that is due. */
  private async collectOnce(): Promise<void> {
    const store = this.opts.objectStore;
    if (!store || this.closed || this.fatalError) return;
    const due = garbageDue(this.state.objects, this.opts.clock.now(), this.graceMs, ControllerLimits.garbageKeysPerPassMax);
    if (due.length > 0) {
      for (const k of due) this.rememberCollected(k);
      try {
        await store.delete(due);
      } catch (err) {
        this.opts.metrics.objectCollectionFailures.inc({ reason: 'garbage' });
        this.opts.logger.warn({ err, objects: due.length }, 'could not delete garbage objects; retrying at the next pass');
        return;
      }
      // Deleting twice is harmless, so a crash before this record only repeats the delete.
      await this.commit([{ type: 'objects-deleted', keys: due }]);
      this.updateObjectGauges();
      this.deletedCounts.garbage += due.length;
      this.opts.metrics.objectsDeleted.inc({ reason: 'garbage' }, due.length);
      this.opts.logger.info({ objects: due.length }, 'deleted unreferenced objects');
    }
    if (this.orphanScanMs > 0 && this.opts.clock.monotonic() >= this.nextOrphanScanMs) {
      this.nextOrphanScanMs = this.opts.clock.monotonic() + this.orphanScanMs;
      try {
        await this.scanOrphans(store);
      } catch (err) {
        this.opts.metrics.objectCollectionFailures.inc({ reason: 'orphan' });
        this.opts.logger.warn({ err }, 'orphan scan failed; retrying at the next scan');
      }
    }
  }

  /**
   * Deletes objects under the prefix that the index does not know and that are older than
   * the grace period (uploads never committed). Each key is checked against the index and
   * marked collected in one synchronous step before its delete is sent, so a commit
   * racing the scan either lands first (and the key is kept) or is refused.
   */
  private async scanOrphans(store: ObjectStore): Promise<void> {
    const atMs = this.opts.clock.now();
    const isReferenced = (key: string): boolean => knowsObject(this.state.objects, key) || this.collected.has(key);
    let batch: string[] = [];
    let deleted = 0;
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      await store.delete(batch);
      deleted += batch.length;
      this.deletedCounts.orphans += batch.length;
      this.opts.metrics.objectsDeleted.inc({ reason: 'orphan' }, batch.length);
      batch = [];
    };
    for await (const info of findOrphans({ store, prefix: this.objectPrefix, isReferenced, graceMs: this.graceMs, nowMs: atMs })) {
      if (this.closed) return;
      if (isReferenced(info.key)) continue;
      this.rememberCollected(info.key);
      batch.push(info.key);
      bytes += info.size;
      if (batch.length >= 1000) await flush();
    }
    await flush();
    this.lastOrphanScan = { atMs, deleted, bytes };
    if (deleted > 0) this.opts.logger.info({ objects: deleted, bytes }, 'deleted orphaned objects (uploaded, never committed)');
  }

  // ---- shared storage: hand-over ---------------------------------------------------

  private static handoverKey(h: { topicId: string; partition: number }): string {
    return `${h.topicId}\u0000${h.partition}`;
  }

  /** Keeps one timeout per live hand-over: new ones start theirs, vanished ones are forgotten. */
  private armHandovers(): void {
    if (this.closed || this.state.mode !== 'shared-storage') return;
    const live = new Set<string>();
    for (const h of handoversOf(this.state)) {
      const k = Controller.handoverKey(h);
      live.add(k);
      const cur = this.handoverTimers.get(k);
      if (cur && cur.h.to === h.to && cur.h.from === h.from && cur.h.leaderEpoch === h.leaderEpoch) continue;
      cur?.cancel();
      this.opts.logger.info({ topic: h.topic, partition: h.partition, from: h.from, to: h.to, timeoutMs: this.handoverTimeoutMs }, 'hand-over started');
      this.handoverTimers.set(k, { h, startedMs: this.opts.clock.monotonic(), cancel: this.opts.clock.setTimer(this.handoverTimeoutMs, () => this.expireHandover(h)) });
    }
    for (const [k, t] of this.handoverTimers) {
      if (live.has(k)) continue;
      // Gone without an outcome counted elsewhere: its topic was deleted.
      t.cancel();
      this.handoverTimers.delete(k);
      this.opts.metrics.handovers.inc({ outcome: 'cancelled' });
    }
  }

  /** Forgets a hand-over's timeout and counts how it ended. */
  private endHandover(h: Handover, outcome: HandoverOutcome): void {
    const k = Controller.handoverKey(h);
    const t = this.handoverTimers.get(k);
    if (t) {
      t.cancel();
      this.handoverTimers.delete(k);
    }
    this.opts.metrics.handovers.inc({ outcome });
    const ms = t ? this.opts.clock.monotonic() - t.startedMs : null;
    const fields = { topic: h.topic, partition: h.partition, from: h.from, to: h.to, outcome, ms };
    if (outcome === 'completed') this.opts.logger.info(fields, 'hand-over completed');
    else this.opts.logger.warn(fields, 'hand-over ended without completing');
  }

  private expireHandover(h: Handover): void {
    const k = Controller.handoverKey(h);
    if (this.handoverTimers.get(k)?.h !== h) return;
    if (this.closed || this.fatalError) return;
    const { result: expired, records } = planHandoverExpiry(this.state, h);
    if (!expired) return;
    this.endHandover(h, 'timed_out');
    this.commit(records).catch((err: unknown) => this.opts.logger.error({ err, topic: h.topic, partition: h.partition }, 'could not abandon a hand-over'));
  }

  /** Hand-overs that a move cancels (back to the owner) or re-targets, before the move is committed. */
  private countHandoverChanges(records: readonly MetadataRecord[]): void {
    for (const r of records) {
      if (r.type !== 'partition-changed') continue;
      const t = this.state.topics.get(r.topic);
      const old = t?.partitions[r.partition.index];
      if (!t || !old || old.handoverTo === undefined || old.leader < 0 || r.partition.leader !== old.leader) continue;
      if (r.partition.handoverTo === old.handoverTo) continue;
      const h: Handover = { topic: t.name, topicId: t.id, partition: old.index, from: old.leader, to: old.handoverTo, leaderEpoch: old.leaderEpoch };
      this.endHandover(h, r.partition.handoverTo === undefined ? 'cancelled' : 'retargeted');
    }
  }

  /** The owner has committed everything and stopped: ownership moves to the hand-over's target. */
  async release(req: ReleasePartitionRequest): Promise<ReleasePartitionResponse> {
    this.assertUsable();
    const { result, records } = planRelease(this.state, req);
    if (result.handover) this.endHandover(result.handover, 'completed');
    const version = await this.commit(records);
    return { errorCode: result.errorCode, errorMessage: result.errorMessage, version };
  }

  // ---- admin ---------------------------------------------------------------------

  describeBrokers(): BrokerDescription[] {
    const leaders = new Map<number, number>();
    const replicas = new Map<number, number>();
    for (const t of this.state.topics.values()) {
      for (const p of t.partitions) {
        if (p.leader >= 0) leaders.set(p.leader, (leaders.get(p.leader) ?? 0) + 1);
        for (const r of p.replicas) replicas.set(r, (replicas.get(r) ?? 0) + 1);
      }
    }
    const now = this.opts.clock.monotonic();
    return [...this.state.brokers.values()]
      .sort((a, b) => a.id - b.id)
      .map((b) => ({
        id: b.id,
        host: b.host,
        port: b.port,
        rack: b.rack,
        status: b.alive ? 'alive' : 'dead',
        draining: b.draining,
        incarnation: b.incarnation,
        leaders: leaders.get(b.id) ?? 0,
        replicas: replicas.get(b.id) ?? 0,
        lastHeartbeatAgoMs: b.alive ? this.leases.ageMs(b.id, now) : null,
      }));
  }

  overview(): Record<string, unknown> {
    const brokers = [...this.state.brokers.values()];
    let partitions = 0;
    let offline = 0;
    let underReplicated = 0;
    for (const t of this.state.topics.values()) {
      for (const p of t.partitions) {
        partitions++;
        if (p.leader < 0) offline++;
        if (p.isr.length < p.replicas.length) underReplicated++;
      }
    }
    return {
      clusterId: this.state.clusterId,
      mode: this.state.mode,
      metadataVersion: this.published.version,
      controllerId: clientControllerId(this.state),
      leaseMs: this.opts.leaseMs,
      brokers: { registered: brokers.length, alive: liveBrokers(this.state).length, draining: brokers.filter((b) => b.draining).length },
      topics: this.state.topics.size,
      partitions,
      offlinePartitions: offline,
      underReplicatedPartitions: underReplicated,
      pendingFailovers: [...this.state.pendingFailovers.keys()],
      ...(this.state.mode === 'shared-storage'
        ? { handoversInProgress: handoversOf(this.state).length, objectStore: this.opts.objectStore !== undefined, walRecovery: this.opts.walRecovery !== undefined }
        : {}),
    };
  }

  private broker(id: number, status = 404): BrokerState {
    const b = this.state.brokers.get(id);
    if (!b) throw new ApiError('UNKNOWN_BROKER', `no broker ${id} has registered`, { status });
    return b;
  }

  private partitionOf(topic: string, index: number): PartitionState {
    const t = this.state.topics.get(topic);
    if (!t) throw new ApiError('UNKNOWN_TOPIC', `unknown topic ${topic}`);
    const p = t.partitions[index];
    if (!p) throw new ApiError('UNKNOWN_PARTITION', `topic ${topic} has ${t.partitions.length} partitions; there is no partition ${index}`);
    return p;
  }

  private countReassignments(reason: ReassignReason, records: MetadataRecord[]): void {
    this.opts.metrics.reassignments.inc({ reason }, records.filter((r) => r.type === 'partition-changed').length);
  }

  /**
   * Moves one partition: in shared-storage mode to `owner`; in shared-nothing mode to
   * the replica list `replicas` (the leader stays if it can, else the first in-sync one).
   */
  async reassign(topic: string, index: number, target: { owner?: number; replicas?: number[] }): Promise<PartitionState> {
    this.assertUsable();
    const p = this.partitionOf(topic, index);
    const check = (id: number, { mustBeEligible }: { mustBeEligible: boolean }): void => {
      const b = this.broker(id, 400);
      if (!mustBeEligible) return;
      if (!b.alive) throw new ApiError('BROKER_NOT_ALIVE', `broker ${id} is not alive`);
      if (b.draining) throw new ApiError('BROKER_DRAINING', `broker ${id} is draining`);
    };
    let next: PartitionState;
    if (this.state.mode === 'shared-storage') {
      const owner = target.owner ?? (target.replicas?.length === 1 ? target.replicas[0] : undefined);
      if (owner === undefined || (target.owner !== undefined && target.replicas !== undefined)) {
        throw new ApiError('INVALID_REPLICAS', 'shared-storage partitions have one owner: give "owner" (or "replicas" with exactly one broker)');
      }
      check(owner, { mustBeEligible: owner !== p.leader });
      const t = this.state.topics.get(topic);
      if (!t) throw new ApiError('UNKNOWN_TOPIC', `unknown topic ${topic}`);
      next = moveOwner(this.state, t, p, owner);
    } else {
      const replicas = target.replicas;
      if (!replicas || target.owner !== undefined) throw new ApiError('INVALID_REPLICAS', 'shared-nothing partitions take a replica list: give "replicas"');
      if (replicas.length < 1 || replicas.length > ControllerLimits.replicationFactorMax || new Set(replicas).size !== replicas.length) {
        throw new ApiError('INVALID_REPLICAS', `replicas must be 1 to ${ControllerLimits.replicationFactorMax} distinct broker ids, got ${JSON.stringify(replicas)}`);
      }
      // Brokers already holding a replica may stay whatever their state; new ones must be able to take it.
      for (const r of replicas) check(r, { mustBeEligible: !p.replicas.includes(r) });
      next = withReplicas(p, replicas, new Set(liveBrokers(this.state).map((b) => b.id)));
      if (next.leader < 0) throw new ApiError('BROKER_NOT_ALIVE', `none of ${JSON.stringify(replicas)} is alive to lead`);
    }
    if (next !== p) {
      const records: MetadataRecord[] = [{ type: 'partition-changed', topic, partition: next }];
      this.countHandoverChanges(records);
      await this.commit(records);
      this.countReassignments('admin', records);
      this.opts.logger.info({ topic, partition: index, leader: next.leader, replicas: next.replicas, leaderEpoch: next.leaderEpoch }, 'partition reassigned');
    } else {
      await this.log.barrier();
    }
    return next;
  }

  private zones(): Map<number, string> {
    return new Map([...this.state.brokers.values()].map((b) => [b.id, zoneOf(b)]));
  }

  /** Marks `id` draining (no new partitions) and moves everything it holds elsewhere. */
  async drain(id: number): Promise<{ broker: number; moves: Move[] }> {
    this.assertUsable();
    const b = this.broker(id);
    const eligible = eligibleBrokers(this.state)
      .filter((e) => e.id !== id)
      .map((e) => ({ id: e.id, rack: e.rack }));
    const moves = planDrain({ brokerId: id, eligible, zones: this.zones(), partitions: unitsOf(this.state) });
    if (!moves) throw new ApiError('NO_ELIGIBLE_BROKER', `no other live, non-draining broker can take what broker ${id} holds`);
    const records: MetadataRecord[] = [...(b.draining ? [] : [{ type: 'broker-draining' as const, id, draining: true }]), ...planMoves(this.state, moves)];
    this.countHandoverChanges(records);
    await this.commit(records);
    this.countReassignments('drain', records);
    this.opts.logger.info({ broker: id, moves: moves.length }, 'broker drained');
    return { broker: id, moves };
  }

  /** Lets a drained broker take partitions again (they come by rebalance or failover). */
  async undrain(id: number): Promise<void> {
    this.assertUsable();
    const b = this.broker(id);
    if (!b.draining) {
      await this.log.barrier();
      return;
    }
    await this.commit([{ type: 'broker-draining', id, draining: false }]);
    await this.recoverOffline();
  }

  /** Forgets a dead broker that holds nothing. */
  async removeBroker(id: number): Promise<void> {
    this.assertUsable();
    const b = this.broker(id);
    if (b.alive) throw new ApiError('BROKER_ALIVE', `broker ${id} is alive; stop it first`);
    if (this.state.pendingFailovers.has(id)) throw new ApiError('BROKER_HAS_PARTITIONS', `broker ${id}'s failover is still in progress`);
    for (const t of this.state.topics.values()) {
      for (const p of t.partitions) {
        if (p.replicas.includes(id) || p.leader === id) throw new ApiError('BROKER_HAS_PARTITIONS', `broker ${id} still holds ${t.name}-${p.index}; drain it first`);
      }
    }
    this.leases.revoke(id);
    await this.commit([{ type: 'broker-removed', id }]);
  }

  /** Evens out partitions over eligible brokers (see placement.ts); `dryRun` only plans. */
  async rebalance(dryRun: boolean): Promise<{ moves: Move[] }> {
    this.assertUsable();
    const eligible = eligibleBrokers(this.state).map((e) => ({ id: e.id, rack: e.rack }));
    const moves = planRebalance({ eligible, zones: this.zones(), partitions: unitsOf(this.state) });
    if (!dryRun && moves.length > 0) {
      const records = planMoves(this.state, moves);
      this.countHandoverChanges(records);
      await this.commit(records);
      this.countReassignments('rebalance', records);
      this.opts.logger.info({ moves: moves.length }, 'rebalanced');
    } else {
      await this.log.barrier();
    }
    return { moves };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelLeaseTimer?.();
    this.cancelGcTimer?.();
    for (const t of this.handoverTimers.values()) t.cancel();
    this.handoverTimers.clear();
    await this.gcRun?.catch(() => undefined);
    for (const w of this.waiters) {
      w.cancelTimer();
      w.resolve({ changed: false, version: this.published.version });
    }
    this.waiters.clear();
    await this.log.close();
  }
}
