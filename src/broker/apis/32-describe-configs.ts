// DescribeConfigs (32), v0–4. Topics (resource type 2): every topic config by Kafka name
// with its effective value and source — the topic's override (DYNAMIC_TOPIC_CONFIG), a
// broker-wide default given at start (STATIC_BROKER_CONFIG) or Kafka's default
// (DEFAULT_CONFIG). Brokers (resource type 4): the broker settings floe honours.
import type { ResponseOf } from '../../protocol/api.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { DescribeConfigs } from '../../protocol/messages/32-describe-configs.ts';
import type { Broker } from '../broker.ts';
import { defineHandler } from '../registry.ts';
import { TOPIC_CONFIGS } from '../topic-config.ts';

type Result = ResponseOf<typeof DescribeConfigs>['results'][number];
type ConfigEntry = Result['configs'][number];

export const ResourceType = { TOPIC: 2, BROKER: 4 } as const;
const Source = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;
const ConfigType = { BOOLEAN: 1, STRING: 2, INT: 3, LONG: 5 } as const;

function typeOf(kind: string): number {
  switch (kind) {
    case 'boolean':
      return ConfigType.BOOLEAN;
    case 'int':
      return ConfigType.INT;
    case 'long':
      return ConfigType.LONG;
    default:
      return ConfigType.STRING;
  }
}

function entry(name: string, value: string, source: number, type: number, readOnly: boolean): ConfigEntry {
  return {
    name,
    value,
    readOnly,
    isDefault: source === Source.DEFAULT_CONFIG,
    configSource: source,
    isSensitive: false,
    synonyms: [],
    configType: type,
    documentation: null,
  };
}

function topicConfigs(broker: Broker, overrides: Record<string, string>): ConfigEntry[] {
  return Object.entries(TOPIC_CONFIGS).map(([name, def]) => {
    const override = overrides[name];
    const brokerDefault = broker.config.topicDefaults[name];
    if (override !== undefined) return entry(name, override, Source.DYNAMIC_TOPIC_CONFIG, typeOf(def.kind), false);
    if (brokerDefault !== undefined) return entry(name, brokerDefault, Source.STATIC_BROKER_CONFIG, typeOf(def.kind), false);
    return entry(name, def.default, Source.DEFAULT_CONFIG, typeOf(def.kind), false);
  });
}

function brokerConfigs(broker: Broker): ConfigEntry[] {
  const c = broker.config;
  const fixed: [string, string, number][] = [
    ['node.id', String(c.nodeId), ConfigType.INT],
    ['broker.id', String(c.nodeId), ConfigType.INT],
    ['broker.rack', c.rack ?? '', ConfigType.STRING],
    ['auto.create.topics.enable', String(c.autoCreateTopics), ConfigType.BOOLEAN],
    ['num.partitions', String(c.defaultPartitions), ConfigType.INT],
    ['default.replication.factor', String(c.defaultReplicationFactor), ConfigType.INT],
  ];
  return [
    ...fixed.map(([name, value, type]) => entry(name, value, Source.STATIC_BROKER_CONFIG, type, true)),
    ...Object.entries(c.topicDefaults).map(([name, value]) => entry(name, value, Source.STATIC_BROKER_CONFIG, typeOf(TOPIC_CONFIGS[name]?.kind ?? 'string'), true)),
  ];
}

export const describeConfigsHandler = defineHandler({
  api: DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  handle(ctx, req) {
    const broker = ctx.broker;
    const results = req.resources.map((r): Result => {
      const base = { resourceType: r.resourceType, resourceName: r.resourceName };
      let configs: ConfigEntry[];
      if (r.resourceType === ResourceType.TOPIC) {
        const topic = broker.view.topics.get(r.resourceName);
        if (!topic) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown topic ${r.resourceName}`, configs: [] };
        configs = topicConfigs(broker, topic.config);
      } else if (r.resourceType === ResourceType.BROKER) {
        if (r.resourceName !== '' && r.resourceName !== String(broker.nodeId)) {
          return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `broker ${r.resourceName} is not this broker (${broker.nodeId})`, configs: [] };
        }
        configs = brokerConfigs(broker);
      } else {
        return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${r.resourceType} is not supported`, configs: [] };
      }
      const keys = r.configurationKeys;
      if (keys !== null && keys.length > 0) configs = configs.filter((c) => keys.includes(c.name));
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
    });
    return { throttleTimeMs: 0, results };
  },
});
