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
import { LocalStorageEngine } from '../storage/local-engine.ts';
import { brokerApis } from './apis/index.ts';
import { Broker } from './broker.ts';
import { groupCoordinatorOf } from './groups/coordinator.ts';
import { BrokerLimits } from './limits.ts';
import type { BrokerFlags } from './main.ts';
import { BrokerMetrics } from './metrics.ts';
import { InvalidConfigError, validateTopicConfig } from './topic-config.ts';

/** Settings given with --config that are not topic defaults: they configure the broker itself. */
const BROKER_SETTING = /^(auto\.create\.topics\.enable|num\.partitions|default\.replication\.factor|offsets?\.|group\.|transactional\.)/;

export async function runBroker(opts: BrokerFlags): Promise<void> {
  const log = processLogger(`broker-${opts.id}`);
  if (opts.mode !== 'shared-nothing') {
    throw new InvalidConfigError(`--mode ${opts.mode}: only shared-nothing is built so far`);
  }
  const topicDefaults = Object.fromEntries(Object.entries(opts.config).filter(([k]) => !BROKER_SETTING.test(k)));
  const settings = Object.fromEntries(Object.entries(opts.config).filter(([k]) => BROKER_SETTING.test(k)));
  validateTopicConfig(topicDefaults);
  const dataDir = path.resolve(opts.dataDir);
  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });
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
      return store;
    },
    storage: new LocalStorageEngine({ dataDir, fs: nodeFileSystem, clock: systemClock, logger: log }),
    registry: brokerApis(),
    logger: log,
    clock: systemClock,
    metrics: new BrokerMetrics(metricsRegistry),
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
