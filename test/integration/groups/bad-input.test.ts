// Bad group requests over real TCP, at the versions clients use: unknown members, stale
// generations, a mismatched protocol type, oversized member metadata, out-of-range
// session timeouts and invalid group ids each get Kafka's error code, while a kafkajs
// consumer in another group keeps consuming without so much as a rebalance. Also the
// version-dependent shapes: FindCoordinator v4 keys, LeaveGroup v0 and v3, OffsetFetch v1
// and v8, simple commits with negative offsets.
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../src/client/connection.ts';
import { encodeAssignment, encodeSubscription } from '../../../src/protocol/consumer-protocol.ts';
import { ErrorCode } from '../../../src/protocol/errors.ts';
import { OffsetCommit } from '../../../src/protocol/messages/08-offset-commit.ts';
import { OffsetFetch } from '../../../src/protocol/messages/09-offset-fetch.ts';
import { FindCoordinator } from '../../../src/protocol/messages/10-find-coordinator.ts';
import { JoinGroup } from '../../../src/protocol/messages/11-join-group.ts';
import { Heartbeat } from '../../../src/protocol/messages/12-heartbeat.ts';
import { LeaveGroup } from '../../../src/protocol/messages/13-leave-group.ts';
import { SyncGroup } from '../../../src/protocol/messages/14-sync-group.ts';
import { DescribeGroups } from '../../../src/protocol/messages/15-describe-groups.ts';
import { ListGroups } from '../../../src/protocol/messages/16-list-groups.ts';
import { DeleteGroups } from '../../../src/protocol/messages/42-delete-groups.ts';
import type { RequestOf } from '../../../src/protocol/api.ts';
import { eventually, startCluster, type TestCluster } from '../../helpers/floe-cluster.ts';
import { GROUP_TEST_CONFIG, quickConsumer, TrackedConsumer, waitForStableGroup, type Delivery } from './group-helpers.ts';

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';

const TOPIC = 'steady-topic';
const STEADY = 'steady';
const BAD = 'bad-group';

let cluster: TestCluster;
let host: string;
let port: number;
let admin: Admin;
let producer: Producer;
let steady: TrackedConsumer;
const deliveries: Delivery[] = [];
let conn: KafkaConnection;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, config: GROUP_TEST_CONFIG });
  const [h, p] = cluster.brokers[0]!.split(':');
  host = h!;
  port = Number(p);
  const kafka = new Kafka({ brokers: cluster.brokers, clientId: 'bad-input-test', logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }] });
  steady = new TrackedConsumer(kafka, 'steady', quickConsumer(STEADY), deliveries);
  await steady.start(TOPIC);
  await waitForStableGroup(admin, STEADY, 1, 2);
  conn = await KafkaConnection.connect(host, port, 'raw-client');
});

afterAll(async () => {
  await conn?.close();
  await steady?.consumer.disconnect();
  await producer?.disconnect();
  await admin?.disconnect();
  await cluster?.stop();
});

const subscription = encodeSubscription({ topics: [TOPIC], userData: null, ownedPartitions: [], generationId: -1, rackId: null }, 0);

function joinBody(o: Partial<RequestOf<typeof JoinGroup>> = {}): RequestOf<typeof JoinGroup> {
  return {
    groupId: BAD,
    sessionTimeoutMs: 6_000,
    rebalanceTimeoutMs: 10_000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription }],
    ...o,
  };
}

const heartbeat = (generationId: number, memberId: string) => conn.request(Heartbeat, 3, { groupId: BAD, generationId, memberId, groupInstanceId: null });

function commitBody(o: { groupId?: string; generationId: number; memberId: string; topic?: string; offset?: number; retentionTimeMs?: number }): RequestOf<typeof OffsetCommit> {
  return {
    groupId: o.groupId ?? BAD,
    generationId: o.generationId,
    memberId: o.memberId,
    groupInstanceId: null,
    retentionTimeMs: o.retentionTimeMs ?? -1,
    topics: [{ name: o.topic ?? TOPIC, partitions: [{ partitionIndex: 0, committedOffset: o.offset ?? 1, committedLeaderEpoch: -1, commitTimestamp: -1, committedMetadata: null }] }],
  };
}

