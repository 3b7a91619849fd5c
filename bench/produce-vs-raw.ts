/**
 * Benchmark (not a test): `floe perf produce` against one broker — 1 KiB records,
 * acks=1, fsync never (Kafka's default) — beside a raw figure measured in the same run:
 * the same number of bytes, in the same request sizes and with the same number of
 * requests in flight, sent over a plain TCP socket to a process that only appends them to
 * a file (bench/raw-sink.ts). Runs alternate, and medians are reported with their ratio.
 *
 *   node --import tsx bench/produce-vs-raw.ts [--records N] [--runs R] [--json]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { producePerf } from '../src/perf/produce.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '300000' }, runs: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } });
const RECORDS = Number(values.records);
const RUNS = Number(values.runs);
const RECORD_BYTES = 1024;
const BATCH_BYTES = 16_384;
const IN_FLIGHT = 5;
const root = path.resolve(import.meta.dirname, '..');
const floe = (args: string[]) => execFileSync(process.execPath, [path.join(root, 'bin/floe.js'), ...args], { encoding: 'utf8' });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function rawRun(dir: string): Promise<number> {
  const sink = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/raw-sink.ts'), path.join(dir, 'raw.bin')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => sink.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port)));
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  // The same request size as a produce request of one 16 KiB batch (measured: ~16.5 KiB).
  const payload = Buffer.alloc(16 * (RECORD_BYTES + 10) + 61 + 60, 7);
  const frame = Buffer.alloc(4 + payload.length);
  frame.writeInt32BE(payload.length);
  payload.copy(frame, 4);
  const requests = Math.ceil(RECORDS / Math.floor(BATCH_BYTES / RECORD_BYTES));
  let acked = 0;
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let ackBytes = 0;
    socket.on('data', (d: Buffer) => {
      ackBytes += d.length;
      acked = ackBytes / 4;
      while (sent < requests && sent - acked < IN_FLIGHT) {
        socket.write(frame);
        sent++;
      }
      if (acked >= requests) resolve();
    });
    while (sent < Math.min(IN_FLIGHT, requests)) {
      socket.write(frame);
      sent++;
    }
  });
  const seconds = (performance.now() - started) / 1000;
  socket.destroy();
  sink.kill('SIGTERM');
  return (RECORDS * RECORD_BYTES) / 1024 / 1024 / seconds;
}

const dir = mkdtempSync(path.join(tmpdir(), 'floe-bench-'));
const up = JSON.parse(floe(['cluster', 'up', '--detach', '--json', '--data-dir', path.join(dir, 'cluster'), '--port-base', '0', '--mode', 'shared-nothing', '--brokers', '1'])) as { bootstrap: string };
const raw: number[] = [];
const floeMbs: number[] = [];
const p50s: number[] = [];
const p99s: number[] = [];
try {
  // A warm-up run of each, not counted.
  await rawRun(dir);
  await producePerf({ bootstrap: up.bootstrap, topic: 'warmup', numRecords: 50_000, recordSize: RECORD_BYTES, acks: 1, batchSize: BATCH_BYTES, maxInFlight: IN_FLIGHT, idempotence: false, timeoutMs: 30_000 });
  for (let i = 0; i < RUNS; i++) {
    raw.push(await rawRun(dir));
    const r = await producePerf({ bootstrap: up.bootstrap, topic: `bench-${i}`, numRecords: RECORDS, recordSize: RECORD_BYTES, acks: 1, batchSize: BATCH_BYTES, maxInFlight: IN_FLIGHT, idempotence: false, timeoutMs: 30_000 });
    floeMbs.push(r.mbPerSec);
    p50s.push(r.latency!.p50Ms);
    p99s.push(r.latency!.p99Ms);
  }
} finally {
  floe(['cluster', 'down', '--data-dir', path.join(dir, 'cluster')]);
  rmSync(dir, { recursive: true, force: true });
}
const result = {
  bench: 'produce-vs-raw',
  machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`,
  records: RECORDS,
  recordBytes: RECORD_BYTES,
  batchBytes: BATCH_BYTES,
  inFlight: IN_FLIGHT,
  runs: RUNS,
  rawMbPerSecMedian: Math.round(median(raw) * 10) / 10,
  floeMbPerSecMedian: Math.round(median(floeMbs) * 10) / 10,
  ratio: Math.round((median(floeMbs) / median(raw)) * 100) / 100,
  floeP50MsMedian: median(p50s),
  floeP99MsMedian: median(p99s),
  raw,
  floe: floeMbs,
};
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  process.stdout.write(`machine: ${result.machine}\n`);
  process.stdout.write(`raw TCP → file: ${result.rawMbPerSecMedian} MB/s (median of ${RUNS})\n`);
  process.stdout.write(`floe acks=1:    ${result.floeMbPerSecMedian} MB/s (median of ${RUNS}), p50 ${result.floeP50MsMedian} ms, p99 ${result.floeP99MsMedian} ms\n`);
  process.stdout.write(`ratio floe/raw: ${result.ratio}\n`);
}
