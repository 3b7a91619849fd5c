// AlterConfigs (key 33), versions 0–2. Request: [resource_type resource_name [name value]]
// validate_only. Response: throttle_time_ms [error_code error_message resource_type
// resource_name].
import { defineApi } from '../api.ts';
import { array, bool, f, int16, int32, int8, nullableString, string, struct } from '../schema.ts';

export const AlterConfigs = defineApi({
  key: 33,
  name: 'AlterConfigs',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: struct({
    resources: f(
      array(
        struct({
          resourceType: f(int8),
          resourceName: f(string),
          configs: f(array(struct({ name: f(string), value: f(nullableString) }))),
        }),
      ),
    ),
    validateOnly: f(bool),
  }),
  response: struct({
    throttleTimeMs: f(int32),
    responses: f(
      array(
        struct({
          errorCode: f(int16),
          errorMessage: f(nullableString),
          resourceType: f(int8),
          resourceName: f(string),
        }),
      ),
    ),
  }),
});
