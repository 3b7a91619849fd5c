/**
 * The embedded S3-compatible endpoint: s3rver (objects kept as files under --data-dir),
 * run as its own process so that floe's default path speaks real S3 over HTTP.
 *
 *   node --openssl-legacy-provider --import tsx objectstore/s3rver-main.ts \
 *     --data-dir DIR --host 127.0.0.1 --port 0 --bucket floe
 *
 * When it serves, it prints one JSON line on stdout:
 *   {"event":"ready","role":"objectstore","id":0,"ports":{"s3":P},"pid":N,
 *    "endpoint":"http://127.0.0.1:P","bucket":"floe"}
 * and logs (pino) to stderr only. SIGTERM/SIGINT stop it cleanly; kill -9 is survivable
 * in the sense that a restart on the same --data-dir serves every object whose PUT had
 * completed (s3rver never fsyncs, so a machine crash is another matter).
 *
 * Traps it cannot remove (clients must respect them; S3ObjectStore does):
 * * credentials S3RVER / S3RVER only; path-style addressing; region us-east-1;
 * * --openssl-legacy-provider is required: s3rver mints ListObjectsV2 continuation
 *   tokens with DES, and without the flag every paginated LIST answers 500. This
 *   process refuses to start without it rather than fail on the first second page;
 * * no suffix ranges, no conditional PUTs, no atomic writes, no fsync.
 */
import { createCipheriv } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import pino from 'pino';

/** The part of s3rver's (untyped, CommonJS) API this entry point uses. */
interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs: never[] }[];
}
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: 'error', listener: (err: unknown) => void): void;
  httpServer?: Server;
}
type S3rverConstructor = new (options: S3rverOptions) => S3rverInstance;

/** Seconds given to open connections to finish on shutdown before they are cut. */
const shutdownGraceMs = 2_000;

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('must be an integer in 0..65535');
  return n;
}

function parseId(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

/** S3 bucket naming rules, the subset s3rver enforces loosely: check here for a clear message. */
function parseBucket(value: string): string {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value)) throw new InvalidArgumentError('must be 3..63 characters of a-z, 0-9, "." and "-"');
  return value;
}

function legacyCiphersAvailable(): boolean {
  try {
    createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const program = new Command()
    .name('s3rver-main')
    .description("floe's embedded S3-compatible endpoint (s3rver), one process, objects as files")
    .requiredOption('--data-dir <dir>', 'directory that holds the buckets and objects')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', parsePort, 0)
    .option('--bucket <name>', 'bucket to create if absent', parseBucket, 'floe')
    .option('--id <n>', 'id reported in the ready line', parseId, 0)
    .showHelpAfterError();
  program.parse();
  const opts = program.opts<{ dataDir: string; host: string; port: number; bucket: string; id: number }>();

  const log = pino({ name: 'objectstore', level: process.env['FLOE_LOG_LEVEL'] ?? 'info' }, pino.destination({ fd: 2, sync: true }));
  if (!legacyCiphersAvailable()) {
    log.fatal('OpenSSL legacy ciphers are unavailable: run node with --openssl-legacy-provider (s3rver needs DES for ListObjectsV2 pagination)');
    process.exit(2);
  }
  const directory = path.resolve(opts.dataDir);
  mkdirSync(directory, { recursive: true });

  const require = createRequire(import.meta.url);
  // s3rver ships no types: the constructor is described by S3rverConstructor above.
  const S3rver = require('s3rver') as S3rverConstructor;
  const server = new S3rver({
    address: opts.host,
    port: opts.port,
    silent: true,
    directory,
    configureBuckets: [{ name: opts.bucket, configs: [] }],
  });
  // Koa reports request errors (client disconnects, a bad request) here; keep them off stdout.
  server.on('error', (err: unknown) => log.debug({ err }, 'request failed'));

  // Signal handlers come first: a launcher may stop the process as soon as it reads the ready line.
  let running = false;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    if (!running) process.exit(0);
    const force = setTimeout(() => {
      server.httpServer?.closeAllConnections();
    }, shutdownGraceMs);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const address = await server.run();
  running = true;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const endpoint = `http://${host}:${address.port}`;
  process.stdout.write(
    `${JSON.stringify({ event: 'ready', role: 'objectstore', id: opts.id, ports: { s3: address.port }, pid: process.pid, endpoint, bucket: opts.bucket })}\n`,
  );
  log.info({ endpoint, bucket: opts.bucket, directory }, 'serving S3');
}

main().catch((err: unknown) => {
  process.stderr.write(`objectstore: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
