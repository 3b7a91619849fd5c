/**
 * The MetadataStore of a broker that follows a controller (`floe broker --controller URL`).
 *
 * - open(): registers the broker (its id, address, zone and an incarnation id unique to
 *   this process start) and takes the controller's view. While another process holds the
 *   id's lease (a restart within the lease of the old process), registration is refused
 *   and retried until that lease runs out.
 * - Heartbeats every `heartbeatMs` (the controller suggests lease/6). A heartbeat answered
 *   "not registered" (the controller declared this broker dead, e.g. after a pause)
 *   registers again with the same incarnation.
 * - Follows the metadata by long-polling on the version: the controller answers as soon
 *   as a newer version is durable, so a change reaches every broker within milliseconds.
 *   `current()` is synchronous; `onChange` listeners run after each new version.
 * - Forwards topic operations, producer-id blocks and ISR changes to the controller and
 *   returns only once its own view includes the change (a created topic is in Metadata
 *   at once). A request that could not be delivered (connection refused: a controller
 *   restarting) is retried until `requestTimeoutMs`.
 * - While the controller is unreachable it keeps serving its last view and keeps trying,
 *   so a controller restart is invisible to clients.
 * - Shared storage: it is also the broker's client of the object index (commitObject,
 *   replaceObjects, partitionObjects, advanceLogStart: Kafka codes in the answer, transport
 *   failures as ControllerUnavailableError after the same bounded retries as the other
 *   writes) and of hand-overs (releasePartition), and it holds the WAL epoch the latest
 *   registration gave this incarnation (`walEpoch`).
 */
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from '../common/clock.ts';
import type { BrokerInfo, ClusterView, MetadataStore, NewTopic, TopicResult } from './cluster-view.ts';
import {
  InternalPaths,
  MetadataErrorCode,
  SharedStoragePaths,
  viewFromWire,
  type AdvanceLogStartRequest,
  type CommitObjectRequest,
  type PartitionObjectsRequest,
  type PartitionObjectsResponse,
  type ReleasePartitionRequest,
  type ReleasePartitionResponse,
  type ReplaceObjectsRequest,
  type SharedStorageResponse,
  type ShutdownRequest,
  type AlterConfigRequest,
  type AlterConfigResponse,
  type AlterIsrRequest,
  type AlterIsrResponse,
  type ControllerMode,
  type CreatePartitionsRequest,
  type CreateTopicsRequest,
  type DeleteTopicsRequest,
  type ErrorBody,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type MetadataPollResponse,
  type ProducerIdsRequest,
  type ProducerIdsResponse,
  type RegisterRequest,
  type RegisterResponse,
  type TopicResultsResponse,
  type WirePartition,
  type WireView,
} from './controller-api.ts';

/** The controller could not be reached (or did not answer) in time. */
export class ControllerUnavailableError extends Error {
  readonly code = 'FLOE_ERR_CONTROLLER_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ControllerUnavailableError';
  }
}

/** The controller refused a request (a 4xx/5xx other than "try again"). */
export class ControllerRequestError extends Error {
  readonly code = 'FLOE_ERR_CONTROLLER_REQUEST';
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControllerRequestError';
  }
}

export const ControllerStoreDefaults = {
  /** How long a long-poll is held by the controller before an "unchanged" answer. */
  longPollMs: 10_000,
  /** Forwarded requests retry an unreachable controller this long (a restart takes ~1–2 s). */
  requestTimeoutMs: 15_000,
  /** open() gives up registering after this long. */
  openTimeoutMs: 60_000,
  retryBackoffMsMin: 50,
  retryBackoffMsMax: 1_000,
  /** Best-effort controlled shutdown on close(). */
  shutdownTimeoutMs: 3_000,
} as const;

