/**
 * The group coordinator of one broker: the I/O around the pure GroupStateMachine.
 *
 * The coordinator of a group is the broker serving partition
 * `abs(javaHash(groupId)) % partitions` of __consumer_offsets (created on the first
 * FindCoordinator). Because the coordinator follows that partition, coordination moves
 * with the partition when its owner dies or it is reassigned: nothing else is needed.
 *
 * For every offsets partition this broker serves it keeps one state machine:
 *   opened  → replay the partition's log from its start (COORDINATOR_LOAD_IN_PROGRESS meanwhile),
 *   serving → requests go to the machine; its records are appended through Partition.append
 *             and acknowledged only once fully durable (acks=all), within
 *             offsets.commit.timeout.ms; one timer is armed for the machine's next deadline,
 *   closing → the machine is unloaded (waiting requests get NOT_COORDINATOR).
 * A failed append means the log dropped that batch and every later one, so the partition
 * is reloaded from its log rather than trusting memory that the log no longer backs.
 *
 * The log is kept bounded by rewriting its live records and moving its start past the
 * old ones (offsets-log.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BrokerInfo, MetadataStore } from '../../metadata/cluster-view.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { readBatchHeader } from '../../protocol/record-batch.ts';
import type { Broker } from '../broker.ts';
import { withDeadline } from '../durability.ts';
import { kafkaCodeOf, messageOf, RequestTimeoutError } from '../errors.ts';
import type { Partition } from '../partition.ts';
import type { JoinResult, SyncResult } from './group.ts';
import { assertGroupLimits, groupConfigFrom, GroupLimits, GroupSettingDefaults, OFFSETS_TOPIC, type GroupConfig, type GroupSettingName } from './limits.ts';
import { encodeBatches, LiveRecords, readOffsetsLog } from './offsets-log.ts';
import { partitionForGroup } from './partitioning.ts';
import { encodeOffsetsBatch, type OffsetsRecord } from './records.ts';
import {
  GroupStateMachine,
  type CommitErrorCode,
  type CommitRequest,
  type GroupDescription,
  type GroupOverview,
  type GroupStore,
  type HeartbeatRequest,
  type JoinRequest,
  type LeaveResult,
  type SyncRequest,
} from './state-machine.ts';

/** Longest single timer (setTimeout's limit); a later deadline is reached in steps. */
const TIMER_MS_MAX = 2 ** 31 - 1;
/** Wait before loading an offsets partition again after its log could not be read. */
const LOAD_RETRY_BACKOFF_MS = 1_000;

export type Routed = { ok: true; partition: CoordinatedPartition } | { ok: false; errorCode: ErrorCode };

export interface CoordinatorLookup {
  errorCode: ErrorCode;
  errorMessage: string | null;
  node: BrokerInfo | null;
}

export interface CoordinatorOptions {
  newMemberId?: (clientId: string) => string;
}

const coordinators = new WeakMap<Broker, GroupCoordinator>();

/**
 * The broker's coordinator, created (and subscribed to the broker's partitions) on first
 * use. Calling it before `broker.start()` makes the coordinator load offsets partitions
 * as soon as they open rather than at the first group request.
 */
export function groupCoordinatorOf(broker: Broker, opts: CoordinatorOptions = {}): GroupCoordinator {
  let c = coordinators.get(broker);
  if (!c) {
    c = new GroupCoordinator(broker, opts);
    coordinators.set(broker, c);
    c.attach();
  }
  return c;
}

export class GroupCoordinator {
  readonly config: GroupConfig;
  private readonly owned = new Map<number, CoordinatedPartition>();
  private creatingTopic: Promise<void> | null = null;
  readonly logger: Logger;
  readonly newMemberId: (clientId: string) => string;

  constructor(
    readonly broker: Broker,
    opts: CoordinatorOptions = {},
  ) {
    assertGroupLimits();
    this.config = groupConfigFrom((name) => this.setting(name));
    this.logger = broker.logger.child({ component: 'group-coordinator' });
    this.newMemberId = opts.newMemberId ?? ((clientId) => `${clientId}-${randomUUID()}`);
  }

