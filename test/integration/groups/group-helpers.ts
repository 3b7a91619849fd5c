/**
 * Shared pieces of the consumer-group integration tests: broker settings and kafkajs
 * consumer options for quick rebalances, a record of every delivery, and waits for a
 * group to be stable with a given number of members.
 */
import type { Admin, Consumer, ConsumerConfig, Kafka } from 'kafkajs';
import { decodeAssignment } from '../../../src/protocol/consumer-protocol.ts';
import { eventually } from '../../helpers/floe-cluster.ts';

/** Short timeouts and few offsets partitions: rebalances take a heartbeat, not seconds. */
export const GROUP_TEST_CONFIG: Record<string, string> = {
  'offsets.topic.num.partitions': '5',
  'group.initial.rebalance.delay.ms': '300',
  'group.min.session.timeout.ms': '1000',
};

/** kafkajs consumer settings that notice a rebalance within a few hundred ms. */
export function quickConsumer(groupId: string, extra: Partial<ConsumerConfig> = {}): ConsumerConfig {
  return {
    groupId,
    sessionTimeout: 6_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 200,
    maxWaitTimeInMs: 200,
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 30 },
    ...extra,
  };
}

export interface Delivery {
  consumer: string;
  partition: number;
  offset: number;
  value: string;
}

/** A kafkajs consumer that records what it receives and the assignment it was last given. */
export class TrackedConsumer {
  readonly consumer: Consumer;
  assignment: number[] = [];
  joins = 0;

  constructor(
    kafka: Kafka,
    readonly name: string,
    config: ConsumerConfig,
    private readonly deliveries: Delivery[],
  ) {
    this.consumer = kafka.consumer(config);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.joins++;
      this.assignment = [...(Object.values(e.payload.memberAssignment)[0] ?? [])].sort((a, b) => a - b);
    });
  }

  /** `autoCommit: false` leaves every commit to the test. */
  async start(topic: string, opts: { autoCommit?: boolean } = {}): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: opts.autoCommit ?? true,
      eachMessage: async ({ partition, message }) => {
        this.deliveries.push({ consumer: this.name, partition, offset: Number(message.offset), value: message.value?.toString() ?? '' });
        await Promise.resolve();
      },
    });
  }
}

export interface StableGroup {
  /** Each member's assigned partitions (of the one topic the tests use), by member id. */
  assignments: Map<string, number[]>;
}

/**
 * Waits until the group is Stable with exactly `members` members whose assignments
 * together cover partitions 0..partitions-1, each exactly once.
 */
export async function waitForStableGroup(admin: Admin, groupId: string, members: number, partitions: number, timeoutMs = 30_000): Promise<StableGroup> {
  return eventually(async () => {
    const { groups } = await admin.describeGroups([groupId]);
    const g = groups[0];
    if (!g || g.state !== 'Stable' || g.members.length !== members) return undefined;
    const assignments = new Map<string, number[]>();
    for (const m of g.members) {
      const a = m.memberAssignment.length === 0 ? [] : decodeAssignment(m.memberAssignment).value.assignedPartitions.flatMap((t) => t.partitions);
      assignments.set(m.memberId, [...a].sort((x, y) => x - y));
    }
    const all = [...assignments.values()].flat().sort((x, y) => x - y);
    const expected = Array.from({ length: partitions }, (_, i) => i);
    return JSON.stringify(all) === JSON.stringify(expected) ? { assignments } : undefined;
  }, timeoutMs);
}

/** Waits until every consumer's last GROUP_JOIN assignment is among the group's current ones. */
export async function waitForConsumersToMatch(consumers: TrackedConsumer[], group: StableGroup, timeoutMs = 30_000): Promise<void> {
  const wanted = [...group.assignments.values()].map((a) => JSON.stringify(a)).sort();
  await eventually(() => (JSON.stringify(consumers.map((c) => JSON.stringify(c.assignment)).sort()) === JSON.stringify(wanted) ? true : undefined), timeoutMs);
}

/** `n` records per partition, valued `${label}-p${partition}-${i}`. */
export function batch(label: string, partitions: number, n: number): { partition: number; value: string }[] {
  const out: { partition: number; value: string }[] = [];
  for (let p = 0; p < partitions; p++) for (let i = 0; i < n; i++) out.push({ partition: p, value: `${label}-p${p}-${i}` });
  return out;
}

/** How many times each value was delivered. */
export function countsByValue(deliveries: readonly Delivery[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of deliveries) counts.set(d.value, (counts.get(d.value) ?? 0) + 1);
  return counts;
}
