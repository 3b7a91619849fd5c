// CreateTopics (key 19), versions 0–7. Request: [name num_partitions replication_factor
// [partition_index [broker_id]] [config_name config_value]] timeout_ms validate_only(v1+).
// Response: throttle_time_ms(v2+) [name topic_id(v7+) error_code error_message(v1+)
// num_partitions(v5+) replication_factor(v5+) configs(v5+, nullable)
// [name value read_only config_source is_sensitive]]. The tagged topic_config_error_code
// (v5+) is skipped when read and never written.
import { defineApi } from '../api.ts';
import { array, bool, f, int16, int32, int8, nullableArray, nullableString, string, struct, uuid } from '../schema.ts';

export const CreateTopics = defineApi({
  key: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,
  flexibleFrom: 5,
  request: struct({
    topics: f(
      array(
        struct({
          name: f(string),
          // -1 (v4+): use the broker default, or the manual assignment below.
          numPartitions: f(int32),
          replicationFactor: f(int16),
          assignments: f(array(struct({ partitionIndex: f(int32), brokerIds: f(array(int32)) }))),
          configs: f(array(struct({ name: f(string), value: f(nullableString) }))),
        }),
      ),
    ),
    timeoutMs: f(int32, { default: 60000 }),
    validateOnly: f(bool, { since: 1 }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 2 }),
    topics: f(
      array(
        struct({
          name: f(string),
          topicId: f(uuid, { since: 7 }),
          errorCode: f(int16),
          errorMessage: f(nullableString, { since: 1, default: null }),
          numPartitions: f(int32, { since: 5, default: -1 }),
          replicationFactor: f(int16, { since: 5, default: -1 }),
          configs: f(
            nullableArray(
              struct({
                name: f(string),
                value: f(nullableString),
                readOnly: f(bool),
                configSource: f(int8, { default: -1 }),
                isSensitive: f(bool),
              }),
              5,
            ),
            { since: 5 },
          ),
        }),
      ),
    ),
  }),
});
