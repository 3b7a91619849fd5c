/**
 * Reads every record of a topic, partition by partition, up to the high watermarks, with
 * floe's own Fetch client: the read-back half of tests that must see exact contents and
 * offsets without depending on a consumer group.
 */
import type { KafkaConnection } from '../../src/client/connection.ts';
import { ErrorCode, errorName } from '../../src/protocol/errors.ts';
import { Fetch } from '../../src/protocol/messages/01-fetch.ts';
import { scanBatches } from '../../src/protocol/record-batch.ts';
import { decodeRecordBatch } from '../../src/protocol/records.ts';
import { ClusterClient } from '../../src/perf/cluster-client.ts';

export interface ReadRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  timestamp: number;
}

export async function readTopic(bootstrap: string, topic: string): Promise<ReadRecord[]> {
  const client = await ClusterClient.connect(bootstrap, 'floe-test-reader');
  try {
    const leaders = await client.leaders(topic);
    const out: ReadRecord[] = [];
    for (const l of leaders) {
      const conn: KafkaConnection = await client.connectionTo(l.brokerId);
      let offset = 0;
      for (;;) {
        const res = await conn.request(Fetch, 11, {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 8 * 1024 * 1024,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic, partitions: [{ partition: l.partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 4 * 1024 * 1024 }] }],
          forgottenTopicsData: [],
          rackId: '',
        });
        const p = res.responses[0]!.partitions[0]!;
        // Retention or DeleteRecords moved the start: read from where the log begins now.
        if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE && offset < p.logStartOffset) {
          offset = p.logStartOffset;
          continue;
        }
        if (p.errorCode !== ErrorCode.NONE) throw new Error(`fetch ${topic}-${l.partition}@${offset}: ${errorName(p.errorCode)}`);
        const data = p.records;
        if (!Buffer.isBuffer(data) || data.length === 0) break;
        scanBatches(data, (_h, at) => {
          for (const r of decodeRecordBatch(data, at)) {
            if (r.offset < offset) continue;
            out.push({ partition: l.partition, offset: r.offset, key: r.key?.toString('utf8') ?? null, value: r.value?.toString('utf8') ?? null, timestamp: r.timestamp });
          }
        });
        const last = out.filter((r) => r.partition === l.partition).at(-1);
        const next = last ? last.offset + 1 : offset;
        if (next === offset || next >= p.highWatermark) break;
        offset = next;
      }
    }
    return out;
  } finally {
    await client.close();
  }
}
