/**
 * Opening a log directory: find its segments, trust what is known durable, check every
 * batch after it, cut a torn tail, and leave the directory in a state whose every byte is
 * durable and indexed.
 *
 * What is known durable: every segment wholly below the recovery point (Kafka's
 * recovery-point checkpoint), and, in the others, everything before their last persisted
 * index entry — index entries reach their files only after the log bytes they point at
 * were fsynced (segment.ts), so they act as a per-segment recovery point. This is what
 * makes a restart after a clean close, or a crash long after the last checkpoint, check
 * only the tail of the active segment instead of all of it. The batch at that index entry
 * is itself checked; if it is not valid, the index is distrusted and the whole segment
 * checked.
 *
 * What a crash can leave behind, and what is done about it:
 *  - a torn tail (a batch partly written, or whole but never synced and damaged): every
 *    batch of the segments not wholly below the recovery point is checked (length, magic,
 *    contiguous offsets, CRC-32C) from the last trusted index entry on; the segment is
 *    truncated at the first invalid batch and every later segment is deleted. The
 *    truncation is fsynced before the log is used, so a cut batch never comes back;
 *  - index files shorter than their segment, torn, or missing: only their valid prefix
 *    is kept and everything after it is scanned; indexes of scanned segments are
 *    rewritten from memory;
 *  - an empty segment file (a roll cut short): deleted unless it is the last and
 *    continues the log;
 *  - leftover temp files of a checkpoint replaced half-way: deleted;
 *  - segments wholly below the checkpointed log start (retention cut short): deleted;
 *  - a log start beyond the recovered end (records deleted, then the unsynced tail lost):
 *    the log restarts empty at the log start, so offsets are never reused.
 * Damage below the recovery point (data that was fsynced) is not a crash artifact: it is
 * reported as FLOE_ERR_STORAGE_CORRUPT rather than silently cut.
 */
import * as path from 'node:path';
import type { FileHandle, FileSystem } from '../../common/fs.ts';
import type { LogConfig } from '../partition-log.ts';
import { corrupt, errnoOf, validateBatches } from './batch-io.ts';
import { Checkpoint, readCheckpoint } from './checkpoint.ts';
import { OffsetIndex, TimeIndex } from './indexes.ts';
import type { LocalLogLogger } from './logger.ts';
import { SEGMENT_FILE_PATTERN, Segment, SegmentFile, removeSegmentFiles, segmentFileName, unlinkIfPresent } from './segment.ts';

export const CheckpointFile = {
  LOG_START: 'log-start-offset.checkpoint',
  RECOVERY_POINT: 'recovery-point.checkpoint',
  /**
   * The replicated high watermark this replica last knew (shared-nothing replication): a
   * follower checks its log against a new leader's from there. Recovery only reads it.
   */
  HIGH_WATERMARK: 'high-watermark.checkpoint',
} as const;

/** Temp files of `writeFileAtomic` (NodeFileSystem: `.tmp-<pid>`, SimulatedFileSystem: `.tmp`). */
export const TEMP_FILE_PATTERN = /\.checkpoint\.tmp(-\d+)?$/;

export interface RecoveryContext {
  fs: FileSystem;
  dir: string;
  config: LogConfig;
  nowMs: number;
  logger: LocalLogLogger;
}

export interface RecoveredLog {
  /** In offset order; the last is the active segment. Every byte in them is durable. */
  segments: Segment[];
  logStartOffset: number;
  logStartCheckpoint: Checkpoint;
  recoveryPointCheckpoint: Checkpoint;
  /** The stored high watermark (null when none was stored), at most the recovered log end. */
  highWatermarkCheckpoint: Checkpoint;
  storedHighWatermark: number | null;
}

async function readIfPresent(fs: FileSystem, file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return Buffer.alloc(0);
    throw err;
  }
}

