/**
 * A GroupStateMachine driven the way the coordinator drives it, with a ManualClock for
 * time and a store whose appends complete only when the test says so.
 */
import type { JoinResult, SyncResult } from '../../../../src/broker/groups/group.ts';
import type { GroupConfig } from '../../../../src/broker/groups/limits.ts';
import type { OffsetsRecord } from '../../../../src/broker/groups/records.ts';
import { GroupStateMachine, type CommitErrorCode, type CommitRequest, type GroupStore, type JoinRequest } from '../../../../src/broker/groups/state-machine.ts';
import { ManualClock } from '../../../../src/common/clock.ts';
import { ErrorCode } from '../../../../src/protocol/errors.ts';

export const TEST_CONFIG: GroupConfig = {
  minSessionTimeoutMs: 1_000,
  maxSessionTimeoutMs: 60_000,
  initialRebalanceDelayMs: 100,
  maxSize: 1000,
  offsetsRetentionMs: 24 * 3600_000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetMetadataBytesMax: 4096,
  memberMetadataBytesMax: 1024,
  groupMetadataBytesMax: 4096,
  newMemberJoinTimeoutMs: 300_000,
};

/** An answer that may not have arrived yet. */
export interface Pending<T> {
  value: T | undefined;
  calls: number;
}

function pending<T>(): [Pending<T>, (v: T) => void] {
  const p: Pending<T> = { value: undefined, calls: 0 };
  return [
    p,
    (v) => {
      p.value = v;
      p.calls++;
    },
  ];
}

export class FakeStore implements GroupStore {
  /** Every append, in order, whether completed or not. */
  readonly appended: OffsetsRecord[][] = [];
  private waiting: { done: (errorCode: ErrorCode, now: number) => void }[] = [];
  constructor(private readonly clock: ManualClock) {}

  append(records: readonly OffsetsRecord[], done: (errorCode: ErrorCode, now: number) => void): void {
    this.appended.push([...records]);
    this.waiting.push({ done });
  }

  get inFlight(): number {
    return this.waiting.length;
  }

  /** Completes every append made so far with `errorCode`, in order. */
  complete(errorCode: ErrorCode = ErrorCode.NONE): void {
    const now = this.waiting.splice(0);
    for (const w of now) w.done(errorCode, this.clock.now());
  }

  records(): OffsetsRecord[] {
    return this.appended.flat();
  }
}

export interface JoinOptions {
  memberId?: string;
  clientId?: string;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  protocolType?: string;
  protocols?: { name: string; metadata: Buffer }[];
  requireKnownMemberId?: boolean;
}

export class Harness {
  readonly clock = new ManualClock();
  readonly store = new FakeStore(this.clock);
  readonly m: GroupStateMachine;
  private ids = 0;

  constructor(config: Partial<GroupConfig> = {}) {
    this.m = new GroupStateMachine({ config: { ...TEST_CONFIG, ...config }, store: this.store, newMemberId: (clientId) => `${clientId}-${++this.ids}`, now: this.clock.now() });
  }

  get now(): number {
    return this.clock.now();
  }

  join(groupId: string, o: JoinOptions = {}): Pending<JoinResult> {
    const [p, resolve] = pending<JoinResult>();
    const req: JoinRequest = {
      groupId,
      memberId: o.memberId ?? '',
      groupInstanceId: null,
      clientId: o.clientId ?? 'c',
      clientHost: '/127.0.0.1',
      sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000,
      rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 30_000,
      protocolType: o.protocolType ?? 'consumer',
      protocols: o.protocols ?? [{ name: 'range', metadata: Buffer.from('sub') }],
      requireKnownMemberId: o.requireKnownMemberId ?? false,
    };
    this.m.join(req, this.now, resolve);
    return p;
  }

  sync(groupId: string, generationId: number, memberId: string, assignments: { memberId: string; assignment: Buffer }[] = []): Pending<SyncResult> {
    const [p, resolve] = pending<SyncResult>();
    this.m.sync({ groupId, generationId, memberId, assignments }, this.now, resolve);
    return p;
  }

  heartbeat(groupId: string, generationId: number, memberId: string): ErrorCode {
    return this.m.heartbeat({ groupId, generationId, memberId }, this.now);
  }

  commit(groupId: string, generationId: number, memberId: string, offsets: Partial<CommitRequest['offsets'][number]>[], retentionTimeMs = -1): Pending<CommitErrorCode[]> {
    const [p, resolve] = pending<CommitErrorCode[]>();
    const full = offsets.map((o) => ({ topic: 't', partition: 0, offset: 0, leaderEpoch: -1, metadata: '', commitTimestamp: -1, ...o }));
    this.m.commitOffsets({ groupId, generationId, memberId, retentionTimeMs, offsets: full }, this.now, resolve);
    return p;
  }

  deleteGroups(ids: string[]): Pending<Map<string, ErrorCode>> {
    const [p, resolve] = pending<Map<string, ErrorCode>>();
    this.m.deleteGroups(ids, resolve);
    return p;
  }

  /** Moves time forward, ticking the machine at each deadline on the way, as the coordinator's timer does. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      const next = this.m.nextDeadline();
      if (next > target) break;
      this.clock.advance(Math.max(0, next - this.now));
      this.m.tick(this.now);
    }
    this.clock.advance(target - this.now);
  }

  /**
   * Joins one new member the way a v4+ client does (MEMBER_ID_REQUIRED, then again with
   * the id), returning its id and the pending answer of the second JoinGroup.
   */
  joinNew(groupId: string, o: JoinOptions = {}): { memberId: string; result: Pending<JoinResult> } {
    const first = this.join(groupId, { ...o, requireKnownMemberId: true });
    if (first.value?.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) throw new Error(`expected MEMBER_ID_REQUIRED, got ${JSON.stringify(first.value)}`);
    const memberId = first.value.memberId;
    return { memberId, result: this.join(groupId, { ...o, memberId, requireKnownMemberId: true }) };
  }

  /**
   * A stable group of `n` members: joined, the initial delay passed, the leader's
   * assignment (member i gets byte i) stored.
   */
  stableGroup(groupId: string, n: number, o: JoinOptions = {}): { members: string[]; leader: string; generationId: number } {
    const joins = Array.from({ length: n }, (_, i) => this.joinNew(groupId, { clientId: `m${i}`, ...o }));
    // The first delay, and one more because more members arrived during it.
    this.advance(2 * TEST_CONFIG.initialRebalanceDelayMs);
    const results = joins.map((j) => j.result.value);
    if (results.some((r) => r?.errorCode !== ErrorCode.NONE)) throw new Error(`join failed: ${JSON.stringify(results)}`);
    const generationId = results[0]!.generationId;
    const leader = results[0]!.leader;
    const members = joins.map((j) => j.memberId);
    const syncs = members.map((id) =>
      this.sync(groupId, generationId, id, id === leader ? members.map((mid, k) => ({ memberId: mid, assignment: Buffer.from([k]) })) : []),
    );
    this.store.complete();
    if (syncs.some((s, i) => s.value?.errorCode !== ErrorCode.NONE || !s.value.assignment.equals(Buffer.from([i])))) throw new Error(`sync failed: ${JSON.stringify(syncs)}`);
    return { members, leader, generationId };
  }
}
