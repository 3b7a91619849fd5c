/**
 * Topic configuration, by Kafka's names and with Kafka's defaults (the table lives in
 * src/metadata/topic-configs.ts, shared with the controller). CreateTopics and
 * AlterConfigs answer INVALID_CONFIG (40) for an unknown name or a bad value, and
 * DescribeConfigs lists every entry with its source (topic override or default).
 *
 * fsync: floe uses Kafka's flush.messages / flush.ms. flush.messages=1 fsyncs every
 * batch (group-committed); flush.ms=N fsyncs every N ms; both at their defaults (Kafka's
 * "never", leaving it to the OS) never fsync on the append path.
 */
import type { FsyncPolicy, LogConfig } from '../storage/partition-log.ts';
import { TOPIC_CONFIGS, topicConfigProblem } from '../metadata/topic-configs.ts';

export { TOPIC_CONFIGS };

export type TopicConfigOverrides = Record<string, string>;

export class InvalidConfigError extends Error {
  readonly code = 'FLOE_ERR_INVALID_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidConfigError';
  }
}

/** Throws InvalidConfigError for an unknown name or a bad value (the table is shared with the controller). */
export function validateTopicConfig(overrides: TopicConfigOverrides): void {
  const problem = topicConfigProblem(overrides);
  if (problem) throw new InvalidConfigError(problem);
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
