import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FollowerReplica, type FetchedPartition } from '../../../../src/broker/replication/follower.ts';
import { ErrorCode } from '../../../../src/protocol/errors.ts';
import { readBatchHeader, setBaseOffset, setPartitionLeaderEpoch } from '../../../../src/protocol/record-batch.ts';
import type { LocalLog } from '../../../../src/storage/local-log/index.ts';
import { batch, harness, readAll, type Harness } from '../../storage/local-log/helpers.ts';

const BACKOFF_MS = 1000;

/** Batches of `counts` records from `base`, tagged `<tag><i>`, as a leader stores them. */
function leaderBatches(tag: string, base: number, counts: number[], epoch = 4): Buffer[] {
  let at = base;
  return counts.map((n, i) => {
    const b = batch(`${tag}${i}`, n).buf;
    setBaseOffset(b, at);
    setPartitionLeaderEpoch(b, epoch);
    at += n;
    return b;
  });
}

/** Appends batches to a follower's log as if fetched earlier. */
async function holds(local: LocalLog, batches: Buffer[]): Promise<void> {
  for (const b of batches) await local.appendAsFollower(Buffer.from(b), readBatchHeader(b)).leaderDurable;
}

function answer(records: Buffer[] | null, over: Partial<FetchedPartition> = {}): FetchedPartition {
  return { errorCode: ErrorCode.NONE, highWatermark: 0, logStartOffset: 0, records: records === null ? null : Buffer.concat(records), answerEmpty: records === null || records.length === 0, ...over };
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

const values = async (local: LocalLog): Promise<string[]> => (await readAll(local, 0)).map((r) => r.value);

describe('FollowerReplica', () => {
  it('checks its log from its stored high watermark: keeps what matches the leader, truncates at the first difference', async () => {
    const h = harness();
    const local = await h.open();
    const common = leaderBatches('c', 0, [2, 2, 2]);
    // Offsets 0–5 as the old leader had them; 6–8 only this replica has (it led then).
    await holds(local, [...common, ...leaderBatches('mine', 6, [3], 3)]);
    await local.checkpointHighWatermark(2);
    const { f, ready, lags } = await follower(h, local);
    expect(f.canFetch(h.clock.monotonic())).toBe(false);
    await f.follow(2, 5);
    expect(ready).toEqual([1]);
    expect(f.position()).toMatchObject({ leaderEpoch: 5, fetchOffset: 2 });
    // The new leader has 2–5 as this replica does, then its own batch at 6.
    await f.apply(f.position(), answer([common[1]!, common[2]!, ...leaderBatches('theirs', 6, [1], 5)], { highWatermark: 7 }));
    expect(local.logEndOffset()).toBe(7);
    expect(f.position().fetchOffset).toBe(7);
    expect(f.highWatermark).toBe(7);
    expect(lags).toEqual([0]);
    expect(await values(local)).toEqual(['c0:0', 'c0:1', 'c1:0', 'c1:1', 'c2:0', 'c2:1', 'theirs0:0']);
    await f.close();
    expect(local.storedHighWatermark()).toBe(7);
  });

  it('never drops records the leader has: the checked position trails the log end until the answers reach it', async () => {
    const h = harness();
    const local = await h.open();
    const all = leaderBatches('k', 0, [1, 1, 1, 1, 1]);
    await holds(local, all);
    await local.checkpointHighWatermark(1);
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    // The leader sends one batch at a time (a small fetch size): each is checked, none cut.
    for (let i = 1; i < 5; i++) {
      expect(f.position().fetchOffset).toBe(i);
      await f.apply(f.position(), answer([all[i]!], { highWatermark: 5 }));
      expect(local.logEndOffset()).toBe(5);
      expect(f.highWatermark).toBe(i + 1);
    }
    expect(f.position().fetchOffset).toBe(5);
    await f.close();
  });

  it('truncates the part the leader does not have when the whole answer is empty', async () => {
    const h = harness();
    const local = await h.open();
    await holds(local, leaderBatches('t', 0, [2, 2]));
    await local.checkpointHighWatermark(2);
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    // Another partition's records in the same answer say nothing about this one.
    await f.apply(f.position(), answer(null, { highWatermark: 2, answerEmpty: false }));
    expect(local.logEndOffset()).toBe(4);
    await f.apply(f.position(), answer(null, { highWatermark: 2 }));
    expect(local.logEndOffset()).toBe(2);
    await f.close();
  });

  it('drops answers to fetches of an older generation or from another position', async () => {
    const h = harness();
    const local = await h.open();
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    const stale = f.position();
    await f.follow(3, 6);
    await f.apply(stale, answer(leaderBatches('x', 0, [1])));
    expect(local.logEndOffset()).toBe(0);
    const now = f.position();
    await f.apply(now, answer(leaderBatches('y', 0, [1])));
    await f.apply(now, answer(leaderBatches('y', 0, [1])));
    expect(local.logEndOffset()).toBe(1);
    await f.close();
  });

  it('restarts at the leader\'s log start when the leader no longer has its fetch offset', async () => {
    const h = harness();
    const local = await h.open();
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    await f.apply(f.position(), answer(null, { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: 500, logStartOffset: 300 }));
    expect([local.logStartOffset(), local.logEndOffset(), f.position().fetchOffset]).toEqual([300, 300, 300]);
    // The leader's log start is inside a batch: the follower starts at that batch.
    await f.apply(f.position(), answer(leaderBatches('s', 298, [4, 1]), { highWatermark: 500, logStartOffset: 300 }));
    expect([local.logStartOffset(), local.logEndOffset()]).toEqual([298, 303]);
    await f.close();
  });

  it('truncates to the leader\'s high watermark when its position is beyond the leader\'s log (an unclean election)', async () => {
    const h = harness();
    const local = await h.open();
    await holds(local, leaderBatches('u', 0, Array.from({ length: 10 }, () => 1)));
    await local.checkpointHighWatermark(10);
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    await f.apply(f.position(), answer(null, { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: 7, logStartOffset: 0 }));
    expect(local.logEndOffset()).toBe(7);
    expect(f.highWatermark).toBe(7);
    expect(f.position().fetchOffset).toBe(7);
    await f.close();
  });

  it('refuses a batch that fails its CRC and backs off; a leadership error backs off briefly', async () => {
    const h = harness();
    const local = await h.open();
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    const [bad] = leaderBatches('c', 0, [1]);
    bad![bad!.length - 1] = bad![bad!.length - 1]! ^ 0xff;
    await f.apply(f.position(), answer([bad!]));
    expect(local.logEndOffset()).toBe(0);
    expect(f.canFetch(h.clock.monotonic())).toBe(false);
    expect(f.retryAt()).toBe(h.clock.monotonic() + BACKOFF_MS);
    h.clock.advance(BACKOFF_MS);
    expect(f.canFetch(h.clock.monotonic())).toBe(true);
    await f.apply(f.position(), answer(null, { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1, logStartOffset: -1 }));
    expect(f.retryAt()! - h.clock.monotonic()).toBeLessThan(BACKOFF_MS);
    await f.close();
  });

  it('follows the leader\'s log start as far as its own high watermark', async () => {
    const h = harness();
    const local = await h.open({ segmentBytes: 1024 });
    const { f } = await follower(h, local);
    await f.follow(2, 5);
    await f.apply(f.position(), answer(leaderBatches('l', 0, Array.from({ length: 40 }, () => 1)), { highWatermark: 40 }));
    await f.apply(f.position(), answer(null, { highWatermark: 40, logStartOffset: 25, answerEmpty: false }));
    await f.close();
    expect(local.logStartOffset()).toBe(25);
  });
});
