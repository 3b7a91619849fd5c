/**
 * The object store a process of the shared-storage cluster talks to, from its flags and
 * environment (objectStoreOptionsFrom, shared with the controller): the embedded endpoint
 * when an endpoint is given without keys, else S3, MinIO or any S3-compatible store
 * configured by FLOE_S3_* variables.
 */
import type { Registry } from 'prom-client';
import { objectStoreOptionsFrom, S3ObjectStore, s3OptionsFromEnv } from '../../../objectstore/index.ts';

export interface ObjectStoreFlags {
  s3Endpoint?: string | undefined;
  s3Bucket?: string | undefined;
}

export async function openObjectStore(flags: ObjectStoreFlags, registry: Registry): Promise<S3ObjectStore> {
  // With no flag and no FLOE_S3_* at all, the environment's defaults (AWS, bucket floe).
  const options = objectStoreOptionsFrom(flags) ?? s3OptionsFromEnv();
  const store = new S3ObjectStore({ ...options, registry });
  // A fresh MinIO or s3rver has no bucket yet; creating it is idempotent.
  await store.ensureBucket(options.region);
  return store;
}