  setting(name: GroupSettingName): number {
    return this.broker.numberSetting(name, GroupSettingDefaults[name]);
  }

  /** Follows the broker's offsets partitions, including those already open. */
  attach(): void {
    this.broker.addPartitionListener({ opened: (p) => this.onOpened(p), closing: (p) => this.onClosing(p) });
    // Before broker.start() there is no metadata yet, and no partition is open.
    const store = this.broker.metadata as MetadataStore | undefined;
    const topic = store?.current().topics.get(OFFSETS_TOPIC);
    for (const p of topic?.partitions ?? []) {
      const lookup = this.broker.partition(OFFSETS_TOPIC, p.index);
      if (lookup.ok) this.onOpened(lookup.partition);
    }
  }

  private onOpened(part: Partition): void {
    if (part.topic !== OFFSETS_TOPIC || this.owned.get(part.index)?.part === part) return;
    const cp = new CoordinatedPartition(this, part);
    this.owned.set(part.index, cp);
    cp.startLoading();
  }

  private onClosing(part: Partition): void {
    if (part.topic !== OFFSETS_TOPIC) return;
    const cp = this.owned.get(part.index);
    if (cp?.part !== part) return;
    this.owned.delete(part.index);
    cp.close();
  }

  /**
   * Kafka's validateGroupStatus: the group id is valid for the API, this broker
   * coordinates the group, and its partition is loaded.
   */
  route(groupId: string, allowEmptyGroupId: boolean): Routed {
    if (groupId === '' && !allowEmptyGroupId) return { ok: false, errorCode: ErrorCode.INVALID_GROUP_ID };
    const topic = this.broker.view.topics.get(OFFSETS_TOPIC);
    if (!topic || topic.partitions.length === 0) return { ok: false, errorCode: ErrorCode.NOT_COORDINATOR };
    const index = partitionForGroup(groupId, topic.partitions.length);
    const cp = this.owned.get(index);
    if (!cp) {
      // Open but not yet handed to the coordinator: it is about to load.
      const lookup = this.broker.partition(OFFSETS_TOPIC, index);
      return { ok: false, errorCode: lookup.ok ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NOT_COORDINATOR };
    }
    if (!cp.ready) return { ok: false, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS };
    return { ok: true, partition: cp };
  }

  /** FindCoordinator for a group: the broker serving its offsets partition. */
  async findCoordinator(groupId: string): Promise<CoordinatorLookup> {
    const unavailable = (message: string): CoordinatorLookup => ({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: message, node: null });
    await this.ensureOffsetsTopic();
    const view = this.broker.view;
    const topic = view.topics.get(OFFSETS_TOPIC);
    if (!topic || topic.partitions.length === 0) return unavailable(`${OFFSETS_TOPIC} does not exist yet`);
    const index = partitionForGroup(groupId, topic.partitions.length);
    const leader = topic.partitions[index]?.leader ?? -1;
    if (leader < 0) return unavailable(`${OFFSETS_TOPIC}-${index} has no leader`);
    const node = view.brokers.find((b) => b.id === leader);
    if (!node) return unavailable(`the leader ${leader} of ${OFFSETS_TOPIC}-${index} is not a live broker`);
    return { errorCode: ErrorCode.NONE, errorMessage: null, node };
  }

  /** Creates __consumer_offsets when it does not exist (once, however many ask at a time). */
  private async ensureOffsetsTopic(): Promise<void> {
    if (this.broker.view.topics.has(OFFSETS_TOPIC)) return;
    if (!this.creatingTopic) {
      this.creatingTopic = this.createOffsetsTopic().finally(() => {
        this.creatingTopic = null;
      });
    }
    await this.creatingTopic;
  }

