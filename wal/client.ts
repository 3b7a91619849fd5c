/**
 * WalClient: the quorum writer of one log (a broker holds one, at the epoch the controller
 * gave it). Knows nothing of what the payloads mean.
 *
 *   const c = await WalClient.open({ nodes, ackQuorum: 2, logId, epoch, nextEntryId });
 *   const a = c.append(payload);   // { entryId, oneDurable, quorumDurable }
 *   await a.quorumDurable;         // fsynced on the ack quorum: answer acks=all now
 *
 * Ordering: append assigns ids synchronously and consecutively. Every entry goes to every
 * reachable node, in id order, pipelined. `oneDurable` resolves when the entry and every
 * entry before it are each fsynced on at least one node; `quorumDurable` when they are
 * each fsynced on ackQuorum nodes. Both are prefixes: entry X is reported only when every
 * entry ≤ X is, which recovery relies on (see wal/quorum.ts).
 *
 * Failure handling:
 *  - A node that closes its connection, refuses an append (disk full, storage error) or
 *    leaves a request unanswered for requestTimeoutMs stops counting as reachable. The
 *    client reconnects with backoff (or retries the refusing node after a backoff) and the
 *    node rejoins: it is first sent, in order, every entry of the client's window it has
 *    not acknowledged, then new entries.
 *  - The window keeps every entry until it is quorum-durable (bounded by
 *    clientInFlightBytesMax / clientInFlightEntriesMax: beyond them append throws
 *    WalBackpressureError and assigns nothing), and quorum-durable entries until every node
 *    has them or clientRetainBytesMax is passed. A node that missed entries dropped from the
 *    window keeps a gap: it accepts entries after a gap, and this is safe because every
 *    quorum-durable entry is on ackQuorum nodes whatever the gaps (recovery reads a fence
 *    quorum, which meets them; wal/quorum.ts).
 *  - When fewer than ackQuorum nodes are reachable, the `quorumDurable` of every entry not
 *    yet quorum-durable, and of every entry appended meanwhile, rejects at once with
 *    WalQuorumUnavailableError (`oneDurable` too when no node is reachable). A rejection
 *    means "not durable yet": the entry stays in the window and is still sent when nodes
 *    come back, so it may become durable later, exactly like a Kafka produce that timed
 *    out. Brokers check reachableNodes() before appending to refuse acks=all up front.
 *  - A node answering FENCED means a recovery at a newer epoch happened: the client is
 *    finished. Every unsettled promise rejects with WalFencedError and append throws it.
 */
import pino from 'pino';
import type { Logger } from 'pino';
import type { Clock } from '../src/common/clock.ts';
import { systemClock } from '../src/common/clock.ts';
import { checkEntryId, checkEpoch, encodeLogId, payloadParts } from './codec.ts';
import { endpointName, WalConnection } from './connection.ts';
import type { WalEndpoint } from './connection.ts';
import type { Deferred } from './deferred.ts';
import { quietDeferred } from './deferred.ts';
import {
  WalBackpressureError,
  WalClosedError,
  WalEntryTooLargeError,
  WalFencedError,
  WalInvalidArgumentError,
  WalQuorumUnavailableError,
} from './errors.ts';
import type { WalError } from './errors.ts';
import {
  clientInFlightBytesMax,
  clientInFlightEntriesMax,
  clientRetainBytesMax,
  connectTimeoutMsDefault,
  entryBytesMax,
  nodeOutstandingBytesMax,
  reconnectBackoffMsMax,
  reconnectBackoffMsMin,
  requestTimeoutMsDefault,
} from './limits.ts';
import type { Response } from './protocol.ts';
import { decodeError, encodeAppend, encodeTrim, Status } from './protocol.ts';
import { checkQuorumConfig, defaultAckQuorum } from './quorum.ts';

export type { WalEndpoint } from './connection.ts';

