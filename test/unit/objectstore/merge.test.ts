import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FaultyObjectStore } from '../../../objectstore/faulty-object-store.ts';
import { mergeObjects } from '../../../objectstore/merge.ts';
import type { MergeInput } from '../../../objectstore/merge.ts';
import { MemoryObjectStore } from '../../../objectstore/memory-object-store.ts';
import { ObjectReader } from '../../../objectstore/object-reader.ts';
import { objectStoreErrorCodes } from '../../../objectstore/object-store.ts';
import type { ObjectStore } from '../../../objectstore/object-store.ts';
import { ObjectBuilder } from '../../../objectstore/object-writer.ts';
import type { SectionInput } from '../../../objectstore/object-writer.ts';

async function put(store: ObjectStore, key: string, sections: SectionInput[]): Promise<MergeInput> {
  const b = new ObjectBuilder();
  for (const s of sections) b.addSection(s);
  const built = b.build();
  await store.put(key, built.chunks);
  return { key, size: built.size, sections: built.index.entries };
}

const bytes = (s: string): Buffer => Buffer.from(s);

describe('mergeObjects', () => {
  it('joins touching ranges of a stream into one section and keeps the rest apart', async () => {
    const mem = new MemoryObjectStore();
    const a = await put(mem, 'a', [
      { streamId: 't/0', startOffset: 0, endOffset: 3, data: bytes('t0:0-3;') },
      { streamId: 't/1', startOffset: 10, endOffset: 12, data: bytes('t1:10-12;') },
    ]);
    const b = await put(mem, 'b', [
      { streamId: 't/0', startOffset: 3, endOffset: 5, data: [bytes('t0:3-4;'), bytes('t0:4-5;')] },
      { streamId: 't/1', startOffset: 20, endOffset: 21, data: bytes('t1:20;') },
      { streamId: 't/2', startOffset: 0, endOffset: 1, data: bytes('t2:0;') },
    ]);
    const result = await mergeObjects({ store: mem, inputs: [b, a], targetKey: 'merged' });
    expect(result.inputBytes).toBe(a.sections.concat(b.sections).reduce((n, s) => n + s.length, 0));
    expect(result.index.entries.map((e) => [e.streamId, e.startOffset, e.endOffset])).toEqual([
      ['t/0', 0, 5],
      ['t/1', 10, 12],
      ['t/1', 20, 21],
      ['t/2', 0, 1],
    ]);
    const reader = await ObjectReader.open(mem, 'merged');
    expect(reader.index).toEqual(result.index);
    expect((await reader.read(reader.sectionAt('t/0', 4)!)).toString()).toBe('t0:0-3;t0:3-4;t0:4-5;');
    expect((await reader.read(reader.sectionAt('t/1', 20)!)).toString()).toBe('t1:20;');
  });

  it('joins sections only when their metadata combine (default: equal)', async () => {
    const mem = new MemoryObjectStore();
    const a = await put(mem, 'a', [{ streamId: 's', startOffset: 0, endOffset: 1, data: bytes('x'), metadata: bytes('m1') }]);
    const b = await put(mem, 'b', [{ streamId: 's', startOffset: 1, endOffset: 2, data: bytes('y'), metadata: bytes('m2') }]);
    const apart = await mergeObjects({ store: mem, inputs: [a, b], targetKey: 'm1' });
    expect(apart.index.entries).toHaveLength(2);
    const joined = await mergeObjects({
      store: mem,
      inputs: [a, b],
      targetKey: 'm2',
      combineMetadata: (parts) => Buffer.concat(parts.map((p) => p.metadata)),
    });
    expect(joined.index.entries).toHaveLength(1);
    expect(joined.index.entries[0]!.metadata.toString()).toBe('m1m2');
  });

  it('reads each input with one GET when its chosen sections lie close together', async () => {
    const mem = new MemoryObjectStore();
    const a = await put(mem, 'a', [
      { streamId: 'p', startOffset: 0, endOffset: 1, data: bytes('aaa') },
      { streamId: 'q', startOffset: 0, endOffset: 1, data: bytes('bbb') },
      { streamId: 'r', startOffset: 0, endOffset: 1, data: bytes('ccc') },
    ]);
    const gets = mem.requestCounts.get;
    await mergeObjects({ store: mem, inputs: [{ ...a, sections: [a.sections[0]!, a.sections[2]!] }], targetKey: 'm' });
    expect(mem.requestCounts.get - gets).toBe(1);
    const reader = await ObjectReader.open(mem, 'm');
    expect(reader.index.entries.map((e) => e.streamId)).toEqual(['p', 'r']);
  });

  it('fails on a corrupt input section and writes nothing', async () => {
    const mem = new MemoryObjectStore();
    const a = await put(mem, 'a', [{ streamId: 's', startOffset: 0, endOffset: 1, data: bytes('some data') }]);
    const faulty = new FaultyObjectStore(mem);
    faulty.corruptGets('a');
    const registry = new Registry();
    await expect(mergeObjects({ store: faulty, inputs: [a], targetKey: 'm', registry })).rejects.toMatchObject({ code: objectStoreErrorCodes.corrupt });
    expect(await mem.head('m')).toBeNull();
    expect(await registry.metrics()).toMatch(/floe_objectstore_merges_total\{outcome="error"\} 1/);
  });

  it('refuses to overwrite an existing key', async () => {
    const mem = new MemoryObjectStore();
    const a = await put(mem, 'a', [{ streamId: 's', startOffset: 0, endOffset: 1, data: bytes('d') }]);
    await expect(mergeObjects({ store: mem, inputs: [a], targetKey: 'a' })).rejects.toMatchObject({ code: objectStoreErrorCodes.exists });
  });

  it('treats overlapping ranges of one stream as a caller error', async () => {
    const mem = new MemoryObjectStore();
    const a = await put(mem, 'a', [{ streamId: 's', startOffset: 0, endOffset: 5, data: bytes('d') }]);
    const b = await put(mem, 'b', [{ streamId: 's', startOffset: 4, endOffset: 6, data: bytes('e') }]);
    await expect(mergeObjects({ store: mem, inputs: [a, b], targetKey: 'm' })).rejects.toThrow(RangeError);
  });

  it('counts its work on the registry', async () => {
    const mem = new MemoryObjectStore();
    const a = await put(mem, 'a', [{ streamId: 's', startOffset: 0, endOffset: 1, data: bytes('12345') }]);
    const b = await put(mem, 'b', [{ streamId: 's', startOffset: 1, endOffset: 2, data: bytes('678') }]);
    const registry = new Registry();
    const result = await mergeObjects({ store: mem, inputs: [a, b], targetKey: 'm', registry });
    const text = await registry.metrics();
    expect(text).toMatch(/floe_objectstore_merges_total\{outcome="ok"\} 1/);
    expect(text).toMatch(/floe_objectstore_merge_input_bytes_total 8/);
    expect(text).toMatch(/floe_objectstore_merge_input_sections_total 2/);
    expect(text).toMatch(/floe_objectstore_merge_output_sections_total 1/);
    expect(text).toContain(`floe_objectstore_merge_output_bytes_total ${result.size}`);
  });
});
