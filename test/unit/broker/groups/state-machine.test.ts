import { describe, expect, it } from 'vitest';
import { GroupState } from '../../../../src/broker/groups/group.ts';
import type { OffsetsRecord } from '../../../../src/broker/groups/records.ts';
import { commitErrorOf, groupStoreErrorOf } from '../../../../src/broker/groups/state-machine.ts';
import { ErrorCode } from '../../../../src/protocol/errors.ts';
import { Harness, TEST_CONFIG } from './harness.ts';

const DELAY = TEST_CONFIG.initialRebalanceDelayMs;
/** Members joining a new group together: the first delay, and the one more their arrival asks for. */
const SETTLE = 2 * DELAY;
const sub = (s: string): { name: string; metadata: Buffer }[] => [{ name: 'range', metadata: Buffer.from(s) }];

describe('JoinGroup', () => {
  it('v4+: an unknown member gets MEMBER_ID_REQUIRED with a fresh id, then joins with it', () => {
    const h = new Harness();
    const first = h.join('g', { clientId: 'app', requireKnownMemberId: true });
    expect(first.value).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, memberId: 'app-1', generationId: -1 });
    const second = h.join('g', { clientId: 'app', memberId: 'app-1', requireKnownMemberId: true });
    expect(second.value).toBeUndefined();
    h.advance(DELAY);
    expect(second.value).toEqual({
      errorCode: ErrorCode.NONE,
      generationId: 1,
      protocolName: 'range',
      leader: 'app-1',
      memberId: 'app-1',
      members: [{ memberId: 'app-1', groupInstanceId: null, metadata: Buffer.from('sub') }],
    });
    expect(h.m.describe('g').state).toBe(GroupState.CompletingRebalance);
  });

  it('before v4 an unknown member joins at once with a generated id', () => {
    const h = new Harness();
    const r = h.join('g', { clientId: 'old' });
    h.advance(DELAY);
    expect(r.value).toMatchObject({ errorCode: ErrorCode.NONE, memberId: 'old-1', leader: 'old-1', generationId: 1 });
  });

  it('the leader gets every member with its metadata; followers get none', () => {
    const h = new Harness();
    const a = h.joinNew('g', { clientId: 'a', protocols: sub('A') });
    const b = h.joinNew('g', { clientId: 'b', protocols: sub('B') });
    h.advance(SETTLE);
    expect(a.result.value?.members).toEqual([
      { memberId: a.memberId, groupInstanceId: null, metadata: Buffer.from('A') },
      { memberId: b.memberId, groupInstanceId: null, metadata: Buffer.from('B') },
    ]);
    expect(b.result.value).toMatchObject({ errorCode: ErrorCode.NONE, leader: a.memberId, members: [] });
    expect(a.result.value?.generationId).toBe(b.result.value?.generationId);
  });

  it('the initial delay is extended while new members keep arriving, up to the rebalance timeout', () => {
    const h = new Harness();
    const a = h.joinNew('g', { clientId: 'a', rebalanceTimeoutMs: 250 });
    h.advance(DELAY - 1);
    const b = h.joinNew('g', { clientId: 'b', rebalanceTimeoutMs: 250 });
    h.advance(1);
    // b arrived during the first delay: another delay is waited.
    expect(a.result.value).toBeUndefined();
    h.advance(DELAY);
    expect(a.result.value?.generationId).toBe(1);
    expect(b.result.value?.generationId).toBe(1);
  });

  it('selects the protocol most members prefer among those all support', () => {
    const h = new Harness();
    const both = (first: string, second: string) => [
      { name: first, metadata: Buffer.alloc(0) },
      { name: second, metadata: Buffer.alloc(0) },
    ];
    const a = h.joinNew('g', { clientId: 'a', protocols: both('range', 'roundrobin') });
    h.joinNew('g', { clientId: 'b', protocols: both('roundrobin', 'range') });
    h.joinNew('g', { clientId: 'c', protocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }, { name: 'sticky', metadata: Buffer.alloc(0) }] });
    h.advance(SETTLE);
    expect(a.result.value?.protocolName).toBe('roundrobin');
  });

  it.each([
    ['below group.min.session.timeout.ms', 999],
    ['above group.max.session.timeout.ms', 60_001],
  ])('refuses a session timeout %s with INVALID_SESSION_TIMEOUT', (_name, sessionTimeoutMs) => {
    const h = new Harness();
    expect(h.join('g', { sessionTimeoutMs }).value).toMatchObject({ errorCode: ErrorCode.INVALID_SESSION_TIMEOUT });
    expect(h.m.list([])).toEqual([]);
  });

  it.each([
    ['a member id the group does not know', 'nobody-1', true],
    ['a member id for a group that does not exist', 'nobody-1', false],
  ])('answers UNKNOWN_MEMBER_ID for %s', (_name, memberId, groupExists) => {
    const h = new Harness();
    if (groupExists) h.stableGroup('g', 1);
    expect(h.join('g', { memberId }).value).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, memberId });
  });

  it.each([
    ['another protocol type', { protocolType: 'connect' }],
    ['no protocol in common', { protocols: sub('x').map((p) => ({ ...p, name: 'sticky' })) }],
  ])('refuses a member with %s with INCONSISTENT_GROUP_PROTOCOL', (_name, o) => {
    const h = new Harness();
    const { generationId } = h.stableGroup('g', 1);
    expect(h.join('g', { ...o, requireKnownMemberId: true }).value).toMatchObject({ errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL, memberId: '' });
    expect(h.m.describe('g')).toMatchObject({ state: GroupState.Stable });
    expect(h.heartbeat('g', generationId, h.m.describe('g').members[0]!.memberId)).toBe(ErrorCode.NONE);
  });

  it('refuses an empty protocol type or protocol list for a new group', () => {
    const h = new Harness();
    expect(h.join('g', { protocolType: '' }).value?.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(h.join('g', { protocols: [] }).value?.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // Refused joins leave nothing behind.
    expect(h.m.size).toBe(0);
  });

  it('refuses oversized member metadata with MESSAGE_TOO_LARGE and keeps serving the group and others', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    const big = [{ name: 'range', metadata: Buffer.alloc(TEST_CONFIG.memberMetadataBytesMax) }];
    expect(h.join('g', { protocols: big, requireKnownMemberId: true }).value?.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(h.join('other', { protocols: big, requireKnownMemberId: true }).value?.errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    // The group did not rebalance; another group can form.
    expect(h.m.describe('g').state).toBe(GroupState.Stable);
    for (const id of g.members) expect(h.heartbeat('g', g.generationId, id)).toBe(ErrorCode.NONE);
    const o = h.joinNew('other');
    h.advance(DELAY);
    expect(o.result.value?.errorCode).toBe(ErrorCode.NONE);
  });

  it('refuses members beyond group.max.size with GROUP_MAX_SIZE_REACHED', () => {
    const h = new Harness({ maxSize: 2 });
    h.stableGroup('g', 2);
    expect(h.join('g').value).toMatchObject({ errorCode: ErrorCode.GROUP_MAX_SIZE_REACHED, memberId: '' });
    expect(h.m.describe('g').members).toHaveLength(2);
  });

  it('refuses a member whose metadata would take the group past its byte budget with GROUP_MAX_SIZE_REACHED', () => {
    const h = new Harness({ memberMetadataBytesMax: TEST_CONFIG.groupMetadataBytesMax });
    // Each member counts its protocol names and metadata: 'range' (5) + 1000 bytes.
    h.stableGroup('g', 2, { protocols: [{ name: 'range', metadata: Buffer.alloc(1000) }] });
    const room = TEST_CONFIG.groupMetadataBytesMax - 2 * 1005;
    expect(h.join('g', { protocols: [{ name: 'range', metadata: Buffer.alloc(room - 4) }] }).value?.errorCode).toBe(ErrorCode.GROUP_MAX_SIZE_REACHED);
    // One byte less fits: the member is taken in and waits for the rebalance.
    expect(h.join('g', { protocols: [{ name: 'range', metadata: Buffer.alloc(room - 5) }] }).value).toBeUndefined();
    expect(h.m.describe('g').members).toHaveLength(3);
  });

  it('a follower rejoining a stable group with unchanged metadata gets the current generation without a rebalance', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    const follower = g.members[1]!;
    const r = h.join('g', { memberId: follower, clientId: 'm1' });
    expect(r.value).toEqual({ errorCode: ErrorCode.NONE, generationId: g.generationId, protocolName: 'range', leader: g.leader, memberId: follower, members: [] });
    expect(h.m.describe('g').state).toBe(GroupState.Stable);
    const s = h.sync('g', g.generationId, follower);
    expect(s.value).toEqual({ errorCode: ErrorCode.NONE, assignment: Buffer.from([1]) });
  });

  it.each([
    ['a follower with changed metadata', 1, sub('changed')],
    ['the leader, even unchanged', 0, sub('sub')],
  ])('%s rejoining a stable group starts a rebalance', (_name, index, protocols) => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    const rejoin = h.join('g', { memberId: g.members[index]!, protocols });
    expect(rejoin.value).toBeUndefined();
    expect(h.m.describe('g').state).toBe(GroupState.PreparingRebalance);
    const other = g.members[1 - index]!;
    expect(h.heartbeat('g', g.generationId, other)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const otherJoin = h.join('g', { memberId: other });
    // Every member rejoined: the rebalance completes without waiting for the timeout.
    expect(rejoin.value?.generationId).toBe(g.generationId + 1);
    expect(otherJoin.value?.generationId).toBe(g.generationId + 1);
  });

  it('a member that does not rejoin within the rebalance timeout is removed', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 3, { rebalanceTimeoutMs: 5_000 });
    const a = h.join('g', { memberId: g.members[0]!, rebalanceTimeoutMs: 5_000 });
    h.advance(1000);
    const b = h.join('g', { memberId: g.members[1]!, rebalanceTimeoutMs: 5_000 });
    expect(h.heartbeat('g', g.generationId, g.members[2]!)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    h.advance(4000);
    expect(a.value).toMatchObject({ errorCode: ErrorCode.NONE, generationId: g.generationId + 1 });
    expect(a.value?.members.map((m) => m.memberId)).toEqual([g.members[0], g.members[1]]);
    expect(b.value?.errorCode).toBe(ErrorCode.NONE);
    expect(h.heartbeat('g', g.generationId, g.members[2]!)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('a second JoinGroup from a waiting member answers the first with REBALANCE_IN_PROGRESS', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    const first = h.join('g', { memberId: g.members[0]! });
    const second = h.join('g', { memberId: g.members[0]! });
    expect(first.value?.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(second.value).toBeUndefined();
    h.join('g', { memberId: g.members[1]! });
    expect(second.value?.errorCode).toBe(ErrorCode.NONE);
    expect(first.calls).toBe(1);
  });

  it('rejoining with the same metadata while the group awaits sync returns the same generation', () => {
    const h = new Harness();
    const a = h.joinNew('g', { clientId: 'a' });
    h.advance(DELAY);
    const again = h.join('g', { memberId: a.memberId });
    expect(again.value).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: a.memberId });
    expect(again.value?.members).toHaveLength(1);
    expect(h.m.describe('g').state).toBe(GroupState.CompletingRebalance);
  });

  it('a handed-out member id that is not used within the session timeout lapses', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 1);
    const pending = h.join('g', { requireKnownMemberId: true, sessionTimeoutMs: 2_000 });
    const id = pending.value!.memberId;
    // The leader rejoins: the rebalance waits for the pending member...
    const rejoin = h.join('g', { memberId: g.members[0]! });
    h.heartbeat('g', g.generationId, g.members[0]!);
    h.advance(1_999);
    expect(rejoin.value).toBeUndefined();
    // ...until its id lapses.
    h.advance(1);
    expect(rejoin.value?.errorCode).toBe(ErrorCode.NONE);
    expect(h.join('g', { memberId: id, requireKnownMemberId: true }).value?.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

describe('SyncGroup', () => {
  it("answers every member only once the leader's assignment is durable, then the group is Stable", () => {
    const h = new Harness();
    const a = h.joinNew('g', { clientId: 'a' });
    const b = h.joinNew('g', { clientId: 'b' });
    h.advance(SETTLE);
    const gen = a.result.value!.generationId;
    const follower = h.sync('g', gen, b.memberId);
    const leader = h.sync('g', gen, a.memberId, [{ memberId: b.memberId, assignment: Buffer.from('for-b') }]);
    expect(h.store.appended).toHaveLength(1);
    const record = h.store.appended[0]![0]!;
    expect(record).toMatchObject({ kind: 'group', group: 'g', value: { generation: gen, protocol: 'range', leader: a.memberId, protocolType: 'consumer' } });
    expect(follower.value).toBeUndefined();
    expect(leader.value).toBeUndefined();
    h.store.complete();
    expect(follower.value).toEqual({ errorCode: ErrorCode.NONE, assignment: Buffer.from('for-b') });
    // A member the leader left out gets empty bytes, not null.
    expect(leader.value).toEqual({ errorCode: ErrorCode.NONE, assignment: Buffer.alloc(0) });
    expect(h.m.describe('g').state).toBe(GroupState.Stable);
  });

  it.each([
    ['a group that does not exist', 'nope', 1, 'x', ErrorCode.UNKNOWN_MEMBER_ID],
    ['an unknown member', 'g', 1, 'nobody', ErrorCode.UNKNOWN_MEMBER_ID],
    ['a stale generation', 'g', 0, 'MEMBER', ErrorCode.ILLEGAL_GENERATION],
    ['a generation from the future', 'g', 7, 'MEMBER', ErrorCode.ILLEGAL_GENERATION],
  ])('answers %s with its error code', (_name, groupId, generation, memberId, code) => {
    const h = new Harness();
    const g = h.stableGroup('g', 1);
    const s = h.sync(groupId, generation, memberId === 'MEMBER' ? g.members[0]! : memberId);
    expect(s.value).toEqual({ errorCode: code, assignment: Buffer.alloc(0) });
  });

  it('answers REBALANCE_IN_PROGRESS while a rebalance is prepared', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    h.join('g', { memberId: g.members[0]! });
    expect(h.sync('g', g.generationId, g.members[1]!).value?.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('a failed store of the assignment reaches every waiting member and starts a rebalance', () => {
    const h = new Harness();
    const a = h.joinNew('g', { clientId: 'a' });
    const b = h.joinNew('g', { clientId: 'b' });
    h.advance(SETTLE);
    const gen = a.result.value!.generationId;
    const sb = h.sync('g', gen, b.memberId);
    const sa = h.sync('g', gen, a.memberId, [{ memberId: b.memberId, assignment: Buffer.from('x') }]);
    h.store.complete(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(sa.value).toEqual({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, assignment: Buffer.alloc(0) });
    expect(sb.value).toEqual({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, assignment: Buffer.alloc(0) });
    expect(h.m.describe('g').state).toBe(GroupState.PreparingRebalance);
  });

  it('a join with new metadata while members wait for their assignment sends them back to rejoin', () => {
    const h = new Harness();
    const a = h.joinNew('g', { clientId: 'a' });
    const b = h.joinNew('g', { clientId: 'b' });
    h.advance(SETTLE);
    const sb = h.sync('g', b.result.value!.generationId, b.memberId);
    h.join('g', { memberId: a.memberId, protocols: sub('new') });
    expect(sb.value?.errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });

  it('members that do not SyncGroup within the rebalance timeout are removed', () => {
    const h = new Harness();
    const a = h.joinNew('g', { clientId: 'a', rebalanceTimeoutMs: 3_000 });
    const b = h.joinNew('g', { clientId: 'b', rebalanceTimeoutMs: 3_000 });
    h.advance(SETTLE);
    const gen = a.result.value!.generationId;
    h.sync('g', gen, a.memberId, []);
    h.store.complete();
    expect(h.m.describe('g').state).toBe(GroupState.Stable);
    h.heartbeat('g', gen, b.memberId);
    h.advance(3_000);
    expect(h.m.describe('g').members.map((m) => m.memberId)).toEqual([a.memberId]);
    expect(h.heartbeat('g', gen, a.memberId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
  });
});

describe('Heartbeat', () => {
  it.each([
    ['a group that does not exist', 'nope', 'x', 1, ErrorCode.UNKNOWN_MEMBER_ID],
    ['an unknown member', 'g', 'nobody', 1, ErrorCode.UNKNOWN_MEMBER_ID],
    ['a stale generation', 'g', 'MEMBER', 0, ErrorCode.ILLEGAL_GENERATION],
    ['a current member of a stable group', 'g', 'MEMBER', 1, ErrorCode.NONE],
  ])('answers %s with %s', (_name, groupId, memberId, generation, code) => {
    const h = new Harness();
    const g = h.stableGroup('g', 1);
    expect(g.generationId).toBe(1);
    expect(h.heartbeat(groupId, generation, memberId === 'MEMBER' ? g.members[0]! : memberId)).toBe(code);
  });

  it('answers NONE between JoinGroup and SyncGroup', () => {
    const h = new Harness();
    const a = h.joinNew('g');
    h.advance(DELAY);
    expect(h.heartbeat('g', a.result.value!.generationId, a.memberId)).toBe(ErrorCode.NONE);
  });

  it('a member that stops heartbeating is removed after its session timeout, and the group rebalances', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2, { sessionTimeoutMs: 3_000 });
    const [alive, silent] = g.members as [string, string];
    for (const step of [1_000, 1_000, 999]) {
      h.advance(step);
      expect(h.heartbeat('g', g.generationId, alive)).toBe(ErrorCode.NONE);
    }
    h.advance(1);
    expect(h.heartbeat('g', g.generationId, alive)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(h.heartbeat('g', g.generationId, silent)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const rejoin = h.join('g', { memberId: alive, sessionTimeoutMs: 3_000 });
    expect(rejoin.value).toMatchObject({ errorCode: ErrorCode.NONE, generationId: g.generationId + 1, leader: alive });
  });

  it('heartbeats keep a member in the group far beyond one session timeout', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 1, { sessionTimeoutMs: 2_000 });
    for (let i = 0; i < 50; i++) {
      h.advance(1_500);
      expect(h.heartbeat('g', g.generationId, g.members[0]!)).toBe(ErrorCode.NONE);
    }
  });
});

describe('LeaveGroup', () => {
  it('a leaving member is removed; the others rejoin and take over', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 3);
    const r = h.m.leave('g', [{ memberId: g.members[2]!, groupInstanceId: null }, { memberId: 'nobody', groupInstanceId: null }], h.now);
    expect(r).toEqual({
      errorCode: ErrorCode.NONE,
      members: [
        { memberId: g.members[2], groupInstanceId: null, errorCode: ErrorCode.NONE },
        { memberId: 'nobody', groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID },
      ],
    });
    const a = h.join('g', { memberId: g.members[0]! });
    const b = h.join('g', { memberId: g.members[1]! });
    expect(a.value?.members.map((m) => m.memberId)).toEqual([g.members[0], g.members[1]]);
    expect(b.value?.generationId).toBe(g.generationId + 1);
  });

  it('the leader leaving hands leadership to the next member', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    h.m.leave('g', [{ memberId: g.leader, groupInstanceId: null }], h.now);
    const b = h.join('g', { memberId: g.members[1]! });
    expect(b.value).toMatchObject({ leader: g.members[1], generationId: g.generationId + 1 });
  });

  it('answers UNKNOWN_MEMBER_ID per member for a group that does not exist', () => {
    const h = new Harness();
    expect(h.m.leave('nope', [{ memberId: 'x', groupInstanceId: null }], h.now)).toEqual({
      errorCode: ErrorCode.NONE,
      members: [{ memberId: 'x', groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID }],
    });
  });

  it('the last member leaving makes the group Empty in a new generation, which is stored', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 1);
    const before = h.store.appended.length;
    h.m.leave('g', [{ memberId: g.members[0]!, groupInstanceId: null }], h.now);
    expect(h.m.describe('g')).toMatchObject({ state: GroupState.Empty, members: [] });
    expect(h.store.appended.slice(before).flat()).toEqual([
      { kind: 'group', group: 'g', value: expect.objectContaining({ generation: g.generationId + 1, protocol: null, members: [] }) as unknown },
    ]);
  });

  it('a member leaving while others wait in JoinGroup completes the rebalance', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    const a = h.join('g', { memberId: g.members[0]! });
    h.m.leave('g', [{ memberId: g.members[1]!, groupInstanceId: null }], h.now);
    expect(a.value).toMatchObject({ errorCode: ErrorCode.NONE, generationId: g.generationId + 1 });
  });

  it('a removed member waiting in JoinGroup is answered UNKNOWN_MEMBER_ID', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    const a = h.join('g', { memberId: g.members[0]! });
    h.m.leave('g', [{ memberId: g.members[0]!, groupInstanceId: null }], h.now);
    expect(a.value).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID });
  });
});

