// DeleteRecords (key 21), versions 0–2. Request: [topic [partition offset]] timeout_ms.
// Response: throttle_time_ms [topic [partition low_watermark error_code]].
import { defineApi } from '../api.ts';
import { array, f, int16, int32, int64, string, struct } from '../schema.ts';

export const DeleteRecords = defineApi({
  key: 21,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 2,
  flexibleFrom: 2,
  request: struct({
    topics: f(array(struct({ name: f(string), partitions: f(array(struct({ partitionIndex: f(int32), offset: f(int64) }))) }))),
    timeoutMs: f(int32),
  }),
  response: struct({
    throttleTimeMs: f(int32),
    topics: f(
      array(
        struct({
          name: f(string),
          partitions: f(array(struct({ partitionIndex: f(int32), lowWatermark: f(int64), errorCode: f(int16) }))),
        }),
      ),
    ),
  }),
});
