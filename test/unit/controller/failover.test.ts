import { describe, expect, it } from 'vitest';
import {
  electSharedNothing,
  planBrokerDeath,
  planFailoverCompletion,
  planMoves,
  planOfflineRecovery,
  unitsOf,
  withReplicas,
} from '../../../controller/failover.ts';
import { liveBrokers, toWireView, type PartitionState } from '../../../controller/state.ts';
import { applied, buildState, leaders, partition } from '../../helpers/controller-state.ts';

const p = (leader: number, replicas: number[], isr: number[]): PartitionState => partition(0, { leader, replicas, isr, leaderEpoch: 5 });

describe('electSharedNothing', () => {
  const cases: { name: string; part: PartitionState; live: number[]; unclean?: boolean; leader: number; isr: number[]; epoch: number; unchanged?: boolean }[] = [
    { name: 'live leader in the ISR stays', part: p(1, [1, 2, 3], [1, 2, 3]), live: [1, 2, 3], leader: 1, isr: [1, 2, 3], epoch: 5, unchanged: true },
    { name: 'leader dies: first live ISR replica leads', part: p(1, [1, 2, 3], [1, 2, 3]), live: [2, 3], leader: 2, isr: [2, 3], epoch: 6 },
    { name: 'leader dies: replica order decides, not ISR order', part: p(1, [1, 3, 2], [1, 2, 3]), live: [2, 3], leader: 3, isr: [2, 3], epoch: 6 },
    { name: 'follower dies: leader and epoch stay, ISR shrinks', part: p(1, [1, 2, 3], [1, 2, 3]), live: [1, 3], leader: 1, isr: [1, 3], epoch: 5 },
    { name: 'last ISR member dies: offline, ISR keeps it', part: p(1, [1, 2], [1]), live: [2], leader: -1, isr: [1], epoch: 6 },
    { name: 'last ISR member dies, unclean allowed: a live replica leads alone', part: p(1, [1, 2], [1]), live: [2], unclean: true, leader: 2, isr: [2], epoch: 6 },
    { name: 'everyone dies: the last leader stays the ISR', part: p(1, [1, 2], [1, 2]), live: [], leader: -1, isr: [1], epoch: 6 },
    { name: 'the last ISR member comes back: it leads', part: p(-1, [1, 2], [1]), live: [1, 2], leader: 1, isr: [1], epoch: 6 },
    { name: 'only a non-ISR replica comes back: still offline', part: p(-1, [1, 2], [1]), live: [2], leader: -1, isr: [1], epoch: 5, unchanged: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const next = electSharedNothing(c.part, new Set(c.live), c.unclean ?? false);
      expect({ leader: next.leader, isr: next.isr, epoch: next.leaderEpoch }).toEqual({ leader: c.leader, isr: c.isr, epoch: c.epoch });
      if (c.unchanged) expect(next).toBe(c.part);
      else expect(next.partitionEpoch).toBe(c.part.partitionEpoch + 1);
    });
  }
});

describe('withReplicas', () => {
  const cases: { name: string; to: number[]; leader: number; isr: number[]; epoch: number }[] = [
    { name: 'the leader stays when it stays a replica', to: [1, 3], leader: 1, isr: [1], epoch: 5 },
    { name: 'the leader moves to an in-sync replica that stays', to: [2, 3], leader: 2, isr: [2], epoch: 6 },
    { name: 'no in-sync replica stays: the first new replica leads alone', to: [3], leader: 3, isr: [3], epoch: 6 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const next = withReplicas(p(1, [1, 2], [1, 2]), c.to, new Set([1, 2, 3]));
      expect({ replicas: next.replicas, leader: next.leader, isr: next.isr, epoch: next.leaderEpoch }).toEqual({ replicas: c.to, leader: c.leader, isr: c.isr, epoch: c.epoch });
    });
  }
});

const roundRobin = (n: number, brokers: number[]): { replicas: number[] }[] => Array.from({ length: n }, (_, i) => ({ replicas: [brokers[i % brokers.length] ?? 0] }));