describe('OffsetCommit and OffsetFetch', () => {
  it('a simple commit (generation -1, no member) to a new group is visible once durable', () => {
    const h = new Harness();
    const c = h.commit('simple', -1, '', [{ topic: 't', partition: 0, offset: 5, metadata: 'meta' }]);
    expect(c.value).toBeUndefined();
    expect(h.m.fetchOffsets('simple', [{ name: 't', partitions: [0] }])).toEqual([{ topic: 't', partitions: [{ partition: 0, offset: -1, leaderEpoch: -1, metadata: '' }] }]);
    h.store.complete();
    expect(c.value).toEqual([ErrorCode.NONE]);
    expect(h.m.fetchOffsets('simple', [{ name: 't', partitions: [0, 1] }])).toEqual([
      {
        topic: 't',
        partitions: [
          { partition: 0, offset: 5, leaderEpoch: -1, metadata: 'meta' },
          { partition: 1, offset: -1, leaderEpoch: -1, metadata: '' },
        ],
      },
    ]);
    expect(h.store.records()).toEqual([
      { kind: 'offset', group: 'simple', topic: 't', partition: 0, value: { offset: 5, leaderEpoch: -1, metadata: 'meta', commitTimestamp: h.now, expireTimestamp: null } },
    ]);
  });

  it('accepts and stores negative offsets, null metadata as "", and retention -1 as the broker default', () => {
    const h = new Harness();
    const c = h.commit('g', -1, '', [
      { partition: 0, offset: -1, metadata: null },
      { partition: 1, offset: -2 },
    ]);
    h.store.complete();
    expect(c.value).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
    expect(h.m.fetchOffsets('g', null)).toEqual([
      {
        topic: 't',
        partitions: [
          { partition: 0, offset: -1, leaderEpoch: -1, metadata: '' },
          { partition: 1, offset: -2, leaderEpoch: -1, metadata: '' },
        ],
      },
    ]);
    expect(h.store.records().map((r) => (r.kind === 'offset' ? r.value?.expireTimestamp : undefined))).toEqual([null, null]);
  });

  it('a commit with an explicit retention carries its expire timestamp', () => {
    const h = new Harness();
    h.commit('g', -1, '', [{ offset: 1 }], 60_000);
    expect(h.store.records()[0]).toMatchObject({ value: { expireTimestamp: h.now + 60_000 } });
  });

  it('refuses commit metadata above offset.metadata.max.bytes per partition, storing the rest', () => {
    const h = new Harness();
    const c = h.commit('g', -1, '', [
      { partition: 0, offset: 1, metadata: 'x'.repeat(TEST_CONFIG.offsetMetadataBytesMax + 1) },
      { partition: 1, offset: 2 },
    ]);
    h.store.complete();
    expect(c.value).toEqual([ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE]);
    expect(h.store.records()).toHaveLength(1);
  });

  it.each([
    ['a generation for a group that does not exist', 'new', 3, 'x', ErrorCode.ILLEGAL_GENERATION],
    ['an unknown member of a group with members', 'g', 1, 'nobody', ErrorCode.UNKNOWN_MEMBER_ID],
    ['a simple commit to a group with members', 'g', -1, '', ErrorCode.UNKNOWN_MEMBER_ID],
    ['a stale generation', 'g', 0, 'MEMBER', ErrorCode.ILLEGAL_GENERATION],
  ])('refuses %s', (_name, groupId, generation, memberId, code) => {
    const h = new Harness();
    const g = h.stableGroup('g', 1);
    const before = h.store.appended.length;
    const c = h.commit(groupId, generation, memberId === 'MEMBER' ? g.members[0]! : memberId, [{ offset: 1 }, { partition: 1, offset: 2 }]);
    expect(c.value).toEqual([code, code]);
    expect(h.store.appended.length).toBe(before);
  });

  it('accepts commits of the current generation while a rebalance is prepared, refuses them while awaiting sync', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    h.join('g', { memberId: g.members[0]! });
    const during = h.commit('g', g.generationId, g.members[1]!, [{ offset: 7 }]);
    h.store.complete();
    expect(during.value).toEqual([ErrorCode.NONE]);
    const b = h.join('g', { memberId: g.members[1]! });
    expect(b.value?.generationId).toBe(g.generationId + 1);
    expect(h.commit('g', g.generationId + 1, g.members[1]!, [{ offset: 8 }]).value).toEqual([ErrorCode.REBALANCE_IN_PROGRESS]);
  });

  it.each([
    [ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.COORDINATOR_NOT_AVAILABLE],
    [ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_COORDINATOR],
    [ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.NOT_COORDINATOR],
    [ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.INVALID_COMMIT_OFFSET_SIZE],
    [ErrorCode.REQUEST_TIMED_OUT, ErrorCode.REQUEST_TIMED_OUT],
  ])('a failed append (%s) answers %s and the offset stays unseen', (appendError, answered) => {
    const h = new Harness();
    const c = h.commit('g', -1, '', [{ offset: 9 }]);
    h.store.complete(appendError);
    expect(c.value).toEqual([answered]);
    expect(commitErrorOf(appendError)).toBe(answered);
    expect(h.m.fetchOffsets('g', [{ name: 't', partitions: [0] }])[0]!.partitions[0]!.offset).toBe(-1);
  });

  it("maps a failed group record append as Kafka's storeGroup does", () => {
    expect(groupStoreErrorOf(ErrorCode.REQUEST_TIMED_OUT)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(groupStoreErrorOf(ErrorCode.MESSAGE_TOO_LARGE)).toBe(ErrorCode.UNKNOWN_SERVER_ERROR);
    expect(groupStoreErrorOf(ErrorCode.NOT_LEADER_OR_FOLLOWER)).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('a commit counts as a heartbeat', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 1, { sessionTimeoutMs: 2_000 });
    for (let i = 0; i < 5; i++) {
      h.advance(1_500);
      h.commit('g', g.generationId, g.members[0]!, [{ offset: i }]);
      h.store.complete();
    }
    expect(h.heartbeat('g', g.generationId, g.members[0]!)).toBe(ErrorCode.NONE);
  });
});

