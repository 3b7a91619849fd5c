/**
 * Recovery of a log (by the controller when a broker died, or by a broker restarting on
 * its own log) and plain reads. The protocol and its safety argument are in wal/quorum.ts;
 * this module does the I/O.
 *
 *   const { entries, nextEntryId, trimmedUpTo } = await recoverLog({ nodes, logId, newEpoch, ackQuorum });
 *   const w = await WalClient.open({ nodes, logId, epoch: newEpoch, nextEntryId, ackQuorum });
 *
 * newEpoch must be newer than every epoch this log was written, fenced or recovered at
 * (the controller's epoch counter); a node whose fence is already ≥ newEpoch refuses the
 * fence and recoverLog fails with WalFencedError. A failed or interrupted recovery is
 * repeated with a newer epoch.
 */
import pino from 'pino';
import type { Logger } from 'pino';
import type { Clock } from '../src/common/clock.ts';
import { systemClock } from '../src/common/clock.ts';
import { WalClient } from './client.ts';
import { checkEntryId, checkEpoch, encodeLogId } from './codec.ts';
import { endpointName, WalConnection } from './connection.ts';
import type { ConnectionOptions, WalEndpoint } from './connection.ts';
import { asError, WalFencedError, WalQuorumUnavailableError, WalUnreachableError } from './errors.ts';
import { clientInFlightBytesMax, clientInFlightEntriesMax, connectTimeoutMsDefault, readBytesMax, recoveryStragglerMsDefault, requestTimeoutMsDefault } from './limits.ts';
import { decodeError, decodeReadOk, decodeStateOk, encodeFence, encodeRead, encodeTrim, encodeTruncate, Status } from './protocol.ts';
import type { ChosenTail, NodeReport } from './quorum.ts';
import { checkQuorumConfig, chooseTail, defaultAckQuorum, fenceQuorum } from './quorum.ts';
import type { LogState, StoredEntry } from './store.ts';

export interface RecoverLogOptions {
  nodes: readonly WalEndpoint[];
  logId: string;
  newEpoch: number;
  /** Defaults to a majority of the nodes. */
  ackQuorum?: number;
  clock?: Clock;
  logger?: Logger;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Once a fence quorum answered, how long to wait for the other nodes to answer too. */
  stragglerMs?: number;
}

export interface RecoveredLog {
  /** Every entry from trimmedUpTo on, consecutive ids, in order. */
  entries: StoredEntry[];
  /** The id the next writer (at newEpoch) continues with. */
  nextEntryId: number;
  /** The largest trim point found: entries below it were already uploaded and are not returned. */
  trimmedUpTo: number;
}

export interface ReadLogOptions {
  nodes: readonly WalEndpoint[];
  logId: string;
  fromEntryId?: number;
  ackQuorum?: number;
  clock?: Clock;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Once a fence quorum of nodes answered, how long to wait for the others. */
  stragglerMs?: number;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

/**
 * The nodes of one recovery or read, connected lazily. A round runs one call on each of
 * a set of nodes and settles once all have answered, or once `need` of them succeeded and
 * stragglerMs more has passed: a hung node (SIGSTOP, a dead disk) delays a round by at
 * most that, never by the request timeout.
 */
class Peers {
  private readonly conns: (WalConnection | null)[];
  private readonly connecting: (Promise<WalConnection> | null)[];
  private closed = false;
  private readonly stopping = new AbortController();

  constructor(
    readonly endpoints: readonly WalEndpoint[],
    private readonly co: ConnectionOptions,
  ) {
    this.conns = endpoints.map(() => null);
    this.connecting = endpoints.map(() => null);
  }

  private conn(i: number): Promise<WalConnection> {
    const open = this.conns[i];
    if (open?.isOpen()) return Promise.resolve(open);
    let pending = this.connecting[i];
    if (!pending) {
      pending = WalConnection.connect(this.endpoints[i]!, this.co, this.stopping.signal).then(
        (c) => {
          this.connecting[i] = null;
          // A connection that completes after the recovery ended is not kept.
          if (this.closed) c.close();
          else this.conns[i] = c;
          return c;
        },
        (err: unknown) => {
          this.connecting[i] = null;
          throw asError(err);
        },
      );
      this.connecting[i] = pending;
    }
    return pending;
  }