describe('shared-storage failover', () => {
  it('takes the dead broker\'s partitions offline with bumped epochs and records a pending failover', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: roundRobin(6, [1, 2, 3]) }] });
    const records = planBrokerDeath(s, 3);
    expect(records[0]).toEqual({ type: 'broker-dead', id: 3 });
    expect(records.at(-1)).toEqual({
      type: 'failover-pending',
      brokerId: 3,
      partitions: [
        { topic: 't', topicId: 'id-t', partition: 2 },
        { topic: 't', topicId: 'id-t', partition: 5 },
      ],
    });
    applied(s, records);
    expect(leaders(s, 't')).toEqual(['1@0', '2@0', '-1@1', '1@0', '2@0', '-1@1']);
    expect(liveBrokers(s).map((b) => b.id)).toEqual([1, 2]);
    expect(toWireView(s).brokers.map((b) => b.id)).toEqual([1, 2]);
  });

  it('gives the partitions the least-loaded live owners once the hook is done, bumping epochs again', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: roundRobin(6, [1, 2, 3]) }] });
    applied(s, planBrokerDeath(s, 3));
    const records = planFailoverCompletion(s, 3);
    expect(records.at(-1)).toEqual({ type: 'failover-done', brokerId: 3 });
    applied(s, records);
    expect(leaders(s, 't')).toEqual(['1@0', '2@0', '1@2', '1@0', '2@0', '2@2']);
    expect(s.pendingFailovers.size).toBe(0);
    for (const part of s.topics.get('t')?.partitions ?? []) expect(part.replicas).toEqual([part.leader]);
  });

  it('keeps the partitions of an earlier death when the broker dies again before its failover finished', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }], topics: [{ name: 't', partitions: roundRobin(2, [1, 2]) }] });
    applied(s, planBrokerDeath(s, 2));
    applied(s, [{ type: 'broker-registered', broker: { id: 2, incarnation: 'again', host: 'h', port: 1, rack: null } }]);
    applied(s, [{ type: 'partition-changed', topic: 't', partition: { ...partition(0, { replicas: [2] }), leaderEpoch: 9 } }]);
    const records = planBrokerDeath(s, 2);
    const pending = records.find((r) => r.type === 'failover-pending');
    expect(pending?.type === 'failover-pending' ? pending.partitions.map((r) => r.partition).sort() : null).toEqual([0, 1]);
  });

  it('skips partitions deleted, re-created or given an owner meanwhile, and leaves them offline without a live broker', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }], topics: [{ name: 'a', partitions: roundRobin(2, [2]) }, { name: 'b', partitions: roundRobin(2, [2]) }] });
    applied(s, planBrokerDeath(s, 2));
    const b = s.topics.get('b');
    applied(s, [{ type: 'topic-deleted', name: 'b', id: b?.id ?? '' }]);
    applied(s, [{ type: 'topic-created', topic: { name: 'b', id: 'new-b', internal: false, config: {}, partitions: [partition(0, { replicas: [1] })] } }]);
    applied(s, planBrokerDeath(s, 1));
    applied(s, planFailoverCompletion(s, 2));
    expect(leaders(s, 'a')).toEqual(['-1@1', '-1@1']);
    expect(s.pendingFailovers.has(2)).toBe(false);
    // Broker 1's own failover is still pending, so recovery leaves b-0 alone...
    applied(s, [{ type: 'broker-registered', broker: { id: 3, incarnation: 'x', host: 'h', port: 1, rack: null } }]);
    applied(s, planOfflineRecovery(s));
    expect(leaders(s, 'a')).toEqual(['3@2', '3@2']);
    expect(leaders(s, 'b')).toEqual(['-1@1']);
    // ...until the hook for broker 1 is done.
    applied(s, planFailoverCompletion(s, 1));
    expect(leaders(s, 'b')).toEqual(['3@2']);
  });

  it('gives offline partitions back to their last owner when that broker id is eligible again (a restarted process)', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: roundRobin(6, [1, 2, 3]) }] });
    applied(s, planBrokerDeath(s, 3));
    applied(s, [{ type: 'broker-registered', broker: { id: 3, incarnation: 'restarted', host: 'h', port: 1, rack: null } }]);
    applied(s, planFailoverCompletion(s, 3));
    expect(leaders(s, 't')).toEqual(['1@0', '2@0', '3@2', '1@0', '2@0', '3@2']);
  });

  it('brings offline partitions back on their last owners when those are eligible, else on whoever is up (availability first)', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: roundRobin(6, [1, 2, 3]) }] });
    // All die before any failover completes (a power cut): nothing can take their partitions.
    for (const id of [1, 2, 3]) applied(s, planBrokerDeath(s, id));
    for (const id of [1, 2, 3]) applied(s, planFailoverCompletion(s, id));
    expect(leaders(s, 't')).toEqual(['-1@1', '-1@1', '-1@1', '-1@1', '-1@1', '-1@1']);
    for (const id of [2, 1]) applied(s, [{ type: 'broker-registered', broker: { id, incarnation: 'back', host: 'h', port: 1, rack: null } }]);
    applied(s, planOfflineRecovery(s));
    // 1 and 2 get their own back; 3 is not back, so its partitions go to the least loaded.
    expect(leaders(s, 't')).toEqual(['1@2', '2@2', '1@2', '1@2', '2@2', '2@2']);
  });

  it('moves a live owner\'s partition by hand-over (handoverTo), cancels it by a move back, and assigns an offline one at once', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: roundRobin(2, [1, 2]) }] });
    expect(planMoves(s, [{ topic: 't', partition: 0, from: 1, to: 1 }])).toEqual([]);
    applied(s, planMoves(s, [{ topic: 't', partition: 0, from: 1, to: 2 }]));
    // The owner and its epoch stay until it releases the partition (handover.ts).
    expect(leaders(s, 't')).toEqual(['1@0', '2@0']);
    expect(s.topics.get('t')?.partitions[0]?.handoverTo).toBe(2);
    // Planning counts it as the target's already.
    expect(unitsOf(s).find((u) => u.partition === 0)?.holders).toEqual([2]);
    applied(s, planMoves(s, [{ topic: 't', partition: 0, from: 2, to: 3 }]));
    expect(s.topics.get('t')?.partitions[0]?.handoverTo).toBe(3);
    applied(s, planMoves(s, [{ topic: 't', partition: 0, from: 3, to: 1 }]));
    expect(s.topics.get('t')?.partitions[0]).not.toHaveProperty('handoverTo');
    // Offline after a failover that found no broker: nothing is in flight, so it moves at once.
    applied(s, planBrokerDeath(s, 2));
    applied(s, [{ type: 'failover-done', brokerId: 2 }]);
    applied(s, planMoves(s, [{ topic: 't', partition: 1, from: 2, to: 3 }]));
    expect(leaders(s, 't')).toEqual(['1@0', '3@2']);
  });
});

