// FindCoordinator (key 10), versions 0–4. Request: key(v0–3) key_type(v1+)
// coordinator_keys(v4+). Response v0–3: throttle_time_ms(v1+) error_code error_message(v1+)
// node_id host port; v4: throttle_time_ms [key node_id host port error_code error_message].
// key_type: 0 group, 1 transaction.
import { defineApi } from '../api.ts';
import { array, f, int16, int32, int8, nullableString, string, struct } from '../schema.ts';

export const FindCoordinator = defineApi({
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  request: struct({
    key: f(string, { until: 3 }),
    keyType: f(int8, { since: 1 }),
    coordinatorKeys: f(array(string), { since: 4 }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 1 }),
    errorCode: f(int16, { until: 3 }),
    errorMessage: f(nullableString, { since: 1, until: 3 }),
    nodeId: f(int32, { until: 3 }),
    host: f(string, { until: 3 }),
    port: f(int32, { until: 3 }),
    coordinators: f(
      array(
        struct({
          key: f(string),
          nodeId: f(int32),
          host: f(string),
          port: f(int32),
          errorCode: f(int16),
          errorMessage: f(nullableString),
        }),
      ),
      { since: 4 },
    ),
  }),
});
