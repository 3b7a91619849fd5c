/**
 * The controller process, run as `floe controller …` (the cluster launcher starts it
 * before the brokers, which follow it with `--controller http://HOST:PORT`). One HTTP
 * port serves the admin API (/v1), the broker-facing API (/internal/v1), /metrics and
 * /openapi.json. Prints one ready line on stdout once it accepts requests:
 *   {"event":"ready","role":"controller","id":1,"ports":{"admin":P},"pid":…}
 * and logs (pino) to stderr. SIGTERM/SIGINT stop it cleanly; kill -9 loses nothing that
 * was acknowledged (the metadata log is fsynced before any answer).
 *
 * Shared-storage mode takes the object store (--s3-endpoint/--s3-bucket or the FLOE_S3_*
 * environment; an endpoint without keys gets the embedded s3rver's credentials) and the
 * WAL nodes (--wal-nodes). Without WAL nodes a dead broker's WAL is not recovered, which
 * loses what it acknowledged but had not uploaded: the controller says so at start.
 */
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { S3ObjectStore, objectStoreOptionsFrom } from '../objectstore/s3-object-store.ts';
import { systemClock } from '../src/common/clock.ts';
import { nodeFileSystem } from '../src/common/fs.ts';
import { announceReady, onShutdown, processLogger } from '../src/common/process.ts';
import { CONTROLLER_MODES, type ControllerMode } from '../src/metadata/controller-api.ts';
import { int, intIn, nonNegativeInt, port, positiveInt } from '../src/common/cli-args.ts';
import { recoverBrokerWal } from '../src/storage/shared/log-recovery.ts';
import { Controller, OBJECT_PREFIX_DEFAULT } from './controller.ts';
import { ControllerConfigError } from './errors.ts';
import { buildControllerServer } from './http/server.ts';
import { ControllerLimits } from './limits.ts';
import { ControllerMetrics } from './metrics.ts';
import { ackQuorumFor, parseWalNodes, type WalRecoveryConfig } from './wal-recovery.ts';

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
  s3Endpoint?: string;
  s3Bucket?: string;
  objectPrefix: string;
  objectGraceMs: number;
  orphanScanIntervalMs: number;
  walNodes?: string;
  walAckQuorum?: number;
  handoverTimeoutMs: number;
}

/** The shared-storage seams from the flags: object store and WAL recovery (null when not configured). */
function sharedStorageFrom(flags: ControllerFlags, registry: Registry, log: Logger): { objectStore: S3ObjectStore | null; region: string; walRecovery: WalRecoveryConfig | null } {
  const s3 = objectStoreOptionsFrom(flags);
  if (flags.mode === 'shared-nothing') {
    if (s3 !== null || flags.walNodes !== undefined) throw new ControllerConfigError('--s3-*, FLOE_S3_* and --wal-nodes belong to shared-storage mode');
    return { objectStore: null, region: '', walRecovery: null };
  }
  const objectStore = s3 === null ? null : new S3ObjectStore({ ...s3, registry });
  let walRecovery: WalRecoveryConfig | null = null;
  if (flags.walNodes !== undefined) {
    const walNodes = parseWalNodes(flags.walNodes);
    if (!objectStore) throw new ControllerConfigError('--wal-nodes needs an object store (--s3-endpoint/--s3-bucket or FLOE_S3_*): recovered data is uploaded');
    walRecovery = { recover: recoverBrokerWal, walNodes, ackQuorum: ackQuorumFor(walNodes.length, flags.walAckQuorum) };
  }
  if (!objectStore) log.warn('shared-storage mode without an object store: unreferenced objects are never deleted');
  if (!walRecovery) log.warn('shared-storage mode without --wal-nodes: a dead broker\'s WAL is not recovered, so what it acknowledged but had not uploaded is lost');
  return { objectStore, region: s3?.region ?? '', walRecovery };
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
    .option('--s3-endpoint <url>', 'shared-storage: S3-compatible endpoint (without FLOE_S3_ACCESS_KEY_ID: the embedded s3rver\'s credentials)')
    .option('--s3-bucket <name>', 'shared-storage: bucket of the objects (default: FLOE_S3_BUCKET, else floe)')
    .option('--object-prefix <prefix>', 'shared-storage: object keys start with this; only keys under it are ever collected', OBJECT_PREFIX_DEFAULT)
    .option('--object-grace-ms <ms>', 'shared-storage: an unreferenced or never-committed object is deleted this long after', intIn(ControllerLimits.objectGraceMsMin, ControllerLimits.objectGraceMsMax), ControllerLimits.objectGraceMsDefault)
    .option('--orphan-scan-interval-ms <ms>', 'shared-storage: how often the bucket is listed for never-committed objects (0: never)', nonNegativeInt, ControllerLimits.orphanScanIntervalMsDefault)
    .option('--wal-nodes <host:port,...>', 'shared-storage: the WAL nodes, to fence and recover a dead broker\'s WAL before its partitions move')
    .option('--wal-ack-quorum <n>', 'shared-storage: the WAL ack quorum the brokers write with (default: a majority of --wal-nodes)', positiveInt)
    .option('--handover-timeout-ms <ms>', 'shared-storage: a hand-over the owner has not completed in this time is abandoned', intIn(ControllerLimits.handoverTimeoutMsMin, ControllerLimits.handoverTimeoutMsMax), ControllerLimits.handoverTimeoutMsDefault)
    .action(async (flags: ControllerFlags) => {
      await runController(flags);
    });
}

async function runController(flags: ControllerFlags): Promise<void> {
  const log = processLogger(`controller-${flags.id}`);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'floe_controller_' });
  const metrics = new ControllerMetrics(registry);
  const { objectStore, region, walRecovery } = sharedStorageFrom(flags, registry, log);
  if (objectStore) {
    // A fresh MinIO has no bucket; s3rver and S3 usually do. Not awaited: an object store
    // that is down at start must not keep the controller (and the cluster's metadata) down.
    objectStore.ensureBucket(region).catch((err: unknown) => log.warn({ err }, 'could not check or create the bucket; collection retries later'));
  }
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
    ...(objectStore ? { objectStore } : {}),
    ...(walRecovery ? { walRecovery } : {}),
    objectPrefix: flags.objectPrefix,
    objectGraceMs: flags.objectGraceMs,
    orphanScanIntervalMs: flags.orphanScanIntervalMs,
    handoverTimeoutMs: flags.handoverTimeoutMs,
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
    objectStore?.close();
  });
  log.info(
    {
      port: bound,
      mode: controller.mode,
      clusterId: controller.clusterId,
      leaseMs: flags.leaseMs,
      ...(controller.mode === 'shared-storage' ? { objectStore: objectStore?.bucket ?? null, walNodes: walRecovery?.walNodes.length ?? 0, objectPrefix: flags.objectPrefix } : {}),
    },
    'controller listening',
  );
  announceReady({ role: 'controller', id: flags.id, ports: { admin: bound } });
}