export interface WalClientOptions {
  nodes: readonly WalEndpoint[];
  /** Defaults to a majority of the nodes (2 of 3). */
  ackQuorum?: number;
  logId: string;
  /** The writer's epoch (u32), given by the controller; recovery at this epoch must have run first unless the log is new. */
  epoch: number;
  /** The id the first append gets (the recovery's nextEntryId, or 0 for a new log). */
  nextEntryId: number;
  clock?: Clock;
  logger?: Logger;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface WalAppend {
  entryId: number;
  /** Resolves when this entry and all before it are fsynced on at least one node. */
  oneDurable: Promise<void>;
  /** Resolves when this entry and all before it are fsynced on the ack quorum. */
  quorumDurable: Promise<void>;
}

interface Entry {
  entryId: number;
  parts: readonly Buffer[];
  bytes: number;
  ackMask: number;
  acks: number;
  one: Deferred<void>;
  quorum: Deferred<void>;
  oneSettled: boolean;
  quorumSettled: boolean;
}

interface Link {
  index: number;
  bit: number;
  endpoint: WalEndpoint;
  name: string;
  conn: WalConnection | null;
  /** Connected and not held back after a refusal: counts towards the quorum. */
  healthy: boolean;
  /** The next entry id to consider sending on this connection. */
  cursor: number;
  outstandingBytes: number;
  backoffMs: number;
  cancelTimer: (() => void) | null;
  lastError: Error | null;
  /** Its first connection attempt has settled (open() waits for that, or for a quorum). */
  attempted: boolean;
}

/** The entries from the oldest retained one to the newest, addressed by id. */
class EntryWindow {
  private items: Entry[] = [];
  private head = 0;
  size(): number {
    return this.items.length - this.head;
  }
  /** The id of the oldest retained entry (or `fallback` when empty). */
  firstId(fallback: number): number {
    return this.head < this.items.length ? this.items[this.head]!.entryId : fallback;
  }
  get(entryId: number): Entry | undefined {
    const first = this.items[this.head];
    if (!first) return undefined;
    return this.items[this.head + entryId - first.entryId];
  }
  front(): Entry | undefined {
    return this.items[this.head];
  }
  push(e: Entry): void {
    this.items.push(e);
  }
  shift(): void {
    this.items[this.head] = undefined as unknown as Entry; // drop the reference early
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  *from(entryId: number): Generator<Entry> {
    const first = this.items[this.head];
    if (!first) return;
    for (let i = this.head + Math.max(0, entryId - first.entryId); i < this.items.length; i++) yield this.items[i]!;
  }
}

export class WalClient {
  readonly logId: string;
  readonly epoch: number;
  readonly ackQuorum: number;
  private readonly logIdBytes: Buffer;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly links: Link[];
  private readonly connOpts: { clock: Clock; connectTimeoutMs: number; requestTimeoutMs: number };
  private readonly window = new EntryWindow();

  private nextId: number;
  private oneEnd: number;
  private quorumEnd: number;
  private pendingBytes = 0;
  private retainedBytes = 0;
  private trimmedUpTo = 0;
  private failure: WalError | null = null;
  private closed = false;
  private opened: Deferred<void> = quietDeferred();
  /** Aborted by close() and by a fence: pending connection attempts give up at once. */
  private readonly stopping = new AbortController();
  private readonly reachableListeners = new Set<(reachable: number) => void>();
  private lastReachable = 0;

  private constructor(opts: WalClientOptions) {
    const n = opts.nodes.length;
    this.ackQuorum = opts.ackQuorum ?? defaultAckQuorum(n);
    checkQuorumConfig(n, this.ackQuorum);
    checkEpoch(opts.epoch, 'epoch');
    checkEntryId(opts.nextEntryId, 'nextEntryId');
    this.logId = opts.logId;
    this.logIdBytes = encodeLogId(opts.logId);
    this.epoch = opts.epoch;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.connOpts = {
      clock: this.clock,
      connectTimeoutMs: opts.connectTimeoutMs ?? connectTimeoutMsDefault,
      requestTimeoutMs: opts.requestTimeoutMs ?? requestTimeoutMsDefault,
    };
    this.nextId = this.oneEnd = this.quorumEnd = opts.nextEntryId;
    this.links = opts.nodes.map((endpoint, index) => ({
      index,
      bit: 1 << index,
      endpoint,
      name: endpointName(endpoint),
      conn: null,
      healthy: false,
      cursor: opts.nextEntryId,
      outstandingBytes: 0,
      backoffMs: reconnectBackoffMsMin,
      cancelTimer: null,
      lastError: null,
      attempted: false,
    }));
  }

  /**
   * Connects to every node; resolves once ackQuorum nodes are reachable or every node's
   * first attempt has settled (the client then keeps reconnecting to the others, and
   * appends report what is reachable).
   */
  static async open(opts: WalClientOptions): Promise<WalClient> {
    const c = new WalClient(opts);
    for (const link of c.links) c.connect(link);
    await c.opened.promise;
    return c;
  }

  // ---------------------------------------------------------------------------------------
  // Public API

