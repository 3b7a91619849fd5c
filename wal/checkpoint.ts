/**
 * The node's checkpoint: per-log state that must outlive the segments holding the log's
 * entries (a trim deletes whole segments), written atomically and durably
 * (FileSystem.writeFileAtomic) before a fence, truncation or trim is answered.
 *
 *   { "version": 1, "logs": { "<logId>": { fenceEpoch, trimmedUpTo, truncEpoch, truncFrom } } }
 *
 * fenceEpoch   appends with an older epoch are refused; a fence needs a newer one.
 * trimmedUpTo  entries with a smaller id are deleted (or ignored until their segment goes).
 * truncEpoch,  a recovery at truncEpoch chose the log's end as truncFrom: entries with
 * truncFrom    id ≥ truncFrom written at an older epoch are discarded (see wal/quorum.ts).
 *
 * The fence epoch recorded here is a lower bound: appends at a newer epoch raise a log's
 * fence implicitly and that epoch is durable in the entry's own record, so the node's
 * fence after a restart is the larger of this value and the newest epoch in its segments.
 */
import { WalCorruptError } from './errors.ts';
import { isEntryId, isEpoch } from './codec.ts';

export const checkpointFileName = 'checkpoint.json';

export interface LogCheckpoint {
  fenceEpoch: number;
  trimmedUpTo: number;
  truncEpoch: number;
  truncFrom: number;
}

export function encodeCheckpoint(logs: ReadonlyMap<string, LogCheckpoint>): Buffer {
  const out: Record<string, LogCheckpoint> = {};
  for (const [id, s] of logs) {
    out[id] = { fenceEpoch: s.fenceEpoch, trimmedUpTo: s.trimmedUpTo, truncEpoch: s.truncEpoch, truncFrom: s.truncFrom };
  }
  return Buffer.from(JSON.stringify({ version: 1, logs: out }) + '\n', 'utf8');
}

export function decodeCheckpoint(bytes: Buffer, file: string): Map<string, LogCheckpoint> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new WalCorruptError(`checkpoint ${file} is not valid JSON`, { cause: err });
  }
  const bad = (why: string): WalCorruptError => new WalCorruptError(`checkpoint ${file}: ${why}`);
  if (typeof parsed !== 'object' || parsed === null) throw bad('not an object');
  const top = parsed as { version?: unknown; logs?: unknown };
  if (top.version !== 1) throw bad(`unknown version ${String(top.version)}`);
  if (typeof top.logs !== 'object' || top.logs === null) throw bad('no logs');
  const logs = new Map<string, LogCheckpoint>();
  for (const [id, value] of Object.entries(top.logs as Record<string, unknown>)) {
    const v = value as Partial<Record<keyof LogCheckpoint, unknown>>;
    const { fenceEpoch, trimmedUpTo, truncEpoch, truncFrom } = v;
    if (typeof fenceEpoch !== 'number' || !isEpoch(fenceEpoch)) throw bad(`log ${id}: bad fenceEpoch`);
    if (typeof truncEpoch !== 'number' || !isEpoch(truncEpoch)) throw bad(`log ${id}: bad truncEpoch`);
    if (typeof trimmedUpTo !== 'number' || !isEntryId(trimmedUpTo)) throw bad(`log ${id}: bad trimmedUpTo`);
    if (typeof truncFrom !== 'number' || !isEntryId(truncFrom)) throw bad(`log ${id}: bad truncFrom`);
    logs.set(id, { fenceEpoch, trimmedUpTo, truncEpoch, truncFrom });
  }
  return logs;
}
