// SyncGroup (key 14), versions 0–4 (5+ add protocol type and name). Request: group_id
// generation_id member_id group_instance_id(v3+) [member_id assignment].
// Response: throttle_time_ms(v1+) error_code assignment.
import { defineApi } from '../api.ts';
import { array, bytes, f, int16, int32, nullableString, string, struct } from '../schema.ts';

export const SyncGroup = defineApi({
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: struct({
    groupId: f(string),
    generationId: f(int32),
    memberId: f(string),
    groupInstanceId: f(nullableString, { since: 3, default: null }),
    assignments: f(array(struct({ memberId: f(string), assignment: f(bytes) }))),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 1 }),
    errorCode: f(int16),
    assignment: f(bytes),
  }),
});
