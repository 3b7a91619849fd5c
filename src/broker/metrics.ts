/**
 * The broker's Prometheus metrics, on an injected registry (one per process; tests use
 * their own). Names end in their unit.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export class BrokerMetrics {
  readonly requests: Counter<'api'>;
  readonly requestSeconds: Histogram<'api'>;
  readonly producedBytes: Counter;
  readonly producedBatches: Counter<'outcome'>;
  readonly fetchedBytes: Counter;
  readonly connections: Gauge;
  readonly partitions: Gauge;
  readonly closedConnections: Counter<'reason'>;
  /** Shared-nothing replication: a follower's distance behind its leader's high watermark. */
  readonly followerLagOffsets: Gauge<'topic' | 'partition'>;
  readonly isrShrinks: Counter;
  readonly isrExpands: Counter;
  /** Partitions this broker leads whose ISR is smaller than their replica set (set by the broker at each scrape). */
  readonly underReplicatedPartitions: Gauge;
  readonly replicationFetchedBytes: Counter;
  private underReplicated: () => number = () => 0;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({ name: 'floe_broker_requests_total', help: 'Kafka requests received, by API', labelNames: ['api'], registers });
    this.requestSeconds = new Histogram({
      name: 'floe_broker_request_duration_seconds',
      help: 'Time from a request arriving to its response being queued, by API',
      labelNames: ['api'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.producedBytes = new Counter({ name: 'floe_broker_produced_bytes_total', help: 'Record batch bytes appended', registers });
    this.producedBatches = new Counter({ name: 'floe_broker_produced_batches_total', help: 'Produced batches, by outcome (appended, duplicate, error)', labelNames: ['outcome'], registers });
    this.fetchedBytes = new Counter({ name: 'floe_broker_fetched_bytes_total', help: 'Record batch bytes returned by Fetch', registers });
    this.connections = new Gauge({ name: 'floe_broker_connections', help: 'Open client connections', registers });
    this.partitions = new Gauge({ name: 'floe_broker_partitions', help: 'Partitions this broker serves', registers });
    this.closedConnections = new Counter({ name: 'floe_broker_closed_connections_total', help: 'Connections the broker closed, by reason', labelNames: ['reason'], registers });
    this.followerLagOffsets = new Gauge({
      name: 'floe_broker_follower_lag_offsets',
      help: 'Shared-nothing followers: offsets between the leader\'s high watermark and this replica\'s log end, as of the last fetch',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.isrShrinks = new Counter({ name: 'floe_broker_isr_shrinks_total', help: 'Replicas removed from ISRs of partitions this broker leads, for lagging', registers });
    this.isrExpands = new Counter({ name: 'floe_broker_isr_expands_total', help: 'Replicas added to ISRs of partitions this broker leads, once caught up', registers });
    const count = (): number => this.underReplicated();
    this.underReplicatedPartitions = new Gauge({
      name: 'floe_broker_under_replicated_partitions',
      help: 'Partitions this broker leads whose ISR is smaller than their replica set',
      registers,
      collect() {
        this.set(count());
      },
    });
    this.replicationFetchedBytes = new Counter({ name: 'floe_broker_replication_fetched_bytes_total', help: 'Record batch bytes this broker fetched from leaders as a follower', registers });
  }

  /** Where the under-replicated gauge reads its value at each scrape. */
  countUnderReplicatedWith(count: () => number): void {
    this.underReplicated = count;
  }
}
