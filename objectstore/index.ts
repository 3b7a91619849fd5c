/**
 * The public surface of objectstore/: the seam and its implementations, the object
 * format with its writer and reader, the read cache, merge and orphan collection.
 * objectstore/ knows nothing of Kafka: it stores opaque byte ranges of named streams.
 */
export type { ByteRange, ListOptions, ObjectInfo, ObjectStore, ObjectStoreErrorCode, ObjectStoreOp } from './object-store.ts';
export { ObjectStoreError, isObjectStoreError, objectStoreErrorCodes } from './object-store.ts';
export { MemoryObjectStore } from './memory-object-store.ts';
export type { S3ObjectStoreOptions } from './s3-object-store.ts';
export { ObjectStoreConfigError, S3ObjectStore, embeddedS3Credentials, embeddedS3Options, objectStoreOptionsFrom, s3OptionsFromEnv } from './s3-object-store.ts';
export type { RetryPolicy } from './retry.ts';
export { retryPolicyDefault } from './retry.ts';
export { RetryingObjectStore } from './retrying-object-store.ts';
export { FaultyObjectStore } from './faulty-object-store.ts';
export { MeteredObjectStore } from './metered-object-store.ts';
export { ObjectStoreMetrics } from './metrics.ts';
export type { ObjectIndex, SectionEntry } from './object-format.ts';
export { objectFormat, objectLimits, parseObject, verifySection } from './object-format.ts';
export type { BuiltObject, SectionInput } from './object-writer.ts';
export { ObjectBuilder } from './object-writer.ts';
export type { RangeReader } from './object-reader.ts';
export { ObjectReader, directReader, objectSize, readObjectIndex, readSection } from './object-reader.ts';
export type { BlockCacheOptions, BlockCacheStats } from './block-cache.ts';
export { BlockCache, blockCacheDefaults } from './block-cache.ts';
export type { MergeInput, MergeOptions, MergeResult } from './merge.ts';
export { mergeObjects } from './merge.ts';
export type { CollectResult, OrphanScan } from './orphans.ts';
export { collectOrphans, findOrphans } from './orphans.ts';
