// DescribeConfigs (key 32), versions 0–4. Request: [resource_type resource_name
// configuration_keys (null = all)] include_synonyms(v1+) include_documentation(v3+).
// Response: throttle_time_ms [error_code error_message resource_type resource_name [name
// value read_only is_default(v0 only) config_source(v1+) is_sensitive
// synonyms(v1+)[name value source] config_type(v3+) documentation(v3+)]].
import { defineApi } from '../api.ts';
import { array, bool, f, int16, int32, int8, nullableArray, nullableString, string, struct } from '../schema.ts';

export const DescribeConfigs = defineApi({
  key: 32,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  request: struct({
    resources: f(
      array(
        struct({
          resourceType: f(int8),
          resourceName: f(string),
          configurationKeys: f(nullableArray(string)),
        }),
      ),
    ),
    includeSynonyms: f(bool, { since: 1 }),
    includeDocumentation: f(bool, { since: 3 }),
  }),
  response: struct({
    throttleTimeMs: f(int32),
    results: f(
      array(
        struct({
          errorCode: f(int16),
          errorMessage: f(nullableString),
          resourceType: f(int8),
          resourceName: f(string),
          configs: f(
            array(
              struct({
                name: f(string),
                value: f(nullableString),
                readOnly: f(bool),
                isDefault: f(bool, { until: 0 }),
                // In v0 the source is implied by isDefault; -1 is Kafka's placeholder.
                configSource: f(int8, { since: 1, default: -1 }),
                isSensitive: f(bool),
                synonyms: f(array(struct({ name: f(string), value: f(nullableString), source: f(int8) })), { since: 1 }),
                configType: f(int8, { since: 3 }),
                documentation: f(nullableString, { since: 3 }),
              }),
            ),
          ),
        }),
      ),
    ),
  }),
});
