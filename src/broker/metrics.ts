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
  }
}