describe('DescribeGroups, ListGroups, DeleteGroups', () => {
  it('describes a stable group with metadata and assignments, a rebalancing one without', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    const d = h.m.describe('g');
    expect(d).toMatchObject({ groupId: 'g', state: GroupState.Stable, protocolType: 'consumer', protocolData: 'range' });
    expect(d.members.map((m) => [m.memberId, m.clientId, m.clientHost, m.metadata.toString(), [...m.assignment]])).toEqual([
      [g.members[0], 'm0', '/127.0.0.1', 'sub', [0]],
      [g.members[1], 'm1', '/127.0.0.1', 'sub', [1]],
    ]);
    h.join('g', { memberId: g.members[0]! });
    const r = h.m.describe('g');
    expect(r).toMatchObject({ state: GroupState.PreparingRebalance, protocolData: '' });
    expect(r.members.every((m) => m.metadata.length === 0 && m.assignment.length === 0)).toBe(true);
    expect(h.m.describe('unknown')).toEqual({ groupId: 'unknown', state: GroupState.Dead, protocolType: '', protocolData: '', members: [] });
  });

  it('lists groups, filtered by state case-insensitively', () => {
    const h = new Harness();
    h.stableGroup('a', 1);
    h.commit('b', -1, '', [{ offset: 1 }]);
    h.store.complete();
    expect(h.m.list([]).sort((x, y) => x.groupId.localeCompare(y.groupId))).toEqual([
      { groupId: 'a', protocolType: 'consumer', state: GroupState.Stable },
      { groupId: 'b', protocolType: '', state: GroupState.Empty },
    ]);
    expect(h.m.list(['stable']).map((g) => g.groupId)).toEqual(['a']);
    expect(h.m.list(['Empty', 'Dead']).map((g) => g.groupId)).toEqual(['b']);
  });

  it('deletes an empty group with tombstones, answered once they are durable; refuses non-empty and unknown groups', () => {
    const h = new Harness();
    h.stableGroup('busy', 1);
    h.commit('idle', -1, '', [{ offset: 1 }, { partition: 1, offset: 2 }]);
    h.store.complete();
    const before = h.store.appended.length;
    const d = h.deleteGroups(['idle', 'busy', 'nope', 'idle']);
    expect(d.value).toBeUndefined();
    expect(h.store.appended.slice(before).flat()).toEqual([
      { kind: 'offset', group: 'idle', topic: 't', partition: 0, value: null },
      { kind: 'offset', group: 'idle', topic: 't', partition: 1, value: null },
      { kind: 'group', group: 'idle', value: null },
    ]);
    h.store.complete();
    expect(d.value).toEqual(
      new Map([
        ['idle', ErrorCode.NONE],
        ['busy', ErrorCode.NON_EMPTY_GROUP],
        ['nope', ErrorCode.GROUP_ID_NOT_FOUND],
      ]),
    );
    expect(h.m.describe('idle').state).toBe(GroupState.Dead);
    expect(h.m.fetchOffsets('idle', null)).toEqual([]);
  });

  it('deleting a group also deletes commits still in flight', () => {
    const h = new Harness();
    h.commit('g', -1, '', [{ offset: 1 }]);
    const d = h.deleteGroups(['g']);
    expect(h.store.records().slice(1)).toEqual([
      { kind: 'offset', group: 'g', topic: 't', partition: 0, value: null },
      { kind: 'group', group: 'g', value: null },
    ]);
    h.store.complete();
    expect(d.value?.get('g')).toBe(ErrorCode.NONE);
    expect(h.m.fetchOffsets('g', null)).toEqual([]);
  });
});

