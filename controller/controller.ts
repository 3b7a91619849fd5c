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
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { Logger } from 'pino';
import type { Clock } from '../src/common/clock.ts';
import type { FileSystem } from '../src/common/fs.ts';
import type { NewTopic, TopicResult } from '../src/metadata/cluster-view.ts';
import type { AlterIsrRequest, ControllerMode, HeartbeatRequest, HeartbeatResponse, RegisterRequest } from '../src/metadata/controller-api.ts';
import { planAlterConfig, planAlterIsr, planCreatePartitions, planCreateTopics, planDeleteTopics, type AlterIsrOutcome, type TopicDefaults } from './commands.ts';
import { ApiError, ControllerConfigError, MetadataLogCorruptError } from './errors.ts';
import { planBrokerDeath, planFailoverCompletion, planMoves, planOfflineRecovery, unitsOf, withOwner, withReplicas } from './failover.ts';
import { ControllerLimits, assertControllerLimits, heartbeatMsFor } from './limits.ts';
import { LeaseTable } from './liveness.ts';
import { MetadataLog } from './metadata-log.ts';
import type { ControllerMetrics, ReassignReason } from './metrics.ts';
import { planDrain, planRebalance, zoneOf, type Move } from './placement.ts';
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

  private constructor(
    private readonly opts: ControllerOptions,
    private readonly log: MetadataLog,
    private readonly state: MetadataState,
  ) {
    this.leases = new LeaseTable(opts.leaseMs);
    this.heartbeatMs = heartbeatMsFor(opts.leaseMs);
    this.published = { version: state.version, json: JSON.stringify(toWireView(state)) };
  }

  static async open(opts: ControllerOptions): Promise<Controller> {
    assertControllerLimits(opts.leaseMs);
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
    c.updateGauges();
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
    if (this.closed) return;
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
  private async failBroker(id: number): Promise<void> {
    const records = planBrokerDeath(this.state, id);
    if (records.length === 0) return;
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

  /** shared-storage: awaits the hook (retrying), then gives the dead broker's partitions owners. */
  private async completeFailover(id: number, started: number): Promise<void> {
    const hook = this.opts.beforeReassign;
    for (;;) {
      if (this.closed || this.fatalError) return;
      const refs = this.state.pendingFailovers.get(id);
      if (!refs) return;
      if (!hook) break;
      try {
        await hook({ deadBrokerId: id, partitions: refs });
        // The broker may have died again meanwhile, adding partitions: fence again for them.
        if (this.state.pendingFailovers.get(id) === refs) break;
      } catch (err) {
        this.opts.metrics.failovers.inc({ outcome: 'hook_failed' });
        this.opts.logger.error({ err, broker: id, retryMs: ControllerLimits.reassignHookRetryMs }, 'beforeReassign failed; its partitions stay offline');
        await new Promise<void>((resolve) => this.opts.clock.setTimer(ControllerLimits.reassignHookRetryMs, resolve));
      }
    }
    const records = planFailoverCompletion(this.state, id);
    await this.commit(records);
    const moved = records.filter((r) => r.type === 'partition-changed').length;
    this.opts.metrics.reassignments.inc({ reason: 'failover' }, moved);
    this.opts.metrics.failovers.inc({ outcome: 'completed' });
    this.opts.metrics.failoverSeconds.observe((this.opts.clock.monotonic() - started) / 1000);
    this.opts.logger.info({ broker: id, moved }, 'failover completed');
  }

  /** Offline partitions that can have a leader again get one (after a broker became eligible). */
  private async recoverOffline(): Promise<void> {
    const records = planOfflineRecovery(this.state);
    if (records.length === 0) return;
    await this.commit(records);
    this.opts.metrics.reassignments.inc({ reason: 'recovery' }, records.length);
  }

  // ---- broker-facing -------------------------------------------------------------

  async register(req: RegisterRequest): Promise<{ version: number; leaseMs: number; heartbeatMs: number }> {
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
    const same = known?.alive === true && known.incarnation === req.incarnation && known.host === req.host && known.port === req.port && known.rack === req.rack;
    this.leases.grant(req.id, req.incarnation, now);
    if (!this.cancelLeaseTimer) this.scheduleLeaseCheck();
    if (same) {
      await this.log.barrier();
    } else {
      this.opts.logger.info({ broker: req.id, kind, host: req.host, port: req.port, rack: req.rack }, 'broker registered');
      const registered = this.commit([{ type: 'broker-registered', broker: { id: req.id, incarnation: req.incarnation, host: req.host, port: req.port, rack: req.rack } }]);
      await oldDeath;
      await registered;
      await this.recoverOffline();
    }
    return { version: this.published.version, leaseMs: this.opts.leaseMs, heartbeatMs: this.heartbeatMs };
  }

  heartbeat(req: HeartbeatRequest): HeartbeatResponse {
    const b = this.state.brokers.get(req.id);
    const version = this.published.version;
    if (!b?.alive || b.incarnation !== req.incarnation) return { registered: false, version };
    return { registered: this.leases.renew(req.id, req.incarnation, this.opts.clock.monotonic()) === 'renewed', version };
  }

  /** A broker stopping cleanly: declared dead now instead of after its lease. */
  async shutdown(req: HeartbeatRequest): Promise<void> {
    this.assertUsable();
    const b = this.state.brokers.get(req.id);
    if (!b?.alive || b.incarnation !== req.incarnation) return;
    this.leases.revoke(req.id);
    this.opts.logger.info({ broker: req.id }, 'broker shutting down');
    await this.failBroker(req.id);
  }

  async createTopics(topics: NewTopic[], validateOnly: boolean): Promise<{ results: TopicResult[]; version: number }> {
    this.assertUsable();
    const { result, records } = planCreateTopics(this.state, topics, { validateOnly, defaults: this.opts.defaults, newTopicId: this.opts.newTopicId ?? defaultTopicId });
    return { results: result, version: await this.commit(records) };
  }

  async deleteTopics(names: string[]): Promise<{ results: TopicResult[]; version: number }> {
    this.assertUsable();
    const { result, records } = planDeleteTopics(this.state, names);
    return { results: result, version: await this.commit(records) };
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
      next = withOwner(p, owner);
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
    for (const w of this.waiters) {
      w.cancelTimer();
      w.resolve({ changed: false, version: this.published.version });
    }
    this.waiters.clear();
    await this.log.close();
  }
}
