/**
 * Benchmark (not a test): produce throughput and latency per acks level, in both storage
 * architectures, measured in one run on the same machine: a shared-nothing cluster (local
 * logs, fsync never — Kafka's default — and fsync per batch) and a shared-storage cluster
 * (quorum WAL of three nodes, embedded S3 endpoint). One partition, 1 KiB records,
 * 16 KiB batches, 5 requests in flight. Also reports the object-store requests the
 * shared-storage run cost.
 *
 *   node --import tsx bench/modes.ts [--records N] [--json]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { producePerf, type ProducePerfResult } from '../src/perf/produce.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '100000' }, json: { type: 'boolean', default: false } } });
const RECORDS = Number(values.records);
const root = path.resolve(import.meta.dirname, '..');
const floe = (args: string[]): string => execFileSync(process.execPath, [path.join(root, 'bin/floe.js'), ...args], { encoding: 'utf8' });

interface Up {
  bootstrap: string;
  processes: { role: string; id: number; ports: Record<string, number> }[];
}

async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

interface Row {
  mode: string;
  acks: number;
  recordsPerSec: number;
  mbPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
}

const rows: Row[] = [];
const objectStoreRequests: Record<string, number> = {};

async function run(mode: string, tag: string, up: Up, acksLevels: (-1 | 0 | 1)[]): Promise<void> {
  // The first broker owns the topic when it creates it (auto-creation answers there).
  const bootstrap = up.bootstrap.split(',')[0]!;
  await producePerf({ bootstrap, topic: `warmup-${tag}`, numRecords: 20_000, recordSize: 1024, acks: 1, batchSize: 16_384, maxInFlight: 5, idempotence: false, timeoutMs: 30_000 });
  for (const acks of acksLevels) {
    const r: ProducePerfResult = await producePerf({ bootstrap, topic: `bench-${tag}-${acks}`, numRecords: RECORDS, recordSize: 1024, acks, batchSize: 16_384, maxInFlight: 5, idempotence: acks === -1, timeoutMs: 30_000 });
    rows.push({ mode, acks, recordsPerSec: r.recordsPerSec, mbPerSec: r.mbPerSec, p50Ms: r.latency?.p50Ms ?? null, p99Ms: r.latency?.p99Ms ?? null, p999Ms: r.latency?.p999Ms ?? null });
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'floe-bench-modes-'));
try {
  for (const fsync of ['never', 'per-batch'] as const) {
    const d = path.join(dir, `sn-${fsync}`);
    const config = fsync === 'per-batch' ? ['--config', 'flush.messages=1'] : [];
    const up = JSON.parse(floe(['cluster', 'up', '--detach', '--json', '--data-dir', d, '--port-base', '0', '--mode', 'shared-nothing', '--brokers', '1', ...config])) as Up;
    try {
      await run(`shared-nothing (fsync ${fsync})`, `sn-${fsync}`, up, [0, 1, -1]);
    } finally {
      floe(['cluster', 'down', '--data-dir', d]);
    }
  }
  const d = path.join(dir, 'ss');
  const up = JSON.parse(floe(['cluster', 'up', '--detach', '--json', '--data-dir', d, '--port-base', '0', '--mode', 'shared-storage', '--brokers', '1'])) as Up;
  try {
    const broker = up.processes.find((p) => p.role === 'broker')!;
    const metricsUrl = `http://127.0.0.1:${broker.ports['metrics']}/metrics`;
    await run('shared-storage', 'ss', up, [0, 1, -1]);
    // Let the last uploads finish before counting requests.
    await new Promise((r) => setTimeout(r, 3000));
    for (const op of ['put', 'get', 'head', 'delete', 'list']) objectStoreRequests[op] = await metric(metricsUrl, 'floe_objectstore_requests_total', { op });
    objectStoreRequests['putBytes'] = await metric(metricsUrl, 'floe_objectstore_bytes_total', { op: 'put' });
  } finally {
    floe(['cluster', 'down', '--data-dir', d]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const result = { bench: 'modes', machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`, records: RECORDS, rows, sharedStorageBrokerObjectStore: objectStoreRequests };
if (values.json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  process.stdout.write(`machine: ${result.machine}; ${RECORDS} records of 1 KiB per run, one partition\n`);
  process.stdout.write('mode                            acks  records/s   MB/s   p50 ms   p99 ms  p99.9 ms\n');
  for (const r of rows) {
    const f = (v: number | null) => (v === null ? 'n/a' : v.toFixed(2)).padStart(8);
    process.stdout.write(`${r.mode.padEnd(32)}${String(r.acks).padStart(4)}${String(r.recordsPerSec).padStart(11)}${r.mbPerSec.toFixed(1).padStart(7)}${f(r.p50Ms)} ${f(r.p99Ms)}  ${f(r.p999Ms)}\n`);
  }
  process.stdout.write(`shared-storage broker object-store requests: ${JSON.stringify(objectStoreRequests)}\n`);
}
