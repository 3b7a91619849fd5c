/**
 * Benchmark (not a test): LocalLog appends of 1 KiB batches on real files in a temp
 * directory (NodeFileSystem), with fsync never and per batch, at several numbers of
 * appends in flight (the window: a producer pipeline, or many producers). Each scenario
 * runs several times on a fresh directory; the report gives the median appends/s and
 * MB/s over runs, the batches per write (how much group commit gathered), and for
 * per-batch fsync the latency of leaderDurable (p50/p99 of the median run). A last
 * scenario reads the never-fsync log back sequentially from disk (tail cache off).
 *
 *   node --import tsx bench/local-log-append.ts [--runs N] [--json]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../src/common/clock.ts';
import { NodeFileSystem, type FileHandle, type FileSystem, type OpenMode } from '../src/common/fs.ts';
import { latencyHistogram, summarize } from '../src/perf/histogram.ts';
import { readBatchHeader, type BatchHeader } from '../src/protocol/record-batch.ts';
import { encodeRecordBatch } from '../src/protocol/records.ts';
import { LocalLog } from '../src/storage/local-log/index.ts';
import type { FsyncPolicy, LogConfig } from '../src/storage/partition-log.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, json: { type: 'boolean', default: false } } });
const RUNS = Number(values.runs);
const BATCH_BYTES = 1024;
const MB = 1e6;

/** A 1 KiB batch of one record, built once; each append gets its own copy (the log keeps it). */
function template(): Buffer {
  for (let value = BATCH_BYTES - 80; ; value++) {
    const b = encodeRecordBatch([{ value: Buffer.alloc(value, 0x61) }]);
    if (b.length === BATCH_BYTES) return b;
    if (b.length > BATCH_BYTES) throw new Error('cannot build a batch of exactly 1 KiB');
  }
}

/** Counts segment writes, to report how many batches one write carried. */
class CountingFs extends NodeFileSystem {
  writes = 0;
  override async open(file: string, mode: OpenMode): Promise<FileHandle> {
    const h = await super.open(file, mode);
    if (!file.endsWith('.log')) return h;
    const write = h.write.bind(h);
    return Object.assign(h, {
      write: (data: Buffer | readonly Buffer[], position: number) => {
        this.writes++;
        return write(data, position);
      },
    });
  }
}

function config(fsync: FsyncPolicy): LogConfig {
  return { segmentBytes: 64 * 1024 * 1024, segmentMs: 7 * 24 * 3600 * 1000, retentionMs: -1, retentionBytes: -1, indexIntervalBytes: 4096, fsync };
}

interface RunResult {
  appendsPerSec: number;
  mbPerSec: number;
  batchesPerWrite: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

async function runOnce(fsync: FsyncPolicy, window: number, count: number): Promise<RunResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'floe-bench-local-log-'));
  const fs = new CountingFs();
  try {
    const log = await LocalLog.open({ dir, fs, clock: systemClock, config: config(fsync) });
    const t = template();
    const header: BatchHeader = readBatchHeader(t);
    const batches = Array.from({ length: count }, () => Buffer.from(t));
    const hist = latencyHistogram();
    fs.writes = 0;
    // Appends resolve in offset order, so waiting for the oldest keeps `window` in flight.
    const inFlight: Promise<void>[] = [];
    let head = 0;
    const start = performance.now();
    for (const b of batches) {
      const sent = performance.now();
      inFlight.push(log.append(b, header).leaderDurable.then(() => hist.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1000)))));
      if (inFlight.length - head >= window) await inFlight[head++];
    }
    await Promise.all(inFlight.slice(head));
    const seconds = (performance.now() - start) / 1000;
    const lat = summarize(hist);
    const writes = fs.writes;
    await log.close();
    return {
      appendsPerSec: count / seconds,
      mbPerSec: (count * BATCH_BYTES) / MB / seconds,
      batchesPerWrite: count / writes,
      meanMs: lat.meanMs,
      p50Ms: lat.p50Ms,
      p99Ms: lat.p99Ms,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readBack(count: number): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'floe-bench-local-log-'));
  const fs: FileSystem = new NodeFileSystem();
  try {
    const writer = await LocalLog.open({ dir, fs, clock: systemClock, config: config({ kind: 'never' }) });
    const t = template();
    const header = readBatchHeader(t);
    for (let i = 0; i < count; i++) void writer.append(Buffer.from(t), header);
    await writer.close();
    const log = await LocalLog.open({ dir, fs, clock: systemClock, config: config({ kind: 'never' }), tailCacheBytes: 0 });
    const start = performance.now();
    let offset = 0;
    let bytes = 0;
    while (offset < log.highWatermark()) {
      const r = await log.read(offset, 1024 * 1024, log.highWatermark());
      bytes += r.bytes;
      offset += r.bytes / BATCH_BYTES; // one record per batch
    }
    const seconds = (performance.now() - start) / 1000;
    await log.close();
    return bytes / MB / seconds;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const scenarios: { name: string; fsync: FsyncPolicy; window: number; count: number }[] = [
    { name: 'fsync never, 1 in flight', fsync: { kind: 'never' }, window: 1, count: 20_000 },
    { name: 'fsync never, 1024 in flight', fsync: { kind: 'never' }, window: 1024, count: 200_000 },
    { name: 'fsync per-batch, 1 in flight', fsync: { kind: 'per-batch' }, window: 1, count: 2_000 },
    { name: 'fsync per-batch, 64 in flight', fsync: { kind: 'per-batch' }, window: 64, count: 40_000 },
    { name: 'fsync per-batch, 1024 in flight', fsync: { kind: 'per-batch' }, window: 1024, count: 100_000 },
  ];
  const rows: Record<string, number | string>[] = [];
  // Warm-up: JIT and the filesystem's first-touch costs.
  await runOnce({ kind: 'never' }, 256, 20_000);
  for (const s of scenarios) {
    const runs: RunResult[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await runOnce(s.fsync, s.window, s.count));
    const byThroughput = [...runs].sort((a, b) => a.appendsPerSec - b.appendsPerSec);
    const mid = byThroughput[Math.floor(runs.length / 2)]!;
    rows.push({
      scenario: s.name,
      appends: s.count,
      'appends/s': Math.round(median(runs.map((r) => r.appendsPerSec))),
      'MB/s': Number(median(runs.map((r) => r.mbPerSec)).toFixed(1)),
      'batches/write': Number(median(runs.map((r) => r.batchesPerWrite)).toFixed(1)),
      'mean ms': mid.meanMs,
      'p50 ms': mid.p50Ms,
      'p99 ms': mid.p99Ms,
    });
  }
  const reads: number[] = [];
  for (let i = 0; i < RUNS; i++) reads.push(await readBack(100_000));
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, tmpdir: tmpdir(), runs: RUNS };
  const readRow = { scenario: 'sequential read from disk, 1 MiB per read (tail cache off)', 'MB/s': Number(median(reads).toFixed(1)) };
  if (values.json) {
    console.log(JSON.stringify({ machine, appends: rows, read: readRow }, null, 2));
  } else {
    console.log(`local-log append benchmark — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.tmpdir}, medians over ${RUNS} runs`);
    console.table(rows);
    console.table([readRow]);
  }
}

await main();