export async function recoverLog(ctx: RecoveryContext): Promise<RecoveredLog> {
  const { fs, dir, logger } = ctx;
  const interval = ctx.config.indexIntervalBytes;
  await fs.mkdirp(dir);

  const names = await fs.readdir(dir);
  const logBases = new Set<number>();
  const indexFiles: { base: number; name: string }[] = [];
  for (const name of names) {
    if (TEMP_FILE_PATTERN.test(name)) {
      await unlinkIfPresent(fs, path.join(dir, name));
      continue;
    }
    const m = SEGMENT_FILE_PATTERN.exec(name);
    if (m === null) continue;
    const base = Number(m[1]);
    if (m[2] === 'log') logBases.add(base);
    else indexFiles.push({ base, name });
  }
  for (const f of indexFiles) if (!logBases.has(f.base)) await unlinkIfPresent(fs, path.join(dir, f.name));
  const bases = [...logBases].sort((a, b) => a - b);

  const logStartFile = path.join(dir, CheckpointFile.LOG_START);
  const recoveryFile = path.join(dir, CheckpointFile.RECOVERY_POINT);
  const highWatermarkFile = path.join(dir, CheckpointFile.HIGH_WATERMARK);
  const logStartRead = await readCheckpoint(fs, logStartFile);
  const recoveryRead = await readCheckpoint(fs, recoveryFile);
  const highWatermarkRead = await readCheckpoint(fs, highWatermarkFile);
  for (const [file, read] of [[logStartFile, logStartRead], [recoveryFile, recoveryRead], [highWatermarkFile, highWatermarkRead]] as const) {
    if (read.kind === 'invalid') logger.warn({ file, text: read.text }, 'checkpoint unreadable; ignoring it');
  }
  // Without a recovery point every segment is checked: slower, never wrong.
  const recoveryPoint = recoveryRead.kind === 'ok' ? recoveryRead.offset : 0;

  const segments: Segment[] = [];
  /** Segments whose batches were checked here: synced and re-indexed before the log opens. */
  const scanned = new Set<Segment>();
  /** Open segment files not yet owned by a Segment (closed here if recovery fails). */
  const loose = new Map<number, FileHandle>();
  let expected: number | null = null;
  /** Set once a torn tail was cut: every later segment is deleted. */
  let cut = false;
  try {
    // Empty segment files hold nothing: a roll that failed or was cut short. Only the last
    // may be the log's fresh active segment; the others go before anything is judged, so
    // that "the next segment" below always means one with data.
    const files: { base: number; size: number }[] = [];
    for (const base of bases) {
      const handle = await fs.open(path.join(dir, segmentFileName(base, SegmentFile.LOG)), 'write');
      loose.set(base, handle);
      files.push({ base, size: await handle.size() });
    }
    for (let i = files.length - 2; i >= 0; i--) {
      const f = files[i]!;
      if (f.size > 0) continue;
      await loose.get(f.base)!.close();
      loose.delete(f.base);
      await removeSegmentFiles(fs, dir, f.base);
      files.splice(i, 1);
    }

    for (let i = 0; i < files.length; i++) {
      const { base, size } = files[i]!;
      const handle = loose.get(base)!;
      const logFile = handle.path;
      if (cut) {
        logger.warn({ dir, base }, 'deleting a segment after a torn tail');
        loose.delete(base);
        await handle.close();
        await removeSegmentFiles(fs, dir, base);
        continue;
      }
      if (expected !== null && base !== expected) {
        loose.delete(base);
        await handle.close();
        if (base < recoveryPoint && size > 0) throw corrupt(`${logFile}: segment starts at ${base}, but the log before it ends at ${expected}`);
        logger.warn({ dir, base, expected }, 'segment does not continue the log; deleting it and every later one');
        await removeSegmentFiles(fs, dir, base);
        cut = true;
        continue;
      }
      const offsetIndex = OffsetIndex.load(await readIfPresent(fs, path.join(dir, segmentFileName(base, SegmentFile.INDEX))), size);
      const timeIndex = TimeIndex.load(await readIfPresent(fs, path.join(dir, segmentFileName(base, SegmentFile.TIME_INDEX))));
      const seg: Segment = new Segment(dir, base, handle, ctx.nowMs, interval, { offsetIndex, timeIndex });
      loose.delete(base);
      segments.push(seg);
      const next = files[i + 1];
      if (next !== undefined && next.size > 0 && next.base <= recoveryPoint) {
        if (!loadClean(seg, size, next.base)) {
          logger.warn({ dir, base }, 'index of a synced segment unusable; rebuilding it');
          await rebuildClean(seg, size, next.base);
          scanned.add(seg);
        }
      } else {
        if (await recoverTail(seg, size, logger)) cut = true;
        scanned.add(seg);
      }
      expected = seg.endOffset;
    }

    let logStart = logStartRead.kind === 'ok' ? logStartRead.offset : (segments[0]?.base ?? 0);
    if (segments[0] !== undefined && segments[0].base > logStart) logStart = segments[0].base;
    const end = segments.at(-1)?.endOffset ?? Math.max(expected ?? 0, logStart);
    if (logStart > end) {
      logger.warn({ dir, logStart, end }, 'log start is beyond the recovered end; restarting the log empty at the log start');
      for (const seg of segments.splice(0)) {
        await seg.retire();
        await seg.removeFiles(fs);
      }
    }
    // Segments wholly below the log start: a retention run that checkpointed, then stopped.
    while (segments.length > 1 && segments[1]!.base <= logStart) {
      const seg = segments.shift()!;
      scanned.delete(seg);
      await seg.retire();
      await seg.removeFiles(fs);
    }
    if (segments.length === 0) segments.push(await Segment.create(fs, dir, Math.max(logStart, end), ctx.nowMs, interval));

    const last = segments.at(-1)!;
    for (const seg of segments) {
      if (!scanned.has(seg)) continue;
      await seg.handle.datasync();
      seg.markSynced();
      if (seg !== last) seg.sealTimeIndex();
      await seg.rewriteIndexes(fs);
      if (seg !== last) await seg.closeIndexFiles();
    }
    await fs.syncDir(dir);
    const recoveryPointCheckpoint = new Checkpoint(fs, recoveryFile, recoveryRead.kind === 'ok' ? recoveryRead.offset : null);
    await recoveryPointCheckpoint.write(last.endOffset);
    const logStartCheckpoint = new Checkpoint(fs, logStartFile, logStartRead.kind === 'ok' ? logStartRead.offset : null);
    await logStartCheckpoint.write(logStart);
    // A stored high watermark above what survived (power loss took an unsynced tail) says
    // nothing about offsets this log no longer has: only the part it still holds counts.
    const highWatermarkCheckpoint = new Checkpoint(fs, highWatermarkFile, highWatermarkRead.kind === 'ok' ? highWatermarkRead.offset : null);
    const storedHighWatermark = highWatermarkRead.kind === 'ok' ? Math.min(highWatermarkRead.offset, last.endOffset) : null;
    return { segments, logStartOffset: logStart, logStartCheckpoint, recoveryPointCheckpoint, highWatermarkCheckpoint, storedHighWatermark };
  } catch (err) {
    for (const seg of segments) await seg.retire().catch(() => undefined);
    for (const handle of loose.values()) await handle.close().catch(() => undefined);
    throw err;
  }
}

