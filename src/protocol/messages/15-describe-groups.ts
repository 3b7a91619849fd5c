// DescribeGroups (key 15), versions 0–5. Request: [group] include_authorized_operations(v3+).
// Response: throttle_time_ms(v1+) [error_code group_id group_state protocol_type
// protocol_data [member_id group_instance_id(v4+) client_id client_host member_metadata
// member_assignment] authorized_operations(v3+)].
import { defineApi } from '../api.ts';
import { array, bool, bytes, f, int16, int32, nullableString, string, struct } from '../schema.ts';

/** Kafka's "authorized operations were not requested" value. */
const AUTHORIZED_OPERATIONS_OMITTED = -2147483648;

export const DescribeGroups = defineApi({
  key: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 5,
  request: struct({
    groups: f(array(string)),
    includeAuthorizedOperations: f(bool, { since: 3 }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 1 }),
    groups: f(
      array(
        struct({
          errorCode: f(int16),
          groupId: f(string),
          groupState: f(string),
          protocolType: f(string),
          protocolData: f(string),
          members: f(
            array(
              struct({
                memberId: f(string),
                groupInstanceId: f(nullableString, { since: 4, default: null }),
                clientId: f(string),
                clientHost: f(string),
                memberMetadata: f(bytes),
                memberAssignment: f(bytes),
              }),
            ),
          ),
          authorizedOperations: f(int32, { since: 3, default: AUTHORIZED_OPERATIONS_OMITTED }),
        }),
      ),
    ),
  }),
});
