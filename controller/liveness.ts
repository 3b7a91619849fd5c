/**
 * Broker liveness: one lease per live broker, renewed by heartbeats, expiring `leaseMs`
 * after the last renewal. Pure: every method takes `nowMs` (monotonic milliseconds);
 * the controller asks `nextExpiryMs()` when to look again and `expired(now)` who died.
 *
 * Leases live in memory only. After a controller restart every broker the metadata
 * holds as alive is granted a fresh lease (a grace period of one lease), so a restart
 * of the controller alone never declares a broker dead. Such a lease is unconfirmed
 * until the broker's first heartbeat to this controller process: a new process for the
 * same id registering meanwhile is taken as a restart (the whole cluster restarting),
 * not refused as a duplicate.
 */

export type RenewOutcome = 'renewed' | 'unknown' | 'incarnation-mismatch';

/** What a registration means, given what the controller holds for that broker id. */
export type RegistrationKind =
  /** Never seen, or removed: a new broker. */
  | 'new'
  /** The same process registering again (it was declared dead, or its answer was lost). */
  | 'same-incarnation'
  /** A new process for this id, and the old one is dead or its lease has run out. */
  | 'restart'
  /** A new process while the old one holds a live lease it has confirmed by a heartbeat: refused. */
  | 'duplicate';

interface Lease {
  incarnation: string;
  renewedAtMs: number;
  /** Renewed by a heartbeat (or granted on registration), not only granted as grace. */
  confirmed: boolean;
}

export class LeaseTable {
  private readonly leases = new Map<number, Lease>();

  constructor(readonly leaseMs: number) {}

  /** `confirmed: false` is the grace lease given after a controller restart. */
  grant(id: number, incarnation: string, nowMs: number, confirmed = true): void {
    this.leases.set(id, { incarnation, renewedAtMs: nowMs, confirmed });
  }

  renew(id: number, incarnation: string, nowMs: number): RenewOutcome {
    const lease = this.leases.get(id);
    if (!lease) return 'unknown';
    if (lease.incarnation !== incarnation) return 'incarnation-mismatch';
    // An expired lease that the controller has not processed yet is not revived: the
    // broker's death is decided by the expiry, and it registers again afterwards.
    if (nowMs >= lease.renewedAtMs + this.leaseMs) return 'unknown';
    lease.renewedAtMs = nowMs;
    lease.confirmed = true;
    return 'renewed';
  }

  revoke(id: number): void {
    this.leases.delete(id);
  }

  holds(id: number, nowMs: number): boolean {
    const lease = this.leases.get(id);
    return lease !== undefined && nowMs < lease.renewedAtMs + this.leaseMs;
  }

  /** Milliseconds since the last renewal, or null without a lease. */
  ageMs(id: number, nowMs: number): number | null {
    const lease = this.leases.get(id);
    return lease ? nowMs - lease.renewedAtMs : null;
  }

  /** Brokers whose lease has run out at `nowMs`, lowest id first. */
  expired(nowMs: number): number[] {
    const out: number[] = [];
    for (const [id, lease] of this.leases) if (nowMs >= lease.renewedAtMs + this.leaseMs) out.push(id);
    return out.sort((a, b) => a - b);
  }

  /** When the next lease runs out, or null when none is held. */
  nextExpiryMs(): number | null {
    let next: number | null = null;
    for (const lease of this.leases.values()) {
      const at = lease.renewedAtMs + this.leaseMs;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /** Classifies a registration of broker `id` by process `incarnation`. */
  classify(opts: { id: number; incarnation: string; known: { incarnation: string; alive: boolean } | undefined; nowMs: number }): RegistrationKind {
    const { known } = opts;
    if (!known) return 'new';
    if (known.incarnation === opts.incarnation) return 'same-incarnation';
    if (known.alive && this.holds(opts.id, opts.nowMs) && this.leases.get(opts.id)?.confirmed === true) return 'duplicate';
    return 'restart';
  }
}
