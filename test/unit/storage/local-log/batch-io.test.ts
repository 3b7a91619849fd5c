import { describe, expect, it } from 'vitest';
import { SimulatedFileSystem } from '../../../../src/common/sim-fs.ts';
import { setBaseOffset } from '../../../../src/protocol/record-batch.ts';
import { readBatches, toStorageError, validateBatches, walkHeaders } from '../../../../src/storage/local-log/batch-io.ts';
import { batch } from './helpers.ts';

/** Three batches at offsets 0, 2, 5 (2, 3 and 1 records) written back to back. */
async function segmentFile(mutate?: (bytes: Buffer) => Buffer): Promise<{ fs: SimulatedFileSystem; sizes: number[]; bytes: Buffer }> {
  const parts = [batch('a', 2), batch('b', 3), batch('c', 1)].map((b) => b.buf);
  let base = 0;
  for (const p of parts) {
    setBaseOffset(p, base);
    base += p.readInt32BE(23) + 1;
  }
  let bytes: Buffer = Buffer.concat(parts);
  if (mutate) bytes = mutate(Buffer.from(bytes));
  const fs = new SimulatedFileSystem();
  await fs.mkdirp('/d');
  const h = await fs.open('/d/s.log', 'write');
  await h.write(bytes, 0);
  return { fs, sizes: parts.map((p) => p.length), bytes };
}

describe('validateBatches', () => {
  it('accepts a well-formed segment and reports where it ends', async () => {
    const { fs, bytes } = await segmentFile();
    const seen: number[] = [];
    const r = await validateBatches(await fs.open('/d/s.log', 'read'), { position: 0, offset: 0 }, bytes.length, (h) => seen.push(h.baseOffset));
    expect(seen).toEqual([0, 2, 5]);
    expect(r).toEqual({ endPosition: bytes.length, endOffset: 6, stoppedBecause: null });
  });

  it('stops at the first batch that is torn, corrupt or out of sequence', async () => {
    const { sizes } = await segmentFile();
    const second = sizes[0]!;
    const third = sizes[0]! + sizes[1]!;
    const cases: { name: string; mutate: (b: Buffer) => Buffer; end: number; why: RegExp }[] = [
      { name: 'torn in the middle of a batch', mutate: (b) => b.subarray(0, third + sizes[2]! - 5), end: third, why: /past the end/ },
      { name: 'torn inside a header', mutate: (b) => b.subarray(0, third + 10), end: third, why: /no batch header/ },
      { name: 'a flipped byte in the records', mutate: (b) => (b.writeUInt8(b[second + 70]! ^ 1, second + 70), b), end: second, why: /CRC/ },
      { name: 'a wrong base offset', mutate: (b) => (setBaseOffset(b, 9, second), b), end: second, why: /expected 2/ },
      { name: 'a wrong magic byte', mutate: (b) => (b.writeInt8(1, third + 16), b), end: third, why: /malformed/ },
      { name: 'a length of zero (zero-filled tail)', mutate: (b) => Buffer.concat([b, Buffer.alloc(100)]), end: b0(sizes), why: /malformed/ },
    ];
    for (const c of cases) {
      const { fs, bytes } = await segmentFile(c.mutate);
      const r = await validateBatches(await fs.open('/d/s.log', 'read'), { position: 0, offset: 0 }, bytes.length, () => undefined);
      expect(r.endPosition, c.name).toBe(c.end);
      expect(r.stoppedBecause, c.name).toMatch(c.why);
    }
  });
});

function b0(sizes: number[]): number {
  return sizes.reduce((a, b) => a + b, 0);
}

describe('readBatches and walkHeaders', () => {
  it('read whole batches within the limits', async () => {
    const { fs, sizes, bytes } = await segmentFile();
    const h = await fs.open('/d/s.log', 'read');
    expect((await readBatches(h, 0, bytes.length, 1, 100)).bytes).toBe(sizes[0]);
    expect((await readBatches(h, 0, bytes.length, sizes[0]! + sizes[1]!, 100)).bytes).toBe(sizes[0]! + sizes[1]!);
    expect((await readBatches(h, 0, bytes.length, 1 << 20, 5)).bytes).toBe(sizes[0]! + sizes[1]!);
    expect((await readBatches(h, 0, bytes.length, 1 << 20, 1)).bytes).toBe(0);
    const seen: number[] = [];
    expect(await walkHeaders(h, 0, bytes.length, (hd) => (seen.push(hd.baseOffset), hd.baseOffset < 2))).toBe(sizes[0]);
    expect(seen).toEqual([0, 2]);
    // A position that is not a batch start is corruption, unless the caller says it is a guess.
    await expect(walkHeaders(h, 3, bytes.length, () => true)).rejects.toMatchObject({ code: 'FLOE_ERR_STORAGE_CORRUPT' });
    expect(await walkHeaders(h, 3, bytes.length, () => true, { startUnverified: true })).toBe(-1);
  });

  it('maps ENOSPC and EDQUOT to FLOE_ERR_STORAGE_FULL and other errors to FLOE_ERR_STORAGE_IO', () => {
    const errno = (code: string): Error => Object.assign(new Error(code), { code });
    expect(toStorageError(errno('ENOSPC'), 'x').code).toBe('FLOE_ERR_STORAGE_FULL');
    expect(toStorageError(errno('EDQUOT'), 'x').code).toBe('FLOE_ERR_STORAGE_FULL');
    expect(toStorageError(errno('EIO'), 'x')).toMatchObject({ code: 'FLOE_ERR_STORAGE_IO', cause: { code: 'EIO' } });
    expect(toStorageError('weird', 'x').code).toBe('FLOE_ERR_STORAGE_IO');
  });
});
