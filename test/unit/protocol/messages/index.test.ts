import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as messages from '../../../../src/protocol/messages/index.ts';
import { ALL_APIS, API_BY_KEY } from '../../../../src/protocol/messages/index.ts';

/**
 * What KAFKA_PROTOCOL.md §2 says floe advertises (and the first flexible version): the
 * codec must implement at least these ranges, with these flexible versions.
 */
const ADVERTISED: readonly { key: number; min: number; max: number; flexibleFrom: number }[] = [
  { key: 0, min: 0, max: 9, flexibleFrom: 9 },
  { key: 1, min: 4, max: 12, flexibleFrom: 12 },
  { key: 2, min: 1, max: 5, flexibleFrom: 6 },
  { key: 3, min: 0, max: 9, flexibleFrom: 9 },
  { key: 8, min: 2, max: 8, flexibleFrom: 8 },
  { key: 9, min: 1, max: 8, flexibleFrom: 6 },
  { key: 10, min: 0, max: 4, flexibleFrom: 3 },
  { key: 11, min: 0, max: 6, flexibleFrom: 6 },
  { key: 12, min: 0, max: 4, flexibleFrom: 4 },
  { key: 13, min: 0, max: 4, flexibleFrom: 4 },
  { key: 14, min: 0, max: 4, flexibleFrom: 4 },
  { key: 15, min: 0, max: 5, flexibleFrom: 5 },
  { key: 16, min: 0, max: 4, flexibleFrom: 3 },
  { key: 18, min: 0, max: 3, flexibleFrom: 3 },
  { key: 19, min: 0, max: 7, flexibleFrom: 5 },
  { key: 20, min: 0, max: 6, flexibleFrom: 4 },
  { key: 22, min: 0, max: 4, flexibleFrom: 2 },
  // DescribeConfigs and CreatePartitions are advertised below their flexible versions.
  { key: 32, min: 0, max: 2, flexibleFrom: 4 },
  { key: 37, min: 0, max: 1, flexibleFrom: 2 },
  // Optional APIs.
  { key: 21, min: 0, max: 2, flexibleFrom: 2 },
  { key: 33, min: 0, max: 2, flexibleFrom: 2 },
  { key: 42, min: 0, max: 2, flexibleFrom: 2 },
];

describe('ALL_APIS', () => {
  it('lists every API once, ordered by key', () => {
    const keys = ALL_APIS.map((a) => a.key);
    expect(keys).toStrictEqual([...keys].sort((a, b) => a - b));
    expect(new Set(keys).size).toBe(keys.length);
    expect(API_BY_KEY.size).toBe(ALL_APIS.length);
  });

  it('exports each spec under its own name', () => {
    const exported = messages as unknown as Record<string, unknown>;
    for (const api of ALL_APIS) expect(exported[api.name]).toBe(api);
  });

  it.each(ADVERTISED)('implements at least the advertised range of key $key with its flexible version', ({ key, min, max, flexibleFrom }) => {
    const api = API_BY_KEY.get(key);
    expect(api).toBeDefined();
    expect(api!.minVersion).toBeLessThanOrEqual(min);
    expect(api!.maxVersion).toBeGreaterThanOrEqual(max);
    expect(api!.flexibleFrom).toBe(flexibleFrom);
  });

  it('has one file per API, named by its zero-padded key', () => {
    const dir = fileURLToPath(new URL('../../../../src/protocol/messages/', import.meta.url));
    const files = readdirSync(dir).filter((n) => /^\d\d-.*\.ts$/.test(n));
    expect(files.map((n) => Number(n.slice(0, 2))).sort((a, b) => a - b)).toStrictEqual(ALL_APIS.map((a) => a.key));
    for (const api of ALL_APIS) {
      const kebab = api.name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
      expect(files).toContain(`${String(api.key).padStart(2, '0')}-${kebab}.ts`);
    }
  });
});