export interface ControllerStoreOptions {
  /** Base URL of the controller, e.g. http://127.0.0.1:9600. */
  url: string;
  /** This broker as clients must reach it. */
  self: BrokerInfo;
  clock?: Clock;
  logger?: Logger;
  /** Overrides the heartbeat interval the controller suggests. */
  heartbeatMs?: number;
  longPollMs?: number;
  requestTimeoutMs?: number;
  openTimeoutMs?: number;
  /** Unique per process start; random by default. */
  incarnation?: string;
}

interface HttpAnswer<T> {
  status: number;
  body: T;
}

/** Whether a fetch failure means the request never reached the controller (safe to resend). */
function notDelivered(err: unknown): boolean {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 'ECONNREFUSED';
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

const emptyView: ClusterView = { version: -1, clusterId: '', controllerId: -1, brokers: [], topics: new Map() };

export class ControllerMetadataStore implements MetadataStore {
  readonly incarnation: string;
  private readonly base: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private view: ClusterView = emptyView;
  private modeValue: ControllerMode | null = null;
  private readonly listeners: ((v: ClusterView) => void)[] = [];
  private readonly walEpochListeners: ((epoch: number) => void)[] = [];
  private heartbeatMs = 500;
  private leaseMsValue = 0;
  private walEpochValue = 0;
  private closed = false;
  private readonly stop = new AbortController();
  private cancelHeartbeat: (() => void) | null = null;
  private registering: Promise<void> | null = null;
  private pollDone: Promise<void> = Promise.resolve();
  private reachable = true;

  private constructor(private readonly opts: ControllerStoreOptions) {
    this.incarnation = opts.incarnation ?? randomUUID();
    this.base = opts.url.replace(/\/+$/, '');
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? pino({ level: 'silent' });
  }

  /** Registers with the controller and starts following it. */
  static async open(opts: ControllerStoreOptions): Promise<ControllerMetadataStore> {
    const store = new ControllerMetadataStore(opts);
    await store.registerUntil(store.clock.monotonic() + (opts.openTimeoutMs ?? ControllerStoreDefaults.openTimeoutMs));
    store.scheduleHeartbeat();
    store.pollDone = store.pollLoop();
    return store;
  }

  current(): ClusterView {
    return this.view;
  }

  onChange(listener: (view: ClusterView) => void): void {
    this.listeners.push(listener);
  }

  /** The lease the controller holds this broker to. */
  get leaseMs(): number {
    return this.leaseMsValue;
  }

  /** The cluster's storage architecture, as the controller says (null before open). */
  get mode(): ControllerMode | null {
    return this.modeValue;
  }

  /**
   * Shared storage: the epoch at which this incarnation recovers and writes its WAL log,
   * from the latest registration (0 when the controller gives none: shared-nothing). The
   * same live process registering again (after a controller restart) keeps its epoch; it
   * changes only for a new process, or when the controller declared this one dead
   * meanwhile (its log was fenced, so it must recover again at the new epoch).
   */
  /**
   * Called when a registration brings a WAL epoch other than the first one: the
   * controller declared this broker dead meanwhile and fenced its WAL log.
   */
  onWalEpochChange(listener: (epoch: number) => void): void {
    this.walEpochListeners.push(listener);
  }

  get walEpoch(): number {
    return this.walEpochValue;
  }

  /** Whether the last exchange with the controller succeeded. */
  get connected(): boolean {
    return this.reachable;
  }

  /** A partition with its partitionEpoch (for alterIsr), from the current view. */
  partitionState(topic: string, partition: number): WirePartition | undefined {
    return this.view.topics.get(topic)?.partitions[partition] as WirePartition | undefined;
  }

  // ---- HTTP ----------------------------------------------------------------------

  private async call<T>(method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<HttpAnswer<T>> {
    const signal = AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))), this.stop.signal]);
    const res = await fetch(`${this.base}${path}`, {
      method,
      signal,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.clock.setTimer(ms, () => {
        this.stop.signal.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = (): void => {
        cancel();
        resolve();
      };
      this.stop.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private markReachable(): void {
    if (!this.reachable) this.log.info({ controller: this.base }, 'controller reachable again');
    this.reachable = true;
  }

  private markUnreachable(err: unknown): void {
    if (this.closed) return;
    if (this.reachable) this.log.warn({ controller: this.base, err: describe(err) }, 'controller unreachable; serving the last metadata view');
    this.reachable = false;
  }

  /**
   * POSTs a forwarded operation: resent while it could not be delivered (a restarting
   * controller) or the controller answers 503, until `requestTimeoutMs`.
   */
  private async forward<T>(path: string, body: unknown): Promise<T> {
    const deadline = this.clock.monotonic() + (this.opts.requestTimeoutMs ?? ControllerStoreDefaults.requestTimeoutMs);
    let backoff: number = ControllerStoreDefaults.retryBackoffMsMin;
    for (;;) {
      if (this.closed) throw new ControllerUnavailableError('the metadata store is closed');
      const remaining = deadline - this.clock.monotonic();
      let retry: unknown;
      try {
        const r = await this.call<T | ErrorBody>('POST', path, body, Math.max(1, remaining));
        if (r.status === 200) {
          this.markReachable();
          return r.body as T;
        }
        const e = (r.body as ErrorBody | undefined)?.error;
        if (r.status !== 503) throw new ControllerRequestError(r.status, e?.code ?? 'UNKNOWN', `controller refused ${path}: ${r.status} ${e?.code ?? ''} ${e?.message ?? ''}`);
        retry = new Error(`controller answered 503 ${e?.code ?? ''}`);
      } catch (err) {
        if (err instanceof ControllerRequestError) throw err;
        if (!notDelivered(err)) {
          this.markUnreachable(err);
          throw new ControllerUnavailableError(`no answer from the controller to ${path} (${describe(err)})`, { cause: err });
        }
        this.markUnreachable(err);
        retry = err;
      }
      if (this.clock.monotonic() + backoff >= deadline) {
        throw new ControllerUnavailableError(`the controller at ${this.base} was unreachable for ${path} (${describe(retry)})`, { cause: retry });
      }
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, ControllerStoreDefaults.retryBackoffMsMax);
    }
  }

  // ---- registration, heartbeats, following ---------------------------------------

  private registerRequest(): RegisterRequest {
    const s = this.opts.self;
    return { id: s.id, incarnation: this.incarnation, host: s.host, port: s.port, rack: s.rack };
  }

  /** One registration attempt: true when registered. */
  private async registerOnce(): Promise<boolean> {
    const r = await this.call<RegisterResponse | ErrorBody>('POST', InternalPaths.register, this.registerRequest(), ControllerStoreDefaults.requestTimeoutMs);
    if (r.status === 200) {
      const ok = r.body as RegisterResponse;
      this.leaseMsValue = ok.leaseMs;
      if (ok.walEpoch !== undefined && ok.walEpoch !== this.walEpochValue) {
        const was = this.walEpochValue;
        this.walEpochValue = ok.walEpoch;
        if (was !== 0) {
          this.log.warn({ was, now: ok.walEpoch }, 'the controller gave this broker a new WAL epoch (its log was fenced)');
          for (const l of this.walEpochListeners) l(ok.walEpoch);
        }
      }
      this.heartbeatMs = this.opts.heartbeatMs ?? ok.heartbeatMs;
      this.markReachable();
      this.accept(ok.view);
      return true;
    }
    const e = (r.body as ErrorBody | undefined)?.error;
    if (r.status === 409 || r.status === 503) {
      this.log.warn({ status: r.status, code: e?.code, message: e?.message }, 'registration refused for now; retrying');
      return false;
    }
    throw new ControllerRequestError(r.status, e?.code ?? 'UNKNOWN', `controller refused the registration of broker ${this.opts.self.id}: ${e?.message ?? r.status}`);
  }

  private async registerUntil(deadline: number): Promise<void> {
    let backoff: number = ControllerStoreDefaults.retryBackoffMsMin;
    for (;;) {
      let last: unknown = null;
      try {
        if (await this.registerOnce()) return;
      } catch (err) {
        if (err instanceof ControllerRequestError) throw err;
        this.markUnreachable(err);
        last = err;
      }
      if (this.closed) throw new ControllerUnavailableError('the metadata store was closed while registering');
      if (this.clock.monotonic() + backoff >= deadline) {
        throw new ControllerUnavailableError(`could not register broker ${this.opts.self.id} with the controller at ${this.base}${last ? ` (${describe(last)})` : ''}`, { cause: last });
      }
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, ControllerStoreDefaults.retryBackoffMsMax);
    }
  }

  private scheduleHeartbeat(): void {
    if (this.closed) return;
    this.cancelHeartbeat = this.clock.setTimer(this.heartbeatMs, () => {
      this.cancelHeartbeat = null;
      // heartbeat() never rejects: failures only mark the controller unreachable.
      void this.heartbeat().finally(() => this.scheduleHeartbeat());
    });
  }

  private async heartbeat(): Promise<void> {
    const req: HeartbeatRequest = { id: this.opts.self.id, incarnation: this.incarnation };
    try {
      // A heartbeat slower than a third of the lease is as good as lost.
      const r = await this.call<HeartbeatResponse>('POST', InternalPaths.heartbeat, req, Math.max(this.heartbeatMs, Math.floor(this.leaseMsValue / 3)));
      if (r.status !== 200) throw new Error(`heartbeat answered ${r.status}`);
      this.markReachable();
      if (!r.body.registered) {
        this.log.warn({ broker: this.opts.self.id }, 'the controller does not hold this broker as alive; registering again');
        this.registering ??= this.registerOnce()
          .then(() => undefined)
          .finally(() => {
            this.registering = null;
          });
        await this.registering;
      } else if (r.body.version > this.view.version) {
        // The long-poll should have brought it; fetch it now in case that connection is stuck.
        await this.refresh();
      }
    } catch (err) {
      this.markUnreachable(err);
    }
  }

  private async pollLoop(): Promise<void> {
    const waitMs = this.opts.longPollMs ?? ControllerStoreDefaults.longPollMs;
    let backoff: number = ControllerStoreDefaults.retryBackoffMsMin;
    while (!this.closed) {
      try {
        const path = `${InternalPaths.metadata}?after=${this.view.version}&waitMs=${waitMs}&brokerId=${this.opts.self.id}`;
        const r = await this.call<MetadataPollResponse>('GET', path, undefined, waitMs + 5_000);
        if (r.status !== 200) throw new Error(`metadata poll answered ${r.status}`);
        this.markReachable();
        backoff = ControllerStoreDefaults.retryBackoffMsMin;
        if (r.body.changed) {
          const before = this.view.version;
          this.accept(r.body.view);
          // A view we did not take (an older version from a controller that lost its
          // data) would come back at once: do not spin on it.
          if (this.view.version === before) await this.sleep(ControllerStoreDefaults.retryBackoffMsMax);
        }
      } catch (err) {
        if (this.closed) break;
        this.markUnreachable(err);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, ControllerStoreDefaults.retryBackoffMsMax);
      }
    }
  }

  /** Fetches the view now if it is newer than ours. */
  private async refresh(): Promise<void> {
    const r = await this.call<MetadataPollResponse>('GET', `${InternalPaths.metadata}?after=${this.view.version}&waitMs=0`, undefined, ControllerStoreDefaults.requestTimeoutMs);
    if (r.status === 200 && r.body.changed) this.accept(r.body.view);
  }

  /** Waits (best effort) until this store's view has reached `version`. */
  private async catchUp(version: number): Promise<void> {
    if (this.view.version >= version) return;
    try {
      await this.refresh();
    } catch (err) {
      this.log.debug({ err: describe(err), version }, 'could not fetch the new view at once; the long-poll will bring it');
    }
  }

  private accept(wire: WireView): void {
    const cur = this.view;
    if (cur.clusterId !== '' && wire.clusterId !== cur.clusterId) {
      this.log.error({ was: cur.clusterId, now: wire.clusterId }, 'the controller serves another cluster; following it');
    } else if (wire.version <= cur.version) {
      if (wire.version < cur.version) this.log.error({ ours: cur.version, theirs: wire.version }, 'the controller offers an older metadata version; ignored');
      return;
    }
    const view = viewFromWire(wire);
    this.modeValue = wire.mode;
    // Our own entry carries the address we registered (the one clients must use).
    const self = this.opts.self;
    view.brokers = view.brokers.map((b) => (b.id === self.id ? { ...self } : b));
    this.view = view;
    for (const l of this.listeners) {
      try {
        l(view);
      } catch (err) {
        this.log.error({ err }, 'metadata listener failed');
      }
    }
  }

  // ---- MetadataStore operations --------------------------------------------------

  private unavailable(names: string[], err: unknown): TopicResult[] {
    if (!(err instanceof ControllerUnavailableError)) throw err;
    return names.map((name) => ({ name, errorCode: MetadataErrorCode.REQUEST_TIMED_OUT, errorMessage: err.message }));
  }

  async createTopics(topics: NewTopic[], validateOnly: boolean): Promise<TopicResult[]> {
    try {
      const body: CreateTopicsRequest = { topics, validateOnly };
      const r = await this.forward<TopicResultsResponse>(InternalPaths.createTopics, body);
      await this.catchUp(r.version);
      return r.results;
    } catch (err) {
      return this.unavailable(
        topics.map((t) => t.name),
        err,
      );
    }
  }

  async deleteTopics(names: string[]): Promise<TopicResult[]> {
    try {
      const body: DeleteTopicsRequest = { names };
      const r = await this.forward<TopicResultsResponse>(InternalPaths.deleteTopics, body);
      await this.catchUp(r.version);
      return r.results;
    } catch (err) {
      return this.unavailable(names, err);
    }
  }

  async createPartitions(changes: { name: string; count: number }[], validateOnly: boolean): Promise<TopicResult[]> {
    try {
      const body: CreatePartitionsRequest = { changes, validateOnly };
      const r = await this.forward<TopicResultsResponse>(InternalPaths.createPartitions, body);
      await this.catchUp(r.version);
      return r.results;
    } catch (err) {
      return this.unavailable(
        changes.map((c) => c.name),
        err,
      );
    }
  }

  async alterTopicConfig(name: string, config: Record<string, string>, validateOnly: boolean): Promise<TopicResult> {
    try {
      const body: AlterConfigRequest = { name, config, validateOnly };
      const r = await this.forward<AlterConfigResponse>(InternalPaths.alterConfig, body);
      await this.catchUp(r.version);
      return r.result;
    } catch (err) {
      const [result] = this.unavailable([name], err);
      if (!result) throw err;
      return result;
    }
  }

  /** Throws ControllerUnavailableError when the controller cannot be reached in time. */
  allocateProducerIds(count: number): Promise<{ firstId: number; count: number }> {
    const body: ProducerIdsRequest = { brokerId: this.opts.self.id, count };
    return this.forward<ProducerIdsResponse>(InternalPaths.producerIds, body);
  }

  /**
   * Reports a new ISR for a partition this broker leads (Kafka's AlterPartition). The
   * answer carries errorCode 0 or the Kafka error (NOT_LEADER_OR_FOLLOWER 6,
   * FENCED_LEADER_EPOCH 74, INVALID_UPDATE_VERSION 95, INELIGIBLE_REPLICA 107,
   * INVALID_REQUEST 42, UNKNOWN_TOPIC_OR_PARTITION 3) and the partition as it now is.
   * Throws ControllerUnavailableError when the controller cannot be reached in time.
   */
  async alterIsr(req: Omit<AlterIsrRequest, 'brokerId'>): Promise<AlterIsrResponse> {
    const r = await this.forward<AlterIsrResponse>(InternalPaths.alterIsr, { ...req, brokerId: this.opts.self.id });
    await this.catchUp(r.version);
    return r;
  }

  // ---- shared storage: the object index and hand-overs ------------------------------

  /**
   * Commits an uploaded object's sections to their partitions' indexes, all or nothing.
   * errorCode 0; 3 unknown partition; 6 not the owner; 74 stale leader epoch; 42 not
   * contiguous, or a reused or collected key. Repeating a commit that was applied answers 0.
   * Throws ControllerUnavailableError when the controller cannot be reached in time.
   */
  commitObject(req: CommitObjectRequest): Promise<SharedStorageResponse> {
    return this.forward<SharedStorageResponse>(SharedStoragePaths.commitObject, req);
  }

  /** Compaction: the new object replaces runs of whole ranges (codes as commitObject). */
  replaceObjects(req: ReplaceObjectsRequest): Promise<SharedStorageResponse> {
    return this.forward<SharedStorageResponse>(SharedStoragePaths.replaceObjects, req);
  }

  /** A partition's object index and leader epoch; errorCode 3 for an unknown partition. */
  partitionObjects(topic: string, partition: number): Promise<PartitionObjectsResponse> {
    const body: PartitionObjectsRequest = { topic, partition };
    return this.forward<PartitionObjectsResponse>(SharedStoragePaths.partitionObjects, body);
  }

  /** Moves a partition's log start forward (retention, DeleteRecords); fenced as a commit. */
  advanceLogStart(req: AdvanceLogStartRequest): Promise<SharedStorageResponse> {
    return this.forward<SharedStorageResponse>(SharedStoragePaths.advanceLogStart, req);
  }

  /**
   * Completes a hand-over: this broker, the owner, has committed everything up to
   * `endOffset` and stopped taking writes. On errorCode 0 ownership has moved, and this
   * store's view shows it (best effort) before the promise resolves. errorCode 42 means
   * there is no hand-over any more (abandoned: keep serving) or endOffset is not the
   * index end.
   */
  async releasePartition(req: ReleasePartitionRequest): Promise<ReleasePartitionResponse> {
    const r = await this.forward<ReleasePartitionResponse>(SharedStoragePaths.release, req);
    await this.catchUp(r.version);
    return r;
  }

  private async stopFollowing(): Promise<void> {
    this.closed = true;
    this.cancelHeartbeat?.();
    this.cancelHeartbeat = null;
    this.stop.abort();
    await this.pollDone;
  }

  /**
   * Stops following and tells the controller this broker is going (a controlled
   * shutdown: its partitions move now rather than after the lease). Best effort.
   * `uploaded` (shared storage): everything this broker acknowledged is committed to the
   * index and its WAL log is trimmed, so the controller need not recover that log.
   */
  async close(opts: { uploaded?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    await this.stopFollowing();
    const req: ShutdownRequest = { id: this.opts.self.id, incarnation: this.incarnation, ...(opts.uploaded === true ? { uploaded: true } : {}) };
    try {
      await fetch(`${this.base}${InternalPaths.shutdown}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(req),
        signal: AbortSignal.timeout(ControllerStoreDefaults.shutdownTimeoutMs),
      });
    } catch (err) {
      this.log.warn({ err: describe(err) }, 'could not tell the controller about the shutdown; the lease will run out');
    }
  }

  /**
   * Stops heartbeating and following without telling the controller, as a crash would
   * (the controller notices when the lease runs out). For drills and tests.
   */
  async halt(): Promise<void> {
    if (this.closed) return;
    await this.stopFollowing();
  }
}
