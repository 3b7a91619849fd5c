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
import { asError, WalFencedError, WalQuorumUnavailableError } from './errors.ts';
import type { WalError } from './errors.ts';
import { clientInFlightBytesMax, connectTimeoutMsDefault, readBytesMax, recoveryStragglerMsDefault, requestTimeoutMsDefault } from './limits.ts';
import { decodeError, decodeReadOk, decodeStateOk, encodeFence, encodeRead, encodeTruncate, Status } from './protocol.ts';
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
}

interface Conn {
  endpoint: WalEndpoint;
  conn: WalConnection | null;
  error: Error | null;
}

function connOptions(o: { clock?: Clock; connectTimeoutMs?: number; requestTimeoutMs?: number }): ConnectionOptions {
  return {
    clock: o.clock ?? systemClock,
    connectTimeoutMs: o.connectTimeoutMs ?? connectTimeoutMsDefault,
    requestTimeoutMs: o.requestTimeoutMs ?? requestTimeoutMsDefault,
  };
}

async function connectAll(nodes: readonly WalEndpoint[], opts: ConnectionOptions): Promise<Conn[]> {
  return Promise.all(
    nodes.map((endpoint) =>
      WalConnection.connect(endpoint, opts).then(
        (conn): Conn => ({ endpoint, conn, error: null }),
        (err: unknown): Conn => ({ endpoint, conn: null, error: asError(err) }),
      ),
    ),
  );
}

