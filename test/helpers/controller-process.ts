/**
 * Spawns a real controller process (controller/run.ts, the same command as
 * `floe controller`) for integration tests: bound to 127.0.0.1, port 0 on the first
 * start, waits for its ready line, and stops it by pid. `restart()` starts it again on
 * the same data dir and the same port, which is where its brokers keep looking for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mainScript = path.join(repoRoot, 'controller', 'run.ts');
const readyTimeoutMs = 30_000;
const stopTimeoutMs = 10_000;
const stderrKeptBytesMax = 64 * 1024;

export interface ControllerProcessOptions {
  /** Default: a fresh directory under the OS temp dir, removed by stop(). */
  dataDir?: string;
  mode?: 'shared-storage' | 'shared-nothing';
  leaseMs?: number;
  port?: number;
  /** More command-line arguments (e.g. --default-partitions 3). */
  args?: string[];
}

export interface ControllerProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The pid of the running process (changes on restart). */
  readonly pid: number;
  dataDir: string;
  /** Sends `signal` and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the controller again on the same data dir and port (after kill or stop). */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after a grace period), waits, and removes a data dir it created. */
  stop(): Promise<void>;
  /** The last 64 KiB of the process's stderr (its log), for failure messages. */
  stderr(): string;
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function spawnController(args: string[], keep: (chunk: string) => void): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', mainScript, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FLOE_LOG_LEVEL: process.env['FLOE_LOG_LEVEL'] ?? 'warn' },
  });
  child.stderr?.setEncoding('utf8').on('data', keep);
  const lines = createInterface({ input: child.stdout ?? process.stdin });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`controller not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`controller exited (${code ?? signal}) before it was ready`));
      });
      lines.once('line', (line) => {
        clearTimeout(timer);
        const ready = JSON.parse(line) as { event: string; role: string; ports: { admin: number } };
        if (ready.event !== 'ready' || ready.role !== 'controller') reject(new Error(`unexpected first line ${line}`));
        else resolve(ready.ports.admin);
      });
    });
    return { child, port };
  } catch (err) {
    if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    throw err;
  }
}

export async function startController(options: ControllerProcessOptions = {}): Promise<ControllerProcess> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'floe-controller-'));
  let log = '';
  const keep = (chunk: string): void => {
    log = (log + chunk).slice(-stderrKeptBytesMax);
  };
  const argsFor = (port: number): string[] => [
    '--id',
    '1',
    '--data-dir',
    dataDir,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--mode',
    options.mode ?? 'shared-storage',
    '--lease-ms',
    String(options.leaseMs ?? 3000),
    ...(options.args ?? []),
  ];
  let { child, port } = await spawnController(argsFor(options.port ?? 0), keep);
  const proc: ControllerProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    dataDir,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = waitExit(child);
      child.kill(signal);
      await exited;
    },
    async restart() {
      await proc.kill('SIGKILL');
      ({ child } = await spawnController(argsFor(port), keep));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = waitExit(child);
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
    stderr: () => log,
  };
  ({ port } = proc);
  return proc;
}
