// ListGroups (key 16), versions 0–4 (5+ add group types). Request: states_filter(v4+).
// Response: throttle_time_ms(v1+) error_code [group_id protocol_type group_state(v4+)].
import { defineApi } from '../api.ts';
import { array, f, int16, int32, string, struct } from '../schema.ts';

export const ListGroups = defineApi({
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  request: struct({
    statesFilter: f(array(string), { since: 4 }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 1 }),
    errorCode: f(int16),
    groups: f(array(struct({ groupId: f(string), protocolType: f(string), groupState: f(string, { since: 4 }) }))),
  }),
});
