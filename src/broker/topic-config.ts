/**
 * Topic configuration, by Kafka's names and with Kafka's defaults. Each entry says how
 * to parse and check a value; CreateTopics and AlterConfigs answer INVALID_CONFIG (40)
 * for an unknown name or a bad value, and DescribeConfigs lists every entry with its
 * source (topic override or default).
 *
 * fsync: floe uses Kafka's flush.messages / flush.ms. flush.messages=1 fsyncs every
 * batch (group-committed); flush.ms=N fsyncs every N ms; both at their defaults (Kafka's
 * "never", leaving it to the OS) never fsync on the append path.
 */
import type { FsyncPolicy, LogConfig } from '../storage/partition-log.ts';

type Kind = 'long' | 'int' | 'string' | 'boolean';

interface ConfigDef {
  kind: Kind;
  default: string;
  /** Accepts a parsed value or says why not. */
  check?: (v: string) => string | null;
}

const LONG_MAX = '9223372036854775807';
const atLeast = (min: number) => (v: string) => (Number(v) >= min ? null : `must be at least ${min}`);
const oneOf = (...allowed: string[]) => (v: string) => (allowed.includes(v) ? null : `must be one of ${allowed.join(', ')}`);

export const TOPIC_CONFIGS: Readonly<Record<string, ConfigDef>> = {
  'cleanup.policy': { kind: 'string', default: 'delete', check: oneOf('delete') },
  'compression.type': { kind: 'string', default: 'producer', check: oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd') },
  'retention.ms': { kind: 'long', default: '604800000', check: atLeast(-1) },
  'retention.bytes': { kind: 'long', default: '-1', check: atLeast(-1) },
  'segment.bytes': { kind: 'int', default: '1073741824', check: atLeast(14) },
  'segment.ms': { kind: 'long', default: '604800000', check: atLeast(1) },
  'max.message.bytes': { kind: 'int', default: '1048588', check: atLeast(0) },
  'min.insync.replicas': { kind: 'int', default: '1', check: atLeast(1) },
  'index.interval.bytes': { kind: 'int', default: '4096', check: atLeast(0) },
  'flush.messages': { kind: 'long', default: LONG_MAX, check: atLeast(1) },
  'flush.ms': { kind: 'long', default: LONG_MAX, check: atLeast(0) },
  'message.timestamp.type': { kind: 'string', default: 'CreateTime', check: oneOf('CreateTime', 'LogAppendTime') },
  'unclean.leader.election.enable': { kind: 'boolean', default: 'false', check: oneOf('true', 'false') },
};

export type TopicConfigOverrides = Record<string, string>;

export class InvalidConfigError extends Error {
  readonly code = 'FLOE_ERR_INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidConfigError';
  }
}

function checkKind(kind: Kind, value: string): boolean {
  switch (kind) {
    case 'long':
    case 'int':
      return /^-?\d+$/.test(value);
    case 'boolean':
      return value === 'true' || value === 'false';
    case 'string':
      return true;
  }
}

/** Throws InvalidConfigError for an unknown name or a bad value. */
export function validateTopicConfig(overrides: TopicConfigOverrides): void {
  for (const [name, value] of Object.entries(overrides)) {
    const def = TOPIC_CONFIGS[name];
    if (!def) throw new InvalidConfigError(`unknown topic config ${name}`);
    if (!checkKind(def.kind, value)) throw new InvalidConfigError(`${name}=${value}: not a ${def.kind}`);
    const why = def.check?.(value);
    if (why) throw new InvalidConfigError(`${name}=${value}: ${why}`);
  }
}

/** The effective value of a config: the topic's override, else the broker default, else Kafka's. */
export function effectiveConfig(name: string, overrides: TopicConfigOverrides, brokerDefaults: TopicConfigOverrides): string {
  const def = TOPIC_CONFIGS[name];
  if (!def) throw new InvalidConfigError(`unknown topic config ${name}`);
  return overrides[name] ?? brokerDefaults[name] ?? def.default;
}

/** Numbers above 2^53 (Kafka's Long.MAX "never") become Infinity. */
function num(v: string): number {
  const n = Number(v);
  return n > Number.MAX_SAFE_INTEGER ? Infinity : n;
}

export interface TopicSettings {
  log: LogConfig;
  maxMessageBytes: number;
  minInsyncReplicas: number;
  logAppendTime: boolean;
}

export function topicSettings(overrides: TopicConfigOverrides, brokerDefaults: TopicConfigOverrides): TopicSettings {
  const get = (name: string) => effectiveConfig(name, overrides, brokerDefaults);
  const flushMessages = num(get('flush.messages'));
  const flushMs = num(get('flush.ms'));
  const fsync: FsyncPolicy =
    flushMessages <= 1 ? { kind: 'per-batch' } : Number.isFinite(flushMs) ? { kind: 'interval', intervalMs: Math.max(1, flushMs) } : { kind: 'never' };
  const retentionMs = num(get('retention.ms'));
  return {
    log: {
      segmentBytes: num(get('segment.bytes')),
      segmentMs: num(get('segment.ms')),
      retentionMs: Number.isFinite(retentionMs) ? retentionMs : -1,
      retentionBytes: num(get('retention.bytes')),
      indexIntervalBytes: num(get('index.interval.bytes')),
      fsync,
    },
    maxMessageBytes: num(get('max.message.bytes')),
    minInsyncReplicas: num(get('min.insync.replicas')),
    logAppendTime: get('message.timestamp.type') === 'LogAppendTime',
  };
}
