/**
 * Benchmark (not a test): quorum-commit latency of the WAL against the physics of the
 * same machine, measured in one run.
 *
 * Method. Three WAL node processes (wal/main.ts, group-commit delay 0) on one temp
 * directory of the local disk; the client (wal/client.ts, ack quorum 2) runs in this
 * process. For each entry size (1 KiB, 64 KiB) and number of appends in flight (1, 8, 64)
 * a fresh log is written for a warm-up and then for --duration-ms; the latency of an
 * entry is from append() to its quorumDurable resolving (it includes waiting behind the
 * entries before it: reports are a prefix). Beside it, in the same run and on the same
 * disk:
 *  - raw fdatasync: append one entry-sized write to a file and fdatasync it, in a loop,
 *    with Node's async FileHandle (the node's own path), one writer; and three writers on
 *    three files at once (what three WAL nodes sharing one disk do);
 *  - loopback round trip: a STATE request to a WAL node (answered from memory) and back.
 * Target: quorum-commit p50 ≤ 2 × raw fdatasync p50 + one loopback round trip p50.
 * A last pair of runs uses one node and quorum 1, to separate the software's own cost
 * from three replicas sharing one disk and two cores.
 *
 *   node --import tsx bench/wal-commit.ts [--duration-ms 2000] [--json]
 */
import { open as openFile, mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type * as hdr from 'hdr-histogram-js';
import { latencyHistogram, summarize } from '../src/perf/histogram.ts';
import type { LatencySummary } from '../src/perf/histogram.ts';
import { WalClient } from '../wal/client.ts';
import { WalConnection } from '../wal/connection.ts';
import { encodeLogId } from '../wal/codec.ts';
import { encodeState } from '../wal/protocol.ts';
import { systemClock } from '../src/common/clock.ts';
import { startWalNodes } from '../test/helpers/wal-cluster.ts';

const { values } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '2000' },
    'raw-samples': { type: 'string', default: '2000' },
    json: { type: 'boolean', default: false },
  },
});
const durationMs = Number(values['duration-ms']);
const rawSamples = Number(values['raw-samples']);
const sizes = [1024, 64 * 1024];
const inFlights = [1, 8, 64];

function micros(fromMs: number): number {
  return Math.max(1, Math.round((performance.now() - fromMs) * 1000));
}

/** write + fdatasync in a loop on `writers` files at once; one histogram over all. */
async function rawFdatasync(dir: string, bytes: number, writers: number): Promise<LatencySummary> {
  const h = latencyHistogram();
  const block = Buffer.alloc(bytes, 0x5a);
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const fh = await openFile(path.join(dir, `raw-${bytes}-${writers}-${w}`), 'w');
      try {
        let position = 0;
        for (let i = 0; i < rawSamples; i++) {
          const t0 = performance.now();
          await fh.write(block, 0, bytes, position);
          await fh.datasync();
          h.recordValue(micros(t0));
          position += bytes;
        }
      } finally {
        await fh.close();
      }
    }),
  );
  return summarize(h);
}

async function loopbackRoundTrip(endpoint: { host: string; port: number }): Promise<LatencySummary> {
  const conn = await WalConnection.connect(endpoint, { clock: systemClock, connectTimeoutMs: 2000, requestTimeoutMs: 5000 });
  const logId = encodeLogId('bench-ping');
  const h = latencyHistogram();
  try {
    for (let i = 0; i < rawSamples; i++) {
      const t0 = performance.now();
      await conn.send((id) => encodeState(id, logId));
      h.recordValue(micros(t0));
    }
  } finally {
    conn.close();
  }
  return summarize(h);
}

interface CommitResult {
  entryBytes: number;
  inFlight: number;
  entries: number;
  entriesPerSec: number;
  mbPerSec: number;
  quorum: LatencySummary;
  one: LatencySummary;
}

