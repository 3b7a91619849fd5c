// DeleteTopics (key 20), versions 0–6. Request: v0–5 [topic_name]; v6 [name topic_id]
// (a null name means "by id"); timeout_ms. Response: throttle_time_ms(v1+) [name
// topic_id(v6+) error_code error_message(v5+)]; the name may be null from v6 only.
import { defineApi } from '../api.ts';
import { array, f, int16, int32, nullableString, string, struct, uuid } from '../schema.ts';

export const DeleteTopics = defineApi({
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  flexibleFrom: 4,
  request: struct({
    topics: f(array(struct({ name: f(nullableString, { default: null }), topicId: f(uuid) })), { since: 6 }),
    topicNames: f(array(string), { until: 5 }),
    timeoutMs: f(int32),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 1 }),
    responses: f(
      array(
        struct({
          name: f(nullableString, { nullableSince: 6 }),
          topicId: f(uuid, { since: 6 }),
          errorCode: f(int16),
          errorMessage: f(nullableString, { since: 5, default: null }),
        }),
      ),
    ),
  }),
});
