/**
 * The classic group protocol (Kafka's GroupCoordinator) for the groups of one
 * __consumer_offsets partition, as a state machine without I/O or timers.
 *
 * Inputs are requests (each with the current time), `tick(now)` for deadlines, and the
 * completions of appends the machine asked its GroupStore for. Outputs are the answers,
 * given to the callback each request came with — at once, or later when a rebalance
 * completes or an append is durable — and the records handed to the GroupStore. The
 * caller arms one timer for `nextDeadline()` and calls `tick` when it fires.
 *
 * Group life (states as Kafka names them):
 *   Empty ──join──▶ PreparingRebalance ──every member rejoined / timeout──▶ CompletingRebalance
 *   CompletingRebalance ──leader's SyncGroup stored──▶ Stable
 *   Stable / CompletingRebalance ──join, leave, expiry, changed metadata──▶ PreparingRebalance
 *   PreparingRebalance ──nobody left──▶ Empty;   Empty ──DeleteGroups, expiry──▶ Dead (removed)
 *
 * Every callback is called exactly once, including when a member is removed, a request
 * is superseded by a newer one from the same member, or the partition is unloaded: a
 * connection answers in request order, so one unanswered request would stall it.
 */
import { ErrorCode } from '../../protocol/errors.ts';
import { EMPTY_BYTES, Group, GroupState, Member, protocolsBytes, type JoinResult, type Protocol, type SyncResult } from './group.ts';
import type { GroupConfig } from './limits.ts';
import type { GroupValue, OffsetsRecord, OffsetValue } from './records.ts';

/** What a commit answers per partition (OFFSET_METADATA_TOO_LARGE is in the shared table). */
export type CommitErrorCode = ErrorCode;

/** Where the machine's records go. Implemented over Partition.append by the coordinator. */
export interface GroupStore {
  /**
   * Appends the records, in order, to this partition's log and calls `done` once they
   * are fully durable (NONE) or have failed (the append's Kafka error code), with the
   * time of completion. Appends complete in the order they were made.
   */
  append(records: readonly OffsetsRecord[], done: (errorCode: ErrorCode, now: number) => void): void;
}

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: readonly Protocol[];
  /** JoinGroup v4+: an unknown member first gets MEMBER_ID_REQUIRED with its new id. */
  requireKnownMemberId: boolean;
}

export interface SyncRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  assignments: readonly { memberId: string; assignment: Buffer }[];
}

export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
}

export interface LeaveResult {
  errorCode: ErrorCode;
  members: { memberId: string; groupInstanceId: string | null; errorCode: ErrorCode }[];
}

export interface CommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  /** OffsetCommit v2–4: -1 for the broker's retention, else ms from the commit. */
  retentionTimeMs: number;
  offsets: readonly {
    topic: string;
    partition: number;
    offset: number;
    leaderEpoch: number;
    metadata: string | null;
    /** OffsetCommit v1 only; -1 for "now". */
    commitTimestamp: number;
  }[];
}

export interface FetchedOffset {
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolData: string;
  members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }[];
}

export interface GroupOverview {
  groupId: string;
  protocolType: string;
  state: GroupState;
}

export interface StateMachineDeps {
  config: GroupConfig;
  store: GroupStore;
  /** A fresh member id (Kafka: `${clientId}-${uuid}`); injected so tests are deterministic. */
  newMemberId: (clientId: string) => string;
  /** Notable events (rebalances, expiries), for the log. */
  log?: (message: string, fields: Record<string, unknown>) => void;
  now: number;
}

function joinError(errorCode: ErrorCode, memberId: string): JoinResult {
  return { errorCode, generationId: -1, protocolName: null, leader: '', memberId, members: [] };
}
const syncError = (errorCode: ErrorCode): SyncResult => ({ errorCode, assignment: EMPTY_BYTES });

/** Append failures Kafka reports as "no coordinator right now". */
const UNAVAILABLE_APPEND: ReadonlySet<ErrorCode> = new Set([ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_ENOUGH_REPLICAS, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND]);
/** Append failures Kafka reports as "this broker is not the coordinator". */
const NOT_COORDINATOR_APPEND: ReadonlySet<ErrorCode> = new Set([ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.KAFKA_STORAGE_ERROR]);
/** Append failures caused by the size of what was written. */
const TOO_LARGE_APPEND: ReadonlySet<ErrorCode> = new Set([ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE, ErrorCode.INVALID_FETCH_SIZE]);

