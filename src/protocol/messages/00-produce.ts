// Produce (key 0), versions 0–9. Request: transactional_id(v3+) acks timeout_ms
// [topic [partition records]]. Response: [topic [partition error_code base_offset
// log_append_time_ms(v2+) log_start_offset(v5+) record_errors(v8+) error_message(v8+)]]
// throttle_time_ms(v1+, last).
import { defineApi } from '../api.ts';
import { array, f, int16, int32, int64, nullableString, records, string, struct } from '../schema.ts';

export const Produce = defineApi({
  key: 0,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: 9,
  request: struct({
    transactionalId: f(nullableString, { since: 3 }),
    acks: f(int16),
    timeoutMs: f(int32),
    topicData: f(
      array(
        struct({
          name: f(string),
          partitionData: f(array(struct({ index: f(int32), records: f(records) }))),
        }),
      ),
    ),
  }),
  response: struct({
    responses: f(
      array(
        struct({
          name: f(string),
          partitionResponses: f(
            array(
              struct({
                index: f(int32),
                errorCode: f(int16),
                baseOffset: f(int64),
                logAppendTimeMs: f(int64, { since: 2, default: -1 }),
                logStartOffset: f(int64, { since: 5, default: -1 }),
                recordErrors: f(
                  array(struct({ batchIndex: f(int32), batchIndexErrorMessage: f(nullableString) })),
                  { since: 8 },
                ),
                errorMessage: f(nullableString, { since: 8 }),
              }),
            ),
          ),
        }),
      ),
    ),
    throttleTimeMs: f(int32, { since: 1 }),
  }),
});
