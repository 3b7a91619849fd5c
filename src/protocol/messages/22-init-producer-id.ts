// InitProducerId (key 22), versions 0–4. Request: transactional_id transaction_timeout_ms
// producer_id(v3+) producer_epoch(v3+). Response: throttle_time_ms error_code producer_id
// producer_epoch.
import { defineApi } from '../api.ts';
import { f, int16, int32, int64, nullableString, struct } from '../schema.ts';

export const InitProducerId = defineApi({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 2,
  request: struct({
    transactionalId: f(nullableString),
    transactionTimeoutMs: f(int32),
    producerId: f(int64, { since: 3, default: -1 }),
    producerEpoch: f(int16, { since: 3, default: -1 }),
  }),
  response: struct({
    throttleTimeMs: f(int32),
    errorCode: f(int16),
    producerId: f(int64, { default: -1 }),
    producerEpoch: f(int16),
  }),
});
