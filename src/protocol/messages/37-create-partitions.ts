// CreatePartitions (key 37), versions 0–3. Request: [name count assignments (nullable)
// [[broker_id]]] timeout_ms validate_only. Response: throttle_time_ms [name error_code
// error_message].
import { defineApi } from '../api.ts';
import { array, bool, f, int16, int32, nullableArray, nullableString, string, struct } from '../schema.ts';

export const CreatePartitions = defineApi({
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 2,
  request: struct({
    topics: f(
      array(
        struct({
          name: f(string),
          count: f(int32),
          assignments: f(nullableArray(struct({ brokerIds: f(array(int32)) }))),
        }),
      ),
    ),
    timeoutMs: f(int32),
    validateOnly: f(bool),
  }),
  response: struct({
    throttleTimeMs: f(int32),
    results: f(array(struct({ name: f(string), errorCode: f(int16), errorMessage: f(nullableString, { default: null }) }))),
  }),
});
