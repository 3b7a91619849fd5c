/**
 * Spawns the embedded S3 endpoint (objectstore/s3rver-main.ts) as a real process for
 * integration tests, waits for its ready line, and stops it by pid. Bound to 127.0.0.1;
 * port 0 (any free port) unless a port is given, which a test uses to restart a killed
 * server where its clients expect it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { embeddedS3Options } from '../../objectstore/s3-object-store.ts';
import type { S3ObjectStoreOptions } from '../../objectstore/s3-object-store.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const mainScript = path.join(repoRoot, 'objectstore', 's3rver-main.ts');
const readyTimeoutMs = 30_000;
const stopTimeoutMs = 10_000;
const stderrKeptBytesMax = 64 * 1024;

export interface ObjectStoreServer {
  endpoint: string;
  bucket: string;
  port: number;
  pid: number;
  dataDir: string;
  /** The ready line the process printed, parsed. */
  readyLine: Record<string, unknown>;
  /** Client options for this server (embedded credentials, path style). */
  options(): S3ObjectStoreOptions;
  /** SIGTERM, then waits for the exit (SIGKILL if it does not come); resolves with the exit code (null if killed by a signal). */
  stop(): Promise<number | null>;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
  /** What the process wrote to stderr (the last 64 KiB), for failure messages. */
  stderr(): string;
}

export interface StartOptions {
  /** Default: a fresh directory under the OS temp dir. */
  dataDir?: string;
  port?: number;
  bucket?: string;
}

function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function startObjectStoreServer(options: StartOptions = {}): Promise<ObjectStoreServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'floe-s3rver-'));
  const bucket = options.bucket ?? 'floe';
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', mainScript, '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(options.port ?? 0), '--bucket', bucket],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FLOE_LOG_LEVEL: process.env['FLOE_LOG_LEVEL'] ?? 'warn' } },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-stderrKeptBytesMax);
  });

  const ready = await new Promise<{ endpoint: string; port: number; line: Record<string, unknown> }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`objectstore server not ready within ${readyTimeoutMs} ms; stderr:\n${stderr}`));
    }, readyTimeoutMs);
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        const msg = JSON.parse(line) as { event?: string; endpoint?: string; ports?: { s3?: number } };
        if (msg.event !== 'ready' || msg.endpoint === undefined || msg.ports?.s3 === undefined) throw new Error(`unexpected first line: ${line}`);
        resolve({ endpoint: msg.endpoint, port: msg.ports.s3, line: msg });
      } catch (err) {
        child.kill('SIGKILL');
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`objectstore server exited before ready (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
  });

  const pid = child.pid!;
  return {
    endpoint: ready.endpoint,
    bucket,
    port: ready.port,
    pid,
    dataDir,
    readyLine: ready.line,
    options: () => embeddedS3Options(ready.endpoint, bucket),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = waitExit(child);
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = waitExit(child);
      process.kill(pid, 'SIGKILL');
      await exited;
    },
    stderr: () => stderr,
  };
}

/** Removes a data directory the helper created (call after stopping the server). */
export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
