/**
 * `floe perf produce`: a producer load generator in the spirit of Kafka's
 * kafka-producer-perf-test, built on floe's own codec so that the generator is not the
 * bottleneck. Records are random (incompressible) bytes; batches are built once from a
 * template and, for the idempotent producer, re-sequenced and re-signed (CRC-32C) per
 * send. Each request carries one batch of one partition; partitions are served
 * round-robin with up to `maxInFlight` requests outstanding per broker connection.
 *
 * Latency is per record: every record of a batch gets the latency of its request (send to
 * response). acks=0 has no responses, so only throughput is reported for it.
 */
import { randomBytes } from 'node:crypto';
import type { KafkaConnection } from '../client/connection.ts';
import { crc32c } from '../protocol/crc32c.ts';
import { ErrorCode, errorName } from '../protocol/errors.ts';
import { Produce } from '../protocol/messages/00-produce.ts';
import { ApiVersions } from '../protocol/messages/18-api-versions.ts';
import { InitProducerId } from '../protocol/messages/22-init-producer-id.ts';
import { encodeRecordBatch } from '../protocol/records.ts';
import { ClusterClient, type Leader } from './cluster-client.ts';
import { latencyHistogram, summarize, type LatencySummary } from './histogram.ts';

export interface ProducePerfOptions {
  bootstrap: string;
  topic: string;
  numRecords: number;
  recordSize: number;
  acks: -1 | 0 | 1;
  /** Bytes of record values per batch (Kafka's batch.size). */
  batchSize: number;
  /** Requests outstanding per broker connection (max.in.flight.requests.per.connection). */
  maxInFlight: number;
  idempotence: boolean;
  timeoutMs: number;
}

export interface ProducePerfResult {
  tool: 'floe perf produce';
  topic: string;
  records: number;
  recordSize: number;
  acks: number;
  batchSize: number;
  recordsPerBatch: number;
  maxInFlight: number;
  idempotence: boolean;
  partitions: number;
  durationMs: number;
  recordsPerSec: number;
  mbPerSec: number;
  latency: LatencySummary | null;
  errors: Record<string, number>;
}

const PRODUCE_VERSION = 7;
const INIT_PRODUCER_ID_VERSION = 1;

interface BatchTemplate {
  bytes: Buffer;
  records: number;
}

function template(records: number, recordSize: number): BatchTemplate {
  const values = Array.from({ length: records }, () => ({ value: randomBytes(recordSize) }));
  return { bytes: encodeRecordBatch(values, { baseTimestamp: Date.now() }), records };
}

/** A copy of the template carrying this producer's id, epoch and base sequence, re-signed. */
function sequenced(t: BatchTemplate, producerId: number, epoch: number, baseSequence: number): Buffer {
  const b = Buffer.allocUnsafe(t.bytes.length);
  t.bytes.copy(b);
  const hi = Math.floor(producerId / 2 ** 32);
  b.writeInt32BE(hi, 43);
  b.writeUInt32BE(producerId - hi * 2 ** 32, 47);
  b.writeInt16BE(epoch, 51);
  b.writeInt32BE(baseSequence, 53);
  b.writeUInt32BE(crc32c(b.subarray(21)), 17);
  return b;
}

