import { describe, expect, it } from 'vitest';
import { LeaseTable, type RegistrationKind } from '../../../controller/liveness.ts';

describe('LeaseTable', () => {
  it('expires a lease exactly leaseMs after the last renewal, not before', () => {
    const t = new LeaseTable(3000);
    t.grant(1, 'a', 0);
    t.grant(2, 'b', 500);
    expect(t.renew(1, 'a', 1000)).toBe('renewed');
    expect(t.expired(3499)).toEqual([]);
    expect(t.expired(3500)).toEqual([2]);
    expect(t.expired(4000)).toEqual([1, 2]);
    expect(t.holds(1, 3999)).toBe(true);
    expect(t.holds(1, 4000)).toBe(false);
  });

  it('says when to look next: the earliest expiry', () => {
    const t = new LeaseTable(1000);
    expect(t.nextExpiryMs()).toBeNull();
    t.grant(1, 'a', 100);
    t.grant(2, 'b', 50);
    expect(t.nextExpiryMs()).toBe(1050);
    t.renew(2, 'b', 600);
    expect(t.nextExpiryMs()).toBe(1100);
    t.revoke(1);
    expect(t.nextExpiryMs()).toBe(1600);
  });

  const renewals: { name: string; at: number; id: number; incarnation: string; want: string }[] = [
    { name: 'the holder renews', at: 10, id: 1, incarnation: 'a', want: 'renewed' },
    { name: 'another incarnation', at: 10, id: 1, incarnation: 'x', want: 'incarnation-mismatch' },
    { name: 'an unknown broker', at: 10, id: 9, incarnation: 'a', want: 'unknown' },
    { name: 'after the lease ran out (not revived)', at: 1000, id: 1, incarnation: 'a', want: 'unknown' },
  ];
  for (const c of renewals) {
    it(`renew: ${c.name} → ${c.want}`, () => {
      const t = new LeaseTable(1000);
      t.grant(1, 'a', 0);
      expect(t.renew(c.id, c.incarnation, c.at)).toBe(c.want);
    });
  }

  const registrations: { name: string; known?: { incarnation: string; alive: boolean }; lease?: boolean; grace?: boolean; heartbeat?: boolean; incarnation: string; want: RegistrationKind }[] = [
    { name: 'never seen', incarnation: 'a', want: 'new' },
    { name: 'same process again (answer lost, or declared dead)', known: { incarnation: 'a', alive: false }, incarnation: 'a', want: 'same-incarnation' },
    { name: 'same process while alive', known: { incarnation: 'a', alive: true }, lease: true, incarnation: 'a', want: 'same-incarnation' },
    { name: 'new process after the old one died', known: { incarnation: 'a', alive: false }, incarnation: 'b', want: 'restart' },
    { name: 'new process, old one alive but its lease ran out', known: { incarnation: 'a', alive: true }, lease: false, incarnation: 'b', want: 'restart' },
    { name: 'new process while the old one holds a live lease', known: { incarnation: 'a', alive: true }, lease: true, incarnation: 'b', want: 'duplicate' },
    {
      name: 'new process while the old one holds only the grace lease of a controller restart',
      known: { incarnation: 'a', alive: true },
      lease: true,
      grace: true,
      incarnation: 'b',
      want: 'restart',
    },
    { name: 'new process after the old one confirmed its grace lease', known: { incarnation: 'a', alive: true }, lease: true, grace: true, heartbeat: true, incarnation: 'b', want: 'duplicate' },
  ];
  for (const c of registrations) {
    it(`classify: ${c.name} → ${c.want}`, () => {
      const t = new LeaseTable(1000);
      if (c.lease !== undefined) t.grant(1, 'a', c.lease ? 500 : -2000, !c.grace);
      if (c.heartbeat) t.renew(1, 'a', 600);
      expect(t.classify({ id: 1, incarnation: c.incarnation, known: c.known, nowMs: 1000 })).toBe(c.want);
    });
  }
});
