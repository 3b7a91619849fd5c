/**
 * Builds one floe object (object-format.ts) from sections of many streams.
 *
 * The builder keeps references to the caller's buffers and never concatenates them:
 * the object comes out as a list of buffers (sections, then index, then footer) that
 * ObjectStore.put streams as is. The caller must therefore not change those buffers
 * until the PUT has settled. Each section's CRC-32C is computed when it is added.
 */
import { crc32cOf, encodeFooter, encodeIndex, entryBytes, objectFormat, objectLimits } from './object-format.ts';
import type { ObjectIndex, SectionEntry } from './object-format.ts';

export interface SectionInput {
  streamId: string;
  /** [startOffset, endOffset): the caller's range for this section; start <= end. */
  startOffset: number;
  endOffset: number;
  /** The section's bytes, as one buffer or a list kept in order. */
  data: Buffer | readonly Buffer[];
  /** A small blob stored in the index entry (at most objectLimits.sectionMetadataBytesMax). */
  metadata?: Buffer;
}

export interface BuiltObject {
  /** The object's bytes in order: PUT them as one body. */
  chunks: Buffer[];
  size: number;
  index: ObjectIndex;
}

const emptyMetadata = Buffer.alloc(0);

function checkOffset(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${n}`);
}

export class ObjectBuilder {
  private readonly data: Buffer[] = [];
  private readonly entries: SectionEntry[] = [];
  private dataLength = 0;
  private indexLength: number = objectFormat.indexHeaderBytes;

  /** Adds a section after the previous ones and returns its index entry. Invalid input is a programmer error (RangeError). */
  addSection(section: SectionInput): SectionEntry {
    const { streamId, startOffset, endOffset } = section;
    const id = Buffer.from(streamId, 'utf8');
    const idBytes = id.length;
    if (idBytes === 0 || idBytes > objectLimits.streamIdBytesMax) throw new RangeError(`stream id must be 1..${objectLimits.streamIdBytesMax} bytes, got ${idBytes}`);
    // A lone surrogate would not survive UTF-8 and come back as a different id.
    if (id.toString('utf8') !== streamId) throw new RangeError(`stream id ${JSON.stringify(streamId)} is not well-formed Unicode`);
    checkOffset('startOffset', startOffset);
    checkOffset('endOffset', endOffset);
    if (startOffset > endOffset) throw new RangeError(`startOffset ${startOffset} > endOffset ${endOffset}`);
    const metadata = section.metadata ?? emptyMetadata;
    if (metadata.length > objectLimits.sectionMetadataBytesMax) throw new RangeError(`metadata of ${metadata.length} bytes exceeds ${objectLimits.sectionMetadataBytesMax}`);
    const chunks = Buffer.isBuffer(section.data) ? [section.data] : section.data;
    let length = 0;
    for (const c of chunks) length += c.length;
    if (length > objectLimits.sectionBytesMax) throw new RangeError(`section of ${length} bytes exceeds ${objectLimits.sectionBytesMax}`);
    if (this.entries.length >= objectLimits.indexEntriesMax) throw new RangeError(`an object holds at most ${objectLimits.indexEntriesMax} sections`);
    const indexLength = this.indexLength + entryBytes(idBytes, metadata.length);
    if (indexLength > objectLimits.indexBytesMax) throw new RangeError(`index would exceed ${objectLimits.indexBytesMax} bytes`);
    if (this.dataLength + length + indexLength + objectFormat.footerBytes > objectLimits.objectBytesMax) {
      throw new RangeError(`object would exceed ${objectLimits.objectBytesMax} bytes`);
    }
    const entry: SectionEntry = {
      streamId,
      startOffset,
      endOffset,
      position: this.dataLength,
      length,
      crc32c: crc32cOf(chunks),
      metadata,
    };
    for (const c of chunks) if (c.length > 0) this.data.push(c);
    this.entries.push(entry);
    this.dataLength += length;
    this.indexLength = indexLength;
    return entry;
  }

  get sectionCount(): number {
    return this.entries.length;
  }

  /** Bytes of all sections so far. */
  get dataBytes(): number {
    return this.dataLength;
  }

  /** The exact size the object would have if built now. */
  get sizeBytes(): number {
    return this.dataLength + this.indexLength + objectFormat.footerBytes;
  }

  /** The object as it stands; the builder may keep growing afterwards for a bigger one. */
  build(): BuiltObject {
    const index = encodeIndex(this.entries);
    const footer = encodeFooter({
      formatVersion: objectFormat.version,
      indexPosition: this.dataLength,
      indexLength: index.length,
      indexCrc32c: crc32cOf(index),
    });
    const size = this.dataLength + index.length + footer.length;
    return {
      chunks: [...this.data, index, footer],
      size,
      index: {
        formatVersion: objectFormat.version,
        objectSize: size,
        indexPosition: this.dataLength,
        indexLength: index.length,
        entries: this.entries.map((e) => ({ ...e })),
      },
    };
  }
}
