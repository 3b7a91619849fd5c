// OffsetCommit (key 8), versions 0–8 (9+ name topics by id). Request: group_id
// generation_id(v1+) member_id(v1+) group_instance_id(v7+) retention_time_ms(v2–4)
// [topic [partition committed_offset committed_leader_epoch(v6+) commit_timestamp(v1 only)
// committed_metadata]]. Response: throttle_time_ms(v3+) [topic [partition error_code]].
import { defineApi } from '../api.ts';
import { array, f, int16, int32, int64, nullableString, string, struct } from '../schema.ts';

export const OffsetCommit = defineApi({
  key: 8,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 8,
  flexibleFrom: 8,
  request: struct({
    groupId: f(string),
    generationId: f(int32, { since: 1, default: -1 }),
    memberId: f(string, { since: 1 }),
    groupInstanceId: f(nullableString, { since: 7, default: null }),
    retentionTimeMs: f(int64, { since: 2, until: 4, default: -1 }),
    topics: f(
      array(
        struct({
          name: f(string),
          partitions: f(
            array(
              struct({
                partitionIndex: f(int32),
                committedOffset: f(int64),
                committedLeaderEpoch: f(int32, { since: 6, default: -1 }),
                commitTimestamp: f(int64, { since: 1, until: 1, default: -1 }),
                committedMetadata: f(nullableString),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 3 }),
    topics: f(
      array(
        struct({
          name: f(string),
          partitions: f(array(struct({ partitionIndex: f(int32), errorCode: f(int16) }))),
        }),
      ),
    ),
  }),
});
