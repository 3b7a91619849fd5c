import { describe, expect, it } from 'vitest';
import type { LocalLog } from '../../../../src/storage/local-log/index.ts';
import { DIR, append, harness, readAll, type Harness } from './helpers.ts';

const name = (base: number, suffix: string): string => `${DIR}/${String(base).padStart(20, '0')}${suffix}`;

/** A closed log of 60 one-record batches over several segments; returns its segment bases. */
async function closedLog(h: Harness): Promise<number[]> {
  const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 100 });
  for (let i = 0; i < 60; i++) await append(log, `r${i}`, 1, { valueBytes: 40 }).leaderDurable;
  await log.close();
  return log.segmentBaseOffsets();
}

/** Reads every offset one at a time (each read locates its batch through the index). */
async function expectEveryOffset(log: LocalLog, n: number): Promise<void> {
  for (let o = 0; o < n; o++) {
    const r = await log.read(o, 1, n);
    const h = r.chunks[0]!;
    expect(h.readUInt32BE(4), `offset ${o}`).toBe(o);
  }
  expect((await readAll(log)).map((r) => r.value)).toEqual(Array.from({ length: n }, (_, i) => `r${i}:0`));
}

async function overwrite(h: Harness, file: string, data: Buffer): Promise<void> {
  const handle = await h.fs.open(file, 'write');
  await handle.truncate(0);
  await handle.write(data, 0);
  await handle.datasync();
}

describe('LocalLog recovery', () => {
  it('reads correctly when every index file is gone', async () => {
    const h = harness();
    const bases = await closedLog(h);
    for (const b of bases) for (const s of ['.index', '.timeindex']) await h.fs.unlink(name(b, s));
    await h.fs.syncDir(DIR);
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 100 });
    await expectEveryOffset(log, 60);
    expect(h.logger.messages()).toContain('index of a synced segment unusable; rebuilding it');
    // The rebuilt indexes were written back.
    expect((await h.fs.readFile(name(bases[0]!, '.index'))).length).toBeGreaterThan(0);
  });

  it('reads correctly when index files end in a torn entry or are empty', async () => {
    const h = harness();
    const bases = await closedLog(h);
    const first = await h.fs.readFile(name(bases[0]!, '.index'));
    await overwrite(h, name(bases[0]!, '.index'), first.subarray(0, first.length - 3));
    await overwrite(h, name(bases[1]!, '.index'), Buffer.alloc(0));
    const active = bases.at(-1)!;
    await overwrite(h, name(active, '.index'), Buffer.alloc(0));
    await overwrite(h, name(active, '.timeindex'), Buffer.alloc(5));
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 100 });
    await expectEveryOffset(log, 60);
  });

  it('never reads the wrong batch through an index whose entries are wrong but well ordered', async () => {
    const h = harness();
    const bases = await closedLog(h);
    const size = (await h.fs.readFile(name(bases[0]!, '.log'))).length;
    // Entries in order, inside the file, pointing at positions where no batch starts.
    const bogus = Buffer.alloc(8 * 3);
    for (let i = 0; i < 3; i++) {
      bogus.writeUInt32BE(i + 1, i * 8);
      bogus.writeUInt32BE(Math.floor((size * (i + 1)) / 4) + 7, i * 8 + 4);
    }
    await overwrite(h, name(bases[0]!, '.index'), bogus);
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 100 });
    await expectEveryOffset(log, 60);
    expect(h.logger.messages()).toContain('offset index points at the wrong batch; scanning this segment from its start');
  });

  it('cleans up leftovers: temp files, orphan indexes, an empty segment from a roll cut short', async () => {
    const h = harness();
    const bases = await closedLog(h);
    const stray = [`${DIR}/recovery-point.checkpoint.tmp`, name(99_999, '.index'), name(99_999, '.timeindex')];
    for (const f of stray) await overwrite(h, f, Buffer.from('junk'));
    // An empty segment file whose base does not continue the log.
    await overwrite(h, name(bases.at(-1)! + 1, '.log'), Buffer.alloc(0));
    await h.fs.syncDir(DIR);
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 100 });
    const names = await h.fs.readdir(DIR);
    for (const f of stray) expect(names).not.toContain(f.slice(DIR.length + 1));
    expect(log.segmentBaseOffsets()).toEqual(bases);
    await expectEveryOffset(log, 60);
  });

  it('restarts empty at the log start when a crash lost everything after it', async () => {
    const h = harness();
    const cfg = { fsync: { kind: 'never' } as const };
    const log = await h.open(cfg);
    for (let i = 0; i < 10; i++) await append(log, `u${i}`).leaderDurable;
    await log.advanceLogStart(8); // durable, while the records themselves are not
    h.crash();
    const reopened = await h.open(cfg);
    expect(reopened.logStartOffset()).toBe(8);
    expect(reopened.logEndOffset()).toBe(8);
    // Offsets below the log start are never handed out again.
    expect(append(reopened, 'next').baseOffset).toBe(8);
    await reopened.close();
  });

  it('deletes segments wholly below the log start left by a retention run that stopped', async () => {
    const h = harness();
    const bases = await closedLog(h);
    // The checkpoint was written, then the process died before unlinking anything.
    await h.fs.writeFileAtomic(`${DIR}/log-start-offset.checkpoint`, Buffer.from(`0\n${bases[2]! + 1}\n`));
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 100 });
    expect(log.segmentBaseOffsets()).toEqual(bases.slice(2));
    expect(log.logStartOffset()).toBe(bases[2]! + 1);
    expect((await h.fs.readdir(DIR)).filter((n) => n.endsWith('.log'))).toHaveLength(bases.length - 2);
  });

  it('ignores an unreadable recovery point and checks everything instead', async () => {
    const h = harness();
    await closedLog(h);
    await h.fs.writeFileAtomic(`${DIR}/recovery-point.checkpoint`, Buffer.from('garbage'));
    const log = await h.open({ segmentBytes: 1024, indexIntervalBytes: 100 });
    expect(h.logger.messages()).toContain('checkpoint unreadable; ignoring it');
    await expectEveryOffset(log, 60);
    expect((await h.fs.readFile(`${DIR}/recovery-point.checkpoint`)).toString()).toBe('0\n60\n');
  });
});
