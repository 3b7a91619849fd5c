/**
 * The object store a process of the shared-storage cluster talks to: the embedded
 * endpoint (s3rver, its fixed credentials) when an endpoint is given on the command line,
 * else S3, MinIO or any S3-compatible store configured by FLOE_S3_* variables.
 */
import type { Registry } from 'prom-client';
import { embeddedS3Options, S3ObjectStore, s3OptionsFromEnv } from '../../../objectstore/index.ts';

export interface ObjectStoreFlags {
  s3Endpoint?: string | undefined;
  s3Bucket?: string | undefined;
}

export async function openObjectStore(flags: ObjectStoreFlags, registry: Registry): Promise<S3ObjectStore> {
  const fromEnv = s3OptionsFromEnv();
  const base = flags.s3Endpoint ? embeddedS3Options(flags.s3Endpoint, flags.s3Bucket ?? fromEnv.bucket) : { ...fromEnv, ...(flags.s3Bucket ? { bucket: flags.s3Bucket } : {}) };
  const store = new S3ObjectStore({ ...base, registry });
  // A fresh MinIO or s3rver has no bucket yet; creating it is idempotent.
  await store.ensureBucket(base.region);
  return store;
}
