/**
 * Reading partition data back from object storage: the object's index (parsed once, kept
 * in an LRU) and a section through the block cache, CRC-checked on every read. A section
 * that fails its check is reported as FLOE_ERR_STORAGE_CORRUPT and never served.
 */
import type { BlockCache, ObjectIndex, ObjectStore, SectionEntry } from '../../../objectstore/index.ts';
import { isObjectStoreError, readObjectIndex, readSection } from '../../../objectstore/index.ts';
import type { ObjectRange } from '../../metadata/controller-api.ts';
import { StorageError } from '../partition-log.ts';
import { SharedStorageLimits } from './limits.ts';
import { decodeSectionMeta, type SectionMeta } from './section-meta.ts';

export function streamIdOf(topic: string, topicId: string, partition: number): string {
  return `${topic}/${partition}/${topicId}`;
}

export function storageErrorFromObjectStore(err: unknown, what: string): StorageError {
  if (err instanceof StorageError) return err;
  if (isObjectStoreError(err)) {
    const code = err.code === 'FLOE_ERR_OBJECT_CORRUPT' ? 'FLOE_ERR_STORAGE_CORRUPT' : 'FLOE_ERR_STORAGE_IO';
    return new StorageError(code, `${what}: ${err.message}`, { cause: err });
  }
  return new StorageError('FLOE_ERR_STORAGE_IO', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export class ObjectReads {
  private readonly indexes = new Map<string, Promise<ObjectIndex>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly cache: BlockCache,
  ) {}

  private index(key: string, size: number): Promise<ObjectIndex> {
    let p = this.indexes.get(key);
    if (p) {
      // Most recently used last.
      this.indexes.delete(key);
      this.indexes.set(key, p);
      return p;
    }
    p = readObjectIndex(this.store, key, { size });
    this.indexes.set(key, p);
    p.catch(() => this.indexes.delete(key));
    while (this.indexes.size > SharedStorageLimits.objectIndexCacheEntries) {
      const oldest = this.indexes.keys().next().value;
      if (oldest === undefined) break;
      this.indexes.delete(oldest);
    }
    return p;
  }

  /** The index entry of one range's section. */
  async entryOf(range: ObjectRange, streamId: string): Promise<SectionEntry> {
    const what = `object ${range.key}`;
    try {
      const idx = await this.index(range.key, range.size);
      const entry = idx.entries.find((e) => e.streamId === streamId && e.position === range.position && e.startOffset === range.startOffset);
      if (!entry || entry.endOffset !== range.endOffset || entry.length !== range.length) {
        throw new StorageError('FLOE_ERR_STORAGE_CORRUPT', `${what} has no section of ${streamId} at [${range.startOffset}, ${range.endOffset}) as the index says`);
      }
      return entry;
    } catch (err) {
      throw storageErrorFromObjectStore(err, what);
    }
  }

  /** The section's bytes (whole batches), CRC-checked. */
  async section(range: ObjectRange, streamId: string): Promise<Buffer> {
    const entry = await this.entryOf(range, streamId);
    try {
      return await readSection(this.cache, range.key, range.size, entry);
    } catch (err) {
      throw storageErrorFromObjectStore(err, `object ${range.key}`);
    }
  }

  async meta(range: ObjectRange, streamId: string): Promise<SectionMeta | null> {
    return decodeSectionMeta((await this.entryOf(range, streamId)).metadata);
  }
}