  private async createOffsetsTopic(): Promise<void> {
    const view = this.broker.view;
    // Kafka refuses to create the topic with fewer live brokers than its replication
    // factor (answering COORDINATOR_NOT_AVAILABLE until there are enough); floe takes as
    // many replicas as there are brokers, so that a one- or two-broker cluster has groups.
    const replicationFactor = Math.max(1, Math.min(this.setting('offsets.topic.replication.factor'), view.brokers.length));
    try {
      const [result] = await this.broker.metadata.createTopics(
        [
          {
            name: OFFSETS_TOPIC,
            numPartitions: Math.max(1, this.setting('offsets.topic.num.partitions')),
            replicationFactor,
            internal: true,
            config: {
              // Only the coordinator trims this log (by rewriting it): time or size
              // retention would delete the only record of a group that is still alive.
              'retention.ms': '-1',
              'retention.bytes': '-1',
              'segment.bytes': String(this.setting('offsets.topic.segment.bytes')),
              'max.message.bytes': String(GroupLimits.offsetsRecordBytesMax),
            },
          },
        ],
        false,
      );
      if (result && result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
        this.logger.warn({ errorCode: result.errorCode, message: result.errorMessage }, `cannot create ${OFFSETS_TOPIC}`);
      }
      await this.broker.settled();
    } catch (err) {
      this.logger.warn({ err }, `cannot create ${OFFSETS_TOPIC}`);
    }
  }

  /** ListGroups: the groups of every offsets partition this broker coordinates. */
  listGroups(statesFilter: readonly string[]): { errorCode: ErrorCode; groups: GroupOverview[] } {
    let errorCode: ErrorCode = ErrorCode.NONE;
    const groups: GroupOverview[] = [];
    for (const cp of this.owned.values()) {
      if (!cp.ready) errorCode = ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
      else groups.push(...cp.list(statesFilter));
    }
    return { errorCode, groups };
  }

  /** The offsets partitions this broker coordinates (tests and tooling). */
  coordinatedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }
}

/** One __consumer_offsets partition this broker serves, and the groups it holds. */
export class CoordinatedPartition implements GroupStore {
  private machine: GroupStateMachine | null = null;
  private live = new LiveRecords();
  /** Bumped by every (re)load: completions of an older load's appends do not trigger reloads. */
  private epoch = 0;
  private closed = false;
  private cancelTimer: (() => void) | null = null;
  private armedFor = Number.NaN;
  private rewriting = false;
  private readonly logger: Logger;

  constructor(
    private readonly coordinator: GroupCoordinator,
    readonly part: Partition,
  ) {
    this.logger = coordinator.logger.child({ offsetsPartition: part.index });
  }

  get ready(): boolean {
    return this.machine !== null && !this.closed;
  }

  private get clock(): Broker['clock'] {
    return this.coordinator.broker.clock;
  }

  startLoading(): void {
    this.load().catch((err: unknown) => {
      if (this.closed) return;
      this.logger.error({ err }, 'cannot load offsets partition; retrying');
      const cancel = this.clock.setTimer(LOAD_RETRY_BACKOFF_MS, () => {
        this.cancelTimer = null;
        if (!this.closed && this.machine === null) this.startLoading();
      });
      this.cancelTimer = cancel;
    });
  }

  private async load(): Promise<void> {
    const epoch = ++this.epoch;
    const startedAt = this.clock.monotonic();
    const log = this.part.log;
    const machine = new GroupStateMachine({
      config: this.coordinator.config,
      store: this,
      newMemberId: this.coordinator.newMemberId,
      log: (message, fields) => this.logger.info(fields, message),
      now: this.clock.now(),
    });
    const live = new LiveRecords();
    const loadNow = this.clock.now();
    let records = 0;
    await readOffsetsLog(
      log,
      { fromOffset: log.logStartOffset(), endOffset: log.logEndOffset(), readBytesMax: Math.max(1, this.coordinator.setting('offsets.load.buffer.size')) },
      ({ record }) => {
        machine.replay(record, loadNow);
        live.apply(record);
        records++;
      },
      this.logger,
    );
    if (this.closed || epoch !== this.epoch) return;
    machine.finishLoad(this.clock.now());
    this.machine = machine;
    this.live = live;
    this.logger.info({ groups: machine.size, records, ms: Math.round(this.clock.monotonic() - startedAt) }, 'offsets partition loaded');
    this.rearm();
  }

