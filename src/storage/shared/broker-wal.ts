/**
 * BrokerWal: the broker's one WAL log (`broker-<id>`), shared by all its partitions.
 *
 * Batches appended in the same turn of the event loop go into one WAL entry (group
 * commit across partitions: a produce request with many partitions is one entry). Each
 * batch learns two things from its entry: durable on one WAL node (acks=1) and durable on
 * the ack quorum (acks=all, and the high watermark).
 *
 * Durability is a prefix of entries (the WAL client reports it so), so a partition's
 * durable batches are always a prefix of its pending ones. When the quorum is lost, an
 * entry's promise rejects ("not durable yet") but the entry stays in the client's window
 * and may become durable when nodes return; a poll of quorumDurableEnd() then advances
 * the high watermarks it holds back.
 *
 * Trimming: an entry may be trimmed once every batch in it is committed to the object
 * index; the trim point is the first entry still holding an uncommitted batch.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../common/clock.ts';
import { WalBackpressureError, WalClosedError, WalFencedError, WalQuorumUnavailableError, type WalClient } from '../../../wal/index.ts';
import { StorageError } from '../partition-log.ts';
import { SharedStorageLimits } from './limits.ts';
import { encodeWalEntry, type WalBatch } from './wal-entry.ts';

export interface WalMember {
  /** Called once the batch is quorum-durable (in order, per partition). */
  durable(item: WalItem): void;
  /** Called when the batch never reached the WAL: the log gives its offsets back. */
  rolledBack(item: WalItem): void;
}

export interface WalItem {
  readonly batch: WalBatch;
  readonly member: WalMember;
  group: WalGroup | null;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  settled: boolean;
}

function deferred(): Deferred {
  const d = { settled: false } as Deferred;
  d.promise = new Promise<void>((resolve, reject) => {
    d.resolve = () => {
      d.settled = true;
      resolve();
    };
    d.reject = (err) => {
      d.settled = true;
      reject(err);
    };
  });
  // Callers may ignore one of the two levels (acks=0 ignores both).
  d.promise.catch(() => undefined);
  return d;
}

export interface WalGroup {
  items: WalItem[];
  bytes: number;
  entryId: number;
  one: Deferred;
  quorum: Deferred;
  durable: boolean;
  /** Items not yet committed to the object index. */
  uncommitted: number;
}

/** The WAL client's errors as storage errors (converted to Kafka codes in src/broker/errors.ts). */
export function storageErrorOf(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const cause = { cause: err };
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof WalQuorumUnavailableError) return new StorageError('FLOE_ERR_STORAGE_UNAVAILABLE', message, cause);
  if (err instanceof WalFencedError) return new StorageError('FLOE_ERR_STORAGE_FENCED', message, cause);
  if (err instanceof WalClosedError) return new StorageError('FLOE_ERR_STORAGE_CLOSED', message, cause);
  if (err instanceof WalBackpressureError) return new StorageError('FLOE_ERR_STORAGE_BACKLOG', message, cause);
  return new StorageError('FLOE_ERR_STORAGE_IO', message, cause);
}

export class BrokerWal {
  private open: WalGroup | null = null;
  /** Groups written to the WAL and not yet wholly committed, in entry order. */
  private readonly written: WalGroup[] = [];
  private trimmedTo: number;
  private trimming = false;
  private cancelPoll: (() => void) | null = null;
  private closed = false;

  constructor(
    readonly client: WalClient,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Called once when a recovery at a newer epoch fenced this writer. */
    private readonly onFenced: (err: Error) => void = () => undefined,
    /** Observes seconds from handing an entry to the WAL to each durability level. */
    private readonly observe: (level: 'one' | 'quorum', seconds: number) => void = () => undefined,
  ) {
    this.trimmedTo = client.nextEntryId();
  }

  private fencedReported = false;

  private noteFailure(err: unknown): void {
    if (err instanceof WalFencedError && !this.fencedReported) {
      this.fencedReported = true;
      this.onFenced(err);
    }
  }

  get ackQuorum(): number {
    return this.client.ackQuorum;
  }

  reachableNodes(): number {
    return this.client.reachableNodes();
  }