  /**
   * Appends one entry (its parts are concatenated). Assigns the next id at once. Throws,
   * assigning nothing, when the client is closed or fenced (WalClosedError,
   * WalFencedError), the entry is too large (WalEntryTooLargeError) or too much is in
   * flight (WalBackpressureError). The client keeps the buffers until every node has the
   * entry: the caller must not reuse them.
   */
  append(payload: Buffer | readonly Buffer[]): WalAppend {
    if (this.failure) throw this.failure;
    if (this.closed) throw new WalClosedError(`the WAL client of ${this.logId} is closed`);
    const { parts, bytes } = payloadParts(payload);
    if (bytes > entryBytesMax) throw new WalEntryTooLargeError(`an entry of ${bytes} bytes exceeds entryBytesMax (${entryBytesMax})`);
    if (this.nextId - this.quorumEnd >= clientInFlightEntriesMax || this.pendingBytes + bytes > clientInFlightBytesMax) {
      throw new WalBackpressureError(
        `${this.nextId - this.quorumEnd} entries (${this.pendingBytes} bytes) of ${this.logId} are not yet quorum-durable; the limits are ${clientInFlightEntriesMax} entries and ${clientInFlightBytesMax} bytes`,
      );
    }
    const e: Entry = {
      entryId: this.nextId++,
      parts: Buffer.isBuffer(payload) ? [payload] : [...parts],
      bytes,
      ackMask: 0,
      acks: 0,
      one: quietDeferred(),
      quorum: quietDeferred(),
      oneSettled: false,
      quorumSettled: false,
    };
    this.window.push(e);
    this.pendingBytes += bytes;
    const reachable = this.reachableNodes();
    if (reachable < this.ackQuorum) this.rejectQuorum(e, this.unavailable(reachable));
    if (reachable === 0) this.rejectOne(e, this.unavailable(reachable));
    for (const link of this.links) this.pump(link);
    return { entryId: e.entryId, oneDurable: e.one.promise, quorumDurable: e.quorum.promise };
  }

  /** Nodes connected and taking appends now. A broker refuses acks=all when this is below ackQuorum. */
  reachableNodes(): number {
    let n = 0;
    for (const l of this.links) if (l.healthy) n++;
    return n;
  }

  /**
   * Calls `listener` with reachableNodes() whenever it changes (a broker can flip its
   * NOT_ENOUGH_REPLICAS answer on it). Returns a function that removes the listener.
   */
  onReachableChange(listener: (reachable: number) => void): () => void {
    this.reachableListeners.add(listener);
    return () => this.reachableListeners.delete(listener);
  }

  /** The id the next append gets. */
  nextEntryId(): number {
    return this.nextId;
  }

  /** Every entry with a smaller id is quorum-durable. */
  quorumDurableEnd(): number {
    return this.quorumEnd;
  }

  /** Every entry with a smaller id is durable on at least one node. */
  oneDurableEnd(): number {
    return this.oneEnd;
  }

  /**
   * Tells every reachable node that entries with id < upTo are no longer needed (they are
   * in object storage); nodes delete segments that hold nothing else. upTo must not pass
   * quorumDurableEnd(). Nodes that are down get the trim when they reconnect. Rejects
   * with WalFencedError if a node says this writer is fenced.
   */
  async trim(upTo: number): Promise<void> {
    checkEntryId(upTo, 'upTo');
    if (this.failure) throw this.failure;
    if (this.closed) throw new WalClosedError(`the WAL client of ${this.logId} is closed`);
    if (upTo > this.quorumEnd) throw new WalInvalidArgumentError(`cannot trim up to ${upTo}: only entries below ${this.quorumEnd} are quorum-durable`);
    if (upTo <= this.trimmedUpTo) return;
    this.trimmedUpTo = upTo;
    this.evict();
    const answers = this.links.flatMap((l) => (l.conn ? [this.sendTrim(l, l.conn)] : []));
    await Promise.all(answers);
    // A node may have answered FENCED meanwhile (sendTrim records it).
    const failure = this.failedWith();
    if (failure) throw failure;
  }

  /** The fence that finished this client, if any. */
  failedWith(): WalError | null {
    return this.failure;
  }

