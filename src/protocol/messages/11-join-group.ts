// JoinGroup (key 11), versions 0–6 (7+ add protocol_type to the response and a reason).
// Request: group_id session_timeout_ms rebalance_timeout_ms(v1+) member_id
// group_instance_id(v5+) protocol_type [name metadata].
// Response: throttle_time_ms(v2+) error_code generation_id protocol_name leader member_id
// [member_id group_instance_id(v5+) metadata].
import { defineApi } from '../api.ts';
import { array, bytes, f, int16, int32, nullableString, string, struct } from '../schema.ts';

export const JoinGroup = defineApi({
  key: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 6,
  flexibleFrom: 6,
  request: struct({
    groupId: f(string),
    sessionTimeoutMs: f(int32),
    // Absent in v0, where the session timeout is also the rebalance timeout.
    rebalanceTimeoutMs: f(int32, { since: 1, default: -1 }),
    memberId: f(string),
    groupInstanceId: f(nullableString, { since: 5, default: null }),
    protocolType: f(string),
    protocols: f(array(struct({ name: f(string), metadata: f(bytes) }))),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 2 }),
    errorCode: f(int16),
    generationId: f(int32, { default: -1 }),
    protocolName: f(string),
    leader: f(string),
    memberId: f(string),
    members: f(
      array(
        struct({
          memberId: f(string),
          groupInstanceId: f(nullableString, { since: 5, default: null }),
          metadata: f(bytes),
        }),
      ),
    ),
  }),
});