describe('shared-storage hand-over and failover', () => {
  it('keeps an interrupted hand-over\'s target as the preferred owner when the owner dies, and drops a hand-over whose target dies', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: roundRobin(3, [1, 2, 3]) }] });
    applied(s, planMoves(s, [
      { topic: 't', partition: 0, from: 1, to: 3 },
      { topic: 't', partition: 1, from: 2, to: 1 },
    ]));
    applied(s, planBrokerDeath(s, 1));
    // t-0: its owner died; t-1: its target died (its owner 2 keeps it and takes writes again).
    expect(s.topics.get('t')?.partitions[0]).toMatchObject({ leader: -1, handoverTo: 3 });
    expect(s.topics.get('t')?.partitions[1]).toEqual({ index: 1, leader: 2, leaderEpoch: 0, partitionEpoch: 0, replicas: [2], isr: [2] });
    applied(s, planFailoverCompletion(s, 1));
    expect(leaders(s, 't')).toEqual(['3@2', '2@0', '3@0']);
    expect(s.topics.get('t')?.partitions[0]).not.toHaveProperty('handoverTo');
  });

  it('makes a move of a partition waiting for its WAL recovery a preference for its next owner, not an assignment', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: roundRobin(3, [1, 2, 3]) }] });
    applied(s, planBrokerDeath(s, 1));
    applied(s, planMoves(s, [{ topic: 't', partition: 0, from: -1, to: 2 }]));
    expect(s.topics.get('t')?.partitions[0]).toMatchObject({ leader: -1, handoverTo: 2 });
    applied(s, planFailoverCompletion(s, 1));
    expect(leaders(s, 't')[0]).toBe('2@2');
  });
});

describe('shared-nothing failover', () => {
  it('elects the next in-sync replica for every partition the dead broker led, in one change', () => {
    const parts = [{ replicas: [1, 2, 3] }, { replicas: [2, 3, 1] }, { replicas: [3, 1, 2] }];
    const s = buildState({ mode: 'shared-nothing', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: parts }] });
    const records = planBrokerDeath(s, 1);
    expect(records.some((r) => r.type === 'failover-pending')).toBe(false);
    applied(s, records);
    expect(leaders(s, 't')).toEqual(['2@1', '2@0', '3@0']);
    expect(s.topics.get('t')?.partitions.map((x) => x.isr)).toEqual([
      [2, 3],
      [2, 3],
      [3, 2],
    ]);
  });

  it('takes a single-replica partition offline until its broker returns, unless unclean election is on', () => {
    const s = buildState({
      mode: 'shared-nothing',
      brokers: [{ id: 1 }, { id: 2 }],
      topics: [
        { name: 'safe', partitions: [{ replicas: [1, 2], isr: [1] }] },
        { name: 'unclean', config: { 'unclean.leader.election.enable': 'true' }, partitions: [{ replicas: [1, 2], isr: [1] }] },
      ],
    });
    applied(s, planBrokerDeath(s, 1));
    expect(leaders(s, 'safe')).toEqual(['-1@1']);
    expect(leaders(s, 'unclean')).toEqual(['2@1']);
    applied(s, [{ type: 'broker-registered', broker: { id: 1, incarnation: 'back', host: 'h', port: 1, rack: null } }]);
    applied(s, planOfflineRecovery(s));
    expect(leaders(s, 'safe')).toEqual(['1@2']);
    expect(leaders(s, 'unclean')).toEqual(['2@1']);
  });

  it('declares nothing for a broker already dead', () => {
    const s = buildState({ mode: 'shared-nothing', brokers: [{ id: 1, alive: false }, { id: 2 }] });
    expect(planBrokerDeath(s, 1)).toEqual([]);
    expect(planBrokerDeath(s, 7)).toEqual([]);
  });
});
