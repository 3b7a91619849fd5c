/**
 * One consumer group as the coordinator keeps it in memory: its state, generation,
 * members and committed offsets. Plain data with the small rules that depend only on the
 * group itself (protocol support and selection, leader choice); the protocol's behaviour
 * over time lives in state-machine.ts.
 */
import type { ErrorCode } from '../../protocol/errors.ts';
import type { OffsetValue } from './records.ts';

/** Kafka's group states, by the names DescribeGroups and ListGroups report. */
export const GroupState = {
  Empty: 'Empty',
  PreparingRebalance: 'PreparingRebalance',
  CompletingRebalance: 'CompletingRebalance',
  Stable: 'Stable',
  Dead: 'Dead',
} as const;
export type GroupState = (typeof GroupState)[keyof typeof GroupState];

export const EMPTY_BYTES: Buffer = Buffer.alloc(0);

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: ErrorCode;
  generationId: number;
  protocolName: string | null;
  leader: string;
  memberId: string;
  /** Every member's metadata for the selected protocol: only for the leader. */
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: ErrorCode;
  /** Never null: empty bytes when there is no assignment (Kafka clients expect the field). */
  assignment: Buffer;
}

export type JoinCallback = (r: JoinResult) => void;
export type SyncCallback = (r: SyncResult) => void;

export class Member {
  assignment: Buffer = EMPTY_BYTES;
  /** The JoinGroup waiting for the rebalance to complete, if any. */
  awaitingJoin: JoinCallback | null = null;
  /** The SyncGroup waiting for the leader's assignment, if any. */
  awaitingSync: SyncCallback | null = null;
  /** Joined in the current rebalance: it has no generation yet, so it cannot heartbeat. */
  isNew = false;
  /**
   * When the member is removed unless heard from first. Infinity while it waits in a
   * rebalance (a waiting JoinGroup or SyncGroup is itself the sign of life; the rebalance
   * timeout bounds the wait).
   */
  expiresAt = Infinity;

  constructor(
    readonly memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    readonly protocolType: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    public protocols: Protocol[],
  ) {}

  metadataFor(protocolName: string | null): Buffer {
    if (protocolName === null) return EMPTY_BYTES;
    return this.protocols.find((p) => p.name === protocolName)?.metadata ?? EMPTY_BYTES;
  }

  /** Same protocols with the same metadata, in the same order (Kafka's MemberMetadata.matches). */
  matches(protocols: readonly Protocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => {
      const mine = this.protocols[i];
      return mine !== undefined && mine.name === p.name && mine.metadata.equals(p.metadata);
    });
  }
}

/** Bytes a member's protocols take in the group's record (names and metadata). */
export function protocolsBytes(protocols: readonly Protocol[]): number {
  let n = 0;
  for (const p of protocols) n += Buffer.byteLength(p.name, 'utf8') + p.metadata.length;
  return n;
}

/** The pending JoinGroup phase of a rebalance. */
export interface JoinPhase {
  /** When the join completes even if members are missing. */
  deadline: number;
  /**
   * A new group's first rebalance waits group.initial.rebalance.delay.ms for more
   * members, and again while members keep arriving, up to the rebalance timeout (Kafka's
   * InitialDelayedJoin); null for an ordinary rebalance, which completes as soon as every
   * member has rejoined.
   */
  initial: { delayMs: number; remainingMs: number } | null;
}

export class Group {
  state: GroupState = GroupState.Empty;
  /** When the group entered its state (offset expiry of empty groups counts from it). */
  stateTimestamp: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** In join order: the first member that joins leads. */
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined, and when they lapse. */
  readonly pendingMembers = new Map<string, number>();
  /** Members that have not sent SyncGroup since the join completed. */
  readonly pendingSync = new Set<string>();
  join: JoinPhase | null = null;
  /** A member joined during the initial delay: wait another delay. */
  newMemberAdded = false;
  /** When members still missing from SyncGroup are removed (Kafka's DelayedSync). */
  syncDeadline: number | null = null;
  /** Committed offsets by topic, then partition. */
  readonly offsets = new Map<string, Map<number, OffsetValue>>();
  /** Commits appended but not yet durable, by topic-partition key: they do not expire. */
  readonly pendingCommits = new Map<string, { topic: string; partition: number; count: number }>();
  /** The log holds a group record for this group (deleting it needs a tombstone). */
  stored = false;

  constructor(
    readonly groupId: string,
    now: number,
  ) {
    this.stateTimestamp = now;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, now: number): void {
    this.state = state;
    this.stateTimestamp = now;
  }

  /** The longest rebalance timeout of any member: how long a rebalance may wait. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs);
    return max;
  }

  add(member: Member): void {
    // The first member decides the group's protocol type; later ones must match it.
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
  }

  remove(memberId: string): void {
    this.members.delete(memberId);
    this.pendingSync.delete(memberId);
    if (this.leaderId === memberId) {
      const next = this.members.keys().next();
      this.leaderId = next.done ? null : next.value;
    }
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  awaitingJoinCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.awaitingJoin !== null) n++;
    return n;
  }

  /** Every known member has sent JoinGroup and no handed-out member id is still outstanding. */
  hasAllMembersJoined(): boolean {
    return this.awaitingJoinCount() === this.members.size && this.pendingMembers.size === 0;
  }

  /**
   * Whether a member with this protocol type and these protocols may join: any non-empty
   * type and list when the group is empty; otherwise the group's type and at least one
   * protocol every current member also supports.
   */
  supportsProtocols(protocolType: string, protocols: readonly Protocol[]): boolean {
    if (this.is(GroupState.Empty)) return protocolType !== '' && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    return protocols.some((p) => this.supportedByAll(p.name));
  }

  private supportedByAll(name: string): boolean {
    for (const m of this.members.values()) if (!m.protocols.some((p) => p.name === name)) return false;
    return true;
  }

  /**
   * Kafka's protocol selection: among the protocols every member supports, each member
   * votes for the first in its own order of preference; the most votes win. Ties go to
   * the protocol the first member prefers, so that the choice is deterministic.
   */
  selectProtocol(): string {
    const first = this.members.values().next();
    if (first.done) throw new Error(`selectProtocol on group ${this.groupId} without members`);
    const candidates = first.value.protocols.map((p) => p.name).filter((name) => this.supportedByAll(name));
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const vote = m.protocols.find((p) => candidates.includes(p.name));
      if (vote) votes.set(vote.name, (votes.get(vote.name) ?? 0) + 1);
    }
    let best: string | null = null;
    for (const name of candidates) if (best === null || (votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name;
    if (best === null) throw new Error(`group ${this.groupId} has no protocol all members support`);
    return best;
  }

  hasOffsets(): boolean {
    return this.offsets.size > 0 || this.pendingCommits.size > 0;
  }

  offsetCount(): number {
    let n = 0;
    for (const byPartition of this.offsets.values()) n += byPartition.size;
    return n;
  }

  setOffset(topic: string, partition: number, value: OffsetValue): void {
    let byPartition = this.offsets.get(topic);
    if (!byPartition) {
      byPartition = new Map();
      this.offsets.set(topic, byPartition);
    }
    byPartition.set(partition, value);
  }

  deleteOffset(topic: string, partition: number): void {
    const byPartition = this.offsets.get(topic);
    if (!byPartition) return;
    byPartition.delete(partition);
    if (byPartition.size === 0) this.offsets.delete(topic);
  }
}
