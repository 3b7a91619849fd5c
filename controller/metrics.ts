/**
 * The controller's Prometheus metrics on an injected prom-client Registry (one per
 * process; tests use their own). Names end in their unit. Gauges that describe the
 * metadata are set by the controller after every committed change.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** From a loopback request (~0.2 ms) to a long-poll held for its whole wait (30 s). */
const secondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** fdatasync of a small append: ≈0.3 ms on the reference machine, seconds on a sick disk. */
const fsyncBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export type ReassignReason = 'failover' | 'admin' | 'drain' | 'rebalance' | 'recovery';
/** How a commit, compaction or log-start request ended (one per Kafka code the planners answer). */
export type IndexOutcome = 'committed' | 'duplicate' | 'unknown_partition' | 'not_owner' | 'fenced' | 'invalid';
export type HandoverOutcome = 'completed' | 'timed_out' | 'owner_died' | 'target_died' | 'cancelled' | 'retargeted';
export type WalRecoveryOutcome = 'completed' | 'failed' | 'skipped';

/** A WAL recovery reads, uploads and commits a log tail: from milliseconds to a minute. */
const recoveryBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class ControllerMetrics {
  readonly brokersAlive: Gauge;
  readonly brokersRegistered: Gauge;
  readonly metadataVersion: Gauge;
  readonly topics: Gauge;
  readonly partitions: Gauge;
  readonly offlinePartitions: Gauge;
  readonly failovers: Counter<'outcome'>;
  readonly reassignments: Counter<'reason'>;
  readonly leaseExpiries: Counter;
  readonly registrations: Counter<'kind'>;
  readonly failoverSeconds: Histogram;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpSeconds: Histogram<'method' | 'route'>;
  readonly logEntries: Counter;
  readonly logBytes: Counter;
  readonly logCommits: Counter;
  readonly logFsyncSeconds: Histogram;
  readonly longPolls: Gauge;
  readonly objects: Gauge;
  readonly objectBytes: Gauge;
  readonly garbageObjects: Gauge;
  readonly garbageBytes: Gauge;
  readonly objectCommits: Counter<'outcome'>;
  readonly objectReplacements: Counter<'outcome'>;
  readonly objectsDeleted: Counter<'reason'>;
  readonly objectCollectionFailures: Counter<'reason'>;
  readonly handovers: Counter<'outcome'>;
  readonly walRecoveries: Counter<'outcome'>;
  readonly walRecoverySeconds: Histogram;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.brokersAlive = new Gauge({ name: 'floe_controller_brokers_alive', help: 'Brokers holding a live lease', registers });
    this.brokersRegistered = new Gauge({ name: 'floe_controller_brokers_registered', help: 'Brokers known to the controller, alive or dead', registers });
    this.metadataVersion = new Gauge({ name: 'floe_controller_metadata_version', help: 'Version of the published metadata view', registers });
    this.topics = new Gauge({ name: 'floe_controller_topics', help: 'Topics', registers });
    this.partitions = new Gauge({ name: 'floe_controller_partitions', help: 'Partitions of all topics', registers });
    this.offlinePartitions = new Gauge({ name: 'floe_controller_offline_partitions', help: 'Partitions without a leader (clients see LEADER_NOT_AVAILABLE)', registers });
    this.failovers = new Counter({ name: 'floe_controller_failovers_total', help: 'Broker failovers, by outcome (completed, hook_failed: the beforeReassign hook threw and is retried)', labelNames: ['outcome'], registers });
    this.reassignments = new Counter({ name: 'floe_controller_partition_reassignments_total', help: 'Partition ownership changes, by reason', labelNames: ['reason'], registers });
    this.leaseExpiries = new Counter({ name: 'floe_controller_lease_expiries_total', help: 'Broker leases that ran out (brokers declared dead for missing heartbeats)', registers });
    this.registrations = new Counter({ name: 'floe_controller_registrations_total', help: 'Broker registrations, by kind (new, same-incarnation, restart, duplicate)', labelNames: ['kind'], registers });
    this.failoverSeconds = new Histogram({ name: 'floe_controller_failover_duration_seconds', help: 'From a broker declared dead to its partitions assigned (beforeReassign hook included)', buckets: secondsBuckets, registers });
    this.httpRequests = new Counter({ name: 'floe_controller_http_requests_total', help: 'HTTP requests, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.httpSeconds = new Histogram({ name: 'floe_controller_http_request_duration_seconds', help: 'HTTP request latency, by method and route pattern', labelNames: ['method', 'route'], buckets: secondsBuckets, registers });
    this.logEntries = new Counter({ name: 'floe_controller_metadata_log_entries_total', help: 'Entries appended to the metadata log', registers });
    this.logBytes = new Counter({ name: 'floe_controller_metadata_log_bytes_total', help: 'Bytes appended to the metadata log', registers });
    this.logCommits = new Counter({ name: 'floe_controller_metadata_log_commits_total', help: 'Group commits (one fdatasync each) of the metadata log', registers });
    this.logFsyncSeconds = new Histogram({ name: 'floe_controller_metadata_log_fsync_duration_seconds', help: 'fdatasync latency of one group commit', buckets: fsyncBuckets, registers });
    this.longPolls = new Gauge({ name: 'floe_controller_metadata_long_polls', help: 'Broker metadata long-polls held open', registers });
    this.objects = new Gauge({ name: 'floe_controller_objects', help: 'Objects the object index refers to (shared-storage)', registers });
    this.objectBytes = new Gauge({ name: 'floe_controller_object_bytes', help: 'Bytes of the objects the object index refers to', registers });
    this.garbageObjects = new Gauge({ name: 'floe_controller_garbage_objects', help: 'Unreferenced objects waiting out the grace period before deletion', registers });
    this.garbageBytes = new Gauge({ name: 'floe_controller_garbage_bytes', help: 'Bytes of the unreferenced objects waiting for deletion', registers });
    this.objectCommits = new Counter({
      name: 'floe_controller_object_commits_total',
      help: 'Object commits (brokers and WAL recoveries), by outcome (committed, duplicate: a retried commit already applied, unknown_partition, not_owner, fenced, invalid)',
      labelNames: ['outcome'],
      registers,
    });
    this.objectReplacements = new Counter({ name: 'floe_controller_object_replacements_total', help: 'Compactions (objects replacing ranges), by outcome as for commits', labelNames: ['outcome'], registers });
    this.objectsDeleted = new Counter({ name: 'floe_controller_objects_deleted_total', help: 'Objects deleted from the object store, by reason (garbage: unreferenced past the grace period; orphan: never committed)', labelNames: ['reason'], registers });
    this.objectCollectionFailures = new Counter({ name: 'floe_controller_object_collection_failures_total', help: 'Garbage deletions or orphan scans that failed (retried at the next pass)', labelNames: ['reason'], registers });
    this.handovers = new Counter({
      name: 'floe_controller_handovers_total',
      help: 'Partition hand-overs between live brokers, by outcome (completed, timed_out: abandoned, owner_died, target_died, cancelled: moved back to the owner, retargeted)',
      labelNames: ['outcome'],
      registers,
    });
    this.walRecoveries = new Counter({ name: 'floe_controller_wal_recoveries_total', help: 'WAL recoveries of dead brokers, by outcome (completed, failed: retried, skipped: a clean shutdown with nothing left in its WAL)', labelNames: ['outcome'], registers });
    this.walRecoverySeconds = new Histogram({ name: 'floe_controller_wal_recovery_duration_seconds', help: 'One WAL recovery of a dead broker: fence, read, upload, commit', buckets: recoveryBuckets, registers });
  }
}
