/**
 * Starts a broker process from its command-line flags (see main.ts): storage engine,
 * metadata store, Kafka listener and /metrics, then announces readiness.
 */
import * as path from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { systemClock } from '../common/clock.ts';
import { nodeFileSystem } from '../common/fs.ts';
import { startMetricsServer } from '../common/metrics-server.ts';
import { announceReady, onShutdown, processLogger } from '../common/process.ts';
import { ControllerMetadataStore } from '../metadata/controller-store.ts';
import { LocalMetadataStore } from '../metadata/local-metadata-store.ts';
import { topicConfigProblem } from '../metadata/topic-configs.ts';
import { parseWalEndpoints } from '../../wal/index.ts';
import { LocalStorageEngine } from '../storage/local-engine.ts';
import { COMPACTION_INTERVAL_MS_DEFAULT, SharedStorageEngine } from '../storage/shared/engine.ts';
import { uploadPolicyDefault } from '../storage/shared/limits.ts';
import { openObjectStore } from '../storage/shared/object-store-config.ts';
import { SharedLog } from '../storage/shared/shared-log.ts';
import { brokerApis } from './apis/index.ts';
import { Broker, numberSetting, type Handover } from './broker.ts';
import { groupCoordinatorOf } from './groups/coordinator.ts';
import { BrokerLimits } from './limits.ts';
import type { BrokerFlags } from './main.ts';
import { BrokerMetrics } from './metrics.ts';
import { ReplicaManager } from './replication/replica-manager.ts';
import { replicationSettings } from './replication/settings.ts';
import { InvalidConfigError, validateTopicConfig } from './topic-config.ts';

/** Exit code of a broker whose WAL log another writer fenced (EX_TEMPFAIL: restart it). */
const BROKER_FENCED_EXIT_CODE = 75;

/** Settings given with --config that are not topic defaults: they configure the broker itself. */
const BROKER_SETTING = /^(auto\.create\.topics\.enable|num\.partitions|default\.replication\.factor|offsets?\.|group\.|transactional\.|log\.|replica\.|floe\.)/;

