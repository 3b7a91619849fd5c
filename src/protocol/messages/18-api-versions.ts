// ApiVersions (key 18). Request v3+: client software name and version. Response:
// error_code [api_key min_version max_version] throttle_time_ms(v1+).
import { defineApi } from '../api.ts';
import { array, f, int16, int32, string, struct } from '../schema.ts';

export const ApiVersions = defineApi({
  key: 18,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 3,
  flexibleFrom: 3,
  request: struct({
    clientSoftwareName: f(string, { since: 3 }),
    clientSoftwareVersion: f(string, { since: 3 }),
  }),
  response: struct({
    errorCode: f(int16),
    apiKeys: f(array(struct({ apiKey: f(int16), minVersion: f(int16), maxVersion: f(int16) }))),
    throttleTimeMs: f(int32, { since: 1 }),
  }),
});
