/**
 * The WAL with real node processes, real files and kill -9: a node dying mid-stream, the
 * quorum gone, nodes rejoining, a zombie writer after fencing, and recovery after the
 * writer process itself was killed mid-append (seeded random kill points).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { WalClient } from '../../../wal/client.ts';
import { readLog, recoverLog } from '../../../wal/recovery.ts';
import { WalFencedError, WalQuorumUnavailableError } from '../../../wal/errors.ts';
import { spawnWalNode, startWalNodes } from '../../helpers/wal-cluster.ts';
import type { WalCluster } from '../../helpers/wal-cluster.ts';
import { reachable } from '../../helpers/wal-inprocess.ts';
import { payloadFor, prng, testSeed } from '../../helpers/wal-random.ts';
import type { WalWriterConfig } from '../../helpers/wal-writer.ts';

let dir = '';
let wal: WalCluster;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'floe-wal-it-'));
  wal = await startWalNodes(3, dir, { segmentBytes: 1024 * 1024 });
});

afterAll(async () => {
  await wal?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

/** Keeps `inFlight` appends going on a client and records what it reports quorum-durable. */
function stream(w: WalClient, seed: number, inFlight: number, bytes = 256) {
  const reported: number[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let outstanding = 0;
  let stopped = false;
  let error: unknown = null;
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (settle = resolve));
  const check = (): void => {
    for (const wt of [...waiters]) {
      if (reported.length < wt.n) continue;
      waiters.splice(waiters.indexOf(wt), 1);
      wt.resolve();
    }
    if ((stopped || error) && outstanding === 0) settle();
  };
  const pump = (): void => {
    while (!stopped && !error && outstanding < inFlight) {
      let a;
      try {
        a = w.append(payloadFor(seed, w.nextEntryId(), bytes));
      } catch (err) {
        error = err;
        break;
      }
      outstanding++;
      const id = a.entryId;
      a.quorumDurable.then(
        () => {
          reported.push(id);
          outstanding--;
          pump();
          check();
        },
        (err: unknown) => {
          error ??= err;
          outstanding--;
          check();
        },
      );
    }
    check();
  };
  pump();
  return {
    reported,
    finished,
    error: (): unknown => error,
    atLeast: (n: number): Promise<void> => (reported.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    stop: (): Promise<void> => {
      stopped = true;
      check();
      return finished;
    },
  };
}

describe('the WAL node process entry', () => {
  it('prints its ready line, serves metrics, and exits 0 on SIGTERM', async () => {
    const p = await spawnWalNode(9, path.join(dir, 'entry'), 0);
    try {
      expect(p.port).toBeGreaterThan(0);
      expect(await (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text()).toMatch(/floe_wal_disk_usage_bytes 0/);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('documents its options in --help', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('wal/main.ts'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    for (const flag of ['--id', '--port', '--data-dir', '--metrics-port', '--group-commit-delay-ms', '--disk-limit-bytes', '--segment-bytes']) expect(out).toContain(flag);
  });
});

describe('WAL node processes', () => {
  it('carries on past a kill -9, refuses without a quorum, and lets restarted nodes rejoin', async () => {
    const seed = testSeed('wal kill -9 mid-stream');
    const w = await WalClient.open({ nodes: wal.nodes, ackQuorum: 2, logId: 'mid-stream', epoch: 1, nextEntryId: 0 });
    try {
      await reachable(w, 3);
      const s = stream(w, seed, 16);
      await s.atLeast(200);
      await wal.kill(0);
      const atKill = s.reported.length;
      // Appends continue on the two others.
      await s.atLeast(atKill + 300);
      expect(w.reachableNodes()).toBe(2);
      await s.stop();
      expect(s.error()).toBeNull();

      await wal.kill(1);
      await reachable(w, 1);
      const refused = w.append(payloadFor(seed, w.nextEntryId(), 256));
      const err = await refused.quorumDurable.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WalQuorumUnavailableError);
      expect((err as WalQuorumUnavailableError).code).toBe('FLOE_ERR_WAL_QUORUM_UNAVAILABLE');
      await refused.oneDurable;

      await wal.restart(1);
      await reachable(w, 2);
      await w.append(payloadFor(seed, w.nextEntryId(), 256)).quorumDurable;
      // Node 0 rejoins; with node 1 gone again the next entry needs node 0, which is first
      // sent every entry it missed.
      await wal.restart(0);
      await reachable(w, 3);
      await wal.kill(1);
      await reachable(w, 2);
      await w.append(payloadFor(seed, w.nextEntryId(), 256)).quorumDurable;
      await wal.restart(1);

      const all = await readLog({ nodes: wal.nodes, logId: 'mid-stream' });
      expect(all.nextEntryId).toBe(w.nextEntryId());
      for (const e of all.entries) expect(e.payload.equals(payloadFor(seed, e.entryId, 256))).toBe(true);
      for (const id of s.reported) expect(all.entries[id]?.entryId).toBe(id);

      const metrics = await (await fetch(wal.metricsUrl(0))).text();
      expect(metrics).toMatch(/floe_wal_append_latency_seconds_bucket/);
      expect(metrics).toMatch(/floe_wal_fsync_latency_seconds_count \d+/);
      expect(Number(/floe_wal_append_entries_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    } finally {
      await w.close();
    }
  });

  it('gives a zombie writer not one commit after fencing, even with a node hung during the recovery', async () => {
    const seed = testSeed('wal zombie');
    const zombie = await WalClient.open({ nodes: wal.nodes, ackQuorum: 2, logId: 'zombie', epoch: 1, nextEntryId: 0 });
    let late: WalClient | null = null;
    try {
      await reachable(zombie, 3);
      const s = stream(zombie, seed, 32);
      await s.atLeast(100);
      wal.pause(2);
      const r = await recoverLog({ nodes: wal.nodes, logId: 'zombie', newEpoch: 2, ackQuorum: 2 });
      await s.finished;
      wal.resume(2);
      expect(s.error()).toBeInstanceOf(WalFencedError);
      const recovered = new Map(r.entries.map((e) => [e.entryId, e.payload]));
      for (const id of s.reported) {
        expect(id).toBeLessThan(r.nextEntryId);
        expect(recovered.get(id)?.equals(payloadFor(seed, id, 256))).toBe(true);
      }

      // A zombie that starts late, at the old epoch, past the recovered end: node 2 may
      // still take its entries, the fenced nodes never do.
      late = await WalClient.open({ nodes: wal.nodes, ackQuorum: 2, logId: 'zombie', epoch: 1, nextEntryId: r.nextEntryId });
      await expect(late.append(Buffer.from('too late')).quorumDurable).rejects.toBeInstanceOf(WalFencedError);
      const again = await recoverLog({ nodes: wal.nodes, logId: 'zombie', newEpoch: 3, ackQuorum: 2 });
      expect(again.nextEntryId).toBe(r.nextEntryId);
      expect(again.entries.every((e, i) => e.payload.equals(r.entries[i]!.payload))).toBe(true);
    } finally {
      if (wal.proc(2)) wal.resume(2);
      await zombie.close();
      await late?.close();
    }
  });

  it('recovers every committed entry after the writer process is killed mid-append (seeded kill points)', async () => {
    const seed = testSeed('wal writer kill property');
    const random = prng(seed);
    const iterations = 5;
    for (let it = 0; it < iterations; it++) {
      const logId = `writer-${seed}-${it}`;
      const cfg: WalWriterConfig = {
        nodes: wal.nodes,
        logId,
        epoch: 1,
        nextEntryId: 0,
        seed: seed + it,
        entryBytes: 16 + Math.floor(random() * 4096),
        inFlight: 1 + Math.floor(random() * 64),
      };
      const killWriterAt = 1 + Math.floor(random() * 400);
      const killNode = random() < 0.5 ? Math.floor(random() * 3) : -1;
      const killNodeAt = Math.floor(random() * killWriterAt);
      const label = `iteration ${it}: ${JSON.stringify({ entryBytes: cfg.entryBytes, inFlight: cfg.inFlight, killWriterAt, killNode, killNodeAt })}`;

      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/helpers/wal-writer.ts'), JSON.stringify(cfg)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const reported: number[] = [];
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => (stderr += d));
      try {
        await new Promise<void>((resolve, reject) => {
          let buffered = '';
          let nodeKilled = killNode < 0;
          let killing = false;
          child.stdout.setEncoding('utf8');
          child.stdout.on('data', (chunk: string) => {
            buffered += chunk;
            const lines = buffered.split('\n');
            buffered = lines.pop()!;
            for (const line of lines) if (line.startsWith('q ')) reported.push(Number(line.slice(2)));
            if (!nodeKilled && reported.length >= killNodeAt) {
              nodeKilled = true;
              void wal.kill(killNode);
            }
            if (!killing && reported.length >= killWriterAt) {
              killing = true;
              // The writer has up to inFlight appends on their way at this moment.
              child.kill('SIGKILL');
              resolve();
            }
          });
          void exited.then(() => (killing ? undefined : reject(new Error(`writer exited early (${label}): ${stderr}`))));
        });
        await exited;
        const r = await recoverLog({ nodes: wal.nodes, logId, newEpoch: 2, ackQuorum: 2 });
        const ids = r.entries.map((e) => e.entryId);
        expect(ids, label).toEqual(ids.map((_, i) => i));
        for (const e of r.entries) expect(e.payload.equals(payloadFor(cfg.seed, e.entryId, cfg.entryBytes)), `${label}: bytes of ${e.entryId}`).toBe(true);
        for (const id of reported) expect(id, `${label}: committed entry ${id}`).toBeLessThan(r.nextEntryId);
        // A second recovery (the first recoverer could have died right after) agrees.
        const again = await recoverLog({ nodes: wal.nodes, logId, newEpoch: 3, ackQuorum: 2 });
        expect(again.nextEntryId, label).toBe(r.nextEntryId);
      } finally {
        child.kill('SIGKILL');
        await exited;
        for (let i = 0; i < 3; i++) if (!wal.proc(i)) await wal.restart(i);
      }
    }
  });
});