/** Produces two records and waits until the steady consumer has them. */
async function steadyStillConsumes(label: string): Promise<void> {
  const values = [`${label}-0`, `${label}-1`];
  await producer.send({ topic: TOPIC, acks: -1, messages: values.map((value, partition) => ({ partition, value })) });
  await eventually(() => (values.every((v) => deliveries.some((d) => d.value === v)) ? true : undefined));
}

describe('bad group requests', () => {
  it('each gets its Kafka error code while another group keeps consuming undisturbed', async () => {
    await steadyStillConsumes('before');
    const steadyJoins = steady.joins;

    // FindCoordinator v4 answers every key; v0 the one.
    const found = await conn.request(FindCoordinator, 4, { key: '', keyType: 0, coordinatorKeys: [BAD, STEADY] });
    expect(found.coordinators.map((c) => [c.key, c.errorCode, c.nodeId, c.port])).toEqual([
      [BAD, ErrorCode.NONE, 1, port],
      [STEADY, ErrorCode.NONE, 1, port],
    ]);
    expect(await conn.request(FindCoordinator, 0, { key: BAD, keyType: 0, coordinatorKeys: [] })).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 1, port });

    // A member of the bad group, the way a v5 client joins.
    const first = await conn.request(JoinGroup, 5, joinBody());
    expect(first).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, generationId: -1 });
    const memberId = first.memberId;
    expect(memberId).toMatch(/^raw-client-/);
    const joined = await conn.request(JoinGroup, 5, joinBody({ memberId }));
    expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: memberId, memberId, protocolName: 'range' });
    expect(joined.members).toEqual([{ memberId, groupInstanceId: null, metadata: subscription }]);
    const assignment = encodeAssignment({ assignedPartitions: [{ topic: TOPIC, partitions: [0, 1] }], userData: null }, 0);
    const synced = await conn.request(SyncGroup, 3, { groupId: BAD, generationId: 1, memberId, groupInstanceId: null, assignments: [{ memberId, assignment }] });
    expect(synced).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, assignment });

    // Unknown member.
    expect((await heartbeat(1, 'ghost')).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await conn.request(SyncGroup, 3, { groupId: BAD, generationId: 1, memberId: 'ghost', groupInstanceId: null, assignments: [] })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await conn.request(JoinGroup, 5, joinBody({ memberId: 'ghost' }))).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const ghostCommit = await conn.request(OffsetCommit, 5, commitBody({ generationId: 1, memberId: 'ghost' }));
    expect(ghostCommit.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);

    // Stale generation.
    expect((await heartbeat(0, memberId)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    const staleSync = await conn.request(SyncGroup, 3, { groupId: BAD, generationId: 0, memberId, groupInstanceId: null, assignments: [] });
    // The assignment field is there even on an error: empty bytes.
    expect(staleSync).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.ILLEGAL_GENERATION, assignment: Buffer.alloc(0) });
    const staleCommit = await conn.request(OffsetCommit, 5, commitBody({ generationId: 0, memberId }));
    expect(staleCommit.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);

    // Mismatched protocol type, from a new member and from the member itself.
    expect((await conn.request(JoinGroup, 5, joinBody({ protocolType: 'connect' }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await conn.request(JoinGroup, 5, joinBody({ memberId, protocolType: 'connect' }))).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    // Oversized member metadata: refused at JoinGroup, in this group and in a new one.
    const huge = [{ name: 'range', metadata: Buffer.alloc(300 * 1024, 1) }];
    expect((await conn.request(JoinGroup, 5, joinBody({ protocols: huge }))).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect((await conn.request(JoinGroup, 5, joinBody({ groupId: 'fresh', protocols: huge }))).errorCode).toBe(ErrorCode.MESSAGE_TOO_LARGE);

    // Session timeout outside [group.min.session.timeout.ms, group.max.session.timeout.ms]; no group id.
    expect((await conn.request(JoinGroup, 5, joinBody({ sessionTimeoutMs: 10 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect((await conn.request(JoinGroup, 5, joinBody({ sessionTimeoutMs: 3_600_000 }))).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    expect((await conn.request(JoinGroup, 5, joinBody({ groupId: '' }))).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);
    expect((await conn.request(Heartbeat, 3, { groupId: '', generationId: 1, memberId, groupInstanceId: null })).errorCode).toBe(ErrorCode.INVALID_GROUP_ID);

    // None of it disturbed the bad group's own member, or the steady group.
    expect((await heartbeat(1, memberId)).errorCode).toBe(ErrorCode.NONE);
    const described = await conn.request(DescribeGroups, 5, { groups: [BAD, STEADY], includeAuthorizedOperations: false });
    expect(described.groups.map((g) => [g.groupId, g.errorCode, g.groupState, g.members.length])).toEqual([
      [BAD, ErrorCode.NONE, 'Stable', 1],
      [STEADY, ErrorCode.NONE, 'Stable', 1],
    ]);
    await steadyStillConsumes('after');
    expect(steady.joins).toBe(steadyJoins);

    // DeleteGroups: a group with members, and one that never existed.
    const deleted = await conn.request(DeleteGroups, 2, { groupsNames: [BAD, 'never-existed'] });
    expect(deleted.results).toEqual([
      { groupId: BAD, errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'never-existed', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ]);

    // LeaveGroup: v0 answers the one member's error at the top; v3 per member.
    expect((await conn.request(LeaveGroup, 0, { groupId: BAD, memberId: 'ghost', members: [] })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const left = await conn.request(LeaveGroup, 3, {
      groupId: BAD,
      memberId: '',
      members: [
        { memberId, groupInstanceId: null },
        { memberId: 'ghost', groupInstanceId: null },
      ],
    });
    expect(left).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      members: [
        { memberId, groupInstanceId: null, errorCode: ErrorCode.NONE },
        { memberId: 'ghost', groupInstanceId: null, errorCode: ErrorCode.UNKNOWN_MEMBER_ID },
      ],
    });
    const listed = await conn.request(ListGroups, 4, { statesFilter: ['Empty'] });
    expect(listed.groups).toContainEqual({ groupId: BAD, protocolType: 'consumer', groupState: 'Empty' });
    expect(listed.groups.map((g) => g.groupId)).not.toContain(STEADY);
  });

  it('simple commits: negative offsets and retention -1 are stored; unknown partitions and topics answer as Kafka does', async () => {
    const simple = 'simple-committer';
    const v2 = await conn.request(OffsetCommit, 2, commitBody({ groupId: simple, generationId: -1, memberId: '', offset: -2, retentionTimeMs: -1 }));
    expect(v2.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    const unknownTopic = await conn.request(OffsetCommit, 8, commitBody({ groupId: simple, generationId: -1, memberId: '', topic: 'no-such-topic' }));
    expect(unknownTopic.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    // A commit with a generation to a group that does not exist: a member of a lost generation.
    const lost = await conn.request(OffsetCommit, 8, commitBody({ groupId: 'lost-group', generationId: 4, memberId: 'm' }));
    expect(lost.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);

    // v1: per-partition answers; partition 1 was never committed: -1 and "" (not null).
    const v1 = await conn.request(OffsetFetch, 1, { groupId: simple, topics: [{ name: TOPIC, partitionIndexes: [0, 1] }], groups: [], requireStable: false });
    expect(v1.topics).toEqual([
      {
        name: TOPIC,
        partitions: [
          { partitionIndex: 0, committedOffset: -2, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE },
          { partitionIndex: 1, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE },
        ],
      },
    ]);
    // v8: many groups at once; null topics means everything the group committed.
    const v8 = await conn.request(OffsetFetch, 8, { groupId: '', topics: null, groups: [{ groupId: simple, topics: null }, { groupId: 'nobody', topics: [{ name: TOPIC, partitionIndexes: [0] }] }], requireStable: false });
    expect(v8.groups).toEqual([
      { groupId: simple, errorCode: ErrorCode.NONE, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: -2, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE }] }] },
      { groupId: 'nobody', errorCode: ErrorCode.NONE, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE }] }] },
    ]);
    // kafkajs reads the same through its own versions.
    const viaKafkajs = await admin.fetchOffsets({ groupId: simple, topics: [TOPIC] });
    expect(viaKafkajs[0]!.partitions.find((p) => p.partition === 0)?.offset).toBe('-2');
  });
});
