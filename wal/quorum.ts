/**
 * Quorum arithmetic and recovery's choice of a log's tail: pure functions, no I/O.
 *
 * ## Model
 *
 * Every entry id of a log is a slot; the writer's epoch is a ballot. Node state per log:
 * a fence epoch (a node refuses appends older than it), the entries it holds (for each
 * id, the version with the newest epoch), a trim point, and a truncation marker
 * (truncEpoch, truncFrom): "a recovery at truncEpoch chose the log to end before
 * truncFrom", which acts as an empty version at epoch truncEpoch of every slot ≥ truncFrom.
 *
 * With N nodes and ack quorum Q, recovery fences R = N − Q + 1 nodes: any Q nodes and
 * any R nodes share at least one node (Q + R = N + 1 > N).
 *
 * ## The writer (wal/client.ts)
 *
 * A writer at epoch e exists only after a recovery at e finished (or e is the log's first
 * epoch). It writes ids ≥ the recovery's nextEntryId, each id once, and reports entry X
 * quorum-durable only when every entry ≤ X (from its first id) is durable at epoch e on
 * Q nodes. That prefix rule is what makes "the longest gap-free prefix" below sound: an
 * entry that is individually on Q nodes behind a gap was never reported to anyone, so
 * recovery may drop it.
 *
 * ## Recovery at epoch e' (wal/recovery.ts) and chooseTail
 *
 * 1. Fence at least R nodes at e' (refused by a node whose fence is already ≥ e', so two
 *    recoveries can never both use one epoch on overlapping nodes). A node answers a fence
 *    only after every append it accepted before it is durable; afterwards it refuses
 *    older epochs.
 * 2. Read every entry the fenced nodes hold.
 * 3. chooseTail: start at the largest trim point; for each id from there, the winning
 *    version is the entry with the newest epoch across the fenced nodes, unless a
 *    truncation marker covering the id has a newer epoch (at equal epochs the entry wins:
 *    the only entries written at a marker's epoch are the new writer's, above the mark).
 *    The tail is the longest run of consecutive ids whose winner is an entry.
 * 4. Re-write that tail at e' on Q nodes, then a marker (e', nextEntryId) on Q nodes.
 *
 * ## Why every entry ever reported quorum-durable is returned
 *
 * Let a writer at epoch e report entry k with payload v. By the prefix rule every id j in
 * [its first id, k] is on Q nodes at epoch e (and ids below its first id were put on Q
 * nodes at epoch e by the recovery at e before the writer started). Take any later
 * recovery at e' > e and assume (induction on the epoch) that every recovery at an epoch
 * between e and e' chose j with its value and a nextEntryId > k. Then:
 *  - the fenced set meets the Q nodes holding j@e, and that node still holds a version of
 *    j with epoch ≥ e, because versions at newer epochs are written only by those
 *    recoveries (re-writing the same value) and never by their writers (which start above
 *    k);
 *  - every version of j at an epoch ≥ e carries the same value (one writer or recovery per
 *    epoch, each writing a slot once);
 *  - no marker covering j is newer than e: markers of the recoveries after e start above
 *    k, and a marker at e itself loses the tie to the entry.
 * So j's winner is its value for every j ≤ k, the gap-free run reaches past k, and the
 * recovery at e' chooses it too. Entries written by a zombie (a writer at e < e' still
 * running) after the fence are refused by the R fenced nodes, so they can collect at most
 * N − R = Q − 1 acknowledgements and are never reported.
 *
 * ## Why a truncated entry never comes back
 *
 * A finished recovery at e' put its marker (e', n) on Q nodes; every later recovery's
 * fenced set meets one of them, whose marker outvotes any version at an epoch < e' of any
 * id ≥ n. Nodes also drop such versions from their own index, durably (the marker lives
 * in the node's checkpoint). So a recovery that crashed half-way may be repeated at a
 * newer epoch, and a second finished recovery returns the same entries as the first (plus
 * whatever the writer at e' added since).
 */
import { WalCorruptError, WalInvalidArgumentError } from './errors.ts';
import { nodesMax } from './limits.ts';
import type { LogState, StoredEntry } from './store.ts';

/** A majority: the default ack quorum (2 of 3). */
export function defaultAckQuorum(nodes: number): number {
  return Math.floor(nodes / 2) + 1;
}

/** How many nodes a recovery must fence so that no ack quorum can form without one of them. */
export function fenceQuorum(nodes: number, ackQuorum: number): number {
  return nodes - ackQuorum + 1;
}

/** Throws WalInvalidArgumentError unless 1 ≤ ackQuorum ≤ nodes ≤ nodesMax. */
export function checkQuorumConfig(nodes: number, ackQuorum: number): void {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > nodesMax) throw new WalInvalidArgumentError(`a WAL needs 1..${nodesMax} nodes, got ${nodes}`);
  if (!Number.isInteger(ackQuorum) || ackQuorum < 1 || ackQuorum > nodes) {
    throw new WalInvalidArgumentError(`ackQuorum must be in [1, ${nodes}], got ${ackQuorum}`);
  }
}

/** What one fenced node holds for the log: its state and every entry from its trim point. */
export interface NodeReport {
  node: string;
  state: LogState;
  entries: readonly StoredEntry[];
}

export interface ChosenTail {
  /** The largest trim point among the reports: entries below it are not returned. */
  trimmedUpTo: number;
  /** The chosen entries, ids max(trimmedUpTo, fromEntryId), +1, …, each with the epoch that won. */
  entries: StoredEntry[];
  nextEntryId: number;
}

/**
 * Chooses the log's tail from the fenced nodes' reports (step 3 above). `fromEntryId`
 * starts the run later (plain reads of a live log); recovery leaves it at 0.
 */
export function chooseTail(reports: readonly NodeReport[], fromEntryId = 0): ChosenTail {
  let trimmedUpTo = 0;
  for (const r of reports) trimmedUpTo = Math.max(trimmedUpTo, r.state.trimmedUpTo);
  const start = Math.max(trimmedUpTo, fromEntryId);
  const best = new Map<number, { entry: StoredEntry; node: string }>();
  for (const r of reports) {
    for (const e of r.entries) {
      if (e.entryId < start) continue;
      const cur = best.get(e.entryId);
      if (!cur || e.epoch > cur.entry.epoch) best.set(e.entryId, { entry: e, node: r.node });
      else if (e.epoch === cur.entry.epoch && !e.payload.equals(cur.entry.payload)) {
        // One writer or recovery per epoch writes each slot once: two values at one epoch
        // mean two writers were given the same epoch, or a node returned damaged bytes.
        throw new WalCorruptError(`entry ${e.entryId} has two different payloads at epoch ${e.epoch} (on ${cur.node} and ${r.node})`);
      }
    }
  }
  const markers = reports.map((r) => r.state).filter((s) => s.truncEpoch > 0);
  const entries: StoredEntry[] = [];
  for (let id = start; ; id++) {
    const b = best.get(id);
    if (!b) break;
    let tombstone = -1;
    for (const m of markers) if (m.truncFrom <= id && m.truncEpoch > tombstone) tombstone = m.truncEpoch;
    if (b.entry.epoch < tombstone) break;
    entries.push(b.entry);
  }
  return { trimmedUpTo, entries, nextEntryId: start + entries.length };
}