  /** Stops: every unsettled promise rejects with WalClosedError, connections close. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.settleAll(new WalClosedError(`the WAL client of ${this.logId} was closed`));
    this.disconnectAll();
    this.opened.resolve();
    return Promise.resolve();
  }

  // ---------------------------------------------------------------------------------------
  // Connections

  private connect(link: Link): void {
    link.cancelTimer = null;
    if (this.closed || this.failure) return;
    WalConnection.connect(link.endpoint, this.connOpts, this.stopping.signal).then(
      (conn) => {
        if (this.closed || this.failure) {
          conn.close();
          return;
        }
        link.conn = conn;
        link.healthy = true;
        link.attempted = true;
        link.backoffMs = reconnectBackoffMsMin;
        link.outstandingBytes = 0;
        link.cursor = this.window.firstId(this.nextId);
        this.log.info({ node: link.name, nodeId: conn.nodeId, log: this.logId }, 'WAL node reachable');
        conn.onClose((err) => this.linkDown(link, conn, err));
        if (this.trimmedUpTo > 0) void this.sendTrim(link, conn);
        this.pump(link);
        this.reachabilityChanged();
      },
      (err: unknown) => {
        link.attempted = true;
        link.lastError = err instanceof Error ? err : new Error(String(err));
        this.scheduleReconnect(link);
        this.reachabilityChanged();
      },
    );
  }

  private linkDown(link: Link, conn: WalConnection, err: Error): void {
    if (link.conn !== conn) return;
    link.conn = null;
    link.healthy = false;
    link.outstandingBytes = 0;
    link.lastError = err;
    link.cancelTimer?.();
    link.cancelTimer = null;
    if (this.closed || this.failure) return;
    this.log.warn({ node: link.name, log: this.logId, err: err.message }, 'WAL node unreachable');
    this.scheduleReconnect(link);
    this.reachabilityChanged();
  }

  private scheduleReconnect(link: Link): void {
    if (this.closed || this.failure) return;
    const delay = link.backoffMs;
    link.backoffMs = Math.min(reconnectBackoffMsMax, link.backoffMs * 2);
    link.cancelTimer = this.clock.setTimer(delay, () => this.connect(link));
  }

  /** A node refused an append: it sits out a backoff, then gets every entry it lacks again. */
  private holdBack(link: Link, conn: WalConnection, err: Error): void {
    link.lastError = err;
    if (!link.healthy || link.conn !== conn) return;
    this.log.warn({ node: link.name, log: this.logId, err: err.message }, 'WAL node refused an append; retrying it after a backoff');
    link.healthy = false;
    const delay = link.backoffMs;
    link.backoffMs = Math.min(reconnectBackoffMsMax, link.backoffMs * 2);
    link.cancelTimer = this.clock.setTimer(delay, () => {
      link.cancelTimer = null;
      if (link.conn !== conn || !conn.isOpen() || this.closed || this.failure) return;
      link.healthy = true;
      link.cursor = this.window.firstId(this.nextId);
      this.pump(link);
      this.reachabilityChanged();
    });
    this.reachabilityChanged();
  }

