// DeleteGroups (key 42), versions 0–2. Request: [group_name]. Response: throttle_time_ms
// [group_id error_code].
import { defineApi } from '../api.ts';
import { array, f, int16, int32, string, struct } from '../schema.ts';

export const DeleteGroups = defineApi({
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: struct({
    groupsNames: f(array(string)),
  }),
  response: struct({
    throttleTimeMs: f(int32),
    results: f(array(struct({ groupId: f(string), errorCode: f(int16) }))),
  }),
});
