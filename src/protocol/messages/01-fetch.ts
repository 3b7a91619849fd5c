// Fetch (key 1), versions 0–12 (13+ name topics by id). Request: replica_id max_wait_ms
// min_bytes max_bytes(v3+) isolation_level(v4+) session_id/epoch(v7+) [topic [partition
// current_leader_epoch(v9+) fetch_offset last_fetched_epoch(v12+) log_start_offset(v5+)
// partition_max_bytes]] forgotten_topics(v7+) rack_id(v11+).
// Response: throttle_time_ms(v1+) error_code(v7+) session_id(v7+) [topic [partition
// error_code high_watermark last_stable_offset(v4+) log_start_offset(v5+)
// aborted_transactions(v4+) preferred_read_replica(v11+) records]].
import { defineApi } from '../api.ts';
import { array, f, int16, int32, int64, int8, nullableArray, records, string, struct } from '../schema.ts';

export const Fetch = defineApi({
  key: 1,
  name: 'Fetch',
  minVersion: 0,
  maxVersion: 12,
  flexibleFrom: 12,
  request: struct({
    replicaId: f(int32, { default: -1 }),
    maxWaitMs: f(int32),
    minBytes: f(int32),
    maxBytes: f(int32, { since: 3, default: 0x7fffffff }),
    isolationLevel: f(int8, { since: 4 }),
    sessionId: f(int32, { since: 7 }),
    sessionEpoch: f(int32, { since: 7, default: -1 }),
    topics: f(
      array(
        struct({
          topic: f(string),
          partitions: f(
            array(
              struct({
                partition: f(int32),
                currentLeaderEpoch: f(int32, { since: 9, default: -1 }),
                fetchOffset: f(int64),
                lastFetchedEpoch: f(int32, { since: 12, default: -1 }),
                logStartOffset: f(int64, { since: 5, default: -1 }),
                partitionMaxBytes: f(int32),
              }),
            ),
          ),
        }),
      ),
    ),
    forgottenTopicsData: f(array(struct({ topic: f(string), partitions: f(array(int32)) })), { since: 7 }),
    rackId: f(string, { since: 11 }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 1 }),
    errorCode: f(int16, { since: 7 }),
    sessionId: f(int32, { since: 7 }),
    responses: f(
      array(
        struct({
          topic: f(string),
          partitions: f(
            array(
              struct({
                partitionIndex: f(int32),
                errorCode: f(int16),
                highWatermark: f(int64),
                lastStableOffset: f(int64, { since: 4, default: -1 }),
                logStartOffset: f(int64, { since: 5, default: -1 }),
                abortedTransactions: f(
                  nullableArray(struct({ producerId: f(int64), firstOffset: f(int64) }), 4),
                  { since: 4, default: null },
                ),
                preferredReadReplica: f(int32, { since: 11, default: -1 }),
                records: f(records),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
});
