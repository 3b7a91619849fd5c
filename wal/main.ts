/**
 * The WAL node process.
 *
 *   node --import tsx wal/main.ts --id 1 --host 127.0.0.1 --port 0 --data-dir DIR \
 *     [--metrics-port 0] [--group-commit-delay-ms 0] [--disk-limit-bytes N] [--segment-bytes N]
 *
 * Prints one JSON line to stdout when ready —
 *   {"event":"ready","role":"wal","id":1,"ports":{"wal":P,"metrics":M},"pid":...}
 * — then logs (pino) to stderr only. SIGTERM/SIGINT finish accepted requests and exit 0.
 * A storage failure (a failed write or fdatasync) exits 1: only a restart's recovery
 * knows what reached the disk. Every acknowledged entry is durable before its answer is
 * sent, so kill -9 at any moment loses nothing that was acknowledged.
 */
import { Command, InvalidArgumentError } from 'commander';
import Fastify from 'fastify';
import pino from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { nodeFileSystem } from '../src/common/fs.ts';
import { groupCommitDelayMsMax, segmentBytesDefault, segmentBytesMin } from './limits.ts';
import { startWalNode } from './node.ts';

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in [${min}, ${max}]`);
    return n;
  };
}

const program = new Command()
  .name('floe-wal')
  .description('A floe WAL node: append-only segments with group-commit fdatasync, per-log epochs for fencing, reads and trims, over a binary TCP protocol.')
  .requiredOption('--id <n>', 'node id (reported in the ready line and to clients)', integer(0, 0xffff_ffff))
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--port <port>', 'WAL protocol port (0: ephemeral)', integer(0, 65535), 0)
  .requiredOption('--data-dir <dir>', 'directory holding the segments and the checkpoint')
  .option('--metrics-host <host>', 'address for GET /metrics (defaults to --host)')
  .option('--metrics-port <port>', 'Prometheus metrics port (0: ephemeral)', integer(0, 65535), 0)
  .option('--group-commit-delay-ms <ms>', 'longest wait to gather appends into one fdatasync', integer(0, groupCommitDelayMsMax), 0)
  .option('--disk-limit-bytes <n>', 'refuse appends past this many bytes of segments (default: no limit)', integer(1))
  .option('--segment-bytes <n>', 'roll segments at this size', integer(segmentBytesMin), segmentBytesDefault)
  .showHelpAfterError();

program.parse();
const o = program.opts<{
  id: number;
  host: string;
  port: number;
  dataDir: string;
  metricsHost?: string;
  metricsPort: number;
  groupCommitDelayMs: number;
  diskLimitBytes?: number;
  segmentBytes: number;
}>();

const logger = pino({ base: { role: 'wal', id: o.id } }, pino.destination(2));
const registry = new Registry();
collectDefaultMetrics({ register: registry });

async function main(): Promise<void> {
  const node = await startWalNode({
    id: o.id,
    host: o.host,
    port: o.port,
    dataDir: o.dataDir,
    fs: nodeFileSystem,
    registry,
    logger,
    groupCommitDelayMs: o.groupCommitDelayMs,
    segmentBytes: o.segmentBytes,
    ...(o.diskLimitBytes !== undefined ? { diskLimitBytes: o.diskLimitBytes } : {}),
    onFatal: (err) => {
      logger.fatal({ err }, 'storage failure: exiting so that a restart recovers from what is on disk');
      process.exit(1);
    },
  });

  const http = Fastify({ logger: false });
  http.get('/metrics', async (_req, reply) => {
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  await http.listen({ host: o.metricsHost ?? o.host, port: o.metricsPort });
  const metricsAddress = http.server.address();
  const metricsPort = metricsAddress !== null && typeof metricsAddress === 'object' ? metricsAddress.port : -1;

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    Promise.all([node.close(), http.close()]).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'unclean stop');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  process.stdout.write(JSON.stringify({ event: 'ready', role: 'wal', id: o.id, ports: { wal: node.port, metrics: metricsPort }, pid: process.pid }) + '\n');
  logger.info({ dataDir: o.dataDir, port: node.port, metricsPort, diskLimitBytes: o.diskLimitBytes ?? null }, 'WAL node ready');
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'the WAL node could not start');
  process.exit(1);
});
