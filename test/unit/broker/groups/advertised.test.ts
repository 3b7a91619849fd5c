import { describe, expect, it } from 'vitest';
import { brokerApis } from '../../../../src/broker/apis/index.ts';

// The group APIs' advertised ranges: KAFKA_PROTOCOL.md §2, and what the clients gate on.
describe('advertised group API versions', () => {
  const advertised = new Map(brokerApis().advertised().map((a) => [a.apiKey, [a.minVersion, a.maxVersion]]));

  it.each([
    ['OffsetCommit', 8, 2, 8],
    ['OffsetFetch', 9, 1, 8],
    ['FindCoordinator', 10, 0, 4],
    ['JoinGroup', 11, 0, 6],
    ['Heartbeat', 12, 0, 4],
    ['LeaveGroup', 13, 0, 4],
    ['SyncGroup', 14, 0, 4],
    ['DescribeGroups', 15, 0, 5],
    ['ListGroups', 16, 0, 4],
    ['DeleteGroups', 42, 0, 2],
  ])('%s (%i) is advertised at %i–%i', (_name, key, min, max) => {
    expect(advertised.get(key)).toEqual([min, max]);
  });

  it("meets librdkafka's balanced-consumer gate: each required range overlaps the advertised one", () => {
    // rd_kafka_feature_map, RD_KAFKA_FEATURE_BROKER_BALANCED_CONSUMER.
    const gate: [number, number, number][] = [
      [10, 0, 0],
      [8, 1, 2],
      [9, 1, 1],
      [11, 0, 0],
      [14, 0, 0],
      [12, 0, 0],
      [13, 0, 0],
    ];
    for (const [key, min, max] of gate) {
      const [aMin, aMax] = advertised.get(key)!;
      expect(min <= aMax! && aMin! <= max, `key ${key}`).toBe(true);
    }
  });

  it('covers the versions kafkajs 2.2.4 uses', () => {
    const used: [number, number][] = [
      [8, 5],
      [9, 4],
      [10, 2],
      [11, 5],
      [12, 3],
      [13, 3],
      [14, 3],
      [15, 2],
      [16, 2],
      [42, 1],
    ];
    for (const [key, v] of used) {
      const [min, max] = advertised.get(key)!;
      expect(v >= min! && v <= max!, `key ${key} v${v}`).toBe(true);
    }
  });
});