  /** Reloads from the log after a failed append (see the file comment). */
  private reload(reason: unknown): void {
    if (this.closed || this.machine === null) return;
    this.logger.warn({ err: reason }, 'an offsets append failed; reloading the partition from its log');
    this.machine.unload();
    this.machine = null;
    this.disarm();
    this.startLoading();
  }

  close(): void {
    this.closed = true;
    this.disarm();
    this.machine?.unload();
    this.machine = null;
  }

  // ------------------------------------------------------------ GroupStore

  append(records: readonly OffsetsRecord[], done: (errorCode: ErrorCode, now: number) => void): void {
    const fail = (errorCode: ErrorCode): void => {
      // Answered asynchronously, as a real append is: the machine never sees its own
      // callback run in the middle of the operation that appended.
      queueMicrotask(() => this.complete(done, errorCode));
    };
    if (this.closed || this.machine === null) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const broker = this.coordinator.broker;
    const part = this.part;
    if (broker.availableReplicas(part) < part.settings.minInsyncReplicas) return fail(ErrorCode.NOT_ENOUGH_REPLICAS);
    const batch = encodeOffsetsBatch(records, this.clock.now());
    const decision = part.append(batch, readBatchHeader(batch));
    if (decision.kind === 'error') return fail(decision.errorCode);
    for (const r of records) this.live.apply(r);
    const epoch = this.epoch;
    // Failures are reported through fullyDurable; leaderDurable only needs a handler.
    decision.leaderDurable.catch(() => undefined);
    withDeadline(this.clock, decision.fullyDurable, this.coordinator.setting('offsets.commit.timeout.ms'), 'offsets durability').then(
      () => {
        this.complete(done, ErrorCode.NONE);
        this.maybeRewrite();
      },
      (err: unknown) => {
        this.complete(done, kafkaCodeOf(err));
        // A timeout is not a failure of the log: the records may still become durable.
        if (!(err instanceof RequestTimeoutError) && epoch === this.epoch) this.reload(err);
      },
    );
  }

  private complete(done: (errorCode: ErrorCode, now: number) => void, errorCode: ErrorCode): void {
    done(errorCode, this.clock.now());
    this.rearm();
  }

  /** Rewrites the live records and trims the log before them, when that halves the log. */
  private maybeRewrite(): void {
    if (this.rewriting || this.closed || this.machine === null) return;
    if (!this.live.shouldRewrite(Math.max(1, this.coordinator.setting('offsets.rewrite.min.records')))) return;
    const records = this.live.takeSnapshot();
    const part = this.part;
    const epoch = this.epoch;
    if (records.length === 0) {
      // Nothing is live: everything already durable may go.
      this.rewriting = true;
      part.log
        .advanceLogStart(part.log.highWatermark())
        .catch((err: unknown) => this.logger.warn({ err }, 'cannot trim the offsets log'))
        .finally(() => {
          this.rewriting = false;
        });
      return;
    }
    const batches = encodeBatches(records, this.clock.now(), GroupLimits.rewriteBatchBytesMax);
    const durable: Promise<void>[] = [];
    let firstOffset = -1;
    for (const batch of batches) {
      const decision = part.append(batch, readBatchHeader(batch));
      if (decision.kind === 'error') {
        this.logger.warn({ errorCode: decision.errorCode, message: decision.message }, 'cannot rewrite the offsets log');
        // The batches already appended repeat live values: harmless; the count is reset by a reload.
        break;
      }
      if (firstOffset < 0) firstOffset = decision.baseOffset;
      decision.leaderDurable.catch(() => undefined);
      durable.push(decision.fullyDurable);
    }
    if (durable.length !== batches.length) {
      this.reload(new Error('the offsets log rewrite could not be appended'));
      return;
    }
    this.rewriting = true;
    const startedAt = this.clock.monotonic();
    Promise.all(durable)
      .then(async () => {
        // Only once the rewrite is durable may the records it replaces go. Durable here
        // means acks=all; the rewrite is also flushed to disk first, so that not even a
        // power loss (against which Kafka's default flush settings do not protect) can
        // leave the start moved past records whose rewrite was lost.
        if (this.closed || epoch !== this.epoch) return;
        await part.log.flush();
        await part.log.advanceLogStart(firstOffset);
        this.logger.info({ live: records.length, batches: batches.length, logStartOffset: firstOffset, ms: Math.round(this.clock.monotonic() - startedAt) }, 'offsets log rewritten');
      })
      .catch((err: unknown) => {
        this.logger.warn({ err: messageOf(err) }, 'offsets log rewrite failed');
        if (epoch === this.epoch) this.reload(err);
      })
      .finally(() => {
        this.rewriting = false;
      });
  }

