import { describe, expect, it } from 'vitest';
import { planAlterConfig, planAlterIsr, planCreatePartitions, planCreateTopics, planDeleteTopics } from '../../../controller/commands.ts';
import { ControllerLimits } from '../../../controller/limits.ts';
import type { MetadataState } from '../../../controller/state.ts';
import type { NewTopic } from '../../../src/metadata/cluster-view.ts';
import type { ControllerMode } from '../../../src/metadata/controller-api.ts';
import { applied, buildState, leaders } from '../../helpers/controller-state.ts';

const defaults = { partitions: 3, replicationFactor: 1 };
let ids = 0;
const newTopicId = (): string => `topic-${++ids}`;
const topic = (name: string, numPartitions = 1, replicationFactor = 1, config: Record<string, string> = {}): NewTopic => ({ name, numPartitions, replicationFactor, config });

function cluster(mode: ControllerMode, brokers = 3): MetadataState {
  return buildState({
    mode,
    brokers: Array.from({ length: brokers }, (_, i) => ({ id: i + 1 })),
    topics: [
      { name: 'existing', partitions: [{ replicas: [1] }, { replicas: [2] }] },
      { name: 'a.b', partitions: [{ replicas: [1] }] },
    ],
  });
}

describe('planCreateTopics', () => {
  const cases: { name: string; mode?: ControllerMode; brokers?: number; topics: NewTopic[]; codes: number[] }[] = [
    { name: 'a valid topic', topics: [topic('new', 12)], codes: [0] },
    { name: 'an empty name', topics: [topic('')], codes: [17] },
    { name: 'a name with a space', topics: [topic('a b')], codes: [17] },
    { name: 'the name ..', topics: [topic('..')], codes: [17] },
    { name: 'a name too long', topics: [topic('x'.repeat(ControllerLimits.topicNameLengthMax + 1))], codes: [17] },
    { name: 'a name colliding on . versus _', topics: [topic('a_b')], codes: [17] },
    { name: 'an existing topic', topics: [topic('existing')], codes: [36] },
    { name: 'the same name twice in one request', topics: [topic('twice'), topic('twice')], codes: [42, 42] },
    { name: '0 partitions', topics: [topic('p', 0)], codes: [37] },
    { name: 'too many partitions', topics: [topic('p', ControllerLimits.partitionsPerTopicMax + 1)], codes: [37] },
    { name: 'replication factor 0', topics: [topic('r', 1, 0)], codes: [38] },
    { name: 'replication factor above the brokers (shared-nothing)', topics: [topic('r', 1, 4)], codes: [38] },
    { name: 'replication factor above the brokers (shared-storage: one owner whatever the factor)', mode: 'shared-storage', topics: [topic('r', 1, 4)], codes: [0] },
    { name: 'no live broker', brokers: 0, topics: [topic('r')], codes: [38] },
    { name: 'an unknown config', topics: [topic('c', 1, 1, { 'no.such.config': '1' })], codes: [40] },
    { name: 'a config of the wrong kind', topics: [topic('c', 1, 1, { 'retention.ms': 'soon' })], codes: [40] },
    { name: 'a config out of range', topics: [topic('c', 1, 1, { 'min.insync.replicas': '0' })], codes: [40] },
    { name: 'one good, one bad: each answered on its own', topics: [topic('good'), topic('bad', 0)], codes: [0, 37] },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.codes.join(', ')}`, () => {
      const s = cluster(c.mode ?? 'shared-nothing', c.brokers ?? 3);
      const { result, records } = planCreateTopics(s, c.topics, { validateOnly: false, defaults, newTopicId });
      expect(result.map((r) => r.errorCode)).toEqual(c.codes);
      expect(records).toHaveLength(c.codes.filter((x) => x === 0).length);
      for (const r of result) expect(r.errorCode === 0 ? r.errorMessage : typeof r.errorMessage).toBe(r.errorCode === 0 ? null : 'string');
    });
  }

  it('places a 12-partition topic evenly with epoch 0 and the ISR equal to the replicas', () => {
    const s = cluster('shared-nothing');
    const { records } = planCreateTopics(s, [topic('t', 12, 2)], { validateOnly: false, defaults, newTopicId });
    applied(s, records);
    const parts = s.topics.get('t')?.partitions ?? [];
    const byLeader = new Map<number, number>();
    for (const p of parts) {
      byLeader.set(p.leader, (byLeader.get(p.leader) ?? 0) + 1);
      expect(p.leaderEpoch).toBe(0);
      expect(p.isr).toEqual(p.replicas);
      expect(p.replicas[0]).toBe(p.leader);
    }
    expect([...byLeader.values()]).toEqual([4, 4, 4]);
  });

  it('uses the defaults for -1, keeps the internal flag, and validates without changing anything', () => {
    const s = cluster('shared-storage');
    const only = planCreateTopics(s, [{ ...topic('__consumer_offsets', -1, -1), internal: true }], { validateOnly: true, defaults, newTopicId });
    expect(only.result[0]?.errorCode).toBe(0);
    expect(only.records).toEqual([]);
    const { records } = planCreateTopics(s, [{ ...topic('__consumer_offsets', -1, -1), internal: true }], { validateOnly: false, defaults, newTopicId });
    applied(s, records);
    const t = s.topics.get('__consumer_offsets');
    expect(t?.internal).toBe(true);
    expect(t?.partitions).toHaveLength(defaults.partitions);
    expect(t?.partitions.every((p) => p.replicas.length === 1)).toBe(true);
  });

  it('gives draining brokers no new partitions', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }, { id: 2, draining: true }] });
    applied(s, planCreateTopics(s, [topic('t', 4)], { validateOnly: false, defaults, newTopicId }).records);
    expect(leaders(s, 't')).toEqual(['1@0', '1@0', '1@0', '1@0']);
  });
});

describe('planDeleteTopics', () => {
  it('deletes known topics by id and answers 3 for unknown ones (and a repeated name)', () => {
    const s = cluster('shared-storage');
    const { result, records } = planDeleteTopics(s, ['existing', 'nope', 'existing']);
    expect(result.map((r) => r.errorCode)).toEqual([0, 3, 3]);
    expect(records).toEqual([{ type: 'topic-deleted', name: 'existing', id: 'id-existing' }]);
  });
});

describe('planCreatePartitions', () => {
  const cases: { name: string; change: { name: string; count: number }; code: number }[] = [
    { name: 'more partitions', change: { name: 'existing', count: 5 }, code: 0 },
    { name: 'an unknown topic', change: { name: 'nope', count: 5 }, code: 3 },
    { name: 'the same count', change: { name: 'existing', count: 2 }, code: 37 },
    { name: 'fewer', change: { name: 'existing', count: 1 }, code: 37 },
    { name: 'above the limit', change: { name: 'existing', count: ControllerLimits.partitionsPerTopicMax + 1 }, code: 37 },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, () => {
      const s = cluster('shared-nothing');
      const { result } = planCreatePartitions(s, [c.change], false);
      expect(result[0]?.errorCode).toBe(c.code);
    });
  }

  it('appends partitions after the existing ones with the topic\'s replication factor', () => {
    const s = buildState({ mode: 'shared-nothing', brokers: [{ id: 1 }, { id: 2 }, { id: 3 }], topics: [{ name: 't', partitions: [{ replicas: [1, 2] }] }] });
    applied(s, planCreatePartitions(s, [{ name: 't', count: 4 }], false).records);
    const parts = s.topics.get('t')?.partitions ?? [];
    expect(parts.map((p) => p.index)).toEqual([0, 1, 2, 3]);
    expect(parts.every((p) => p.replicas.length === 2)).toBe(true);
  });
});

describe('planAlterConfig', () => {
  it('refuses unknown topics (3) and bad configs (40), replaces the overrides otherwise', () => {
    const s = cluster('shared-nothing');
    expect(planAlterConfig(s, 'nope', {}, false).result.errorCode).toBe(3);
    expect(planAlterConfig(s, 'existing', { 'segment.bytes': '1' }, false).result.errorCode).toBe(40);
    const ok = planAlterConfig(s, 'existing', { 'retention.ms': '1000' }, false);
    expect(ok.result.errorCode).toBe(0);
    expect(ok.records).toEqual([{ type: 'topic-config', topic: 'existing', config: { 'retention.ms': '1000' } }]);
    expect(planAlterConfig(s, 'existing', { 'retention.ms': '1000' }, true).records).toEqual([]);
  });

  it('brings an offline partition back at once when unclean election is turned on', () => {
    const s = buildState({ mode: 'shared-nothing', brokers: [{ id: 1, alive: false }, { id: 2 }], topics: [{ name: 't', partitions: [{ replicas: [1, 2], isr: [1], leader: -1 }] }] });
    applied(s, planAlterConfig(s, 't', { 'unclean.leader.election.enable': 'true' }, false).records);
    expect(leaders(s, 't')).toEqual(['2@1']);
  });
});

describe('planAlterIsr', () => {
  const base = () => buildState({ mode: 'shared-nothing', brokers: [{ id: 1 }, { id: 2 }, { id: 3, alive: false }], topics: [{ name: 't', partitions: [{ replicas: [1, 2, 3], isr: [1, 2], leaderEpoch: 4 }] }] });
  const cases: { name: string; req: Partial<Parameters<typeof planAlterIsr>[1]>; code: number; changes?: boolean }[] = [
    { name: 'the leader shrinks the ISR', req: { isr: [1] }, code: 0, changes: true },
    { name: 'the same ISR', req: { isr: [1, 2] }, code: 0 },
    { name: 'an unknown partition', req: { partition: 9 }, code: 3 },
    { name: 'a broker that does not lead', req: { brokerId: 2 }, code: 6 },
    { name: 'an old leader epoch', req: { leaderEpoch: 3 }, code: 74 },
    { name: 'a stale partition epoch', req: { partitionEpoch: 7 }, code: 95 },
    { name: 'an ISR without the leader', req: { isr: [2] }, code: 42 },
    { name: 'an ISR with a non-replica', req: { isr: [1, 4] }, code: 42 },
    { name: 'an ISR with duplicates', req: { isr: [1, 1] }, code: 42 },
    { name: 'an ISR with a dead broker', req: { isr: [1, 2, 3] }, code: 107 },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.code}`, () => {
      const s = base();
      const { result, records } = planAlterIsr(s, { brokerId: 1, topic: 't', partition: 0, leaderEpoch: 4, isr: [1, 2], ...c.req });
      expect(result.errorCode).toBe(c.code);
      expect(records.length).toBe(c.changes ? 1 : 0);
      if (c.changes) {
        applied(s, records);
        const p = s.topics.get('t')?.partitions[0];
        expect({ isr: p?.isr, leaderEpoch: p?.leaderEpoch, partitionEpoch: p?.partitionEpoch }).toEqual({ isr: c.req.isr, leaderEpoch: 4, partitionEpoch: 1 });
      }
    });
  }

  it('is refused in shared-storage mode, which has no ISR to alter', () => {
    const s = buildState({ mode: 'shared-storage', brokers: [{ id: 1 }], topics: [{ name: 't', partitions: [{ replicas: [1] }] }] });
    expect(planAlterIsr(s, { brokerId: 1, topic: 't', partition: 0, leaderEpoch: 0, isr: [1] }).result.errorCode).toBe(42);
  });
});
