import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FollowerReplica } from '../../../../src/broker/replication/follower.ts';
import { ErrorCode } from '../../../../src/protocol/errors.ts';
import { setBaseOffset, setPartitionLeaderEpoch } from '../../../../src/protocol/record-batch.ts';
import type { LocalLog } from '../../../../src/storage/local-log/index.ts';
import { append, batch, harness, readAll, type Harness } from '../../storage/local-log/helpers.ts';

const BACKOFF_MS = 1000;

/** The records field of a fetch answer: batches of `counts` records from `base`, tagged. */
function leaderBatches(tag: string, base: number, counts: number[], epoch = 4): Buffer {
  const out: Buffer[] = [];
  let at = base;
  counts.forEach((n, i) => {
    const b = batch(`${tag}${i}`, n).buf;
    setBaseOffset(b, at);
    setPartitionLeaderEpoch(b, epoch);
    out.push(b);
    at += n;
  });
  return Buffer.concat(out);
}

async function follower(h: Harness, local: LocalLog): Promise<{ f: FollowerReplica; ready: number[]; lags: number[] }> {
  const ready: number[] = [];
  const lags: number[] = [];
  const f = new FollowerReplica({
    topic: 't',
    partition: 0,
    topicId: 'id',
    local,
    clock: h.clock,
    logger: pino({ level: 'silent' }),
    errorBackoffMs: BACKOFF_MS,
    onReady: () => ready.push(f.generation),
    onLag: (n) => lags.push(n),
  });
  await Promise.resolve();
  return { f, ready, lags };
}

describe('FollowerReplica', () => {
  it('truncates to its stored high watermark before its first fetch, then appends what the leader sends at the leader\'s offsets', async () => {
    const h = harness();
    const local = await h.open();
    for (let i = 0; i < 6; i++) await append(local, `old${i}`, 1).leaderDurable;
    await local.checkpointHighWatermark(4);
    const { f, ready, lags } = await follower(h, local);
    expect(f.canFetch(h.clock.monotonic())).toBe(false);
    await f.follow(2, 5);
    expect(ready).toEqual([1]);
    expect(f.canFetch(h.clock.monotonic())).toBe(true);
    const asked = f.position();
    expect(asked).toMatchObject({ leaderEpoch: 5, fetchOffset: 4 });
    await f.apply(asked, { errorCode: ErrorCode.NONE, highWatermark: 6, logStartOffset: 0, records: leaderBatches('new', 4, [1, 2]) });
    expect(local.logEndOffset()).toBe(7);
    expect(f.highWatermark).toBe(6);
    expect(lags).toEqual([0]);
    expect((await readAll(local, 0)).map((r) => r.value)).toEqual(['old0:0', 'old1:0', 'old2:0', 'old3:0', 'new0:0', 'new1:0', 'new1:1']);
    await f.close();
    expect(local.storedHighWatermark()).toBe(6);
  });

  it('drops answers to fetches of an older generation or position', async () => {
    const h = harness();
    const local = await h.open();
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    const stale = f.position();
    await f.follow(3, 6);
    await f.apply(stale, { errorCode: ErrorCode.NONE, highWatermark: 1, logStartOffset: 0, records: leaderBatches('x', 0, [1]) });
    expect(local.logEndOffset()).toBe(0);
    const now = f.position();
    await f.apply(now, { errorCode: ErrorCode.NONE, highWatermark: 1, logStartOffset: 0, records: leaderBatches('y', 0, [1]) });
    await f.apply(now, { errorCode: ErrorCode.NONE, highWatermark: 1, logStartOffset: 0, records: leaderBatches('y', 0, [1]) });
    expect(local.logEndOffset()).toBe(1);
    await f.close();
  });

  it('restarts at the leader\'s log start when the leader no longer has its fetch offset', async () => {
    const h = harness();
    const local = await h.open();
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    await f.apply(f.position(), { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: 500, logStartOffset: 300, records: null });
    expect([local.logStartOffset(), local.logEndOffset()]).toEqual([300, 300]);
    // The leader's log start is inside a batch: the follower starts at that batch.
    await f.apply(f.position(), { errorCode: ErrorCode.NONE, highWatermark: 500, logStartOffset: 300, records: leaderBatches('s', 298, [4, 1]) });
    expect([local.logStartOffset(), local.logEndOffset()]).toEqual([298, 303]);
    await f.close();
  });

  it('truncates to the leader\'s high watermark when its log reaches beyond the leader\'s (an unclean election)', async () => {
    const h = harness();
    const local = await h.open();
    for (let i = 0; i < 10; i++) await append(local, `u${i}`, 1).leaderDurable;
    await local.checkpointHighWatermark(10);
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    await f.apply(f.position(), { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: 7, logStartOffset: 0, records: null });
    expect(local.logEndOffset()).toBe(7);
    expect(f.highWatermark).toBe(7);
    await f.close();
  });

  it('refuses a batch that fails its CRC and backs off; a leadership error backs off briefly', async () => {
    const h = harness();
    const local = await h.open();
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    const bad = leaderBatches('c', 0, [1]);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    await f.apply(f.position(), { errorCode: ErrorCode.NONE, highWatermark: 1, logStartOffset: 0, records: bad });
    expect(local.logEndOffset()).toBe(0);
    expect(f.canFetch(h.clock.monotonic())).toBe(false);
    expect(f.retryAt()).toBe(h.clock.monotonic() + BACKOFF_MS);
    h.clock.advance(BACKOFF_MS);
    expect(f.canFetch(h.clock.monotonic())).toBe(true);
    await f.apply(f.position(), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1, logStartOffset: -1, records: null });
    expect(f.retryAt()! - h.clock.monotonic()).toBeLessThan(BACKOFF_MS);
    await f.close();
  });

  it('follows the leader\'s log start as far as its own high watermark', async () => {
    const h = harness();
    const local = await h.open({ segmentBytes: 1024 });
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    await f.apply(f.position(), { errorCode: ErrorCode.NONE, highWatermark: 40, logStartOffset: 0, records: leaderBatches('l', 0, Array.from({ length: 40 }, () => 1)) });
    await f.apply(f.position(), { errorCode: ErrorCode.NONE, highWatermark: 40, logStartOffset: 25, records: null });
    await f.close();
    expect(local.logStartOffset()).toBe(25);
  });
});
