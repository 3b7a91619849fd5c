/**
 * Reads floe objects (object-format.ts) with explicit ranged GETs: the footer and index
 * from the object's tail, one section at a time afterwards. Every section is checked
 * against its CRC-32C before it is returned; a mismatch is FLOE_ERR_OBJECT_CORRUPT and
 * the bytes are never served.
 *
 * Sections are read through a RangeReader: straight from the store (directReader), or
 * through the block cache (block-cache.ts), which the read path of a broker uses.
 */
import { ObjectStoreError, objectStoreErrorCodes } from './object-store.ts';
import type { ByteRange, ObjectStore } from './object-store.ts';
import { corrupt, decodeFooter, decodeIndex, objectFormat, verifySection } from './object-format.ts';
import type { ObjectIndex, SectionEntry } from './object-format.ts';

/**
 * The tail fetched first: the footer, and the index of any object with up to ~1,000
 * sections of short stream ids. One GET instead of two for nearly every object, at the
 * price of at most 64 KiB read needlessly.
 */
export const tailReadBytesDefault = 64 * 1024;

export interface RangeReader {
  /** Exactly the bytes of `range` of the object `key`, whose size is `objectSize`. */
  read(key: string, range: ByteRange, objectSize: number): Promise<Buffer>;
  /** Drops whatever is held for the range, so the next read fetches it again. */
  invalidate?(key: string, range: ByteRange): void;
}

export function directReader(store: ObjectStore): RangeReader {
  return { read: (key, range) => store.get(key, range) };
}

export interface ReadIndexOptions {
  /** The object's size when the caller knows it (from its metadata): saves the HEAD. */
  size?: number;
  tailReadBytes?: number;
}

/** The object's size (HEAD): FLOE_ERR_OBJECT_NOT_FOUND when it does not exist. */
export async function objectSize(store: ObjectStore, key: string): Promise<number> {
  const head = await store.head(key);
  if (head === null) throw new ObjectStoreError(objectStoreErrorCodes.notFound, `no object ${key}`);
  return head.size;
}

/** Reads and checks an object's footer and index: one GET (the tail), or two for a large index. */
export async function readObjectIndex(store: ObjectStore, key: string, options: ReadIndexOptions = {}): Promise<ObjectIndex> {
  const size = options.size ?? (await objectSize(store, key));
  const what = `object ${key}`;
  if (size < objectFormat.footerBytes + objectFormat.indexHeaderBytes) throw corrupt(what, `${size} bytes is too small for a floe object`);
  const tailBytes = Math.min(size, Math.max(options.tailReadBytes ?? tailReadBytesDefault, objectFormat.footerBytes));
  const tailStart = size - tailBytes;
  const tail = await store.get(key, { start: tailStart, endInclusive: size - 1 });
  const footer = decodeFooter(tail.subarray(tail.length - objectFormat.footerBytes), size, what);
  const indexBytes =
    footer.indexPosition >= tailStart
      ? tail.subarray(footer.indexPosition - tailStart, footer.indexPosition - tailStart + footer.indexLength)
      : await store.get(key, { start: footer.indexPosition, endInclusive: footer.indexPosition + footer.indexLength - 1 });
  const entries = decodeIndex(indexBytes, footer, what);
  return { formatVersion: footer.formatVersion, objectSize: size, indexPosition: footer.indexPosition, indexLength: footer.indexLength, entries };
}

/**
 * Reads one section and checks its CRC-32C. When the bytes fail the check and came
 * through a cache, the cached range is dropped and read once more from the store, so a
 * bad cached copy heals while a bad object is still reported as corrupt.
 */
export async function readSection(via: RangeReader, key: string, objectSize: number, entry: SectionEntry): Promise<Buffer> {
  const what = `object ${key}`;
  if (entry.position + entry.length > objectSize - objectFormat.footerBytes) {
    throw corrupt(what, `section ${entry.streamId} at ${entry.position}+${entry.length} lies outside the ${objectSize}-byte object`);
  }
  if (entry.length === 0) {
    const empty = Buffer.alloc(0);
    verifySection(entry, empty, what);
    return empty;
  }
  const range = { start: entry.position, endInclusive: entry.position + entry.length - 1 };
  const bytes = await via.read(key, range, objectSize);
  try {
    verifySection(entry, bytes, what);
    return bytes;
  } catch (err) {
    if (via.invalidate === undefined) throw err;
    via.invalidate(key, range);
    const again = await via.read(key, range, objectSize);
    verifySection(entry, again, what);
    return again;
  }
}

/** An opened object: its index, and sections read on demand. */
export class ObjectReader {
  private constructor(
    readonly key: string,
    readonly index: ObjectIndex,
    private readonly via: RangeReader,
  ) {}

  /** Reads the index (HEAD first unless `size` is given); sections are then read through `via` (default: straight from the store). */
  static async open(store: ObjectStore, key: string, options: ReadIndexOptions & { via?: RangeReader } = {}): Promise<ObjectReader> {
    const index = await readObjectIndex(store, key, options);
    return new ObjectReader(key, index, options.via ?? directReader(store));
  }

  get size(): number {
    return this.index.objectSize;
  }

  /** Sections of one stream, in the order they were written. */
  sectionsOf(streamId: string): SectionEntry[] {
    return this.index.entries.filter((e) => e.streamId === streamId);
  }

  /** The section of `streamId` whose range holds `offset`, if any. */
  sectionAt(streamId: string, offset: number): SectionEntry | undefined {
    return this.index.entries.find((e) => e.streamId === streamId && e.startOffset <= offset && offset < e.endOffset);
  }

  read(entry: SectionEntry): Promise<Buffer> {
    return readSection(this.via, this.key, this.index.objectSize, entry);
  }
}
