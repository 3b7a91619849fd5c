// Heartbeat (key 12), versions 0–4. Request: group_id generation_id member_id
// group_instance_id(v3+). Response: throttle_time_ms(v1+) error_code.
import { defineApi } from '../api.ts';
import { f, int16, int32, nullableString, string, struct } from '../schema.ts';

export const Heartbeat = defineApi({
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: struct({
    groupId: f(string),
    generationId: f(int32),
    memberId: f(string),
    groupInstanceId: f(nullableString, { since: 3, default: null }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 1 }),
    errorCode: f(int16),
  }),
});
