// OffsetFetch (key 9), versions 0–8 (9+ name topics by id). v0–7 ask for one group:
// group_id [topic [partition]] (topics null = all, from v2); v8 asks for many:
// [group_id [topic [partition]]]; require_stable(v7+).
// Response v0–7: throttle_time_ms(v3+) [topic [partition committed_offset
// committed_leader_epoch(v5+) metadata error_code]] error_code(v2+); v8: throttle_time_ms
// [group_id [topic [partition committed_offset committed_leader_epoch metadata error_code]]
// error_code].
import { defineApi } from '../api.ts';
import { array, bool, f, int16, int32, int64, nullableArray, nullableString, string, struct } from '../schema.ts';

export const OffsetFetch = defineApi({
  key: 9,
  name: 'OffsetFetch',
  minVersion: 0,
  maxVersion: 8,
  flexibleFrom: 6,
  request: struct({
    groupId: f(string, { until: 7 }),
    topics: f(nullableArray(struct({ name: f(string), partitionIndexes: f(array(int32)) }), 2), { until: 7 }),
    groups: f(
      array(
        struct({
          groupId: f(string),
          topics: f(nullableArray(struct({ name: f(string), partitionIndexes: f(array(int32)) }))),
        }),
      ),
      { since: 8 },
    ),
    requireStable: f(bool, { since: 7 }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 3 }),
    topics: f(
      array(
        struct({
          name: f(string),
          partitions: f(
            array(
              struct({
                partitionIndex: f(int32),
                committedOffset: f(int64),
                committedLeaderEpoch: f(int32, { since: 5, default: -1 }),
                metadata: f(nullableString),
                errorCode: f(int16),
              }),
            ),
          ),
        }),
      ),
      { until: 7 },
    ),
    errorCode: f(int16, { since: 2, until: 7 }),
    groups: f(
      array(
        struct({
          groupId: f(string),
          topics: f(
            array(
              struct({
                name: f(string),
                partitions: f(
                  array(
                    struct({
                      partitionIndex: f(int32),
                      committedOffset: f(int64),
                      committedLeaderEpoch: f(int32, { default: -1 }),
                      metadata: f(nullableString),
                      errorCode: f(int16),
                    }),
                  ),
                ),
              }),
            ),
          ),
          errorCode: f(int16),
        }),
      ),
      { since: 8 },
    ),
  }),
});