describe('offset retention', () => {
  const retention = TEST_CONFIG.offsetsRetentionMs;
  const check = TEST_CONFIG.offsetsRetentionCheckIntervalMs;

  it('expires the offsets of a simple group by commit time and then removes the group', () => {
    const h = new Harness();
    h.commit('s', -1, '', [{ offset: 1 }]);
    h.store.complete();
    const before = h.store.appended.length;
    h.advance(retention + check);
    expect(h.m.fetchOffsets('s', null)).toEqual([]);
    expect(h.m.list([])).toEqual([]);
    expect(h.store.appended.slice(before).flat()).toEqual([{ kind: 'offset', group: 's', topic: 't', partition: 0, value: null }]);
  });

  it('keeps the offsets of a group with members; expires them once it has been empty long enough', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 1, { sessionTimeoutMs: 60_000 });
    h.commit('g', g.generationId, g.members[0]!, [{ offset: 3 }]);
    h.store.complete();
    for (let t = 0; t < retention + check; t += 50_000) {
      h.advance(50_000);
      h.heartbeat('g', g.generationId, g.members[0]!);
    }
    expect(h.m.fetchOffsets('g', null)[0]?.partitions[0]?.offset).toBe(3);
    h.m.leave('g', [{ memberId: g.members[0]!, groupInstanceId: null }], h.now);
    h.advance(retention - 1);
    expect(h.m.fetchOffsets('g', null)[0]?.partitions[0]?.offset).toBe(3);
    h.advance(check + 1);
    expect(h.m.fetchOffsets('g', null)).toEqual([]);
    expect(h.m.describe('g').state).toBe(GroupState.Dead);
  });

  it('honours an explicit retention over the broker default', () => {
    const h = new Harness();
    h.commit('s', -1, '', [{ offset: 1 }], 1_000);
    h.store.complete();
    h.advance(check);
    expect(h.m.fetchOffsets('s', null)).toEqual([]);
  });
});

