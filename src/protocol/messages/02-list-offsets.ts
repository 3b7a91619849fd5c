// ListOffsets (key 2), versions 0–5 (6+ flexible). Request: replica_id isolation_level(v2+)
// [topic [partition current_leader_epoch(v4+) timestamp max_num_offsets(v0 only)]].
// Response: throttle_time_ms(v2+) [topic [partition error_code old_style_offsets(v0 only)
// timestamp(v1+) offset(v1+) leader_epoch(v4+)]].
// Version 0 is the old shape: it asks for up to max_num_offsets offsets and answers a list
// of them; from v1 on there is exactly one offset and its timestamp.
import { defineApi } from '../api.ts';
import { array, f, int16, int32, int64, int8, string, struct } from '../schema.ts';

export const ListOffsets = defineApi({
  key: 2,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 6,
  request: struct({
    replicaId: f(int32, { default: -1 }),
    isolationLevel: f(int8, { since: 2 }),
    topics: f(
      array(
        struct({
          name: f(string),
          partitions: f(
            array(
              struct({
                partitionIndex: f(int32),
                currentLeaderEpoch: f(int32, { since: 4, default: -1 }),
                timestamp: f(int64),
                maxNumOffsets: f(int32, { until: 0, default: 1 }),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 2 }),
    topics: f(
      array(
        struct({
          name: f(string),
          partitions: f(
            array(
              struct({
                partitionIndex: f(int32),
                errorCode: f(int16),
                oldStyleOffsets: f(array(int64), { until: 0 }),
                timestamp: f(int64, { since: 1, default: -1 }),
                offset: f(int64, { since: 1, default: -1 }),
                leaderEpoch: f(int32, { since: 4, default: -1 }),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
});