function closeAll(conns: readonly Conn[]): void {
  for (const c of conns) c.conn?.close();
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

function describe(conns: readonly Conn[]): string {
  return conns.map((c) => `${endpointName(c.endpoint)}: ${c.error?.message ?? 'ok'}`).join('; ');
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
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? pino({ level: 'silent' });
  const co = connOptions(opts);
  const conns = await connectAll(opts.nodes, co);
  try {
    // 1. Fence. Each node answers only after every append it accepted earlier is durable.
    const fenced = await fenceNodes(conns, logIdBytes, opts.newEpoch, need, clock, opts.stragglerMs ?? recoveryStragglerMsDefault);
    const refusal = fenced.find((f) => f.error instanceof WalFencedError);
    if (refusal) {
      const e = refusal.error as WalFencedError;
      throw new WalFencedError(`cannot recover ${opts.logId} at epoch ${opts.newEpoch}: ${e.message}`, e.fenceEpoch, { cause: e });
    }
    const ok = fenced.filter((f) => f.state !== null);
    if (ok.length < need) {
      throw new WalQuorumUnavailableError(
        `cannot recover ${opts.logId}: ${ok.length} of ${n} WAL nodes fenced at epoch ${opts.newEpoch}, ${need} needed (${describe(fenced)})`,
        ok.length,
        need,
      );
    }

    // 2. Read everything the fenced nodes hold.
    const reads = await Promise.all(
      ok.map((f) =>
        readAll(f.conn!, logIdBytes, 0).then(
          (r): NodeReport => ({ node: endpointName(f.endpoint), state: r.state, entries: r.entries }),
          (err: unknown) => {
            f.error = asError(err);
            return null;
          },
        ),
      ),
    );
    const reports = reads.filter((r): r is NodeReport => r !== null);
    if (reports.length < need) {
      throw new WalQuorumUnavailableError(`cannot recover ${opts.logId}: only ${reports.length} fenced nodes could be read, ${need} needed (${describe(fenced)})`, reports.length, need);
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
    await markEnd(opts, conns, co, logIdBytes, ackQuorum, tail.nextEntryId);

    return { entries: tail.entries, nextEntryId: tail.nextEntryId, trimmedUpTo: tail.trimmedUpTo };
  } finally {
    closeAll(conns);
  }
}

interface FenceResult extends Conn {
  state: LogState | null;
}

function fenceNodes(conns: readonly Conn[], logId: Buffer, epoch: number, need: number, clock: Clock, stragglerMs: number): Promise<FenceResult[]> {
  return new Promise((resolve) => {
    const results: FenceResult[] = conns.map((c) => ({ ...c, state: null }));
    let settled = 0;
    let succeeded = 0;
    let done = false;
    let cancel: (() => void) | null = null;
    const finish = (): void => {
      if (done) return;
      done = true;
      cancel?.();
      resolve(results);
    };
    const settle = (): void => {
      settled++;
      if (settled === results.length) finish();
      else if (succeeded >= need && !cancel) cancel = clock.setTimer(stragglerMs, finish);
    };
    for (const r of results) {
      if (!r.conn) {
        settle();
        continue;
      }
      r.conn.send((id) => encodeFence(id, logId, epoch)).then(
        (resp) => {
          if (resp.status === Status.OK) {
            r.state = decodeStateOk(resp.body);
            succeeded++;
          } else r.error = decodeError(resp, r.conn!.name);
          settle();
        },
        (err: unknown) => {
          r.error = asError(err);
          settle();
        },
      );
    }
    if (results.length === 0) finish();
  });
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
    let inFlight = 0;
    let last: Promise<void> | null = null;
    for (const e of tail.entries) {
      // Stay below the client's in-flight limit: wait for the prefix so far, then go on.
      if (last && inFlight + e.payload.length > clientInFlightBytesMax / 2) {
        await last;
        inFlight = 0;
      }
      last = writer.append(e.payload).quorumDurable;
      inFlight += e.payload.length;
    }
    if (last) await last;
  } finally {
    await writer.close();
  }
}

async function markEnd(opts: RecoverLogOptions, conns: Conn[], co: ConnectionOptions, logId: Buffer, ackQuorum: number, nextEntryId: number): Promise<void> {
  // Nodes that were unreachable for the fence may be back: try them again.
  await Promise.all(
    conns.map(async (c) => {
      if (c.conn?.isOpen()) return;
      try {
        c.conn = await WalConnection.connect(c.endpoint, co);
        c.error = null;
      } catch (err) {
        c.error = asError(err);
      }
    }),
  );
  const answers = await Promise.all(
    conns.map(async (c): Promise<WalError | Error | null> => {
      if (!c.conn) return c.error ?? new Error('not connected');
      try {
        const r = await c.conn.send((id) => encodeTruncate(id, logId, opts.newEpoch, nextEntryId));
        return r.status === Status.OK ? null : decodeError(r, c.conn.name);
      } catch (err) {
        return asError(err);
      }
    }),
  );
  const fencedBy = answers.find((a): a is WalFencedError => a instanceof WalFencedError);
  if (fencedBy) throw new WalFencedError(`recovery of ${opts.logId} at epoch ${opts.newEpoch} was overtaken: ${fencedBy.message}`, fencedBy.fenceEpoch, { cause: fencedBy });
  const ok = answers.filter((a) => a === null).length;
  if (ok < ackQuorum) {
    const why = answers.map((a, i) => `${endpointName(conns[i]!.endpoint)}: ${a?.message ?? 'ok'}`).join('; ');
    throw new WalQuorumUnavailableError(`recovery of ${opts.logId}: the end marker reached ${ok} nodes, ${ackQuorum} needed (${why})`, ok, ackQuorum);
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
  const conns = await connectAll(opts.nodes, connOptions(opts));
  try {
    const reads = await Promise.all(
      conns.map(async (c): Promise<NodeReport | null> => {
        if (!c.conn) return null;
        try {
          const r = await readAll(c.conn, logIdBytes, from);
          return { node: endpointName(c.endpoint), state: r.state, entries: r.entries };
        } catch (err) {
          c.error = asError(err);
          return null;
        }
      }),
    );
    const reports = reads.filter((r): r is NodeReport => r !== null);
    if (reports.length < need) {
      throw new WalQuorumUnavailableError(`cannot read ${opts.logId}: ${reports.length} of ${n} WAL nodes answered, ${need} needed (${describe(conns)})`, reports.length, need);
    }
    const tail = chooseTail(reports, from);
    return { entries: tail.entries, nextEntryId: tail.nextEntryId, trimmedUpTo: tail.trimmedUpTo };
  } finally {
    closeAll(conns);
  }
}