export async function producePerf(opts: ProducePerfOptions): Promise<ProducePerfResult> {
  const client = await ClusterClient.connect(opts.bootstrap, 'floe-perf-producer');
  try {
    const leaders = await client.leaders(opts.topic);
    const recordsPerBatch = Math.max(1, Math.floor(opts.batchSize / opts.recordSize));
    const full = template(recordsPerBatch, opts.recordSize);
    let producerId = -1;
    let epoch = -1;
    if (opts.idempotence) {
      const res = await client.seedConnection.request(InitProducerId, INIT_PRODUCER_ID_VERSION, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1,
        producerEpoch: -1,
      });
      if (res.errorCode !== ErrorCode.NONE) throw new Error(`InitProducerId failed: ${errorName(res.errorCode)}`);
      producerId = res.producerId;
      epoch = res.producerEpoch;
    }
    const connections = new Map<number, KafkaConnection>();
    for (const l of leaders) if (!connections.has(l.brokerId)) connections.set(l.brokerId, await client.connectionTo(l.brokerId));

    const histogram = latencyHistogram();
    const errors: Record<string, number> = {};
    const sequences = new Map<number, number>();
    const inFlight = new Map<number, number>();
    let sent = 0;
    let next = 0;
    const started = performance.now();

    // One sender loop per broker, each keeping up to maxInFlight requests outstanding.
    const byBroker = new Map<number, Leader[]>();
    for (const l of leaders) byBroker.set(l.brokerId, [...(byBroker.get(l.brokerId) ?? []), l]);

    const takeBatch = (): BatchTemplate | null => {
      if (sent >= opts.numRecords) return null;
      const n = Math.min(recordsPerBatch, opts.numRecords - sent);
      sent += n;
      return n === recordsPerBatch ? full : template(n, opts.recordSize);
    };

    const senders = [...byBroker].map(async ([brokerId, parts]) => {
      const conn = connections.get(brokerId)!;
      const outstanding = new Set<Promise<void>>();
      for (;;) {
        const t = takeBatch();
        if (!t) break;
        const leader = parts[next++ % parts.length]!;
        let records = t.bytes;
        if (opts.idempotence) {
          const seq = sequences.get(leader.partition) ?? 0;
          records = sequenced(t, producerId, epoch, seq);
          sequences.set(leader.partition, seq + t.records);
        }
        const body = {
          transactionalId: null,
          acks: opts.acks,
          timeoutMs: opts.timeoutMs,
          topicData: [{ name: opts.topic, partitionData: [{ index: leader.partition, records }] }],
        };
        if (opts.acks === 0) {
          conn.send(Produce, PRODUCE_VERSION, body);
          await conn.drained();
          continue;
        }
        inFlight.set(brokerId, (inFlight.get(brokerId) ?? 0) + 1);
        const sentAt = performance.now();
        const p = conn.request(Produce, PRODUCE_VERSION, body).then((res) => {
          const us = Math.max(1, Math.round((performance.now() - sentAt) * 1000));
          histogram.recordValueWithCount(us, t.records);
          const code = res.responses[0]?.partitionResponses[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
          if (code !== ErrorCode.NONE) errors[errorName(code)] = (errors[errorName(code)] ?? 0) + t.records;
        });
        const tracked: Promise<void> = p.finally(() => outstanding.delete(tracked));
        outstanding.add(tracked);
        if (outstanding.size >= opts.maxInFlight) await Promise.race(outstanding);
      }
      await Promise.all(outstanding);
    });
    await Promise.all(senders);
    if (opts.acks === 0) {
      // Without responses, one final round trip on every connection marks the point where
      // the broker has processed everything sent before it (responses are in order).
      await Promise.all([...connections.values()].map((c) => c.request(ApiVersions, 0, { clientSoftwareName: '', clientSoftwareVersion: '' })));
    }
    const durationMs = performance.now() - started;
    const bytes = opts.numRecords * opts.recordSize;
    return {
      tool: 'floe perf produce',
      topic: opts.topic,
      records: opts.numRecords,
      recordSize: opts.recordSize,
      acks: opts.acks,
      batchSize: opts.batchSize,
      recordsPerBatch,
      maxInFlight: opts.maxInFlight,
      idempotence: opts.idempotence,
      partitions: leaders.length,
      durationMs: Math.round(durationMs),
      recordsPerSec: Math.round((opts.numRecords / durationMs) * 1000),
      mbPerSec: Math.round((bytes / 1024 / 1024 / (durationMs / 1000)) * 100) / 100,
      latency: opts.acks === 0 ? null : summarize(histogram),
      errors,
    };
  } finally {
    await client.close();
  }
}