describe('loading from the log', () => {
  /** A new machine that has replayed `records`. */
  function replayed(records: OffsetsRecord[], at: number): Harness {
    const h = new Harness();
    h.clock.advance(at - h.now);
    for (const r of records) h.m.replay(r, h.now);
    h.m.finishLoad(h.now);
    return h;
  }

  it('rebuilds groups, generations, members, assignments and offsets from the records written', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2);
    h.commit('g', g.generationId, g.members[0]!, [{ offset: 10 }, { partition: 1, offset: -2, metadata: 'm' }]);
    h.commit('simple', -1, '', [{ topic: 'u', offset: 4 }]);
    h.commit('gone', -1, '', [{ offset: 1 }]);
    h.store.complete();
    h.deleteGroups(['gone']);
    h.store.complete();

    const r = replayed(h.store.records(), h.now);
    expect(r.m.describe('g')).toEqual(h.m.describe('g'));
    expect(r.m.fetchOffsets('g', null)).toEqual(h.m.fetchOffsets('g', null));
    expect(r.m.fetchOffsets('simple', null)).toEqual(h.m.fetchOffsets('simple', null));
    expect(r.m.describe('gone').state).toBe(GroupState.Dead);
    expect(r.m.list([]).map((x) => x.groupId).sort()).toEqual(['g', 'simple']);

    // The loaded members carry on in their generation: heartbeat and sync work.
    expect(r.heartbeat('g', g.generationId, g.members[1]!)).toBe(ErrorCode.NONE);
    expect(r.sync('g', g.generationId, g.members[1]!).value).toEqual({ errorCode: ErrorCode.NONE, assignment: Buffer.from([1]) });
    // A follower rejoining with the same metadata keeps the generation.
    expect(r.join('g', { memberId: g.members[1]!, clientId: 'm1' }).value).toMatchObject({ errorCode: ErrorCode.NONE, generationId: g.generationId });
  });

  it('loaded members that never reach the new coordinator expire after their session', () => {
    const h = new Harness();
    const g = h.stableGroup('g', 2, { sessionTimeoutMs: 5_000 });
    const r = replayed(h.store.records(), h.now + 60_000);
    r.advance(4_000);
    expect(r.heartbeat('g', g.generationId, g.members[0]!)).toBe(ErrorCode.NONE);
    r.advance(1_000);
    expect(r.heartbeat('g', g.generationId, g.members[0]!)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(r.m.describe('g').members.map((m) => m.memberId)).toEqual([g.members[0]]);
  });

  it('a group tombstone removes the group but not offsets committed after it', () => {
    const r = replayed(
      [
        { kind: 'group', group: 'g', value: { protocolType: 'consumer', generation: 3, protocol: 'range', leader: 'a', currentStateTimestamp: 1, members: [] } },
        { kind: 'group', group: 'g', value: null },
        { kind: 'offset', group: 'g', topic: 't', partition: 0, value: { offset: 8, leaderEpoch: -1, metadata: '', commitTimestamp: 1, expireTimestamp: null } },
        { kind: 'group', group: 'h', value: { protocolType: 'consumer', generation: 1, protocol: null, leader: null, currentStateTimestamp: 1, members: [] } },
        { kind: 'group', group: 'h', value: null },
      ],
      1_700_000_100_000,
    );
    expect(r.m.list([]).map((g) => g.groupId)).toEqual(['g']);
    expect(r.m.fetchOffsets('g', null)[0]?.partitions[0]?.offset).toBe(8);
    // The group starts again from generation 0.
    const j = r.joinNew('g');
    r.advance(DELAY);
    expect(j.result.value?.generationId).toBe(1);
  });
});

describe('unloading', () => {
  it('answers every waiting JoinGroup and SyncGroup with NOT_COORDINATOR and forgets the groups', () => {
    const h = new Harness();
    const a = h.joinNew('g', { clientId: 'a' });
    const b = h.joinNew('g', { clientId: 'b' });
    h.advance(SETTLE);
    const s = h.sync('g', b.result.value!.generationId, b.memberId);
    const j = h.joinNew('h').result;
    h.m.unload();
    expect(s.value?.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(j.value?.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(a.result.calls).toBe(1);
    expect(h.m.size).toBe(0);
  });
});