/** Kafka's mapping of a failed offsets append to what an OffsetCommit answers. */
export function commitErrorOf(appendError: ErrorCode): ErrorCode {
  if (UNAVAILABLE_APPEND.has(appendError)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  if (NOT_COORDINATOR_APPEND.has(appendError)) return ErrorCode.NOT_COORDINATOR;
  if (TOO_LARGE_APPEND.has(appendError)) return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
  return appendError;
}

/** Kafka's mapping of a failed group-record append to what the group's members are told. */
export function groupStoreErrorOf(appendError: ErrorCode): ErrorCode {
  if (UNAVAILABLE_APPEND.has(appendError)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  if (NOT_COORDINATOR_APPEND.has(appendError)) return ErrorCode.NOT_COORDINATOR;
  // The members simply rejoin; the next generation's record may well be stored in time.
  if (appendError === ErrorCode.REQUEST_TIMED_OUT) return ErrorCode.REBALANCE_IN_PROGRESS;
  if (TOO_LARGE_APPEND.has(appendError)) return ErrorCode.UNKNOWN_SERVER_ERROR;
  return appendError;
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class GroupStateMachine {
  private readonly groups = new Map<string, Group>();
  private readonly config: GroupConfig;
  private nextRetentionCheckAt: number;

  constructor(private readonly deps: StateMachineDeps) {
    this.config = deps.config;
    this.nextRetentionCheckAt = deps.now + deps.config.offsetsRetentionCheckIntervalMs;
  }

  private log(message: string, fields: Record<string, unknown>): void {
    this.deps.log?.(message, fields);
  }

  // ---------------------------------------------------------------- JoinGroup

  join(req: JoinRequest, now: number, respond: (r: JoinResult) => void): void {
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      respond(joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId));
      return;
    }
    const metadataBytes = protocolsBytes(req.protocols);
    if (metadataBytes > this.config.memberMetadataBytesMax) {
      // MESSAGE_TOO_LARGE, not Kafka's behaviour of failing the group's record append at
      // SyncGroup: refusing this one member here keeps the rest of the group (and every
      // other group) undisturbed, and the client gets a non-retriable error that names the
      // problem instead of an UNKNOWN_SERVER_ERROR after a whole rebalance.
      respond(joinError(ErrorCode.MESSAGE_TOO_LARGE, req.memberId));
      return;
    }
    const isUnknown = req.memberId === '';
    let group = this.groups.get(req.groupId);
    if (!group) {
      if (!isUnknown) {
        respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
        return;
      }
      group = new Group(req.groupId, now);
      this.groups.set(req.groupId, group);
    }
    if (!this.acceptJoiningMember(group, req.memberId, metadataBytes)) {
      const member = group.members.get(req.memberId);
      if (member) this.removeMember(group, member, now, 'group is full');
      respond(joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, ''));
    } else if (isUnknown) {
      this.joinUnknownMember(group, req, now, respond);
    } else {
      this.joinKnownMember(group, req, now, respond);
    }
    if (group.is(GroupState.PreparingRebalance)) this.tryCompleteJoin(group, now);
    this.dropIfUnused(group);
  }

  /**
   * Kafka's group.max.size, counted as Kafka does (awaiting members during a rebalance,
   * so that rejoining members beyond a lowered maximum are the ones turned away), plus
   * floe's byte budget for all members' metadata together.
   */
  private acceptJoiningMember(group: Group, memberId: string, metadataBytes: number): boolean {
    let othersBytes = 0;
    for (const m of group.members.values()) if (m.memberId !== memberId) othersBytes += protocolsBytes(m.protocols);
    if (othersBytes + metadataBytes > this.config.groupMetadataBytesMax) return false;
    const existing = group.members.get(memberId);
    switch (group.state) {
      case GroupState.Empty:
      case GroupState.Dead:
        return true;
      case GroupState.PreparingRebalance:
        return (existing !== undefined && existing.awaitingJoin !== null) || group.awaitingJoinCount() < this.config.maxSize;
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        return existing !== undefined || group.members.size < this.config.maxSize;
    }
  }

  private joinUnknownMember(group: Group, req: JoinRequest, now: number, respond: (r: JoinResult) => void): void {
    if (group.is(GroupState.Dead)) {
      respond(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, ''));
    } else if (!group.supportsProtocols(req.protocolType, req.protocols)) {
      respond(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, ''));
    } else {
      const memberId = this.deps.newMemberId(req.clientId);
      if (req.requireKnownMemberId) {
        // The member must come back with this id; until it does (within its session
        // timeout) a rebalance waits for it.
        group.pendingMembers.set(memberId, now + req.sessionTimeoutMs);
        respond(joinError(ErrorCode.MEMBER_ID_REQUIRED, memberId));
      } else {
        this.addMemberAndRebalance(group, memberId, req, now, respond);
      }
    }
  }

  private joinKnownMember(group: Group, req: JoinRequest, now: number, respond: (r: JoinResult) => void): void {
    if (group.is(GroupState.Dead)) {
      respond(joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
      return;
    }
    if (!group.supportsProtocols(req.protocolType, req.protocols)) {
      respond(joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
      return;
    }
    if (group.pendingMembers.has(req.memberId)) {
      this.addMemberAndRebalance(group, req.memberId, req, now, respond);
      return;
    }
    const member = group.members.get(req.memberId);
    if (!member) {
      respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
      return;
    }
    switch (group.state) {
      case GroupState.PreparingRebalance:
        this.updateMemberAndRebalance(group, member, req, now, respond);
        return;
      case GroupState.CompletingRebalance:
        // The same metadata again: the member probably missed the JoinGroup answer.
        if (member.matches(req.protocols)) respond(this.currentGeneration(group, member, group.isLeader(member.memberId)));
        else this.updateMemberAndRebalance(group, member, req, now, respond);
        return;
      case GroupState.Stable:
        // The leader rejoining forces a rebalance (it may have seen a metadata change the
        // members' subscriptions do not show); a follower with unchanged metadata just
        // gets the current generation back and can SyncGroup for its assignment.
        if (group.isLeader(member.memberId) || !member.matches(req.protocols)) this.updateMemberAndRebalance(group, member, req, now, respond);
        else respond(this.currentGeneration(group, member, false));
        return;
      case GroupState.Empty:
      case GroupState.Dead:
        respond(joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
        return;
    }
  }

  private currentGeneration(group: Group, member: Member, withMembers: boolean): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: withMembers ? this.memberMetadata(group) : [],
    };
  }

  private memberMetadata(group: Group): JoinResult['members'] {
    return [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(group.protocolName) }));
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinRequest, now: number, respond: (r: JoinResult) => void): void {
    const member = new Member(memberId, req.groupInstanceId, req.clientId, req.clientHost, req.protocolType, req.rebalanceTimeoutMs, req.sessionTimeoutMs, copyProtocols(req.protocols));
    member.isNew = true;
    member.awaitingJoin = respond;
    // A new member cannot heartbeat before it has a generation; if its client gives up
    // and retries, the abandoned member must not hold up rebalances for ever.
    member.expiresAt = now + this.config.newMemberJoinTimeoutMs;
    if (group.is(GroupState.PreparingRebalance) && group.generationId === 0) group.newMemberAdded = true;
    group.add(member);
    group.pendingMembers.delete(memberId);
    this.maybePrepareRebalance(group, now, `member ${memberId} joined`);
  }

  private updateMemberAndRebalance(group: Group, member: Member, req: JoinRequest, now: number, respond: (r: JoinResult) => void): void {
    member.protocols = copyProtocols(req.protocols);
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    const superseded = member.awaitingJoin;
    member.awaitingJoin = respond;
    // A second JoinGroup from the same member replaces the first; the first is still owed
    // an answer, and a retriable one sends a client that is still listening back to join.
    superseded?.(joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    this.maybePrepareRebalance(group, now, `member ${member.memberId} rejoined`);
  }

  private maybePrepareRebalance(group: Group, now: number, reason: string): void {
    if (group.is(GroupState.Stable) || group.is(GroupState.CompletingRebalance) || group.is(GroupState.Empty)) this.prepareRebalance(group, now, reason);
  }

  private prepareRebalance(group: Group, now: number, reason: string): void {
    // Members waiting for an assignment of the generation being abandoned rejoin instead.
    if (group.is(GroupState.CompletingRebalance)) this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS, now);
    group.pendingSync.clear();
    group.syncDeadline = null;
    const rebalanceTimeoutMs = group.rebalanceTimeoutMs();
    if (group.is(GroupState.Empty)) {
      const delayMs = this.config.initialRebalanceDelayMs;
      group.join = { deadline: now + delayMs, initial: { delayMs, remainingMs: Math.max(rebalanceTimeoutMs - delayMs, 0) } };
    } else {
      group.join = { deadline: now + rebalanceTimeoutMs, initial: null };
    }
    group.transitionTo(GroupState.PreparingRebalance, now);
    this.log('preparing to rebalance', { groupId: group.groupId, generationId: group.generationId, reason });
    this.tryCompleteJoin(group, now);
  }

  /** An ordinary rebalance completes as soon as every member has rejoined. */
  private tryCompleteJoin(group: Group, now: number): void {
    if (group.is(GroupState.PreparingRebalance) && group.join !== null && group.join.initial === null && group.hasAllMembersJoined()) {
      this.completeJoin(group, now);
    }
  }

  private onJoinDeadline(group: Group, now: number): void {
    const join = group.join;
    if (join === null) return;
    if (join.initial !== null && group.newMemberAdded && join.initial.remainingMs !== 0) {
      // Members are still arriving at a new group: wait one more delay for the next one.
      group.newMemberAdded = false;
      const delayMs = Math.min(this.config.initialRebalanceDelayMs, join.initial.remainingMs);
      group.join = { deadline: now + delayMs, initial: { delayMs, remainingMs: Math.max(join.initial.remainingMs - join.initial.delayMs, 0) } };
      return;
    }
    this.completeJoin(group, now);
  }

  private completeJoin(group: Group, now: number): void {
    group.join = null;
    group.newMemberAdded = false;
    for (const m of [...group.members.values()]) {
      if (m.awaitingJoin !== null) continue;
      this.log('removing member that did not rejoin in time', { groupId: group.groupId, memberId: m.memberId });
      this.removeMember(group, m, now, 'did not rejoin', false);
    }
    if (group.is(GroupState.Dead)) return;
    group.generationId++;
    if (group.members.size === 0) {
      group.protocolName = null;
      group.transitionTo(GroupState.Empty, now);
      // Kafka records the empty generation; failing to is harmless (no member depends on it).
      this.storeGroup(group, new Map(), () => undefined);
      this.log('group is empty', { groupId: group.groupId, generationId: group.generationId });
      return;
    }
    group.protocolName = group.selectProtocol();
    group.transitionTo(GroupState.CompletingRebalance, now);
    this.log('rebalance joined', { groupId: group.groupId, generationId: group.generationId, members: group.members.size, protocol: group.protocolName });
    for (const m of group.members.values()) {
      const respond = m.awaitingJoin;
      m.awaitingJoin = null;
      m.isNew = false;
      m.expiresAt = now + m.sessionTimeoutMs;
      group.pendingSync.add(m.memberId);
      respond?.(this.currentGeneration(group, m, group.isLeader(m.memberId)));
    }
    group.syncDeadline = now + group.rebalanceTimeoutMs();
  }

  // ---------------------------------------------------------------- SyncGroup

  sync(req: SyncRequest, now: number, respond: (r: SyncResult) => void): void {
    const group = this.groups.get(req.groupId);
    if (!group) return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (group.is(GroupState.Dead)) return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    const member = group.members.get(req.memberId);
    if (!member) return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (req.generationId !== group.generationId) return respond(syncError(ErrorCode.ILLEGAL_GENERATION));
    switch (group.state) {
      case GroupState.Empty:
        return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case GroupState.PreparingRebalance:
        return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case GroupState.Stable:
        this.syncReceived(group, member.memberId);
        member.expiresAt = now + member.sessionTimeoutMs;
        return respond({ errorCode: ErrorCode.NONE, assignment: member.assignment });
      case GroupState.Dead:
        return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
      case GroupState.CompletingRebalance:
        break;
    }
    const superseded = member.awaitingSync;
    member.awaitingSync = respond;
    superseded?.(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    this.syncReceived(group, member.memberId);
    if (!group.isLeader(member.memberId)) return;

    // The leader's assignment: members it left out get an empty one; ids that are not
    // members are ignored.
    const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
    const assignment = new Map<string, Buffer>();
    for (const id of group.members.keys()) assignment.set(id, Buffer.from(given.get(id) ?? EMPTY_BYTES));
    const generationId = group.generationId;
    this.storeGroup(group, assignment, (errorCode, doneAt) => {
      // Another member may have joined (or left) while the record was being written: the
      // stored assignment then belongs to a generation nobody will use.
      if (!group.is(GroupState.CompletingRebalance) || group.generationId !== generationId || this.groups.get(group.groupId) !== group) return;
      if (errorCode !== ErrorCode.NONE) {
        this.resetAndPropagateAssignmentError(group, groupStoreErrorOf(errorCode), doneAt);
        this.maybePrepareRebalance(group, doneAt, 'the group record could not be stored');
        return;
      }
      for (const m of group.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY_BYTES;
      this.propagateAssignment(group, ErrorCode.NONE, doneAt);
      group.transitionTo(GroupState.Stable, doneAt);
      this.log('group stable', { groupId: group.groupId, generationId: group.generationId });
    });
  }

  private syncReceived(group: Group, memberId: string): void {
    group.pendingSync.delete(memberId);
    if (group.pendingSync.size === 0) group.syncDeadline = null;
  }

  private resetAndPropagateAssignmentError(group: Group, errorCode: ErrorCode, now: number): void {
    for (const m of group.members.values()) m.assignment = EMPTY_BYTES;
    this.propagateAssignment(group, errorCode, now);
  }

  private propagateAssignment(group: Group, errorCode: ErrorCode, now: number): void {
    for (const m of group.members.values()) {
      const respond = m.awaitingSync;
      if (respond === null) continue;
      m.awaitingSync = null;
      // The session restarts from here: the member may have been waiting a long time.
      m.expiresAt = now + m.sessionTimeoutMs;
      respond({ errorCode, assignment: errorCode === ErrorCode.NONE ? m.assignment : EMPTY_BYTES });
    }
  }

  private onSyncDeadline(group: Group, now: number): void {
    group.syncDeadline = null;
    if (!(group.is(GroupState.CompletingRebalance) || group.is(GroupState.Stable)) || group.pendingSync.size === 0) return;
    const missing = [...group.pendingSync];
    this.log('removing members that did not SyncGroup in time', { groupId: group.groupId, members: missing });
    for (const id of missing) {
      const m = group.members.get(id);
      if (m) this.removeMember(group, m, now, 'did not sync', false);
    }
    this.prepareRebalance(group, now, 'members did not sync');
  }

  // ---------------------------------------------------------------- Heartbeat, LeaveGroup

  heartbeat(req: HeartbeatRequest, now: number): ErrorCode {
    const group = this.groups.get(req.groupId);
    if (!group) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is(GroupState.Dead)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const member = group.members.get(req.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case GroupState.Empty:
      case GroupState.Dead:
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case GroupState.CompletingRebalance:
      case GroupState.Stable:
        member.expiresAt = now + member.sessionTimeoutMs;
        return ErrorCode.NONE;
      case GroupState.PreparingRebalance:
        // Still alive, but it must rejoin: this is how members learn of a rebalance.
        if (member.awaitingJoin === null) member.expiresAt = now + member.sessionTimeoutMs;
        return ErrorCode.REBALANCE_IN_PROGRESS;
    }
  }

  leave(groupId: string, members: readonly { memberId: string; groupInstanceId: string | null }[], now: number): LeaveResult {
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.NONE, members: members.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) };
    if (group.is(GroupState.Dead)) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const results = members.map((m) => {
      if (group.pendingMembers.has(m.memberId)) {
        this.removePendingMember(group, m.memberId, now);
        return { ...m, errorCode: ErrorCode.NONE };
      }
      const member = group.members.get(m.memberId);
      if (!member) return { ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      this.removeMember(group, member, now, 'left the group');
      return { ...m, errorCode: ErrorCode.NONE };
    });
    this.dropIfUnused(group);
    return { errorCode: ErrorCode.NONE, members: results };
  }

  /**
   * Removes a member, answering whatever it is waiting for, and moves the group on: a
   * stable group rebalances; a rebalancing one may now be complete.
   */
  private removeMember(group: Group, member: Member, now: number, reason: string, updateGroup = true): void {
    const join = member.awaitingJoin;
    const sync = member.awaitingSync;
    member.awaitingJoin = null;
    member.awaitingSync = null;
    group.remove(member.memberId);
    join?.(joinError(ErrorCode.UNKNOWN_MEMBER_ID, ''));
    sync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (!updateGroup) return;
    switch (group.state) {
      case GroupState.Dead:
      case GroupState.Empty:
        return;
      case GroupState.Stable:
      case GroupState.CompletingRebalance:
        this.maybePrepareRebalance(group, now, `member ${member.memberId} ${reason}`);
        return;
      case GroupState.PreparingRebalance:
        this.tryCompleteJoin(group, now);
        return;
    }
  }

  private removePendingMember(group: Group, memberId: string, now: number): void {
    group.pendingMembers.delete(memberId);
    if (group.is(GroupState.PreparingRebalance)) this.tryCompleteJoin(group, now);
  }

  // ---------------------------------------------------------------- Offsets

  commitOffsets(req: CommitRequest, now: number, respond: (errors: CommitErrorCode[]) => void): void {
    const errors: CommitErrorCode[] = req.offsets.map((o) =>
      o.metadata !== null && Buffer.byteLength(o.metadata, 'utf8') > this.config.offsetMetadataBytesMax ? ErrorCode.OFFSET_METADATA_TOO_LARGE : ErrorCode.NONE,
    );
    const failAll = (code: ErrorCode): void => respond(errors.map((e) => (e === ErrorCode.NONE ? code : e)));
    let group = this.groups.get(req.groupId);
    if (!group) {
      // A group that does not exist may be used for offsets alone (generation -1, no
      // member id: a "simple" consumer); a member of a generation it has lost may not.
      if (req.generationId >= 0) return failAll(ErrorCode.ILLEGAL_GENERATION);
      group = new Group(req.groupId, now);
      this.groups.set(req.groupId, group);
    }
    const refused = this.validateCommit(group, req, now);
    if (refused !== null) {
      failAll(refused);
      this.dropIfUnused(group);
      return;
    }
    const accepted = req.offsets.filter((_, i) => errors[i] === ErrorCode.NONE);
    if (accepted.length === 0) {
      respond(errors);
      this.dropIfUnused(group);
      return;
    }
    const records: OffsetsRecord[] = accepted.map((o) => {
      const commitTimestamp = o.commitTimestamp >= 0 ? o.commitTimestamp : now;
      const value: OffsetValue = {
        offset: o.offset,
        leaderEpoch: o.leaderEpoch,
        metadata: o.metadata ?? '',
        commitTimestamp,
        expireTimestamp: req.retentionTimeMs >= 0 ? commitTimestamp + req.retentionTimeMs : null,
      };
      return { kind: 'offset', group: req.groupId, topic: o.topic, partition: o.partition, value };
    });
    const owner = group;
    for (const r of records) {
      if (r.kind !== 'offset') continue;
      const pending = owner.pendingCommits.get(tpKey(r.topic, r.partition));
      if (pending) pending.count++;
      else owner.pendingCommits.set(tpKey(r.topic, r.partition), { topic: r.topic, partition: r.partition, count: 1 });
    }
    this.deps.store.append(records, (errorCode) => {
      for (const r of records) {
        if (r.kind !== 'offset') continue;
        const k = tpKey(r.topic, r.partition);
        const pending = owner.pendingCommits.get(k);
        if (pending && --pending.count <= 0) owner.pendingCommits.delete(k);
        // Offsets of a group deleted meanwhile are not revived (its tombstones follow
        // these records in the log, so a replay agrees).
        if (errorCode === ErrorCode.NONE && r.value !== null && !owner.is(GroupState.Dead)) owner.setOffset(r.topic, r.partition, r.value);
      }
      const code = errorCode === ErrorCode.NONE ? ErrorCode.NONE : commitErrorOf(errorCode);
      respond(errors.map((e) => (e === ErrorCode.NONE ? code : e)));
    });
  }

  /** Kafka's checks of who may commit: null when the commit may be stored. */
  private validateCommit(group: Group, req: CommitRequest, now: number): ErrorCode | null {
    if (group.is(GroupState.Dead)) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    // An empty group may be used for offsets alone.
    if (req.generationId < 0 && group.is(GroupState.Empty)) return null;
    const member = group.members.get(req.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (req.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (group.state) {
      case GroupState.Stable:
      case GroupState.PreparingRebalance:
        // Commits are allowed while a rebalance is prepared (the member learns of it from
        // its next heartbeat), and they count as a sign of life.
        if (member.awaitingJoin === null) member.expiresAt = now + member.sessionTimeoutMs;
        return null;
      case GroupState.CompletingRebalance:
        // The member has the new generation from JoinGroup but no assignment yet.
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case GroupState.Empty:
      case GroupState.Dead:
        return ErrorCode.UNKNOWN_MEMBER_ID;
    }
  }

  /**
   * Committed offsets: of the partitions asked for (an unknown one answers offset -1 and
   * metadata ""), or of every partition the group has committed when `topics` is null.
   * Offsets not yet durable are not visible.
   */
  fetchOffsets(groupId: string, topics: readonly { name: string; partitions: readonly number[] }[] | null): { topic: string; partitions: FetchedOffset[] }[] {
    const group = this.groups.get(groupId);
    const live = group !== undefined && !group.is(GroupState.Dead) ? group : undefined;
    if (topics === null) {
      if (!live) return [];
      return [...live.offsets].map(([topic, byPartition]) => ({
        topic,
        partitions: [...byPartition].map(([partition, v]) => ({ partition, offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata })),
      }));
    }
    return topics.map((t) => ({
      topic: t.name,
      partitions: t.partitions.map((partition) => {
        const v = live?.offsets.get(t.name)?.get(partition);
        return v ? { partition, offset: v.offset, leaderEpoch: v.leaderEpoch, metadata: v.metadata } : { partition, offset: -1, leaderEpoch: -1, metadata: '' };
      }),
    }));
  }

  // ---------------------------------------------------------------- Describe, list, delete

  describe(groupId: string): GroupDescription {
    const group = this.groups.get(groupId);
    if (!group) return { groupId, state: GroupState.Dead, protocolType: '', protocolData: '', members: [] };
    const stable = group.is(GroupState.Stable);
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: stable ? (group.protocolName ?? '') : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        // Metadata and assignment are shown only for a stable group, as Kafka does.
        metadata: stable ? m.metadataFor(group.protocolName) : EMPTY_BYTES,
        assignment: stable ? m.assignment : EMPTY_BYTES,
      })),
    };
  }

  /** The groups of this partition, optionally only those in the given states (case-insensitive). */
  list(statesFilter: readonly string[]): GroupOverview[] {
    const wanted = new Set(statesFilter.map((s) => s.toLowerCase()));
    const out: GroupOverview[] = [];
    for (const g of this.groups.values()) {
      if (g.is(GroupState.Dead)) continue;
      if (wanted.size > 0 && !wanted.has(g.state.toLowerCase())) continue;
      out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state });
    }
    return out;
  }

  /**
   * DeleteGroups: an empty group is removed with tombstones for its offsets and its
   * record, answered once they are durable; a group with members is refused.
   */
  deleteGroups(groupIds: readonly string[], respond: (results: Map<string, ErrorCode>) => void): void {
    const results = new Map<string, ErrorCode>();
    const tombstones: OffsetsRecord[] = [];
    const deleted: string[] = [];
    for (const id of groupIds) {
      if (results.has(id)) continue;
      const group = this.groups.get(id);
      if (!group || group.is(GroupState.Dead)) {
        results.set(id, ErrorCode.GROUP_ID_NOT_FOUND);
      } else if (!group.is(GroupState.Empty)) {
        results.set(id, ErrorCode.NON_EMPTY_GROUP);
      } else {
        tombstones.push(...this.removeGroup(group));
        deleted.push(id);
        results.set(id, ErrorCode.NONE);
      }
    }
    if (tombstones.length === 0) {
      respond(results);
      return;
    }
    this.deps.store.append(tombstones, (errorCode) => {
      if (errorCode !== ErrorCode.NONE) for (const id of deleted) results.set(id, commitErrorOf(errorCode));
      respond(results);
    });
  }

  /** Marks a group Dead, forgets it, and returns the tombstones that delete it from the log. */
  private removeGroup(group: Group): OffsetsRecord[] {
    group.state = GroupState.Dead;
    this.groups.delete(group.groupId);
    const tombstones: OffsetsRecord[] = [];
    const seen = new Set<string>();
    for (const [topic, byPartition] of group.offsets) {
      for (const partition of byPartition.keys()) {
        seen.add(tpKey(topic, partition));
        tombstones.push({ kind: 'offset', group: group.groupId, topic, partition, value: null });
      }
    }
    // Commits still in flight are in the log before these tombstones: delete them too.
    for (const [k, p] of group.pendingCommits) if (!seen.has(k)) tombstones.push({ kind: 'offset', group: group.groupId, topic: p.topic, partition: p.partition, value: null });
    group.offsets.clear();
    tombstones.push({ kind: 'group', group: group.groupId, value: null });
    return tombstones;
  }

  /** Forgets a group that holds nothing at all (one a refused JoinGroup just created). */
  private dropIfUnused(group: Group): void {
    if (
      group.is(GroupState.Empty) &&
      group.members.size === 0 &&
      group.pendingMembers.size === 0 &&
      !group.hasOffsets() &&
      group.generationId === 0 &&
      !group.stored &&
      this.groups.get(group.groupId) === group
    ) {
      this.groups.delete(group.groupId);
    }
  }

  // ---------------------------------------------------------------- the group record

  private storeGroup(group: Group, assignment: ReadonlyMap<string, Buffer>, done: (errorCode: ErrorCode, now: number) => void): void {
    const value: GroupValue = {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: group.protocolName,
      leader: group.leaderId,
      currentStateTimestamp: group.stateTimestamp,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: m.metadataFor(group.protocolName),
        assignment: assignment.get(m.memberId) ?? EMPTY_BYTES,
      })),
    };
    group.stored = true;
    this.deps.store.append([{ kind: 'group', group: group.groupId, value }], done);
  }

  // ---------------------------------------------------------------- time

  /** The earliest time at which `tick` has something to do (at the latest the next retention check). */
  nextDeadline(): number {
    let next = this.nextRetentionCheckAt;
    for (const g of this.groups.values()) {
      for (const at of g.pendingMembers.values()) next = Math.min(next, at);
      for (const m of g.members.values()) next = Math.min(next, m.expiresAt);
      if (g.join !== null) next = Math.min(next, g.join.deadline);
      if (g.syncDeadline !== null) next = Math.min(next, g.syncDeadline);
    }
    return next;
  }

  /** Acts on every deadline at or before `now`: expiries, rebalance and sync timeouts, offset retention. */
  tick(now: number): void {
    for (const group of [...this.groups.values()]) {
      for (const [id, at] of [...group.pendingMembers]) {
        if (at <= now) {
          this.log('handed-out member id not used in time', { groupId: group.groupId, memberId: id });
          this.removePendingMember(group, id, now);
        }
      }
      for (const m of [...group.members.values()]) {
        if (m.expiresAt > now || group.members.get(m.memberId) !== m) continue;
        if (m.isNew || (m.awaitingJoin === null && m.awaitingSync === null)) {
          this.log('member session expired', { groupId: group.groupId, memberId: m.memberId });
          this.removeMember(group, m, now, 'session expired');
        } else {
          // Waiting in a rebalance counts as alive; the session restarts when it ends.
          m.expiresAt = Infinity;
        }
      }
      if (group.join !== null && group.join.deadline <= now) this.onJoinDeadline(group, now);
      if (group.syncDeadline !== null && group.syncDeadline <= now) this.onSyncDeadline(group, now);
      this.dropIfUnused(group);
    }
    if (this.nextRetentionCheckAt <= now) {
      this.nextRetentionCheckAt = now + this.config.offsetsRetentionCheckIntervalMs;
      this.expireOffsets(now);
    }
  }

  /**
   * Kafka's offset retention: the offsets of an empty group expire offsets.retention.minutes
   * after it became empty; those of a group used only for offsets, that long after their
   * commit; a commit with an explicit retention (v2–4) at its own expire time. An empty
   * group left without offsets is removed. Members' groups keep their offsets.
   */
  private expireOffsets(now: number): void {
    const tombstones: OffsetsRecord[] = [];
    for (const group of [...this.groups.values()]) {
      const simple = group.protocolType === null || group.protocolType === '';
      const empty = group.is(GroupState.Empty);
      if (!empty && !simple) continue;
      for (const [topic, byPartition] of [...group.offsets]) {
        for (const [partition, v] of [...byPartition]) {
          if (group.pendingCommits.has(tpKey(topic, partition))) continue;
          const base = simple || group.stateTimestamp < 0 ? v.commitTimestamp : group.stateTimestamp;
          const expired = v.expireTimestamp !== null ? now >= v.expireTimestamp : now - base >= this.config.offsetsRetentionMs;
          if (!expired) continue;
          group.deleteOffset(topic, partition);
          tombstones.push({ kind: 'offset', group: group.groupId, topic, partition, value: null });
        }
      }
      if (empty && group.members.size === 0 && group.pendingMembers.size === 0 && !group.hasOffsets()) {
        this.log('removing empty group without offsets', { groupId: group.groupId });
        if (group.stored || group.generationId > 0) tombstones.push(...this.removeGroup(group));
        else this.groups.delete(group.groupId);
      }
    }
    if (tombstones.length > 0) this.deps.store.append(tombstones, () => undefined);
  }

  // ---------------------------------------------------------------- loading

  /** Applies one record read from the log, in log order (before finishLoad). */
  replay(record: OffsetsRecord, now: number): void {
    let group = this.groups.get(record.group);
    if (record.kind === 'offset') {
      if (record.value === null) {
        group?.deleteOffset(record.topic, record.partition);
        if (group) this.dropLoadedIfEmpty(group);
        return;
      }
      if (!group) {
        group = new Group(record.group, now);
        this.groups.set(record.group, group);
      }
      group.setOffset(record.topic, record.partition, record.value);
      return;
    }
    if (record.value === null) {
      if (!group) return;
      // The group's record is gone; offsets written after the tombstone (a group used
      // again) stay.
      group.members.clear();
      group.generationId = 0;
      group.protocolType = null;
      group.protocolName = null;
      group.leaderId = null;
      group.stored = false;
      this.dropLoadedIfEmpty(group);
      return;
    }
    if (!group) {
      group = new Group(record.group, now);
      this.groups.set(record.group, group);
    }
    const v = record.value;
    group.members.clear();
    group.leaderId = null;
    for (const sm of v.members) {
      const protocols = v.protocol === null ? [] : [{ name: v.protocol, metadata: sm.subscription }];
      const m = new Member(sm.memberId, sm.groupInstanceId, sm.clientId, sm.clientHost, v.protocolType, sm.rebalanceTimeoutMs, sm.sessionTimeoutMs, protocols);
      m.assignment = sm.assignment;
      group.add(m);
    }
    group.leaderId = v.leader !== null && group.members.has(v.leader) ? v.leader : group.leaderId;
    group.generationId = v.generation;
    group.protocolType = v.protocolType === '' ? null : v.protocolType;
    group.protocolName = v.protocol;
    group.stateTimestamp = v.currentStateTimestamp;
    group.stored = true;
  }

  private dropLoadedIfEmpty(group: Group): void {
    if (group.members.size === 0 && group.offsets.size === 0 && !group.stored) this.groups.delete(group.groupId);
  }

  /**
   * Ends loading: groups with members are Stable in their stored generation, the others
   * Empty; every member gets a full session to reach this coordinator.
   */
  finishLoad(now: number): void {
    for (const group of this.groups.values()) {
      const stateTimestamp = group.stateTimestamp;
      if (group.members.size > 0) {
        group.state = GroupState.Stable;
        for (const m of group.members.values()) m.expiresAt = now + m.sessionTimeoutMs;
      } else {
        group.state = GroupState.Empty;
      }
      // Keep the stored time: offset expiry of an empty group counts from it.
      group.stateTimestamp = stateTimestamp >= 0 ? stateTimestamp : now;
      if (group.members.size > this.config.maxSize) this.prepareRebalance(group, now, 'loaded group is over group.max.size');
    }
    this.nextRetentionCheckAt = now + this.config.offsetsRetentionCheckIntervalMs;
  }

  /** Stops coordinating: every waiting request is answered NOT_COORDINATOR and the groups are forgotten. */
  unload(): void {
    for (const group of this.groups.values()) {
      group.state = GroupState.Dead;
      for (const m of group.members.values()) {
        const join = m.awaitingJoin;
        const sync = m.awaitingSync;
        m.awaitingJoin = null;
        m.awaitingSync = null;
        join?.(joinError(ErrorCode.NOT_COORDINATOR, m.memberId));
        sync?.(syncError(ErrorCode.NOT_COORDINATOR));
      }
    }
    this.groups.clear();
  }

  /** How many groups this partition holds (tests, metrics). */
  get size(): number {
    return this.groups.size;
  }

  groupIds(): string[] {
    return [...this.groups.keys()];
  }
}

function copyProtocols(protocols: readonly Protocol[]): Protocol[] {
  // Request buffers are views into socket chunks: copy what outlives the request.
  return protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) }));
}
