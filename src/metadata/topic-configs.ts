/**
 * Topic configuration names, kinds and defaults (Kafka's), as a pure table that both the
 * broker and the controller read. The controller validates CreateTopics / AlterConfigs
 * against it (it may not import src/broker/**); the broker derives its log settings from
 * it. Unknown names and bad values are INVALID_CONFIG (40) in Kafka terms.
 */

export type TopicConfigKind = 'long' | 'int' | 'string' | 'boolean';

export interface TopicConfigDef {
  kind: TopicConfigKind;
  default: string;
  /** Accepts a value of the right kind or says why not. */
  check?: (v: string) => string | null;
}

const LONG_MAX = '9223372036854775807';
const INT_MAX = 2_147_483_647;
const atLeast = (min: number) => (v: string) => (Number(v) >= min ? null : `must be at least ${min}`);
const oneOf =
  (...allowed: string[]) =>
  (v: string) =>
    allowed.includes(v) ? null : `must be one of ${allowed.join(', ')}`;

export const TOPIC_CONFIGS: Readonly<Record<string, TopicConfigDef>> = {
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

function kindProblem(kind: TopicConfigKind, value: string): string | null {
  switch (kind) {
    case 'long':
      return /^-?\d+$/.test(value) ? null : 'not a long';
    case 'int':
      return /^-?\d+$/.test(value) && Math.abs(Number(value)) <= INT_MAX ? null : 'not an int';
    case 'boolean':
      return value === 'true' || value === 'false' ? null : 'not a boolean';
    case 'string':
      return null;
  }
}

/** The first problem with a set of topic config overrides, or null when all are valid. */
export function topicConfigProblem(overrides: Readonly<Record<string, string>>): string | null {
  for (const [name, value] of Object.entries(overrides)) {
    const def = TOPIC_CONFIGS[name];
    if (!def) return `unknown topic config ${name}`;
    if (typeof value !== 'string') return `${name}: the value must be a string`;
    const kind = kindProblem(def.kind, value);
    if (kind) return `${name}=${value}: ${kind}`;
    const why = def.check?.(value);
    if (why) return `${name}=${value}: ${why}`;
  }
  return null;
}

/** The value in force: the topic's override, else Kafka's default. */
export function topicConfigValue(name: string, overrides: Readonly<Record<string, string>>): string {
  const def = TOPIC_CONFIGS[name];
  if (!def) throw new Error(`unknown topic config ${name}`);
  return overrides[name] ?? def.default;
}
