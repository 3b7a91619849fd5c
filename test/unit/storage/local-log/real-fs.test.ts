/**
 * The local log on real files (NodeFileSystem in a temp directory), including a child
 * process killed with SIGKILL in the middle of appending.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, open as openFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/common/clock.ts';
import { NodeFileSystem } from '../../../../src/common/fs.ts';
import { LocalLog } from '../../../../src/storage/local-log/index.ts';
import { append, config, readAll, RecordingLogger } from './helpers.ts';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'floe-local-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('LocalLog on real files', () => {
  it('appends, rolls, reopens and truncates a torn tail', async () => {
    const fs = new NodeFileSystem();
    const clock = new ManualClock();
    const logger = new RecordingLogger();
    const cfg = config({ segmentBytes: 4096, indexIntervalBytes: 512 });
    const log = await LocalLog.open({ dir, fs, clock, config: cfg, logger });
    const results = Array.from({ length: 100 }, (_, i) => append(log, `r${i}`, 1, { valueBytes: 100 }));
    await Promise.all(results.map((r) => r.leaderDurable));
    await log.close();
    const names = (await readdir(dir)).sort();
    expect(names.filter((n) => n.endsWith('.log')).length).toBeGreaterThan(2);
    expect(names).toContain('recovery-point.checkpoint');

    // Half a batch of garbage at the end of the active segment, as a torn write leaves.
    const active = names.filter((n) => n.endsWith('.log')).at(-1)!;
    const sizeBefore = (await stat(path.join(dir, active))).size;
    const fh = await openFile(path.join(dir, active), 'a');
    await fh.write(Buffer.alloc(40, 7));
    await fh.close();

    const reopened = await LocalLog.open({ dir, fs, clock, config: cfg, logger });
    expect(logger.messages()).toContain('truncating a torn tail');
    expect((await stat(path.join(dir, active))).size).toBe(sizeBefore);
    expect((await readAll(reopened)).map((r) => r.value)).toEqual(Array.from({ length: 100 }, (_, i) => `r${i}:0`));
    await reopened.destroy();
    expect((await readdir(dir)).length).toBe(0);
  });

  it('after kill -9 during per-batch appends, every acknowledged record is readable at its offset', async () => {
    const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'append-until-killed.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const acked: number[] = [];
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      if (!line.startsWith('acked ')) continue;
      acked.push(Number(line.slice(6)));
      // Enough to have rolled a few segments (16 KiB each, ~170 bytes a batch).
      if (acked.length === 400) child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    expect(acked.length).toBeGreaterThanOrEqual(400);

    const log = await LocalLog.open({ dir, fs: new NodeFileSystem(), clock: new ManualClock(), config: config() });
    const all = await readAll(log);
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: log.logEndOffset() }, (_, i) => i));
    // Nothing out of place, and every acknowledged append there.
    for (const r of all) expect(r.value).toBe(`v${r.offset}`);
    const byOffset = new Map(all.map((r) => [r.offset, r.value]));
    for (const o of acked) expect(byOffset.get(o), `acked offset ${o}`).toBe(`v${o}`);
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(1);
    await log.close();
  }, 30_000);
});