export async function runBroker(opts: BrokerFlags): Promise<void> {
  const log = processLogger(`broker-${opts.id}`);
  const sharedStorage = opts.mode === 'shared-storage';
  if (sharedStorage && (!opts.controller || !opts.walNodes)) {
    throw new InvalidConfigError('--mode shared-storage needs --controller and --wal-nodes');
  }
  const topicDefaults = Object.fromEntries(Object.entries(opts.config).filter(([k]) => !BROKER_SETTING.test(k)));
  const settings = Object.fromEntries(Object.entries(opts.config).filter(([k]) => BROKER_SETTING.test(k)));
  validateTopicConfig(topicDefaults);
  // Followers replicate local logs when a controller keeps the ISR (shared-nothing with a
  // controller); a standalone broker holds every partition alone.
  const replicated = !sharedStorage && opts.controller !== undefined;
  const replication = replicated ? replicationSettings(settings) : null;
  const dataDir = path.resolve(opts.dataDir);
  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });
  let controllerStore: ControllerMetadataStore | null = null;
  const brokerMetrics = new BrokerMetrics(metricsRegistry);
  // Declared dead and fenced while it was stopped or cut off: this process can never
  // write again. It exits so that a restart recovers at a new epoch and serves again.
  const fenced = (err: Error): void => {
    log.fatal({ err }, 'this broker was fenced by a WAL recovery; exiting');
    log.flush();
    process.exit(BROKER_FENCED_EXIT_CODE);
  };
  const broker = new Broker({
    config: {
      nodeId: opts.id,
      host: opts.host,
      port: opts.port,
      ...(opts.advertisedHost ? { advertisedHost: opts.advertisedHost } : {}),
      rack: opts.rack ?? null,
      autoCreateTopics: (opts.config['auto.create.topics.enable'] ?? 'true') === 'true',
      defaultPartitions: Number(opts.config['num.partitions'] ?? 1),
      defaultReplicationFactor: Number(opts.config['default.replication.factor'] ?? 1),
      topicDefaults,
      settings,
    },
    metadata: async (self) => {
      if (!opts.controller) {
        return LocalMetadataStore.open({
          fs: nodeFileSystem,
          dataDir,
          self,
          topicNameLengthMax: BrokerLimits.topicNameLengthMax,
          partitionsPerTopicMax: BrokerLimits.partitionsPerTopicMax,
          configProblem: topicConfigProblem,
        });
      }
      const store = await ControllerMetadataStore.open({ url: opts.controller, self, logger: log });
      if (store.mode !== opts.mode) {
        await store.close();
        throw new InvalidConfigError(`the controller runs a ${store.mode} cluster; this broker was started with --mode ${opts.mode}`);
      }
      controllerStore = store;
      return store;
    },
    storage: async () => {
      if (!sharedStorage) return new LocalStorageEngine({ dataDir, fs: nodeFileSystem, clock: systemClock, logger: log, replicated });
      const store = controllerStore!;
      const walEpoch = store.walEpoch;
      // A re-registration after being declared dead comes with a newer WAL epoch: the
      // controller recovered (and fenced) this broker's log meanwhile.
      store.onWalEpochChange((now) => fenced(new Error(`the controller moved this broker's WAL epoch from ${walEpoch} to ${now}`)));
      return SharedStorageEngine.start({
        brokerId: opts.id,
        walNodes: parseWalEndpoints(opts.walNodes!),
        ...(opts.walAckQuorum !== undefined ? { walAckQuorum: opts.walAckQuorum } : {}),
        walEpoch,
        objectStore: await openObjectStore(opts, metricsRegistry),
        objectPrefix: opts.objectPrefix,
        index: store,
        // What this broker's own WAL may still hold for partitions it owns now.
        owned: async (topic, partition) => {
          const p = store.current().topics.get(topic)?.partitions[partition];
          if (!p || p.leader !== opts.id) return null;
          const idx = await store.partitionObjects(topic, partition);
          return idx.errorCode === 0 ? { topicId: idx.topicId, leaderEpoch: p.leaderEpoch, endOffset: idx.endOffset } : null;
        },
        clock: systemClock,
        logger: log,
        registry: metricsRegistry,
        onFenced: fenced,
        compactionIntervalMs: numberSetting(settings, 'floe.compaction.interval.ms', COMPACTION_INTERVAL_MS_DEFAULT),
        upload: {
          objectBytes: numberSetting(settings, 'floe.upload.object.bytes', uploadPolicyDefault.objectBytes),
          intervalMs: numberSetting(settings, 'floe.upload.interval.ms', uploadPolicyDefault.intervalMs),
          backlogBytesMax: numberSetting(settings, 'floe.upload.backlog.max.bytes', uploadPolicyDefault.backlogBytesMax),
        },
      });
    },
    ...(sharedStorage
      ? {
          handover: async (h: Handover) => {
            const log = h.closed?.log;
            if (log instanceof SharedLog && log.hasUncommitted()) throw new Error(`${h.topic}-${h.partition} still holds data not in object storage`);
            const idx = await controllerStore!.partitionObjects(h.topic, h.partition);
            const res = await controllerStore!.releasePartition({ brokerId: opts.id, topic: h.topic, partition: h.partition, leaderEpoch: h.leaderEpoch, endOffset: idx.endOffset });
            if (res.errorCode !== 0) throw new Error(`release refused: ${res.errorMessage ?? res.errorCode}`);
          },
        }
      : {}),
    ...(replication
      ? {
          replication: ({ store, storage }: { store: unknown; storage: unknown }) => {
            if (!(store instanceof ControllerMetadataStore) || !(storage instanceof LocalStorageEngine)) throw new Error('replication needs a controller and local storage');
            return new ReplicaManager({
              self: opts.id,
              engine: storage,
              view: () => store.current(),
              alterIsr: (req) => store.alterIsr(req),
              settings: replication,
              clock: systemClock,
              logger: log,
              metrics: brokerMetrics,
            });
          },
        }
      : {}),
    registry: brokerApis(),
    logger: log,
    clock: systemClock,
    metrics: brokerMetrics,
  });
  // The coordinator follows the __consumer_offsets partitions this broker serves from the
  // start, so that they load at once rather than at the first group request.
  groupCoordinatorOf(broker);
  await broker.start();
  const metricsServer = await startMetricsServer(metricsRegistry, opts.host, opts.metricsPort);
  onShutdown(log, async () => {
    await broker.stop();
    await metricsServer.close();
  });
  announceReady({ role: 'broker', id: opts.id, ports: { kafka: broker.port, metrics: metricsServer.port } });
}

