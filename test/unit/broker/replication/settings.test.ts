import { describe, expect, it } from 'vitest';
import { REPLICATION_DEFAULTS, replicationSettings } from '../../../../src/broker/replication/settings.ts';
import { InvalidConfigError } from '../../../../src/broker/topic-config.ts';

describe('replicationSettings', () => {
  it('has Kafka\'s defaults and reads each setting by its Kafka name', () => {
    expect(replicationSettings({})).toEqual(REPLICATION_DEFAULTS);
    expect(REPLICATION_DEFAULTS.lagTimeMaxMs).toBe(30_000);
    const s = replicationSettings({ 'replica.lag.time.max.ms': '2000', 'replica.fetch.wait.max.ms': '100', 'replica.high.watermark.checkpoint.interval.ms': '1000' });
    expect([s.lagTimeMaxMs, s.fetchWaitMaxMs, s.highWatermarkCheckpointIntervalMs]).toEqual([2000, 100, 1000]);
  });

  const refused: { name: string; settings: Record<string, string>; message: RegExp }[] = [
    { name: 'a fetch wait as long as the lag time (idle followers would drop out)', settings: { 'replica.lag.time.max.ms': '500' }, message: /must be below replica.lag.time.max.ms/ },
    { name: 'a per-partition fetch size above the per-fetch one', settings: { 'replica.fetch.max.bytes': '20000000' }, message: /must not exceed replica.fetch.response.max.bytes/ },
    { name: 'a value that is not a number', settings: { 'replica.fetch.backoff.ms': 'soon' }, message: /not a number/ },
    { name: 'zero', settings: { 'replica.fetch.min.bytes': '0' }, message: /positive integer/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      expect(() => replicationSettings(c.settings)).toThrow(InvalidConfigError);
      expect(() => replicationSettings(c.settings)).toThrow(c.message);
    });
  }
});
