// LeaveGroup (key 13), versions 0–4 (5+ add a reason). Request: group_id member_id(v0–2)
// [member_id group_instance_id](v3+). Response: throttle_time_ms(v1+) error_code
// [member_id group_instance_id error_code](v3+).
import { defineApi } from '../api.ts';
import { array, f, int16, int32, nullableString, string, struct } from '../schema.ts';

export const LeaveGroup = defineApi({
  key: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: struct({
    groupId: f(string),
    memberId: f(string, { until: 2 }),
    members: f(array(struct({ memberId: f(string), groupInstanceId: f(nullableString, { default: null }) })), { since: 3 }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 1 }),
    errorCode: f(int16),
    members: f(
      array(struct({ memberId: f(string), groupInstanceId: f(nullableString, { default: null }), errorCode: f(int16) })),
      { since: 3 },
    ),
  }),
});
