/**
 * Replication settings of a shared-nothing broker, by Kafka's broker config names and with
 * Kafka's defaults, read from the broker's `--config` settings. Their relations are
 * checked at start: a follower that waits longer per fetch than the leader tolerates lag
 * would drop out of the ISR while merely idle.
 */
import { numberSetting } from '../broker.ts';
import { InvalidConfigError } from '../topic-config.ts';

export interface ReplicationSettings {
  /** replica.lag.time.max.ms: an ISR member not caught up for this long leaves the ISR. */
  lagTimeMaxMs: number;
  /** replica.fetch.wait.max.ms: how long the leader holds a follower's fetch when it has nothing new. */
  fetchWaitMaxMs: number;
  /** replica.fetch.min.bytes */
  fetchMinBytes: number;
  /** replica.fetch.max.bytes: per partition, except that a larger first batch is still sent whole. */
  fetchMaxBytes: number;
  /** replica.fetch.response.max.bytes: per fetch. */
  fetchResponseMaxBytes: number;
  /** replica.fetch.backoff.ms: the longest a follower waits before fetching again after an error. */
  fetchBackoffMs: number;
  /** replica.socket.timeout.ms: a fetch unanswered this long beyond its wait drops the connection. */
  socketTimeoutMs: number;
  /** replica.high.watermark.checkpoint.interval.ms: how often the high watermark is stored. */
  highWatermarkCheckpointIntervalMs: number;
}

/** Kafka's defaults. */
export const REPLICATION_DEFAULTS: ReplicationSettings = {
  lagTimeMaxMs: 30_000,
  fetchWaitMaxMs: 500,
  fetchMinBytes: 1,
  fetchMaxBytes: 1_048_576,
  fetchResponseMaxBytes: 10_485_760,
  fetchBackoffMs: 1_000,
  socketTimeoutMs: 30_000,
  highWatermarkCheckpointIntervalMs: 5_000,
};

/** Reads the settings by name (InvalidConfigError for a bad value or a broken relation). */
export function replicationSettings(settings: Record<string, string>): ReplicationSettings {
  const d = REPLICATION_DEFAULTS;
  const s: ReplicationSettings = {
    lagTimeMaxMs: numberSetting(settings, 'replica.lag.time.max.ms', d.lagTimeMaxMs),
    fetchWaitMaxMs: numberSetting(settings, 'replica.fetch.wait.max.ms', d.fetchWaitMaxMs),
    fetchMinBytes: numberSetting(settings, 'replica.fetch.min.bytes', d.fetchMinBytes),
    fetchMaxBytes: numberSetting(settings, 'replica.fetch.max.bytes', d.fetchMaxBytes),
    fetchResponseMaxBytes: numberSetting(settings, 'replica.fetch.response.max.bytes', d.fetchResponseMaxBytes),
    fetchBackoffMs: numberSetting(settings, 'replica.fetch.backoff.ms', d.fetchBackoffMs),
    socketTimeoutMs: numberSetting(settings, 'replica.socket.timeout.ms', d.socketTimeoutMs),
    highWatermarkCheckpointIntervalMs: numberSetting(settings, 'replica.high.watermark.checkpoint.interval.ms', d.highWatermarkCheckpointIntervalMs),
  };
  for (const [name, v] of Object.entries(s)) {
    if (!Number.isInteger(v) || v < 1) throw new InvalidConfigError(`replication setting ${name}=${v} must be a positive integer`);
  }
  if (s.fetchWaitMaxMs >= s.lagTimeMaxMs) {
    throw new InvalidConfigError(`replica.fetch.wait.max.ms (${s.fetchWaitMaxMs}) must be below replica.lag.time.max.ms (${s.lagTimeMaxMs}), or idle followers would leave the ISR`);
  }
  if (s.fetchMaxBytes > s.fetchResponseMaxBytes) {
    throw new InvalidConfigError(`replica.fetch.max.bytes (${s.fetchMaxBytes}) must not exceed replica.fetch.response.max.bytes (${s.fetchResponseMaxBytes})`);
  }
  return s;
}
