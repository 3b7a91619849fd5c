/**
 * The controller process, run as `floe controller …` (the cluster launcher starts it
 * before the brokers, which follow it with `--controller http://HOST:PORT`). One HTTP
 * port serves the admin API (/v1), the broker-facing API (/internal/v1), /metrics and
 * /openapi.json. Prints one ready line on stdout once it accepts requests:
 *   {"event":"ready","role":"controller","id":1,"ports":{"admin":P},"pid":…}
 * and logs (pino) to stderr. SIGTERM/SIGINT stop it cleanly; kill -9 loses nothing that
 * was acknowledged (the metadata log is fsynced before any answer).
 */
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { systemClock } from '../src/common/clock.ts';
import { nodeFileSystem } from '../src/common/fs.ts';
import { announceReady, onShutdown, processLogger } from '../src/common/process.ts';
import { CONTROLLER_MODES, type ControllerMode } from '../src/metadata/controller-api.ts';
import { Controller } from './controller.ts';
import { buildControllerServer } from './http/server.ts';
import { ControllerLimits } from './limits.ts';
import { ControllerMetrics } from './metrics.ts';

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${value} is not an integer`);
  return n;
}
function positiveInt(value: string): number {
  const n = int(value);
  if (n < 1) throw new InvalidArgumentError(`${value} is not a positive integer`);
  return n;
}
function port(value: string): number {
  const n = int(value);
  if (n < 0 || n > 65535) throw new InvalidArgumentError(`${value} is not a port (0 picks a free one)`);
  return n;
}
function leaseMs(value: string): number {
  const n = int(value);
  if (n < ControllerLimits.leaseMsMin || n > ControllerLimits.leaseMsMax) {
    throw new InvalidArgumentError(`the lease must be in [${ControllerLimits.leaseMsMin}, ${ControllerLimits.leaseMsMax}] ms`);
  }
  return n;
}

export interface ControllerFlags {
  id: number;
  dataDir: string;
  host: string;
  port: number;
  leaseMs: number;
  mode: ControllerMode;
  clusterId?: string;
  defaultPartitions: number;
  defaultReplicationFactor: number;
}

export function controllerCommand(): Command {
  return new Command('controller')
    .description('run the floe controller in the foreground: the metadata of record, broker liveness and failover, the admin API')
    .requiredOption('--id <n>', 'controller id (names its logs and ready line)', int)
    .requiredOption('--data-dir <dir>', 'directory for the metadata log and snapshots')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'HTTP port of the admin and broker APIs (0 picks a free one)', port, 9600)
    .option('--lease-ms <ms>', 'a broker that has not heartbeated for this long is declared dead', leaseMs, ControllerLimits.leaseMsDefault)
    .addOption(new Option('--mode <mode>', 'storage architecture, fixed when the cluster is created').choices([...CONTROLLER_MODES]).default('shared-nothing'))
    .option('--cluster-id <id>', 'cluster id of a new cluster (default: random; ignored for an existing one)')
    .option('--default-partitions <n>', 'num.partitions: partitions of a topic created without a count', positiveInt, 1)
    .option('--default-replication-factor <n>', 'default.replication.factor (shared-nothing): replicas of a topic created without a factor', positiveInt, 1)
    .action(async (flags: ControllerFlags) => {
      await runController(flags);
    });
}

async function runController(flags: ControllerFlags): Promise<void> {
  const log = processLogger(`controller-${flags.id}`);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'floe_controller_' });
  const metrics = new ControllerMetrics(registry);
  const controller = await Controller.open({
    fs: nodeFileSystem,
    dataDir: path.resolve(flags.dataDir),
    clock: systemClock,
    logger: log,
    metrics,
    mode: flags.mode,
    leaseMs: flags.leaseMs,
    defaults: { partitions: flags.defaultPartitions, replicationFactor: flags.defaultReplicationFactor },
    ...(flags.clusterId !== undefined ? { clusterId: flags.clusterId } : {}),
    onFatal: () => {
      // After a failed fsync the on-disk state is unknown: restart and recover from disk.
      log.flush();
      process.exit(70);
    },
  });
  const app = await buildControllerServer({ controller, metrics, registry, logger: log });
  await app.listen({ host: flags.host, port: flags.port });
  const address = app.server.address();
  const bound = typeof address === 'object' && address ? address.port : flags.port;
  onShutdown(log, async () => {
    await app.close();
    await controller.close();
  });
  log.info({ port: bound, mode: controller.mode, clusterId: controller.clusterId, leaseMs: flags.leaseMs }, 'controller listening');
  announceReady({ role: 'controller', id: flags.id, ports: { admin: bound } });
}
