/**
 * Fetcher: one connection from this broker to one leader broker, fetching for every
 * partition this broker follows there (Kafka's replica fetcher thread). A loop: one Fetch
 * (replica_id = this broker, current leader epoch per partition, from each replica's log
 * end), then each partition's answer applied by its FollowerReplica, then the next Fetch.
 * The leader holds a fetch up to replica.fetch.wait.max.ms when it has nothing new, so an
 * idle fetcher costs one round trip per wait.
 *
 * Failures: a connection that fails or an answer that does not come within the wait plus
 * replica.socket.timeout.ms drops the connection; the fetcher reconnects after a backoff
 * that doubles from FETCHER_BACKOFF_MS_MIN up to replica.fetch.backoff.ms. A partition's
 * own errors are its replica's business (it backs off by itself). When no replica can
 * fetch, the loop sleeps until one becomes ready (`poke`) or its backoff ends.
 */
import type { Logger } from 'pino';
import { KafkaConnection } from '../../client/connection.ts';
import type { Clock } from '../../common/clock.ts';
import type { RequestOf, ResponseOf } from '../../protocol/api.ts';
import { Fetch } from '../../protocol/messages/01-fetch.ts';
import type { FetchPosition, FollowerReplica } from './follower.ts';
import type { ReplicationSettings } from './settings.ts';

/** Fetch v12: the newest floe serves; flexible, with current leader epochs. */
export const REPLICA_FETCH_VERSION = 12;
/** The first reconnect backoff; it doubles up to replica.fetch.backoff.ms. */
export const FETCHER_BACKOFF_MS_MIN = 50;

export type Connect = (host: string, port: number, clientId: string) => Promise<KafkaConnection>;

export interface FetcherOptions {
  self: number;
  leader: number;
  /** The leader's address now, or null when it is not a live broker in the metadata. */
  address: () => { host: string; port: number } | null;
  settings: ReplicationSettings;
  clock: Clock;
  logger: Logger;
  connect?: Connect;
  /** Bytes of records fetched (for the metrics). */
  onFetched?: (bytes: number) => void;
}

type FetchResponse = ResponseOf<typeof Fetch>;

export class Fetcher {
  private readonly replicas = new Set<FollowerReplica>();
  private wake: (() => void) | null = null;
  private conn: { c: KafkaConnection; host: string; port: number } | null = null;
  private stopped = false;
  private readonly done: Promise<void>;
  private readonly connect: Connect;

  constructor(private readonly o: FetcherOptions) {
    this.connect = o.connect ?? ((host, port, clientId) => KafkaConnection.connect(host, port, clientId));
    this.done = this.loop();
  }

  get leader(): number {
    return this.o.leader;
  }
  get size(): number {
    return this.replicas.size;
  }

  add(r: FollowerReplica): void {
    this.replicas.add(r);
    this.poke();
  }
  remove(r: FollowerReplica): void {
    this.replicas.delete(r);
  }

