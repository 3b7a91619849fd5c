/**
 * The WAL node's Prometheus metrics, registered on an injected Registry (the process
 * entry serves it at GET /metrics; tests read it directly). Names end in their unit.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

/** Sub-millisecond resolution where fdatasync lives, up to a second for a sick disk. */
const latencyBucketsSeconds = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class WalMetrics {
  readonly appendLatency: Histogram;
  readonly fsyncLatency: Histogram;
  readonly groupCommitEntries: Histogram;
  readonly appendBytes: Counter;
  readonly appendEntries: Counter;
  readonly fencedAppends: Counter;
  readonly diskFullRejections: Counter;
  readonly fences: Counter;
  readonly truncations: Counter;
  readonly trims: Counter;
  readonly segmentsDeleted: Counter;
  readonly diskUsage: Gauge;
  readonly segments: Gauge;
  readonly logs: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.appendLatency = new Histogram({
      name: 'floe_wal_append_latency_seconds',
      help: 'Time from an append reaching the node to its fdatasync completing (what the client waits for).',
      buckets: latencyBucketsSeconds,
      registers,
    });
    this.fsyncLatency = new Histogram({
      name: 'floe_wal_fsync_latency_seconds',
      help: 'Duration of each group-commit fdatasync.',
      buckets: latencyBucketsSeconds,
      registers,
    });
    this.groupCommitEntries = new Histogram({
      name: 'floe_wal_group_commit_entries',
      help: 'Entries made durable by one fdatasync.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.appendBytes = new Counter({ name: 'floe_wal_append_bytes_total', help: 'Record bytes made durable (headers included).', registers });
    this.appendEntries = new Counter({ name: 'floe_wal_append_entries_total', help: 'Entries made durable.', registers });
    this.fencedAppends = new Counter({ name: 'floe_wal_fenced_appends_total', help: 'Appends refused because their epoch is older than the log\'s fence.', registers });
    this.diskFullRejections = new Counter({ name: 'floe_wal_disk_full_rejections_total', help: 'Appends refused because the disk-usage limit was reached.', registers });
    this.fences = new Counter({ name: 'floe_wal_fences_total', help: 'Fence requests that raised a log\'s epoch.', registers });
    this.truncations = new Counter({ name: 'floe_wal_truncations_total', help: 'Recovery truncation markers applied.', registers });
    this.trims = new Counter({ name: 'floe_wal_trims_total', help: 'Trim requests that moved a log\'s trim point.', registers });
    this.segmentsDeleted = new Counter({ name: 'floe_wal_segments_deleted_total', help: 'Segment files deleted because every entry in them was trimmed.', registers });
    this.diskUsage = new Gauge({ name: 'floe_wal_disk_usage_bytes', help: 'Bytes held in segment files.', registers });
    this.segments = new Gauge({ name: 'floe_wal_segments', help: 'Segment files on disk.', registers });
    this.logs = new Gauge({ name: 'floe_wal_logs', help: 'Logs this node knows.', registers });
  }
}