  round<T>(indices: readonly number[], need: number, stragglerMs: number, call: (conn: WalConnection) => Promise<T>): Promise<Outcome<T>[]> {
    return new Promise((resolve) => {
      const outcomes: Outcome<T>[] = indices.map(() => ({ ok: false, error: new WalUnreachableError('no answer within the round') }));
      let settled = 0;
      let succeeded = 0;
      let done = false;
      let cancel: (() => void) | null = null;
      const finish = (): void => {
        if (done) return;
        done = true;
        cancel?.();
        resolve(outcomes.slice());
      };
      const settle = (): void => {
        settled++;
        if (settled === indices.length) finish();
        else if (succeeded >= need && !cancel) cancel = this.co.clock.setTimer(stragglerMs, finish);
      };
      indices.forEach((node, k) => {
        this.conn(node)
          .then(call)
          .then(
            (value) => {
              if (done) return;
              outcomes[k] = { ok: true, value };
              succeeded++;
              settle();
            },
            (err: unknown) => {
              if (done) return;
              outcomes[k] = { ok: false, error: asError(err) };
              settle();
            },
          );
      });
      if (indices.length === 0) finish();
    });
  }

  name(i: number): string {
    return endpointName(this.endpoints[i]!);
  }

  close(): void {
    this.closed = true;
    this.stopping.abort();
    for (const c of this.conns) c?.close();
  }
}

function connOptions(o: { clock?: Clock; connectTimeoutMs?: number; requestTimeoutMs?: number }): ConnectionOptions {
  return {
    clock: o.clock ?? systemClock,
    connectTimeoutMs: o.connectTimeoutMs ?? connectTimeoutMsDefault,
    requestTimeoutMs: o.requestTimeoutMs ?? requestTimeoutMsDefault,
  };
}

/** Reads every entry a node holds for the log from `from` on, page by page. */
async function readAll(conn: WalConnection, logId: Buffer, from: number): Promise<{ state: LogState; entries: StoredEntry[] }> {
  const entries: StoredEntry[] = [];
  let state: LogState | null = null;
  let next = from;
  for (;;) {
    const r = await conn.send((id) => encodeRead(id, logId, next, readBytesMax));
    if (r.status !== Status.OK) throw decodeError(r, conn.name);
    const page = decodeReadOk(r.body);
    state ??= page.state;
    for (const e of page.entries) entries.push(e);
    const last = page.entries[page.entries.length - 1];
    if (!page.more || !last) return { state, entries };
    next = last.entryId + 1;
  }
}

function describe<T>(peers: Peers, indices: readonly number[], outcomes: readonly Outcome<T>[]): string {
  return outcomes.map((o, k) => `${peers.name(indices[k]!)}: ${o.ok ? 'ok' : o.error.message}`).join('; ');
}

/**
 * Fences the log at newEpoch on at least N − ackQuorum + 1 nodes, reads what they hold,
 * chooses the tail (wal/quorum.ts), re-writes it at newEpoch on an ack quorum, records the
 * truncation marker on an ack quorum, and returns the entries. Throws
 * WalQuorumUnavailableError when too few nodes take part, WalFencedError when a node
 * already holds an epoch ≥ newEpoch.
 */
export async function recoverLog(opts: RecoverLogOptions): Promise<RecoveredLog> {
  const n = opts.nodes.length;
  const ackQuorum = opts.ackQuorum ?? defaultAckQuorum(n);
  checkQuorumConfig(n, ackQuorum);
  checkEpoch(opts.newEpoch, 'newEpoch');
  const logIdBytes = encodeLogId(opts.logId);
  const need = fenceQuorum(n, ackQuorum);
  const log = opts.logger ?? pino({ level: 'silent' });
  const straggler = opts.stragglerMs ?? recoveryStragglerMsDefault;
  const peers = new Peers(opts.nodes, connOptions(opts));
  const all = opts.nodes.map((_, i) => i);
  try {
    // 1. Fence. Each node answers only after every append it accepted earlier is durable.
    const fenced = await peers.round(all, need, straggler, async (conn) => {
      const r = await conn.send((id) => encodeFence(id, logIdBytes, opts.newEpoch));
      if (r.status !== Status.OK) throw decodeError(r, conn.name);
      return decodeStateOk(r.body);
    });
    for (const o of fenced) {
      if (!o.ok && o.error instanceof WalFencedError) {
        throw new WalFencedError(`cannot recover ${opts.logId} at epoch ${opts.newEpoch}: ${o.error.message}`, o.error.fenceEpoch, { cause: o.error });
      }
    }
    const fencedNodes = all.filter((_, k) => fenced[k]!.ok);
    if (fencedNodes.length < need) {
      throw new WalQuorumUnavailableError(
        `cannot recover ${opts.logId}: ${fencedNodes.length} of ${n} WAL nodes fenced at epoch ${opts.newEpoch}, ${need} needed (${describe(peers, all, fenced)})`,
        fencedNodes.length,
        need,
      );
    }

    // 2. Read everything the fenced nodes hold (all of them: every read adds certainty).
    const reads = await peers.round(fencedNodes, fencedNodes.length, straggler, async (conn) => {
      const r = await readAll(conn, logIdBytes, 0);
      return { node: conn.name, state: r.state, entries: r.entries } satisfies NodeReport;
    });
    const reports = reads.flatMap((o) => (o.ok ? [o.value] : []));
    if (reports.length < need) {
      throw new WalQuorumUnavailableError(
        `cannot recover ${opts.logId}: only ${reports.length} fenced nodes could be read, ${need} needed (${describe(peers, fencedNodes, reads)})`,
        reports.length,
        need,
      );
    }

    // 3. Choose.
    const tail: ChosenTail = chooseTail(reports);
    log.info(
      { log: opts.logId, epoch: opts.newEpoch, nodesRead: reports.length, trimmedUpTo: tail.trimmedUpTo, nextEntryId: tail.nextEntryId },
      'recovered the tail of a WAL log',
    );

    // 4. Re-write the tail at newEpoch on an ack quorum, so that it wins over any older
    //    version in every later recovery.
    await rewrite(opts, ackQuorum, tail);

    // 5. Record the end on an ack quorum: older versions of later ids lose to it for good.
    const marked = await peers.round(all, ackQuorum, straggler, async (conn) => {
      const r = await conn.send((id) => encodeTruncate(id, logIdBytes, opts.newEpoch, tail.nextEntryId));
      if (r.status !== Status.OK) throw decodeError(r, conn.name);
    });
    for (const o of marked) {
      if (!o.ok && o.error instanceof WalFencedError) {
        throw new WalFencedError(`recovery of ${opts.logId} at epoch ${opts.newEpoch} was overtaken: ${o.error.message}`, o.error.fenceEpoch, { cause: o.error });
      }
    }
    const markedCount = marked.filter((o) => o.ok).length;
    if (markedCount < ackQuorum) {
      throw new WalQuorumUnavailableError(
        `recovery of ${opts.logId}: the end marker reached ${markedCount} nodes, ${ackQuorum} needed (${describe(peers, all, marked)})`,
        markedCount,
        ackQuorum,
      );
    }

    return { entries: tail.entries, nextEntryId: tail.nextEntryId, trimmedUpTo: tail.trimmedUpTo };
  } finally {
    peers.close();
  }
}

async function rewrite(opts: RecoverLogOptions, ackQuorum: number, tail: ChosenTail): Promise<void> {
  const writer = await WalClient.open({
    nodes: opts.nodes,
    ackQuorum,
    logId: opts.logId,
    epoch: opts.newEpoch,
    nextEntryId: tail.trimmedUpTo,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
  });
  try {
    let inFlightBytes = 0;
    let inFlightEntries = 0;
    let last: Promise<void> | null = null;
    for (const e of tail.entries) {
      // Stay below the client's in-flight limits: wait for the prefix so far, then go on.
      if (last && (inFlightBytes + e.payload.length > clientInFlightBytesMax / 2 || inFlightEntries >= clientInFlightEntriesMax / 2)) {
        await last;
        inFlightBytes = 0;
        inFlightEntries = 0;
      }
      last = writer.append(e.payload).quorumDurable;
      inFlightBytes += e.payload.length;
      inFlightEntries++;
    }
    if (last) await last;
  } finally {
    await writer.close();
  }
}

/**
 * Reads a log without fencing it: every entry from fromEntryId on that the reachable
 * nodes hold, merged as recovery would merge them (newest epoch per id, the gap-free run).
 * Throws WalQuorumUnavailableError unless N − ackQuorum + 1 nodes answered (then the
 * answer holds every entry that was quorum-durable when the read began). A live writer
 * may add entries meanwhile: the answer is a snapshot.
 */
export async function readLog(opts: ReadLogOptions): Promise<RecoveredLog> {
  const n = opts.nodes.length;
  const ackQuorum = opts.ackQuorum ?? defaultAckQuorum(n);
  checkQuorumConfig(n, ackQuorum);
  const from = opts.fromEntryId ?? 0;
  checkEntryId(from, 'fromEntryId');
  const logIdBytes = encodeLogId(opts.logId);
  const need = fenceQuorum(n, ackQuorum);
  const peers = new Peers(opts.nodes, connOptions(opts));
  const all = opts.nodes.map((_, i) => i);
  try {
    const reads = await peers.round(all, need, opts.stragglerMs ?? recoveryStragglerMsDefault, async (conn) => {
      const r = await readAll(conn, logIdBytes, from);
      return { node: conn.name, state: r.state, entries: r.entries } satisfies NodeReport;
    });
    const reports = reads.flatMap((o) => (o.ok ? [o.value] : []));
    if (reports.length < need) {
      throw new WalQuorumUnavailableError(`cannot read ${opts.logId}: ${reports.length} of ${n} WAL nodes answered, ${need} needed (${describe(peers, all, reads)})`, reports.length, need);
    }
    const tail = chooseTail(reports, from);
    return { entries: tail.entries, nextEntryId: tail.nextEntryId, trimmedUpTo: tail.trimmedUpTo };
  } finally {
    peers.close();
  }
}

export interface TrimLogOptions {
  nodes: readonly WalEndpoint[];
  logId: string;
  /** An epoch at least the log's fence: the recovery's newEpoch, or the owner's epoch. */
  epoch: number;
  /** Entries with a smaller id are no longer needed (Number.MAX_SAFE_INTEGER drops the whole log). */
  upTo: number;
  clock?: Clock;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  stragglerMs?: number;
}

/**
 * Trims a log on every reachable node without a writer (the controller, after it made a
 * dead broker's recovered entries durable elsewhere). Best effort and cumulative: a node
 * that is down keeps the entries until a later trim reaches it. Resolves with the number
 * of nodes that applied it; rejects with WalFencedError when a node holds a newer epoch.
 */
export async function trimLog(opts: TrimLogOptions): Promise<number> {
  checkEpoch(opts.epoch, 'epoch');
  checkEntryId(opts.upTo, 'upTo');
  const logIdBytes = encodeLogId(opts.logId);
  const peers = new Peers(opts.nodes, connOptions(opts));
  const all = opts.nodes.map((_, i) => i);
  try {
    const outcomes = await peers.round(all, all.length, opts.stragglerMs ?? recoveryStragglerMsDefault, async (conn) => {
      const r = await conn.send((id) => encodeTrim(id, logIdBytes, opts.epoch, opts.upTo));
      if (r.status !== Status.OK) throw decodeError(r, conn.name);
    });
    for (const o of outcomes) if (!o.ok && o.error instanceof WalFencedError) throw o.error;
    return outcomes.filter((o) => o.ok).length;
  } finally {
    peers.close();
  }
}