  // ------------------------------------------------------------ timers

  private rearm(): void {
    if (this.closed || this.machine === null) return;
    const next = this.machine.nextDeadline();
    if (this.cancelTimer !== null && this.armedFor === next) return;
    this.disarm();
    this.armedFor = next;
    const delay = Math.min(Math.max(0, next - this.clock.now()), TIMER_MS_MAX);
    this.cancelTimer = this.clock.setTimer(delay, () => {
      this.cancelTimer = null;
      this.armedFor = Number.NaN;
      if (this.machine === null) return;
      this.machine.tick(this.clock.now());
      this.rearm();
    });
  }

  private disarm(): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.armedFor = Number.NaN;
  }

  /** Runs one operation on the loaded machine, then re-arms the timer for its next deadline. */
  private run<T>(fn: (m: GroupStateMachine, now: number) => T): T {
    const m = this.machine;
    if (m === null) throw new Error(`offsets partition ${this.part.index} is not loaded`);
    try {
      return fn(m, this.clock.now());
    } finally {
      this.rearm();
    }
  }

  // ------------------------------------------------------------ the APIs

  join(req: JoinRequest): Promise<JoinResult> {
    return new Promise((resolve) => this.run((m, now) => m.join(req, now, resolve)));
  }

  sync(req: SyncRequest): Promise<SyncResult> {
    return new Promise((resolve) => this.run((m, now) => m.sync(req, now, resolve)));
  }

  heartbeat(req: HeartbeatRequest): ErrorCode {
    return this.run((m, now) => m.heartbeat(req, now));
  }

  leave(groupId: string, members: readonly { memberId: string; groupInstanceId: string | null }[]): LeaveResult {
    return this.run((m, now) => m.leave(groupId, members, now));
  }

  commit(req: CommitRequest): Promise<CommitErrorCode[]> {
    return new Promise((resolve) => this.run((m, now) => m.commitOffsets(req, now, resolve)));
  }

  fetchOffsets(groupId: string, topics: readonly { name: string; partitions: readonly number[] }[] | null): ReturnType<GroupStateMachine['fetchOffsets']> {
    return this.run((m) => m.fetchOffsets(groupId, topics));
  }

  describe(groupId: string): GroupDescription {
    return this.run((m) => m.describe(groupId));
  }

  list(statesFilter: readonly string[]): GroupOverview[] {
    return this.run((m) => m.list(statesFilter));
  }

  deleteGroups(groupIds: readonly string[]): Promise<Map<string, ErrorCode>> {
    return new Promise((resolve) => this.run((m) => m.deleteGroups(groupIds, resolve)));
  }
}

/** Kafka's client host as groups report it ("/127.0.0.1") from a connection's "address:port". */
export function clientHostOf(remote: string): string {
  const colon = remote.lastIndexOf(':');
  return `/${colon > 0 ? remote.slice(0, colon) : remote}`;
}
