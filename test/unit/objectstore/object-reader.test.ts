import { describe, expect, it } from 'vitest';
import { BlockCache } from '../../../objectstore/block-cache.ts';
import { FaultyObjectStore } from '../../../objectstore/faulty-object-store.ts';
import { MemoryObjectStore } from '../../../objectstore/memory-object-store.ts';
import { ObjectReader, directReader, readObjectIndex, readSection } from '../../../objectstore/object-reader.ts';
import { objectStoreErrorCodes } from '../../../objectstore/object-store.ts';
import type { ByteRange } from '../../../objectstore/object-store.ts';
import { ObjectBuilder } from '../../../objectstore/object-writer.ts';

const batch = (stream: string, n: number, bytes: number): Buffer => Buffer.alloc(bytes, `${stream}:${n};`);

async function putObject(store: MemoryObjectStore, key: string, streams: number, sectionBytes: number) {
  const b = new ObjectBuilder();
  for (let s = 0; s < streams; s++) {
    b.addSection({ streamId: `topic-${s}/0`, startOffset: s * 100, endOffset: s * 100 + 10, data: [batch(`t${s}`, 0, sectionBytes), batch(`t${s}`, 1, sectionBytes)] });
  }
  const built = b.build();
  await store.put(key, built.chunks);
  return built;
}

describe('readObjectIndex', () => {
  it('reads footer and index with one HEAD and one ranged GET for an ordinary object', async () => {
    const mem = new MemoryObjectStore();
    const built = await putObject(mem, 'o1', 20, 1000);
    const before = { ...mem.requestCounts };
    const index = await readObjectIndex(mem, 'o1');
    expect(index).toEqual(built.index);
    expect(mem.requestCounts.head - before.head).toBe(1);
    expect(mem.requestCounts.get - before.get).toBe(1);
  });

  it('skips the HEAD when the caller knows the size', async () => {
    const mem = new MemoryObjectStore();
    const built = await putObject(mem, 'o1', 3, 10);
    await readObjectIndex(mem, 'o1', { size: built.size });
    expect(mem.requestCounts.head).toBe(0);
    expect(mem.requestCounts.get).toBe(1);
  });

  it('fetches a large index with a second GET when the tail read does not hold it', async () => {
    const mem = new MemoryObjectStore();
    const built = await putObject(mem, 'o1', 50, 100);
    const index = await readObjectIndex(mem, 'o1', { size: built.size, tailReadBytes: 64 });
    expect(index.entries).toHaveLength(50);
    expect(mem.requestCounts.get).toBe(2);
  });

  it('reports a missing object as not found and a non-floe object as corrupt', async () => {
    const mem = new MemoryObjectStore();
    await expect(readObjectIndex(mem, 'absent')).rejects.toMatchObject({ code: objectStoreErrorCodes.notFound });
    await mem.put('junk', Buffer.alloc(100, 7));
    await expect(readObjectIndex(mem, 'junk')).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
    await mem.put('tiny', Buffer.alloc(3));
    await expect(readObjectIndex(mem, 'tiny')).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
  });
});

describe('ObjectReader: one stream out of many', () => {
  it('reads one section with one ranged GET of exactly its bytes', async () => {
    const mem = new MemoryObjectStore();
    await putObject(mem, 'o1', 5, 64);
    const reader = await ObjectReader.open(mem, 'o1');
    const entry = reader.sectionAt('topic-3/0', 305)!;
    expect(entry).toBeDefined();
    expect(reader.sectionAt('topic-3/0', 310)).toBeUndefined();
    const gets = mem.requestCounts.get;
    const bytes = await reader.read(entry);
    expect(mem.requestCounts.get - gets).toBe(1);
    expect(bytes.equals(Buffer.concat([batch('t3', 0, 64), batch('t3', 1, 64)]))).toBe(true);
    expect(reader.sectionsOf('topic-3/0')).toEqual([entry]);
  });

  it('a corrupted section is reported as corrupt, never served', async () => {
    const mem = new MemoryObjectStore();
    await putObject(mem, 'o1', 3, 64);
    const faulty = new FaultyObjectStore(mem);
    const reader = await ObjectReader.open(faulty, 'o1');
    faulty.corruptGets('o1');
    await expect(reader.read(reader.sectionsOf('topic-1/0')[0]!)).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
  });

  it('a corrupted tail (footer or index) is reported as corrupt', async () => {
    const mem = new MemoryObjectStore();
    const built = await putObject(mem, 'o1', 3, 64);
    const bytes = Buffer.concat(built.chunks);
    for (const at of [built.index.indexPosition + 5, built.size - 10]) {
      const bad = Buffer.from(bytes);
      bad[at] = bad[at]! ^ 0x10;
      mem.overwriteForTest('o1', bad);
      await expect(ObjectReader.open(mem, 'o1')).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
    }
  });
});

describe('readSection through the block cache', () => {
  it('serves a section from cached blocks and checks its CRC', async () => {
    const mem = new MemoryObjectStore();
    const built = await putObject(mem, 'o1', 4, 300);
    const cache = new BlockCache(mem, { blockBytes: 256, capacityBytes: 64 * 1024, readAheadBlocks: 0 });
    const entry = built.index.entries[2]!;
    const first = await readSection(cache, 'o1', built.size, entry);
    const gets = mem.requestCounts.get;
    const second = await readSection(cache, 'o1', built.size, entry);
    expect(second.equals(first)).toBe(true);
    expect(mem.requestCounts.get).toBe(gets);
  });

  it('a bad cached copy is dropped and read again; a bad object stays an error', async () => {
    const mem = new MemoryObjectStore();
    const built = await putObject(mem, 'o1', 2, 100);
    const entry = built.index.entries[1]!;
    // The first GET answers with a flipped byte (a bad transfer); later ones are clean.
    let corruptOnce = true;
    const flaky = new FaultyObjectStore(mem);
    flaky.corruptGets(() => {
      const now = corruptOnce;
      corruptOnce = false;
      return now;
    });
    const cache = new BlockCache(flaky, { blockBytes: 1024, capacityBytes: 4096, readAheadBlocks: 0 });
    const healed = await readSection(cache, 'o1', built.size, entry);
    expect(healed.equals(Buffer.concat([batch('t1', 0, 100), batch('t1', 1, 100)]))).toBe(true);

    const bad = new FaultyObjectStore(mem);
    bad.corruptGets('o1');
    const badCache = new BlockCache(bad, { blockBytes: 1024, capacityBytes: 4096, readAheadBlocks: 0 });
    await expect(readSection(badCache, 'o1', built.size, entry)).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
    expect(bad.calls.get).toBe(2);
  });

  it('refuses an entry that lies outside the object', async () => {
    const mem = new MemoryObjectStore();
    const built = await putObject(mem, 'o1', 1, 10);
    const entry = { ...built.index.entries[0]!, position: built.size };
    await expect(readSection(directReader(mem), 'o1', built.size, entry)).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
  });

  it('an empty section costs no GET', async () => {
    const mem = new MemoryObjectStore();
    const b = new ObjectBuilder();
    const entry = b.addSection({ streamId: 'e/0', startOffset: 5, endOffset: 5, data: [] });
    const built = b.build();
    await mem.put('o', built.chunks);
    const ranges: ByteRange[] = [];
    const via = { read: (key: string, range: ByteRange) => (ranges.push(range), mem.get(key, range)) };
    expect((await readSection(via, 'o', built.size, entry)).length).toBe(0);
    expect(ranges).toEqual([]);
  });
});