/** Accepts a synced segment's indexes when the time index ends with the segment's end; false when they cannot be trusted. */
function loadClean(seg: Segment, size: number, nextBase: number): boolean {
  const t = seg.timeIndex;
  const n = t.count;
  if (size === 0 || n === 0 || t.relAt(n - 1) !== nextBase - seg.base) return false;
  seg.bytes = size;
  seg.endOffset = nextBase;
  seg.maxTimestamp = t.timestampAt(n - 1);
  seg.markSynced();
  seg.assumeIndexesPersisted();
  return true;
}

async function rebuildClean(seg: Segment, size: number, nextBase: number): Promise<void> {
  seg.offsetIndex.truncate(0);
  seg.timeIndex.truncate(0);
  seg.resumeAt(0, seg.base, -1);
  const r = await validateBatches(seg.handle, { position: 0, offset: seg.base }, size, (h, at) =>
    seg.noteBatch(h.baseOffset, h.baseOffset + h.lastOffsetDelta + 1, at, h.sizeBytes, h.maxTimestamp),
  );
  if (r.stoppedBecause !== null || r.endOffset !== nextBase) {
    throw corrupt(`${seg.path(SegmentFile.LOG)}: synced segment is damaged at ${r.endPosition} (${r.stoppedBecause ?? `ends at offset ${r.endOffset}, not ${nextBase}`})`);
  }
  seg.markSynced();
  seg.sealTimeIndex();
}

/**
 * Checks a segment that may hold unsynced data, from its last trusted index entry on, and
 * truncates it at the first invalid batch. Resolves true when it truncated.
 */
async function recoverTail(seg: Segment, size: number, logger: LocalLogLogger): Promise<boolean> {
  const o = seg.offsetIndex;
  const t = seg.timeIndex;
  // Start at the last offset entry the time index also covers, so the segment's maximum
  // timestamp is that entry's running maximum plus what the scan finds after it.
  let from = { position: 0, offset: seg.base };
  let maxTimestamp = -1;
  let keepOffsetEntries = 0;
  let keepTimeEntries = 0;
  if (t.count > 0) {
    const i = o.floor(t.relAt(t.count - 1));
    if (i >= 0) {
      from = { position: o.posAt(i), offset: seg.base + o.relAt(i) };
      maxTimestamp = t.timestampAt(t.count - 1);
      keepOffsetEntries = i + 1;
      keepTimeEntries = t.countUpToRel(o.relAt(i));
    }
  }
  const scan = async (): Promise<Awaited<ReturnType<typeof validateBatches>>> => {
    o.truncate(keepOffsetEntries);
    t.truncate(keepTimeEntries);
    seg.resumeAt(from.position, from.offset, maxTimestamp);
    return validateBatches(seg.handle, from, size, (h, at) =>
      seg.noteBatch(h.baseOffset, h.baseOffset + h.lastOffsetDelta + 1, at, h.sizeBytes, h.maxTimestamp),
    );
  };
  let r = await scan();
  if (from.position > 0 && r.endPosition === from.position) {
    // The batch the index points at is not valid: the index is not trusted at all.
    logger.warn({ file: seg.path(SegmentFile.INDEX), position: from.position }, 'index points at an invalid batch; rescanning the segment');
    from = { position: 0, offset: seg.base };
    maxTimestamp = -1;
    keepOffsetEntries = 0;
    keepTimeEntries = 0;
    r = await scan();
  }
  if (r.endPosition >= size) return false;
  logger.warn(
    { file: seg.path(SegmentFile.LOG), position: r.endPosition, size, offset: r.endOffset, reason: r.stoppedBecause },
    'truncating a torn tail',
  );
  await seg.handle.truncate(r.endPosition);
  return true;
}
