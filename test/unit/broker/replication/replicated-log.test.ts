import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ReplicatedLog, type AlterIsrAnswer } from '../../../../src/broker/replication/replicated-log.ts';
import { StorageError } from '../../../../src/storage/partition-log.ts';
import { batch, harness, type Harness } from '../../storage/local-log/helpers.ts';

const LAG_MS = 1000;
const BACKOFF_MS = 500;
const CHECKPOINT_MS = 5000;

interface Setup {
  h: Harness;
  log: ReplicatedLog;
  calls: { isr: number[]; partitionEpoch: number }[];
  /** How the controller answers the next AlterIsr calls (default: accepts, bumping the epoch). */
  answer: (req: { isr: number[]; partitionEpoch: number }) => Promise<AlterIsrAnswer>;
  events: { shrunk: number[][]; expanded: number[][] };
}

async function setup(over: { isr?: number[]; minInsync?: number } = {}): Promise<Setup> {
  const h = harness();
  const local = await h.open();
  const s: Setup = {
    h,
    log: undefined as unknown as ReplicatedLog,
    calls: [],
    answer: (req) => Promise.resolve({ errorCode: 0, partition: { leader: 1, leaderEpoch: 3, replicas: [1, 2, 3], isr: req.isr, partitionEpoch: req.partitionEpoch + 1 } }),
    events: { shrunk: [], expanded: [] },
  };
  s.log = new ReplicatedLog({
    local,
    topic: 't',
    partition: 0,
    self: 1,
    leaderEpoch: 3,
    replicas: [1, 2, 3],
    isr: over.isr ?? [1, 2, 3],
    partitionEpoch: 7,
    minInsyncReplicas: over.minInsync ?? 2,
    lagTimeMaxMs: LAG_MS,
    isrRetryBackoffMs: BACKOFF_MS,
    highWatermarkCheckpointIntervalMs: CHECKPOINT_MS,
    alterIsr: (req) => {
      s.calls.push(req);
      return s.answer(req);
    },
    events: {
      isrShrunk: (_t, _p, removed) => s.events.shrunk.push([...removed]),
      isrExpanded: (_t, _p, added) => s.events.expanded.push([...added]),
    },
    clock: h.clock,
    logger: pino({ level: 'silent' }),
  });
  return s;
}

function append(log: ReplicatedLog, tag: string, records: number): ReturnType<ReplicatedLog['append']> {
  const b = batch(tag, records);
  return log.append(b.buf, b.header);
}

