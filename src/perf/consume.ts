/**
 * `floe perf consume`: reads a topic from the beginning with Fetch (one request in flight
 * per broker, as Kafka's consumer) until it has seen `numRecords` records or reached the
 * high watermarks it found at the start. Records are counted from batch headers; the
 * batches themselves are not decoded, as a consumer's deserialization is not what is
 * measured.
 */
import { ErrorCode, errorName } from '../protocol/errors.ts';
import { Fetch } from '../protocol/messages/01-fetch.ts';
import { scanBatches } from '../protocol/record-batch.ts';
import { ClusterClient } from './cluster-client.ts';

export interface ConsumePerfOptions {
  bootstrap: string;
  topic: string;
  /** Stop after this many records (Infinity: read to the high watermarks seen at start). */
  numRecords: number;
  /** max.partition.fetch.bytes */
  partitionFetchBytes: number;
  /** fetch.max.bytes */
  fetchMaxBytes: number;
}

export interface ConsumePerfResult {
  tool: 'floe perf consume';
  topic: string;
  records: number;
  bytes: number;
  fetches: number;
  durationMs: number;
  recordsPerSec: number;
  mbPerSec: number;
}

const FETCH_VERSION = 11;

export async function consumePerf(opts: ConsumePerfOptions): Promise<ConsumePerfResult> {
  const client = await ClusterClient.connect(opts.bootstrap, 'floe-perf-consumer');
  try {
    const leaders = await client.leaders(opts.topic);
    const offsets = new Map(leaders.map((l) => [l.partition, 0]));
    const ends = new Map<number, number>();
    let records = 0;
    let bytes = 0;
    let fetches = 0;
    const started = performance.now();
    const byBroker = new Map<number, number[]>();
    for (const l of leaders) byBroker.set(l.brokerId, [...(byBroker.get(l.brokerId) ?? []), l.partition]);
    const done = (p: number): boolean => ends.has(p) && offsets.get(p)! >= ends.get(p)!;

    await Promise.all(
      [...byBroker].map(async ([brokerId, partitions]) => {
        const conn = await client.connectionTo(brokerId);
        while (records < opts.numRecords && !partitions.every(done)) {
          const res = await conn.request(Fetch, FETCH_VERSION, {
            replicaId: -1,
            maxWaitMs: 100,
            minBytes: 1,
            maxBytes: opts.fetchMaxBytes,
            isolationLevel: 0,
            sessionId: 0,
            sessionEpoch: -1,
            topics: [
              {
                topic: opts.topic,
                partitions: partitions
                  .filter((p) => !done(p))
                  .map((p) => ({ partition: p, currentLeaderEpoch: -1, fetchOffset: offsets.get(p)!, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: opts.partitionFetchBytes })),
              },
            ],
            forgottenTopicsData: [],
            rackId: '',
          });
          fetches++;
          for (const t of res.responses) {
            for (const p of t.partitions) {
              if (p.errorCode !== ErrorCode.NONE) throw new Error(`fetch ${opts.topic}-${p.partitionIndex}: ${errorName(p.errorCode)}`);
              if (!ends.has(p.partitionIndex)) ends.set(p.partitionIndex, p.highWatermark);
              const data = p.records;
              if (!data || !Buffer.isBuffer(data) || data.length === 0) continue;
              let next = offsets.get(p.partitionIndex)!;
              scanBatches(data, (h) => {
                const last = h.baseOffset + h.lastOffsetDelta;
                if (last < next) return;
                records += h.recordCount - Math.max(0, next - h.baseOffset);
                next = last + 1;
              });
              bytes += data.length;
              offsets.set(p.partitionIndex, next);
            }
          }
        }
      }),
    );
    const durationMs = performance.now() - started;
    return {
      tool: 'floe perf consume',
      topic: opts.topic,
      records,
      bytes,
      fetches,
      durationMs: Math.round(durationMs),
      recordsPerSec: Math.round((records / durationMs) * 1000),
      mbPerSec: Math.round((bytes / 1024 / 1024 / (durationMs / 1000)) * 100) / 100,
    };
  } finally {
    await client.close();
  }
}
