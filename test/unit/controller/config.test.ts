/**
 * The controller's shared-storage configuration as pure functions: which object store the
 * flags and FLOE_S3_* environment name (the embedded s3rver's credentials for an endpoint
 * given without keys), the --wal-nodes list and the ack quorum.
 */
import { describe, expect, it } from 'vitest';
import { objectStoreOptionsFrom } from '../../../objectstore/s3-object-store.ts';
import { ackQuorumFor, parseWalNodes } from '../../../controller/wal-recovery.ts';

describe('objectStoreOptionsFrom', () => {
  const cases: { name: string; flags: { s3Endpoint?: string; s3Bucket?: string }; env: Record<string, string>; want: unknown }[] = [
    { name: 'nothing configured: no object store', flags: {}, env: {}, want: null },
    {
      name: 'an endpoint without keys: the embedded s3rver',
      flags: { s3Endpoint: 'http://127.0.0.1:9000', s3Bucket: 'b' },
      env: {},
      want: { endpoint: 'http://127.0.0.1:9000', bucket: 'b', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true, region: 'us-east-1' },
    },
    {
      name: 'an endpoint with keys in the environment: those keys, the environment\'s bucket',
      flags: { s3Endpoint: 'http://minio:9000' },
      env: { FLOE_S3_ACCESS_KEY_ID: 'k', FLOE_S3_SECRET_ACCESS_KEY: 's', FLOE_S3_BUCKET: 'env-bucket', FLOE_S3_REGION: 'eu-west-1' },
      want: { endpoint: 'http://minio:9000', bucket: 'env-bucket', accessKeyId: 'k', secretAccessKey: 's', forcePathStyle: true, region: 'eu-west-1' },
    },
    { name: 'only the environment: S3 as it describes it', flags: {}, env: { FLOE_S3_BUCKET: 'prod' }, want: { bucket: 'prod', region: 'us-east-1', forcePathStyle: false } },
    { name: '--s3-bucket alone: AWS S3 with the default chain', flags: { s3Bucket: 'x' }, env: {}, want: { bucket: 'x', forcePathStyle: false } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = objectStoreOptionsFrom(c.flags, c.env);
      if (c.want === null) expect(got).toBeNull();
      else expect(got).toMatchObject(c.want as Record<string, unknown>);
    });
  }

  it('refuses an endpoint that is not an http(s) URL, and keys given halfway', () => {
    expect(() => objectStoreOptionsFrom({ s3Endpoint: 'minio:9000' }, {})).toThrow(/http/);
    expect(() => objectStoreOptionsFrom({ s3Endpoint: 'http://minio:9000' }, { FLOE_S3_ACCESS_KEY_ID: 'k' })).toThrow(/both/);
  });
});

describe('WAL nodes and quorum', () => {
  it('parses host:port lists, IPv6 in brackets included', () => {
    expect(parseWalNodes('127.0.0.1:7001, 127.0.0.1:7002,[::1]:7003')).toEqual([
      { host: '127.0.0.1', port: 7001 },
      { host: '127.0.0.1', port: 7002 },
      { host: '::1', port: 7003 },
    ]);
  });

  for (const bad of ['', 'host', 'host:0', 'host:70000', ':7001', 'a:1,a:1']) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => parseWalNodes(bad)).toThrow(expect.objectContaining({ code: 'FLOE_ERR_CONTROLLER_CONFIG' }) as Error);
    });
  }

  const quorums: [nodes: number, given: number | undefined, want: number | 'error'][] = [
    [3, undefined, 2],
    [1, undefined, 1],
    [4, undefined, 3],
    [5, undefined, 3],
    [3, 1, 1],
    [3, 3, 3],
    [3, 4, 'error'],
    [3, 0, 'error'],
  ];
  for (const [nodes, given, want] of quorums) {
    it(`takes ${String(want)} as the ack quorum of ${nodes} nodes given ${String(given)}`, () => {
      if (want === 'error') expect(() => ackQuorumFor(nodes, given)).toThrow(/quorum/);
      else expect(ackQuorumFor(nodes, given)).toBe(want);
    });
  }
});
