/**
 * Object-store metrics on an injected prom-client Registry. A request is one HTTP
 * request (what a provider bills), so a PUT retried twice counts three requests and two
 * retries; an operation is one call of the ObjectStore interface, retries and pauses
 * included (what the caller waits for).
 *
 * Metrics are created once per registry and shared: several stores in one process (a
 * broker's uploader and its read path) add to the same series.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { ObjectStoreOp } from './object-store.ts';

/** Latency buckets from a fast local GET (~1 ms) to a PUT stuck behind retries (30 s). */
const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Object sizes from a tiny flush (64 KiB) to large compacted objects (256 MiB). */
const objectBytesBuckets = [65_536, 262_144, 1_048_576, 4_194_304, 8_388_608, 16_777_216, 67_108_864, 268_435_456];

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  // The registry holds metrics of every kind under one name space; the name says which kind it is.
  const existing = registry.getSingleMetric(name) as Counter<L> | undefined;
  return existing ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], buckets: number[]): Histogram<L> {
  const existing = registry.getSingleMetric(name) as Histogram<L> | undefined;
  return existing ?? new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name) as Gauge<L> | undefined;
  return existing ?? new Gauge<L>({ name, help, labelNames, registers: [registry] });
}

export class ObjectStoreMetrics {
  private readonly requests: Counter<'op' | 'outcome'>;
  private readonly bytes: Counter<'op'>;
  private readonly requestSeconds: Histogram<'op'>;
  private readonly operationSeconds: Histogram<'op' | 'outcome'>;
  private readonly retries: Counter<'op' | 'reason'>;
  private readonly putObjectBytes: Histogram;

  constructor(registry: Registry) {
    this.requests = counter(registry, 'floe_objectstore_requests_total', 'Object-store requests sent, by operation and outcome (each retry is a request).', [
      'op',
      'outcome',
    ]);
    this.bytes = counter(registry, 'floe_objectstore_bytes_total', 'Payload bytes moved by successful requests: uploaded by put, downloaded by get.', ['op']);
    this.requestSeconds = histogram(registry, 'floe_objectstore_request_duration_seconds', 'Latency of one object-store request.', ['op'], secondsBuckets);
    this.operationSeconds = histogram(
      registry,
      'floe_objectstore_operation_duration_seconds',
      'Latency of one object-store operation as its caller sees it, retries and backoff included.',
      ['op', 'outcome'],
      secondsBuckets,
    );
    this.retries = counter(registry, 'floe_objectstore_retries_total', 'Requests retried, by operation and the failure that caused the retry.', ['op', 'reason']);
    this.putObjectBytes = histogram(registry, 'floe_objectstore_put_object_bytes', 'Size of each object uploaded.', [], objectBytesBuckets);
  }

  /** One request answered (or failed): `bytes` is the payload moved when it succeeded. */
  observeRequest(op: ObjectStoreOp, outcome: string, seconds: number, bytes = 0): void {
    this.requests.inc({ op, outcome });
    this.requestSeconds.observe({ op }, seconds);
    if (bytes > 0) this.bytes.inc({ op }, bytes);
  }

  observeOperation(op: ObjectStoreOp, outcome: string, seconds: number): void {
    this.operationSeconds.observe({ op, outcome }, seconds);
  }

  observeRetry(op: ObjectStoreOp, reason: string): void {
    this.retries.inc({ op, reason });
  }

  observePutObject(bytes: number): void {
    this.putObjectBytes.observe(bytes);
  }
}

export class BlockCacheMetrics {
  readonly lookups: Counter<'result'>;
  readonly readAheadBlocks: Counter;
  readonly evictions: Counter;
  readonly cachedBytes: Gauge;
  readonly hitRatio: Gauge;

  constructor(registry: Registry) {
    this.lookups = counter(
      registry,
      'floe_objectstore_cache_lookups_total',
      'Block lookups of the read cache: hit (cached), inflight (joined a GET already under way), miss (a GET was sent).',
      ['result'],
    );
    this.readAheadBlocks = counter(registry, 'floe_objectstore_cache_readahead_blocks_total', 'Blocks fetched ahead of a sequential reader.', []);
    this.evictions = counter(registry, 'floe_objectstore_cache_evictions_total', 'Blocks evicted to keep the cache within its byte bound.', []);
    this.cachedBytes = gauge(registry, 'floe_objectstore_cache_bytes', 'Bytes held by the read cache.', []);
    this.hitRatio = gauge(registry, 'floe_objectstore_cache_hit_ratio', 'Share of block lookups served without a GET of their own (hit or inflight), since start.', []);
  }
}

export class MergeMetrics {
  readonly merges: Counter<'outcome'>;
  readonly inputBytes: Counter;
  readonly outputBytes: Counter;
  readonly inputSections: Counter;
  readonly outputSections: Counter;

  constructor(registry: Registry) {
    this.merges = counter(registry, 'floe_objectstore_merges_total', 'Objects built by merging sections of other objects (compaction).', ['outcome']);
    this.inputBytes = counter(registry, 'floe_objectstore_merge_input_bytes_total', 'Section bytes read by merges.', []);
    this.outputBytes = counter(registry, 'floe_objectstore_merge_output_bytes_total', 'Object bytes written by merges.', []);
    this.inputSections = counter(registry, 'floe_objectstore_merge_input_sections_total', 'Sections read by merges.', []);
    this.outputSections = counter(registry, 'floe_objectstore_merge_output_sections_total', 'Sections written by merges.', []);
  }
}