/** Lets promise callbacks run (the simulated filesystem answers at once). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function track(p: Promise<void>): { state: () => 'pending' | 'resolved' | 'rejected'; error: () => unknown } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let error: unknown;
  p.then(
    () => (state = 'resolved'),
    (err: unknown) => {
      state = 'rejected';
      error = err;
    },
  );
  return { state: () => state, error: () => error };
}

describe('ReplicatedLog', () => {
  it('acks=all resolves once every ISR member has fetched past the batch; consumers see only the high watermark', async () => {
    const { log } = await setup();
    const seen: number[] = [];
    log.onHighWatermark((hw) => seen.push(hw));
    const r = append(log, 'a', 3);
    const full = track(r.fullyDurable);
    await r.leaderDurable;
    expect(log.logEndOffset()).toBe(3);
    expect(log.highWatermark()).toBe(0);
    // A follower reads past the high watermark, up to the committed end.
    expect((await log.readForFollower(0, 1 << 20)).bytes).toBeGreaterThan(0);
    expect((await log.read(0, 1 << 20, log.highWatermark())).bytes).toBe(0);
    log.followerFetched(2, 3);
    await settle();
    expect(full.state()).toBe('pending');
    log.followerFetched(3, 2);
    await settle();
    expect(log.highWatermark()).toBe(2);
    expect(full.state()).toBe('pending');
    log.followerFetched(3, 3);
    await settle();
    expect(log.highWatermark()).toBe(3);
    expect(full.state()).toBe('resolved');
    expect(seen).toEqual([2, 3]);
  });

  it('a leader alone in its ISR has a high watermark at its committed end', async () => {
    const { log } = await setup({ isr: [1], minInsync: 1 });
    const r = append(log, 'a', 2);
    await r.fullyDurable;
    expect(log.highWatermark()).toBe(2);
  });

  it('shrinks the ISR of a follower that lags longer than replica.lag.time.max.ms, and the waiting write then completes', async () => {
    const s = await setup();
    const { log, h } = s;
    log.followerFetched(2, 0);
    log.followerFetched(3, 0);
    const r = append(log, 'a', 1);
    const full = track(r.fullyDurable);
    await r.leaderDurable;
    // Follower 2 keeps fetching; follower 3 is silent.
    for (let t = 0; t < 3; t++) {
      h.clock.advance(LAG_MS / 2);
      log.followerFetched(2, 1);
      await settle();
    }
    expect(s.calls).toEqual([{ isr: [1, 2], partitionEpoch: 7 }]);
    expect(log.isr()).toEqual([1, 2]);
    expect(s.events.shrunk).toEqual([[3]]);
    expect(full.state()).toBe('resolved');
  });

  it('a write waiting when the ISR falls below min.insync.replicas fails with FLOE_ERR_STORAGE_UNAVAILABLE (NOT_ENOUGH_REPLICAS_AFTER_APPEND)', async () => {
    const { log } = await setup({ minInsync: 2 });
    const r = append(log, 'a', 1);
    const full = track(r.fullyDurable);
    await r.leaderDurable;
    // The controller declared both followers dead.
    log.update({ replicas: [1, 2, 3], isr: [1], partitionEpoch: 8 }, 2);
    await settle();
    expect(full.state()).toBe('rejected');
    expect(full.error()).toBeInstanceOf(StorageError);
    expect((full.error() as StorageError).code).toBe('FLOE_ERR_STORAGE_UNAVAILABLE');
    // An older committed state does not undo it.
    log.update({ replicas: [1, 2, 3], isr: [1, 2, 3], partitionEpoch: 7 }, 2);
    expect(log.isr()).toEqual([1]);
  });

  it('asks to add a replica once it has caught up, and retries a refusal only after the backoff', async () => {
    const s = await setup({ isr: [1, 2], minInsync: 1 });
    const { log, h } = s;
    await append(log, 'a', 4).leaderDurable;
    log.followerFetched(2, 4);
    await settle();
    expect(log.highWatermark()).toBe(4);
    s.answer = () => Promise.resolve({ errorCode: 107, partition: null });
    log.followerFetched(3, 2);
    await settle();
    expect(s.calls).toEqual([]);
    log.followerFetched(3, 4);
    await settle();
    expect(s.calls).toEqual([{ isr: [1, 2, 3], partitionEpoch: 7 }]);
    expect(log.isr()).toEqual([1, 2]);
    log.followerFetched(3, 4);
    await settle();
    expect(s.calls).toHaveLength(1);
    s.answer = (req) => Promise.resolve({ errorCode: 0, partition: { leader: 1, leaderEpoch: 3, replicas: [1, 2, 3], isr: req.isr, partitionEpoch: 8 } });
    h.clock.advance(BACKOFF_MS);
    log.followerFetched(3, 4);
    await settle();
    expect(s.calls).toHaveLength(2);
    expect(log.isr()).toEqual([1, 2, 3]);
    expect(s.events.expanded).toEqual([[3]]);
  });

  it('closing rejects waiting writes (NOT_LEADER_OR_FOLLOWER) and stores the high watermark', async () => {
    const { log, h } = await setup();
    await append(log, 'a', 2).leaderDurable;
    log.followerFetched(2, 2);
    log.followerFetched(3, 2);
    const r = append(log, 'b', 1);
    const full = track(r.fullyDurable);
    await r.leaderDurable;
    await log.close();
    await settle();
    expect(full.state()).toBe('rejected');
    expect((full.error() as StorageError).code).toBe('FLOE_ERR_STORAGE_CLOSED');
    const reopened = await h.open();
    expect(reopened.storedHighWatermark()).toBe(2);
    await reopened.close();
  });

  it('accepts follower fetch offsets only between its log start and its committed end', async () => {
    const { log } = await setup();
    await append(log, 'a', 2).leaderDurable;
    expect(log.validFetchOffset(0)).toBe(true);
    expect(log.validFetchOffset(2)).toBe(true);
    expect(log.validFetchOffset(3)).toBe(false);
    expect(log.followerFetched(9, 1)).toBe(false);
    await expect(log.advanceLogStart(1)).rejects.toThrow(/outside/);
  });
});
