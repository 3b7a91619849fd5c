// The coordinator around the state machine, with real Partitions over an in-memory log and
// a ManualClock: loading (COORDINATOR_LOAD_IN_PROGRESS meanwhile), answers only once
// durable, reload after a failed append, its timer, unloading, and the log rewrite.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Broker, PartitionListener } from '../../../../src/broker/broker.ts';
import { GroupCoordinator, type CoordinatedPartition } from '../../../../src/broker/groups/coordinator.ts';
import { GroupState } from '../../../../src/broker/groups/group.ts';
import { OFFSETS_TOPIC } from '../../../../src/broker/groups/limits.ts';
import type { CommitRequest, JoinRequest } from '../../../../src/broker/groups/state-machine.ts';
import { Partition } from '../../../../src/broker/partition.ts';
import { topicSettings } from '../../../../src/broker/topic-config.ts';
import { ManualClock } from '../../../../src/common/clock.ts';
import type { ClusterView, TopicInfo } from '../../../../src/metadata/cluster-view.ts';
import { ErrorCode } from '../../../../src/protocol/errors.ts';
import { MemoryLog } from './memory-log.ts';

const silent = pino({ level: 'silent' });

/** The parts of a Broker the coordinator uses, over one offsets partition (index 0 of 1). */
class FakeBroker {
  readonly clock = new ManualClock();
  readonly logger = silent;
  readonly listeners: PartitionListener[] = [];
  private open: Partition | null = null;
  readonly settings: Record<string, number> = { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1_000, 'offsets.rewrite.min.records': 10 };
  readonly topic: TopicInfo = { name: OFFSETS_TOPIC, id: '00'.repeat(16), partitions: [{ index: 0, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1] }], config: {}, internal: true };
  readonly view: ClusterView = { version: 1, clusterId: 'c', controllerId: 1, brokers: [{ id: 1, host: '127.0.0.1', port: 9092, rack: null }], topics: new Map([[OFFSETS_TOPIC, this.topic]]) };
  readonly metadata = { current: () => this.view };

  numberSetting(name: string, kafkaDefault: number): number {
    return this.settings[name] ?? kafkaDefault;
  }
  addPartitionListener(l: PartitionListener): void {
    this.listeners.push(l);
  }
  partition(topic: string, index: number): { ok: true; partition: Partition } | { ok: false; errorCode: ErrorCode } {
    return topic === OFFSETS_TOPIC && index === 0 && this.open ? { ok: true, partition: this.open } : { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
  }
  availableReplicas(): number {
    return 1;
  }
  settled(): Promise<void> {
    return Promise.resolve();
  }

  /** Opens the offsets partition over `log`, telling the listeners, as the broker does. */
  async openPartition(log: MemoryLog): Promise<Partition> {
    const part = new Partition({ topic: OFFSETS_TOPIC, topicId: this.topic.id, index: 0, log, settings: topicSettings({}, {}), leaderEpoch: 0, logger: silent, now: () => this.clock.now() });
    this.open = part;
    for (const l of this.listeners) await l.opened(part);
    return part;
  }

  async closePartition(): Promise<void> {
    const part = this.open;
    if (!part) return;
    this.open = null;
    for (const l of this.listeners) await l.closing(part);
  }
}

function setup(): { broker: FakeBroker; coordinator: GroupCoordinator; log: MemoryLog } {
  const broker = new FakeBroker();
  let ids = 0;
  const coordinator = new GroupCoordinator(broker as unknown as Broker, { newMemberId: (c) => `${c}-${++ids}` });
  coordinator.attach();
  return { broker, coordinator, log: new MemoryLog() };
}

