import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/common/clock.ts';
import { MemoryObjectStore } from '../../../objectstore/memory-object-store.ts';
import { collectOrphans } from '../../../objectstore/orphans.ts';

describe('collectOrphans', () => {
  async function setup() {
    const clock = new ManualClock();
    const store = new MemoryObjectStore(clock);
    await store.put('data/committed', Buffer.alloc(10));
    await store.put('data/orphan-old', Buffer.alloc(20));
    clock.advance(60_000);
    await store.put('data/in-flight', Buffer.alloc(30)); // just uploaded, commit pending
    await store.put('other/unrelated', Buffer.alloc(40));
    const referenced = new Set(['data/committed']);
    return { clock, store, scan: { store, prefix: 'data/', isReferenced: (k: string) => referenced.has(k), graceMs: 30_000, nowMs: clock.now() } };
  }

  it('deletes unreferenced objects older than the grace period, and only those', async () => {
    const { store, scan } = await setup();
    const result = await collectOrphans(scan);
    expect(result.deleted.map((o) => o.key)).toEqual(['data/orphan-old']);
    expect(result.bytes).toBe(20);
    expect(store.keys()).toEqual(['data/committed', 'data/in-flight', 'other/unrelated']);
  });

  it('collects a young unreferenced object once the grace period has passed', async () => {
    const { clock, store, scan } = await setup();
    clock.advance(30_000);
    const result = await collectOrphans({ ...scan, nowMs: clock.now() });
    expect(result.deleted.map((o) => o.key)).toEqual(['data/in-flight', 'data/orphan-old']);
    expect(store.keys()).toEqual(['data/committed', 'other/unrelated']);
  });

  it('a dry run reports without deleting', async () => {
    const { store, scan } = await setup();
    const result = await collectOrphans({ ...scan, dryRun: true });
    expect(result.deleted.map((o) => o.key)).toEqual(['data/orphan-old']);
    expect(store.keys()).toContain('data/orphan-old');
  });
});
