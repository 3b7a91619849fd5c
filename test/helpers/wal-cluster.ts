/**
 * Real WAL node processes for integration tests (and benchmarks): each node is
 * `node --import tsx wal/main.ts` with its own data directory under `dataDir`, on
 * 127.0.0.1 and an ephemeral port it keeps across restarts (so clients reconnect).
 *
 *   const wal = await startWalNodes(3, dataDir);
 *   const c = await WalClient.open({ nodes: wal.nodes, ... });
 *   await wal.kill(0);      // kill -9, waits for the exit
 *   await wal.restart(0);   // same id, port and data directory
 *   await wal.stop();       // SIGTERM every node still running (call it in afterAll)
 *
 * Every process it starts is stopped by stop(), by pid; a node that does not print its
 * ready line within readyTimeoutMs is killed and its stderr tail is in the error.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WalEndpoint } from '../../wal/connection.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const walMain = path.join(repoRoot, 'wal', 'main.ts');
const readyTimeoutMs = 30_000;

export interface WalNodeOptions {
  groupCommitDelayMs?: number;
  diskLimitBytes?: number;
  segmentBytes?: number;
}

export interface WalNodeProcess {
  id: number;
  pid: number;
  port: number;
  metricsPort: number;
  dataDir: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The last lines the node wrote to stderr (its pino log). */
  stderrTail(): string;
}

export interface WalCluster {
  /** host/port of every node, stable across restarts. */
  nodes: WalEndpoint[];
  /** The running process of node i, or null while it is down. */
  proc(i: number): WalNodeProcess | null;
  metricsUrl(i: number): string;
  /** kill -9 (or another signal) node i and wait for its exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts node i again on its port and data directory. */
  restart(i: number): Promise<void>;
  /** SIGSTOP / SIGCONT (a hung node). */
  pause(i: number): void;
  resume(i: number): void;
  stop(): Promise<void>;
}

/** Starts one WAL node process and waits for its ready line. */
export async function spawnWalNode(id: number, dataDir: string, port = 0, opts: WalNodeOptions = {}): Promise<WalNodeProcess> {
  const args = ['--import', 'tsx', walMain, '--id', String(id), '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--metrics-port', '0'];
  if (opts.groupCommitDelayMs !== undefined) args.push('--group-commit-delay-ms', String(opts.groupCommitDelayMs));
  if (opts.diskLimitBytes !== undefined) args.push('--disk-limit-bytes', String(opts.diskLimitBytes));
  if (opts.segmentBytes !== undefined) args.push('--segment-bytes', String(opts.segmentBytes));
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderrLines: string[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrLines.push(...chunk.split('\n').filter((l) => l.length > 0));
    if (stderrLines.length > 50) stderrLines.splice(0, stderrLines.length - 50);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<{ ports: { wal: number; metrics: number }; pid: number }>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`WAL node ${id} printed no ready line within ${readyTimeoutMs} ms; stderr:\n${stderrLines.join('\n')}`));
    }, readyTimeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        const line = JSON.parse(buffered.slice(0, nl)) as { event?: string; ports: { wal: number; metrics: number }; pid: number };
        if (line.event !== 'ready') throw new Error(`unexpected first line ${buffered.slice(0, nl)}`);
        resolve(line);
      } catch (err) {
        child.kill('SIGKILL');
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`WAL node ${id} exited with ${code} before it was ready; stderr:\n${stderrLines.join('\n')}`));
    });
  });
  return {
    id,
    pid: ready.pid,
    port: ready.ports.wal,
    metricsPort: ready.ports.metrics,
    dataDir,
    child,
    exited,
    stderrTail: () => stderrLines.join('\n'),
  };
}

export async function startWalNodes(n: number, dataDir: string, opts: WalNodeOptions = {}): Promise<WalCluster> {
  const procs: (WalNodeProcess | null)[] = [];
  const ports: number[] = [];
  const dirs = Array.from({ length: n }, (_, i) => path.join(dataDir, `wal-${i + 1}`));
  try {
    const started = await Promise.all(dirs.map((d, i) => spawnWalNode(i + 1, d, 0, opts)));
    for (const p of started) {
      procs.push(p);
      ports.push(p.port);
    }
  } catch (err) {
    for (const p of procs) p?.child.kill('SIGKILL');
    throw err;
  }
  const running = (i: number): WalNodeProcess => {
    const p = procs[i];
    if (!p) throw new Error(`WAL node ${i + 1} is down`);
    return p;
  };
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    proc: (i) => procs[i] ?? null,
    metricsUrl: (i) => `http://127.0.0.1:${running(i).metricsPort}/metrics`,
    async kill(i, signal = 'SIGKILL') {
      const p = running(i);
      procs[i] = null;
      // A stopped process does not act on SIGTERM until it continues.
      if (signal !== 'SIGKILL') p.child.kill('SIGCONT');
      p.child.kill(signal);
      await p.exited;
    },
    async restart(i) {
      if (procs[i]) throw new Error(`WAL node ${i + 1} is already running`);
      procs[i] = await spawnWalNode(i + 1, dirs[i]!, ports[i], opts);
    },
    pause(i) {
      running(i).child.kill('SIGSTOP');
    },
    resume(i) {
      running(i).child.kill('SIGCONT');
    },
    async stop() {
      await Promise.all(
        procs.map(async (p, i) => {
          if (!p) return;
          procs[i] = null;
          p.child.kill('SIGCONT');
          p.child.kill('SIGTERM');
          const timer = setTimeout(() => p.child.kill('SIGKILL'), 5000);
          await p.exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}