/** Lets promise callbacks (loads, durability) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

function ready(c: GroupCoordinator, groupId = 'g'): CoordinatedPartition {
  const routed = c.route(groupId, true);
  if (!routed.ok) throw new Error(`not routed: ${routed.errorCode}`);
  return routed.partition;
}

const commit = (groupId: string, offset: number): CommitRequest => ({
  groupId,
  generationId: -1,
  memberId: '',
  retentionTimeMs: -1,
  offsets: [{ topic: 't', partition: 0, offset, leaderEpoch: -1, metadata: '', commitTimestamp: -1 }],
});

const join = (o: Partial<JoinRequest> = {}): JoinRequest => ({
  groupId: 'g',
  memberId: '',
  groupInstanceId: null,
  clientId: 'c',
  clientHost: '/127.0.0.1',
  sessionTimeoutMs: 2_000,
  rebalanceTimeoutMs: 5_000,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from('s') }],
  requireKnownMemberId: false,
  ...o,
});

describe('GroupCoordinator', () => {
  it('answers COORDINATOR_LOAD_IN_PROGRESS while it replays the partition, then serves what the log holds', async () => {
    const { broker, coordinator, log } = setup();
    log.appendRecords([{ kind: 'offset', group: 'g', topic: 't', partition: 0, value: { offset: 42, leaderEpoch: -1, metadata: 'm', commitTimestamp: 1, expireTimestamp: null } }]);
    let release!: () => void;
    log.readGate = new Promise((r) => (release = r));
    expect(coordinator.route('g', true)).toEqual({ ok: false, errorCode: ErrorCode.NOT_COORDINATOR });
    await broker.openPartition(log);
    expect(coordinator.route('g', true)).toEqual({ ok: false, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS });
    expect(coordinator.listGroups([]).errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    release();
    log.readGate = null;
    await settle();
    expect(ready(coordinator).fetchOffsets('g', null)).toEqual([{ topic: 't', partitions: [{ partition: 0, offset: 42, leaderEpoch: -1, metadata: 'm' }] }]);
    expect(coordinator.coordinatedPartitions()).toEqual([0]);
  });

  it('refuses an empty group id where Kafka does, and allows it for offsets', async () => {
    const { broker, coordinator, log } = setup();
    await broker.openPartition(log);
    await settle();
    expect(coordinator.route('', false)).toEqual({ ok: false, errorCode: ErrorCode.INVALID_GROUP_ID });
    expect(coordinator.route('', true).ok).toBe(true);
  });

  it('answers a commit only once the log says it is durable', async () => {
    const { broker, coordinator, log } = setup();
    await broker.openPartition(log);
    await settle();
    log.autoComplete = false;
    let answered: unknown;
    void ready(coordinator).commit(commit('g', 7)).then((r) => (answered = r));
    await settle();
    expect(answered).toBeUndefined();
    expect(log.recordCount()).toBe(1);
    log.completeAppends();
    await settle();
    expect(answered).toEqual([ErrorCode.NONE]);
    expect(ready(coordinator).fetchOffsets('g', null)[0]?.partitions[0]?.offset).toBe(7);
  });

  it('after a failed append answers the error and reloads the partition from its log', async () => {
    const { broker, coordinator, log } = setup();
    await broker.openPartition(log);
    await settle();
    await ready(coordinator).commit(commit('g', 1));
    log.autoComplete = false;
    const failed = ready(coordinator).commit(commit('g', 2));
    log.failAppends();
    expect(await failed).toEqual([ErrorCode.NOT_COORDINATOR]);
    log.autoComplete = true;
    await settle();
    // Reloaded: the state is what the log holds, without the failed commit.
    expect(ready(coordinator).fetchOffsets('g', null)[0]?.partitions[0]?.offset).toBe(1);
    expect(await ready(coordinator).commit(commit('g', 3))).toEqual([ErrorCode.NONE]);
  });

  it('expires a silent member through its own timer on the clock', async () => {
    const { broker, coordinator, log } = setup();
    await broker.openPartition(log);
    await settle();
    const p = ready(coordinator);
    const joined = p.join(join());
    broker.clock.advance(0);
    const j = await joined;
    expect(j).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1 });
    const synced = await p.sync({ groupId: 'g', generationId: 1, memberId: j.memberId, assignments: [] });
    expect(synced.errorCode).toBe(ErrorCode.NONE);
    broker.clock.advance(1_999);
    expect(p.heartbeat({ groupId: 'g', generationId: 1, memberId: j.memberId })).toBe(ErrorCode.NONE);
    broker.clock.advance(2_000);
    expect(p.describe('g')).toMatchObject({ state: GroupState.Empty, members: [] });
    expect(p.heartbeat({ groupId: 'g', generationId: 1, memberId: j.memberId })).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('on closing answers waiting requests NOT_COORDINATOR and stops routing to the partition', async () => {
    const { broker, coordinator, log } = setup();
    await broker.openPartition(log);
    await settle();
    const p = ready(coordinator);
    const joinedA = p.join(join());
    broker.clock.advance(0);
    const a = await joinedA;
    await p.sync({ groupId: 'g', generationId: a.generationId, memberId: a.memberId, assignments: [] });
    // A second member starts a rebalance that waits for the first to rejoin.
    const waiting = p.join(join({ clientId: 'b' }));
    broker.clock.advance(100);
    await broker.closePartition();
    expect((await waiting).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(coordinator.route('g', true)).toEqual({ ok: false, errorCode: ErrorCode.NOT_COORDINATOR });
  });

  it('rewrites the live records and moves the log start past the old ones; a reload gives the same state', async () => {
    const { broker, coordinator, log } = setup();
    await broker.openPartition(log);
    await settle();
    for (let i = 0; i < 30; i++) await ready(coordinator).commit(commit(`g${i % 3}`, i));
    await settle();
    expect(log.logStartOffset()).toBeGreaterThan(0);
    expect(log.recordCount()).toBeLessThan(30);
    const before = ['g0', 'g1', 'g2'].map((g) => ready(coordinator).fetchOffsets(g, null));
    await broker.closePartition();
    await broker.openPartition(log);
    await settle();
    expect(['g0', 'g1', 'g2'].map((g) => ready(coordinator).fetchOffsets(g, null))).toEqual(before);
    expect(before.map((b) => b[0]?.partitions[0]?.offset)).toEqual([27, 28, 29]);
  });
});
