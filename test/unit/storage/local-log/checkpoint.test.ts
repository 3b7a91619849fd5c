import { describe, expect, it } from 'vitest';
import { SimulatedFileSystem } from '../../../../src/common/sim-fs.ts';
import { Checkpoint, decodeCheckpoint, encodeCheckpoint, readCheckpoint } from '../../../../src/storage/local-log/checkpoint.ts';

describe('checkpoint files', () => {
  it('round-trip an offset and reject anything else', () => {
    expect(decodeCheckpoint(encodeCheckpoint(0).toString())).toBe(0);
    expect(decodeCheckpoint(encodeCheckpoint(2 ** 52).toString())).toBe(2 ** 52);
    for (const bad of ['', '0\n', '1\n5\n', '0\n-5\n', '0\n5', '0\n5\nextra', '0\n99999999999999999\n']) expect(decodeCheckpoint(bad), JSON.stringify(bad)).toBeNull();
  });

  it('serializes concurrent writes and survives a crash once written', async () => {
    const fs = new SimulatedFileSystem();
    await fs.mkdirp('/d');
    const cp = new Checkpoint(fs, '/d/x.checkpoint', null);
    await Promise.all([cp.write(1), cp.write(2), cp.write(3)]);
    fs.crash();
    expect(await readCheckpoint(fs, '/d/x.checkpoint')).toEqual({ kind: 'ok', offset: 3 });
    expect(await readCheckpoint(fs, '/d/absent')).toEqual({ kind: 'absent' });
  });
});