  /** Wakes the loop if it sleeps (a replica became ready, or the fetcher stops). */
  poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    this.dropConnection();
    await this.done;
  }

  private async loop(): Promise<void> {
    let backoff = FETCHER_BACKOFF_MS_MIN;
    while (!this.stopped) {
      const now = this.o.clock.monotonic();
      const ready = [...this.replicas].filter((r) => r.canFetch(now));
      if (ready.length === 0) {
        await this.sleep(this.nextRetryIn(now));
        continue;
      }
      let answer: { res: FetchResponse; asked: Map<string, { replica: FollowerReplica; position: FetchPosition }> };
      try {
        answer = await this.fetchOnce(ready);
        backoff = FETCHER_BACKOFF_MS_MIN;
      } catch (err) {
        if (this.stopped) break;
        this.o.logger.debug({ err, leader: this.o.leader }, 'replica fetch failed; reconnecting after a backoff');
        this.dropConnection();
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.o.settings.fetchBackoffMs);
        continue;
      }
      const applied: Promise<void>[] = [];
      const parts = answer.res.responses.flatMap((t) =>
        t.partitions.map((p) => ({ topic: t.topic, p, records: p.records === null || Buffer.isBuffer(p.records) ? p.records : Buffer.concat(p.records) })),
      );
      const bytes = parts.reduce((n, x) => n + (x.records?.length ?? 0), 0);
      for (const { topic, p, records } of parts) {
        const a = answer.asked.get(`${topic}\u0000${p.partitionIndex}`);
        if (!a || !this.replicas.has(a.replica)) continue;
        applied.push(a.replica.apply(a.position, { errorCode: p.errorCode, highWatermark: p.highWatermark, logStartOffset: p.logStartOffset, records, answerEmpty: bytes === 0 }));
      }
      this.o.onFetched?.(bytes);
      await Promise.all(applied);
    }
    this.dropConnection();
  }

  /** How long to sleep when no replica can fetch: until the earliest backoff ends, or until poked. */
  private nextRetryIn(now: number): number | null {
    let at: number | null = null;
    for (const r of this.replicas) {
      const t = r.retryAt();
      if (t !== null && (at === null || t < at)) at = t;
    }
    return at === null ? null : Math.max(1, at - now);
  }

  private async fetchOnce(ready: FollowerReplica[]): Promise<{ res: FetchResponse; asked: Map<string, { replica: FollowerReplica; position: FetchPosition }> }> {
    const conn = await this.connection();
    const s = this.o.settings;
    const asked = new Map<string, { replica: FollowerReplica; position: FetchPosition }>();
    const byTopic = new Map<string, RequestOf<typeof Fetch>['topics'][number]['partitions']>();
    for (const r of ready) {
      const position = r.position();
      asked.set(`${r.topic}\u0000${r.partition}`, { replica: r, position });
      const list = byTopic.get(r.topic) ?? [];
      byTopic.set(r.topic, list);
      list.push({
        partition: r.partition,
        currentLeaderEpoch: position.leaderEpoch,
        fetchOffset: position.fetchOffset,
        lastFetchedEpoch: -1,
        logStartOffset: position.logStartOffset,
        partitionMaxBytes: s.fetchMaxBytes,
      });
    }
    const req: RequestOf<typeof Fetch> = {
      replicaId: this.o.self,
      maxWaitMs: s.fetchWaitMaxMs,
      minBytes: s.fetchMinBytes,
      maxBytes: s.fetchResponseMaxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      forgottenTopicsData: [],
      rackId: '',
    };
    const res = await this.withTimeout(conn.request(Fetch, REPLICA_FETCH_VERSION, req), s.fetchWaitMaxMs + s.socketTimeoutMs);
    return { res, asked };
  }

  private async connection(): Promise<KafkaConnection> {
    const addr = this.o.address();
    if (addr === null) throw new Error(`leader ${this.o.leader} is not a live broker`);
    const cur = this.conn;
    if (cur && !cur.c.closed && cur.host === addr.host && cur.port === addr.port) return cur.c;
    this.dropConnection();
    const c = await this.connect(addr.host, addr.port, `floe-replica-fetcher-${this.o.self}-${this.o.leader}`);
    if (this.stopped) {
      void c.close();
      throw new Error('fetcher stopped');
    }
    this.conn = { c, host: addr.host, port: addr.port };
    return c;
  }

  private dropConnection(): void {
    const cur = this.conn;
    this.conn = null;
    if (cur) void cur.c.close();
  }

  private withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.o.clock.setTimer(ms, () => reject(new Error(`no answer from leader ${this.o.leader} within ${ms} ms`)));
      p.then(
        (v) => {
          cancel();
          resolve(v);
        },
        (err: unknown) => {
          cancel();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Sleeps `ms` (null: until poked); `poke` and `stop` end it early. */
  private sleep(ms: number | null): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      let cancel: (() => void) | null = null;
      const done = (): void => {
        cancel?.();
        if (this.wake === done) this.wake = null;
        resolve();
      };
      this.wake = done;
      if (ms !== null) cancel = this.o.clock.setTimer(ms, done);
    });
  }
}
