/**
 * Starts a real floe cluster for integration tests through the real CLI
 * (`floe cluster up --detach --json --port-base 0`), in a fresh temporary data dir, and
 * stops it (`floe cluster down`) afterwards. Every process is a real OS process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const FLOE_BIN = path.resolve(import.meta.dirname, '../../bin/floe.js');

export interface ClusterProcess {
  role: string;
  id: number;
  pid: number;
  ports: Record<string, number>;
}

/** Reads one Prometheus sample (summing over labels that match `labels`). */
export async function metricValue(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(url)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries((m[3] ?? '').split(',').filter(Boolean).map((kv) => {
      const [k, v] = kv.split('=');
      return [k!, (v ?? '').replace(/^"|"$/g, '')];
    }));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total += Number(m[4]);
  }
  return total;
}

export interface TestCluster {
  bootstrap: string;
  brokers: string[];
  admin: string | null;
  dataDir: string;
  processes: ClusterProcess[];
  /** kill -9 one process (by role and id). */
  kill(role: string, id: number): void;
  /** `floe cluster up` again on the same data dir: restarts whatever is not running. */
  restart(): Promise<TestCluster>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  brokers?: number;
  mode?: 'shared-nothing' | 'shared-storage';
  /** Extra `--config key=value` settings for every broker. */
  config?: Record<string, string>;
  zones?: string[];
  /** The controller's broker lease (failure detection time). */
  leaseMs?: number;
}

export async function floe(args: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [FLOE_BIN, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING: '1' } });
}

export async function startCluster(opts: ClusterOptions = {}, dataDir = mkdtempSync(path.join(tmpdir(), 'floe-test-'))): Promise<TestCluster> {
  const args = ['cluster', 'up', '--detach', '--json', '--data-dir', dataDir, '--port-base', '0', '--brokers', String(opts.brokers ?? 1), '--mode', opts.mode ?? 'shared-nothing'];
  for (const [k, v] of Object.entries(opts.config ?? {})) args.push('--config', `${k}=${v}`);
  if (opts.zones) args.push('--zones', opts.zones.join(','));
  if (opts.leaseMs !== undefined) args.push('--lease-ms', String(opts.leaseMs));
  const { stdout } = await floe(args);
  const state = JSON.parse(stdout.trim()) as { bootstrap: string; admin: string | null; dataDir: string; processes: ClusterProcess[] };
  const cluster: TestCluster = {
    ...state,
    brokers: state.bootstrap.split(','),
    kill(role, id) {
      const p = state.processes.find((x) => x.role === role && x.id === id);
      if (!p) throw new Error(`no ${role} ${id}`);
      process.kill(p.pid, 'SIGKILL');
    },
    restart: () => startCluster(opts, dataDir),
    async stop() {
      await floe(['cluster', 'down', '--data-dir', dataDir]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${lastError instanceof Error ? `: ${lastError.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