  /** Adds a batch to the entry being gathered; its promises settle with that entry. */
  add(batch: WalBatch, member: WalMember): WalItem & { group: WalGroup } {
    if (this.closed) throw new StorageError('FLOE_ERR_STORAGE_CLOSED', 'the broker WAL is closed');
    let g = this.open;
    if (g === null || g.bytes + batch.batch.length > SharedStorageLimits.walEntryBytesTarget) {
      if (g !== null) this.write(g);
      g = { items: [], bytes: 0, entryId: -1, one: deferred(), quorum: deferred(), durable: false, uncommitted: 0 };
      this.open = g;
      const gathered = g;
      queueMicrotask(() => {
        if (this.open === gathered) this.write(gathered);
      });
    }
    const item = { batch, member, group: g };
    g.items.push(item);
    g.bytes += batch.batch.length;
    g.uncommitted++;
    return item;
  }

  private write(g: WalGroup): void {
    if (this.open === g) this.open = null;
    let append;
    try {
      append = this.client.append(encodeWalEntry(g.items.map((i) => i.batch)));
    } catch (err) {
      // Nothing was written: the offsets go back to their logs (newest first), and the
      // producers hear the reason.
      this.noteFailure(err);
      const error = storageErrorOf(err);
      for (let i = g.items.length - 1; i >= 0; i--) g.items[i]!.member.rolledBack(g.items[i]!);
      g.one.reject(error);
      g.quorum.reject(error);
      return;
    }
    g.entryId = append.entryId;
    this.written.push(g);
    const started = this.clock.monotonic();
    const elapsed = (): number => (this.clock.monotonic() - started) / 1000;
    append.quorumDurable.then(
      () => this.observe('quorum', elapsed()),
      () => undefined,
    );
    append.oneDurable.then(
      () => {
        this.observe('one', elapsed());
        g.one.resolve();
      },
      (err: unknown) => {
        this.noteFailure(err);
        g.one.reject(storageErrorOf(err));
      },
    );
    append.quorumDurable.then(
      () => this.checkDurable(),
      (err: unknown) => {
        this.noteFailure(err);
        if (!g.quorum.settled) g.quorum.reject(storageErrorOf(err));
        this.pollDurability();
      },
    );
  }

  /** Marks every written group below the client's quorum-durable end as durable. */
  private checkDurable(): void {
    const end = this.client.quorumDurableEnd();
    for (const g of this.written) {
      if (g.entryId >= end) break;
      if (g.durable) continue;
      g.durable = true;
      for (const item of g.items) item.member.durable(item);
      if (!g.quorum.settled) g.quorum.resolve();
    }
  }

  /** While an entry waits after a failed quorum, look again now and then. */
  private pollDurability(): void {
    if (this.cancelPoll || this.closed) return;
    this.cancelPoll = this.clock.setTimer(SharedStorageLimits.durabilityPollMs, () => {
      this.cancelPoll = null;
      this.checkDurable();
      if (this.written.some((g) => !g.durable)) this.pollDurability();
    });
  }

  /** One batch of `g` is in the object index now; trims the WAL past fully committed entries. */
  committed(g: WalGroup): void {
    g.uncommitted--;
    this.maybeTrim();
  }

  /** The first entry that still holds a batch not in the object index. */
  private trimPoint(): number {
    while (this.written.length > 0 && this.written[0]!.uncommitted === 0 && this.written[0]!.durable) this.written.shift();
    const first = this.written[0];
    if (first) return first.entryId;
    return this.open === null ? this.client.nextEntryId() : Math.min(this.client.nextEntryId(), this.client.quorumDurableEnd());
  }

  private maybeTrim(): void {
    if (this.trimming || this.closed) return;
    const upTo = Math.min(this.trimPoint(), this.client.quorumDurableEnd());
    if (upTo <= this.trimmedTo) return;
    this.trimming = true;
    this.client.trim(upTo).then(
      () => {
        this.trimmedTo = upTo;
        this.trimming = false;
        this.maybeTrim();
      },
      (err: unknown) => {
        this.trimming = false;
        this.logger.warn({ err, upTo }, 'WAL trim failed; retried after the next commit');
      },
    );
  }

  /** Trims everything committed so far and waits for it (clean shutdown). */
  async trimCommitted(): Promise<void> {
    const upTo = Math.min(this.trimPoint(), this.client.quorumDurableEnd());
    if (upTo <= this.trimmedTo) return;
    await this.client.trim(upTo);
    this.trimmedTo = Math.max(this.trimmedTo, upTo);
  }

  /** Entries still held in the WAL (not yet trimmed). */
  untrimmedEntries(): number {
    return this.client.nextEntryId() - this.trimmedTo;
  }

  async close(): Promise<void> {
    if (this.open) this.write(this.open);
    this.closed = true;
    this.cancelPoll?.();
    this.cancelPoll = null;
    await this.client.close();
  }
}