async function commitRun(nodes: { host: string; port: number }[], logId: string, entryBytes: number, inFlight: number, ackQuorum: number): Promise<CommitResult> {
  const w = await WalClient.open({ nodes, ackQuorum, logId, epoch: 1, nextEntryId: 0 });
  const payload = Buffer.alloc(entryBytes, 0x61);
  try {
    const run = async (ms: number, quorum: hdr.Histogram | null, one: hdr.Histogram | null): Promise<number> => {
      const deadline = performance.now() + ms;
      let done = 0;
      await new Promise<void>((resolve, reject) => {
        let outstanding = 0;
        const pump = (): void => {
          while (outstanding < inFlight && performance.now() < deadline) {
            const t0 = performance.now();
            const a = w.append(payload);
            outstanding++;
            a.oneDurable.then(() => one?.recordValue(micros(t0)), () => undefined);
            a.quorumDurable.then(() => {
              quorum?.recordValue(micros(t0));
              outstanding--;
              done++;
              if (outstanding === 0 && performance.now() >= deadline) resolve();
              else pump();
            }, reject);
          }
        };
        pump();
      });
      return done;
    };
    await run(Math.min(500, durationMs / 4), null, null);
    const quorum = latencyHistogram();
    const one = latencyHistogram();
    const t0 = performance.now();
    const entries = await run(durationMs, quorum, one);
    const seconds = (performance.now() - t0) / 1000;
    return {
      entryBytes,
      inFlight,
      entries,
      entriesPerSec: Math.round(entries / seconds),
      mbPerSec: Math.round((entries * entryBytes) / seconds / 1e5) / 10,
      quorum: summarize(quorum),
      one: summarize(one),
    };
  } finally {
    await w.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'floe-wal-bench-'));
  const wal = await startWalNodes(3, dir);
  try {
    const raw: Record<string, LatencySummary> = {};
    for (const bytes of sizes) {
      raw[`${bytes}x1`] = await rawFdatasync(dir, bytes, 1);
      raw[`${bytes}x3`] = await rawFdatasync(dir, bytes, 3);
    }
    const rtt = await loopbackRoundTrip(wal.nodes[0]!);
    const runs: CommitResult[] = [];
    for (const bytes of sizes) {
      for (const inFlight of inFlights) runs.push(await commitRun(wal.nodes, `bench-${bytes}-${inFlight}`, bytes, inFlight, 2));
    }
    // One node, quorum 1: the software's own cost over raw fdatasync + a round trip,
    // without three replicas sharing one disk and two cores.
    const single: CommitResult[] = [];
    for (const bytes of sizes) single.push(await commitRun([wal.nodes[0]!], `bench-single-${bytes}`, bytes, 1, 1));
    const cpu = os.cpus();
    const machine = {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      node: process.version,
      disk: `temp dir ${dir} (${os.tmpdir()})`,
    };
    const report = { machine, load: os.loadavg(), durationMs, raw, loopbackRoundTrip: rtt, runs, singleNode: single };
    if (values.json) {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return;
    }
    const f = (n: number): string => n.toFixed(3).padStart(8);
    console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}`);
    console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine skews every figure)`);
    console.log(`\nraw write+fdatasync (ms)        p50      p99`);
    for (const bytes of sizes) {
      console.log(`  ${String(bytes / 1024).padStart(2)} KiB, 1 writer          ${f(raw[`${bytes}x1`]!.p50Ms)} ${f(raw[`${bytes}x1`]!.p99Ms)}`);
      console.log(`  ${String(bytes / 1024).padStart(2)} KiB, 3 writers at once ${f(raw[`${bytes}x3`]!.p50Ms)} ${f(raw[`${bytes}x3`]!.p99Ms)}`);
    }
    console.log(`loopback round trip (ms)        ${f(rtt.p50Ms)} ${f(rtt.p99Ms)}`);
    console.log(`\nquorum commit, 3 nodes, quorum 2 (ms)`);
    console.log(`  entry  in-flight   quorum p50   p99     one p50    entries/s   MB/s   target p50 ≤   met`);
    for (const r of runs) {
      const target = 2 * raw[`${r.entryBytes}x1`]!.p50Ms + rtt.p50Ms;
      console.log(
        `  ${String(r.entryBytes / 1024).padStart(2)} KiB  ${String(r.inFlight).padStart(5)}     ${f(r.quorum.p50Ms)} ${f(r.quorum.p99Ms)} ${f(r.one.p50Ms)}   ${String(r.entriesPerSec).padStart(9)} ${String(r.mbPerSec).padStart(6)}   ${f(target)}   ${r.quorum.p50Ms <= target ? 'yes' : 'no'}`,
      );
    }
    console.log(`\none node, quorum 1, one in flight (ms)`);
    for (const r of single) {
      const floor = raw[`${r.entryBytes}x1`]!.p50Ms + rtt.p50Ms;
      console.log(`  ${String(r.entryBytes / 1024).padStart(2)} KiB   commit p50 ${f(r.quorum.p50Ms)}  p99 ${f(r.quorum.p99Ms)}   raw p50 + round trip p50 = ${f(floor)}`);
    }
    console.log('\n(the target applies to one entry in flight; with more in flight an entry also waits behind the others)');
  } finally {
    await wal.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