  private disconnectAll(): void {
    this.stopping.abort();
    for (const link of this.links) {
      link.cancelTimer?.();
      link.cancelTimer = null;
      link.healthy = false;
      const conn = link.conn;
      link.conn = null;
      conn?.close();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Sending and acknowledgements

  private pump(link: Link): void {
    const conn = link.conn;
    if (!link.healthy || !conn) return;
    const first = this.window.firstId(this.nextId);
    if (link.cursor < first) link.cursor = first;
    while (link.cursor < this.nextId && link.outstandingBytes < nodeOutstandingBytesMax) {
      const e = this.window.get(link.cursor)!;
      link.cursor++;
      if ((e.ackMask & link.bit) !== 0 || e.entryId < this.trimmedUpTo) continue;
      link.outstandingBytes += e.bytes;
      conn.send((id) => encodeAppend(id, this.logIdBytes, this.epoch, e.entryId, e.parts, e.bytes)).then(
        (r) => {
          if (link.conn === conn) link.outstandingBytes -= e.bytes;
          this.onAppendAnswer(link, conn, e.entryId, r);
        },
        // A failed connection is handled once, by linkDown.
        () => undefined,
      );
    }
  }

  private onAppendAnswer(link: Link, conn: WalConnection, entryId: number, r: Response): void {
    if (this.closed || this.failure) return;
    if (r.status === Status.OK) {
      link.backoffMs = reconnectBackoffMsMin;
      this.ack(link, entryId);
      this.pump(link);
      return;
    }
    const err = decodeError(r, link.name);
    if (err instanceof WalFencedError) {
      this.fail(new WalFencedError(`log ${this.logId} was fenced at epoch ${err.fenceEpoch} (this writer has epoch ${this.epoch}): ${err.message}`, err.fenceEpoch, { cause: err }));
      return;
    }
    this.holdBack(link, conn, err);
  }

  private ack(link: Link, entryId: number): void {
    const e = this.window.get(entryId);
    if (!e || e.entryId !== entryId || (e.ackMask & link.bit) !== 0) return;
    e.ackMask |= link.bit;
    e.acks++;
    this.advance();
  }

  private advance(): void {
    while (this.oneEnd < this.nextId) {
      const e = this.window.get(this.oneEnd)!;
      if (e.acks < 1) break;
      if (!e.oneSettled) {
        e.oneSettled = true;
        e.one.resolve();
      }
      this.oneEnd++;
    }
    while (this.quorumEnd < this.oneEnd) {
      const e = this.window.get(this.quorumEnd)!;
      if (e.acks < this.ackQuorum) break;
      if (!e.quorumSettled) {
        e.quorumSettled = true;
        e.quorum.resolve();
      }
      this.pendingBytes -= e.bytes;
      this.retainedBytes += e.bytes;
      this.quorumEnd++;
    }
    this.evict();
  }

  /** Drops quorum-durable entries that every node has, or that the retention limit or a trim no longer keeps. */
  private evict(): void {
    const all = this.links.length;
    for (let e = this.window.front(); e && e.entryId < this.quorumEnd; e = this.window.front()) {
      if (e.acks < all && this.retainedBytes <= clientRetainBytesMax && e.entryId >= this.trimmedUpTo) break;
      this.window.shift();
      this.retainedBytes -= e.bytes;
    }
  }

  private sendTrim(link: Link, conn: WalConnection): Promise<void> {
    const upTo = this.trimmedUpTo;
    return conn.send((id) => encodeTrim(id, this.logIdBytes, this.epoch, upTo)).then(
      (r) => {
        if (r.status === Status.OK) return;
        const err = decodeError(r, link.name);
        if (err instanceof WalFencedError) this.fail(new WalFencedError(`log ${this.logId} was fenced at epoch ${err.fenceEpoch}: ${err.message}`, err.fenceEpoch, { cause: err }));
        else this.log.warn({ node: link.name, err: err.message }, 'a WAL node refused a trim');
      },
      () => undefined,
    );
  }

  // ---------------------------------------------------------------------------------------
  // Settling

  private unavailable(reachable: number): WalQuorumUnavailableError {
    const reasons = this.links.filter((l) => !l.healthy).map((l) => `${l.name}: ${l.lastError?.message ?? 'not connected yet'}`);
    const cause = this.links.find((l) => !l.healthy && l.lastError)?.lastError ?? undefined;
    return new WalQuorumUnavailableError(
      `log ${this.logId}: ${reachable} of ${this.links.length} WAL nodes reachable, the ack quorum is ${this.ackQuorum} (${reasons.join('; ')})`,
      reachable,
      this.ackQuorum,
      cause ? { cause } : undefined,
    );
  }

  private reachabilityChanged(): void {
    if (this.closed) return;
    const reachable = this.reachableNodes();
    if (reachable >= this.ackQuorum || this.links.every((l) => l.attempted)) this.opened.resolve();
    if (reachable !== this.lastReachable) {
      this.lastReachable = reachable;
      for (const l of [...this.reachableListeners]) l(reachable);
    }
    if (reachable >= this.ackQuorum) return;
    const err = this.unavailable(reachable);
    for (const e of this.window.from(this.quorumEnd)) {
      this.rejectQuorum(e, err);
      if (reachable === 0) this.rejectOne(e, err);
    }
  }

  private rejectQuorum(e: Entry, err: Error): void {
    if (e.quorumSettled) return;
    e.quorumSettled = true;
    e.quorum.reject(err);
  }

  private rejectOne(e: Entry, err: Error): void {
    if (e.oneSettled) return;
    e.oneSettled = true;
    e.one.reject(err);
  }

  private settleAll(err: Error): void {
    for (const e of this.window.from(this.quorumEnd)) {
      this.rejectQuorum(e, err);
      this.rejectOne(e, err);
    }
  }

  private fail(err: WalFencedError): void {
    if (this.failure) return;
    this.failure = err;
    this.log.warn({ log: this.logId, epoch: this.epoch, fenceEpoch: err.fenceEpoch }, 'WAL writer fenced');
    this.settleAll(err);
    this.disconnectAll();
    this.opened.resolve();
  }
}
