import { afterEach, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import { WalClient } from '../../../wal/client.ts';
import type { WalClientOptions } from '../../../wal/client.ts';
import { WalBackpressureError, WalFencedError, WalQuorumUnavailableError } from '../../../wal/errors.ts';
import { GatedFileSystem } from '../../helpers/wal-gated-fs.ts';
import { reachable, startInProcessCluster } from '../../helpers/wal-inprocess.ts';
import type { InProcessCluster } from '../../helpers/wal-inprocess.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cluster(n = 3, opts: Parameters<typeof startInProcessCluster>[1] = {}): Promise<InProcessCluster> {
  const c = await startInProcessCluster(n, opts);
  cleanups.push(() => c.stop());
  return c;
}

async function client(c: InProcessCluster, opts: Partial<WalClientOptions> = {}): Promise<WalClient> {
  const w = await WalClient.open({ nodes: c.nodes, ackQuorum: 2, logId: 'broker-1', epoch: 1, nextEntryId: 0, ...opts });
  cleanups.push(() => w.close());
  return w;
}

async function held(c: InProcessCluster, i: number, log = 'broker-1'): Promise<number[]> {
  return (await c.store(i).read(log, 0, 1 << 30)).entries.map((e) => e.entryId);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe('WalClient', () => {
  it('assigns consecutive ids and reports durability in id order, with many entries in flight', async () => {
    const c = await cluster();
    const w = await client(c, { nextEntryId: 100 });
    // open() resolves once a quorum is reachable; the third node follows.
    await reachable(w, 3);
    const order: number[] = [];
    const appends = range(0, 300).map((i) => w.append(Buffer.from(`entry ${i}`)));
    expect(appends.map((a) => a.entryId)).toEqual(range(100, 400));
    await Promise.all(appends.map((a) => a.quorumDurable.then(() => order.push(a.entryId))));
    expect(order).toEqual(range(100, 400));
    expect(w.quorumDurableEnd()).toBe(400);
    await Promise.all(appends.map((a) => a.oneDurable));
    // Every node got every entry, in one id space.
    for (let i = 0; i < 3; i++) expect(await held(c, i)).toEqual(range(100, 400));
    const r = await c.store(0).read('broker-1', 150, 1 << 20);
    expect(r.entries[0]!.payload.toString()).toBe('entry 50');
  });

  it('reports an entry quorum-durable only once ackQuorum nodes have fsynced it', async () => {
    const gates: GatedFileSystem[] = [];
    const c = await cluster(3, {
      wrapFs: (i, sim) => {
        const g = new GatedFileSystem(sim);
        gates[i] = g;
        return g;
      },
    });
    const w = await client(c);
    await reachable(w, 3);
    cleanups.push(() => Promise.resolve(gates.forEach((g) => g.release())));
    gates[1]!.hold();
    gates[2]!.hold();
    let quorum = false;
    const a = w.append(Buffer.from('x'));
    void a.quorumDurable.then(() => {
      quorum = true;
    });
    await a.oneDurable;
    await gates[1]!.syncArrived();
    expect(quorum).toBe(false);
    gates[1]!.release();
    await a.quorumDurable;
    gates[2]!.release();
  });

  it('accepts a payload in parts', async () => {
    const c = await cluster();
    const w = await client(c);
    await w.append([Buffer.from('ab'), Buffer.from('cd')]).quorumDurable;
    expect((await c.store(1).read('broker-1', 0)).entries[0]!.payload.toString()).toBe('abcd');
  });

  it('carries on past a dead node, refuses with the distinct error when the quorum is gone, and lets restarted nodes rejoin', async () => {
    const c = await cluster();
    const w = await client(c);
    await Promise.all(range(0, 20).map(() => w.append(Buffer.from('before')).quorumDurable));

    await c.crash(0);
    await reachable(w, 2);
    const during = range(0, 30).map(() => w.append(Buffer.from('one node down')));
    await Promise.all(during.map((a) => a.quorumDurable));
    expect(w.quorumDurableEnd()).toBe(50);

    await c.crash(1);
    await reachable(w, 1);
    const lonely = w.append(Buffer.from('only node 2 is up'));
    const refusal = await lonely.quorumDurable.then(
      () => null,
      (err: unknown) => err,
    );
    expect(refusal).toBeInstanceOf(WalQuorumUnavailableError);
    expect(refusal).toMatchObject({ code: 'FLOE_ERR_WAL_QUORUM_UNAVAILABLE', reachable: 1, required: 2 });
    // Still durable on the one node that is up: acks=1 can be answered.
    await lonely.oneDurable;

    // Node 1 comes back: it is sent what it missed, and the refused entry becomes durable.
    await c.restart(1);
    await reachable(w, 2);
    await w.append(Buffer.from('after node 1 is back')).quorumDurable;
    expect(w.quorumDurableEnd()).toBe(52);
    expect(await held(c, 1)).toEqual(range(0, 52));

    // Node 0 comes back and catches up from the client's window. With node 1 down again,
    // the next entry can only become quorum-durable once node 0 has it, and node 0 is sent
    // what it missed first, in order.
    await c.restart(0);
    await reachable(w, 3);
    await c.crash(1);
    await reachable(w, 2);
    await w.append(Buffer.from('needs node 0')).quorumDurable;
    expect(await held(c, 0)).toEqual(range(0, 53));
  });

  it('rejects oneDurable too when no node is reachable, and throws nothing', async () => {
    const c = await cluster();
    const w = await client(c);
    for (let i = 0; i < 3; i++) await c.crash(i);
    await reachable(w, 0);
    const a = w.append(Buffer.from('nowhere'));
    await expect(a.oneDurable).rejects.toBeInstanceOf(WalQuorumUnavailableError);
    await expect(a.quorumDurable).rejects.toBeInstanceOf(WalQuorumUnavailableError);
  });

  it('is finished once a node says its epoch is fenced', async () => {
    const c = await cluster();
    const w = await client(c);
    await w.append(Buffer.from('before')).quorumDurable;
    await c.store(0).fence('broker-1', 2);
    await c.store(1).fence('broker-1', 2);
    const a = w.append(Buffer.from('zombie'));
    await expect(a.quorumDurable).rejects.toBeInstanceOf(WalFencedError);
    expect(() => w.append(Buffer.from('again'))).toThrow(WalFencedError);
    expect(w.quorumDurableEnd()).toBe(1);
    expect(await held(c, 0)).toEqual([0]);
  });

  it('carries on past a slow node and drops it once it leaves a request unanswered too long', async () => {
    const gates: GatedFileSystem[] = [];
    const c = await cluster(3, {
      wrapFs: (i, sim) => {
        const g = new GatedFileSystem(sim);
        gates[i] = g;
        return g;
      },
    });
    const w = await client(c, { requestTimeoutMs: 300 });
    cleanups.push(() => Promise.resolve(gates[2]!.release()));
    gates[2]!.hold();
    const appends = range(0, 100).map(() => w.append(Buffer.from('node 2 is slow')));
    await Promise.all(appends.map((a) => a.quorumDurable));
    expect(await held(c, 0)).toHaveLength(100);
    await reachable(w, 2);
    gates[2]!.release();
    // It reconnects and is sent what it lacks.
    await reachable(w, 3);
    await w.append(Buffer.from('after')).quorumDurable;
  });

  it('holds back a node that refuses appends (its disk is full) and uses the others', async () => {
    const c = await cluster(3, { segmentBytes: 4096, perNode: (i) => (i === 2 ? { diskLimitBytes: 8192 } : {}) });
    const w = await client(c);
    const appends = range(0, 40).map(() => w.append(Buffer.alloc(1000, 7)));
    await Promise.all(appends.map((a) => a.quorumDurable));
    expect(w.quorumDurableEnd()).toBe(40);
    expect((await held(c, 2)).length).toBeLessThan(40);
    expect(await held(c, 0)).toHaveLength(40);
  });

  it('trims on every node, and refuses to trim what is not quorum-durable', async () => {
    const c = await cluster(3, { segmentBytes: 4096 });
    const w = await client(c);
    const appends = range(0, 40).map(() => w.append(Buffer.alloc(500, 1)));
    await Promise.all(appends.map((a) => a.quorumDurable));
    await expect(w.trim(41)).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_INVALID_ARGUMENT' });
    await w.trim(30);
    for (let i = 0; i < 3; i++) {
      expect(c.store(i).state('broker-1').trimmedUpTo).toBe(30);
      expect(await held(c, i)).toEqual(range(30, 40));
    }
  });

  it('throws WalBackpressureError, assigning nothing, when too much is in flight', async () => {
    const c = await cluster();
    const w = await client(c);
    for (let i = 0; i < 3; i++) await c.crash(i);
    await reachable(w, 0);
    const mib = Buffer.alloc(1024 * 1024);
    let thrown: unknown = null;
    for (let i = 0; i < 100 && thrown === null; i++) {
      try {
        w.append(mib);
      } catch (err) {
        thrown = err;
      }
    }
    expect(thrown).toBeInstanceOf(WalBackpressureError);
    expect(w.nextEntryId()).toBe(64);
  });

  it('opens even when no node answers, and reports it', async () => {
    const dead = net.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const w = await WalClient.open({ nodes: [{ host: '127.0.0.1', port }], ackQuorum: 1, logId: 'l', epoch: 1, nextEntryId: 0 });
    cleanups.push(() => w.close());
    expect(w.reachableNodes()).toBe(0);
    await expect(w.append(Buffer.from('x')).quorumDurable).rejects.toThrow(/0 of 1 WAL nodes reachable.*ECONNREFUSED/);
  });

  it('rejects what is unsettled when closed', async () => {
    const gates: GatedFileSystem[] = [];
    const c = await cluster(3, {
      wrapFs: (i, sim) => {
        const g = new GatedFileSystem(sim);
        gates[i] = g;
        return g;
      },
    });
    const w = await client(c);
    cleanups.push(() => Promise.resolve(gates.forEach((g) => g.release())));
    for (const g of gates) g.hold();
    const a = w.append(Buffer.from('never answered'));
    await w.close();
    await expect(a.quorumDurable).rejects.toMatchObject({ code: 'FLOE_ERR_WAL_CLOSED' });
    expect(() => w.append(Buffer.from('x'))).toThrow(/closed/);
    for (const g of gates) g.release();
  });
});
