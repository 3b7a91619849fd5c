// `floe cluster up|status|down` through the real CLI: exactly one JSON object on stdout,
// processes that accept Kafka requests when it returns, two clusters side by side, and
// nothing left running after `down`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../../../src/client/connection.ts';
import { ErrorCode } from '../../../src/protocol/errors.ts';
import { ApiVersions } from '../../../src/protocol/messages/18-api-versions.ts';
import { isAlive } from '../../../src/cluster/launcher.ts';
import { eventually, floe, FLOE_BIN } from '../../helpers/floe-cluster.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) {
    await floe(['cluster', 'down', '--data-dir', d]).catch(() => undefined);
    rmSync(d, { recursive: true, force: true });
  }
});

// A stopped process may linger as a zombie when nobody reaps it; the launcher's check knows.
const alive = isAlive;

async function apiVersionsOk(bootstrap: string): Promise<boolean> {
  const [host, port] = bootstrap.split(':');
  const c = await KafkaConnection.connect(host!, Number(port));
  const r = await c.request(ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' });
  await c.close();
  return r.errorCode === ErrorCode.NONE;
}

interface UpJson {
  bootstrap: string;
  admin: string | null;
  dataDir: string;
  processes: { role: string; id: number; pid: number; ports: Record<string, number> }[];
}

describe('floe cluster', () => {
  it('starts two clusters side by side, reports them, and stops them', async () => {
    const a = mkdtempSync(path.join(tmpdir(), 'floe-launch-a-'));
    const b = mkdtempSync(path.join(tmpdir(), 'floe-launch-b-'));
    dirs.push(a, b);
    const upA = await floe(['cluster', 'up', '--detach', '--json', '--data-dir', a, '--port-base', '0', '--mode', 'shared-nothing', '--brokers', '1']);
    const upB = await floe(['cluster', 'up', '--detach', '--json', '--data-dir', b, '--port-base', '0', '--mode', 'shared-nothing', '--brokers', '1']);
    // Exactly one JSON object on stdout.
    expect(upA.stdout.trim().split('\n')).toHaveLength(1);
    const ja = JSON.parse(upA.stdout) as UpJson;
    const jb = JSON.parse(upB.stdout) as UpJson;
    expect(ja.dataDir).toBe(a);
    const num = expect.any(Number) as number;
    expect(ja.processes).toEqual([
      { role: 'controller', id: 1, pid: num, ports: { admin: num } },
      { role: 'broker', id: 1, pid: num, ports: { kafka: num, metrics: num } },
    ]);
    expect(ja.admin).toBe(`http://127.0.0.1:${ja.processes[0]!.ports['admin']}`);
    const broker = ja.processes[1]!;
    expect(ja.bootstrap).toBe(`127.0.0.1:${broker.ports['kafka']}`);
    expect(ja.bootstrap).not.toBe(jb.bootstrap);
    expect(await apiVersionsOk(ja.bootstrap)).toBe(true);
    expect(await apiVersionsOk(jb.bootstrap)).toBe(true);

    const status = JSON.parse((await floe(['cluster', 'status', '--data-dir', a, '--json'])).stdout) as { processes: { alive: boolean }[] };
    expect(status.processes.map((p) => p.alive)).toEqual([true, true]);

    // Metrics are served by every broker and by the controller.
    const metrics = await fetch(`http://127.0.0.1:${broker.ports['metrics']}/metrics`);
    expect(await metrics.text()).toMatch(/floe_broker_requests_total\{api="ApiVersions"\} [1-9]/);
    const controllerMetrics = await fetch(`${ja.admin}/metrics`);
    expect(await controllerMetrics.text()).toMatch(/floe_controller_brokers_alive 1/);

    await floe(['cluster', 'down', '--data-dir', a]);
    expect(ja.processes.map((p) => alive(p.pid))).toEqual([false, false]);
    // The other cluster is untouched.
    expect(await apiVersionsOk(jb.bootstrap)).toBe(true);
    await floe(['cluster', 'down', '--data-dir', b]);
    expect(jb.processes.map((p) => alive(p.pid))).toEqual([false, false]);
  });

  it('starts the default cluster (shared storage: object store, 3 WAL nodes, controller, 3 brokers) and refuses to reuse its data dir in another mode', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'floe-launch-c-'));
    dirs.push(d);
    const up = JSON.parse((await floe(['cluster', 'up', '--detach', '--json', '--data-dir', d, '--port-base', '0'])).stdout) as UpJson;
    expect(up.processes.map((p) => `${p.role}-${p.id}`)).toEqual(['objectstore-1', 'wal-1', 'wal-2', 'wal-3', 'controller-1', 'broker-1', 'broker-2', 'broker-3']);
    expect(up.bootstrap.split(',')).toHaveLength(3);
    for (const b of up.bootstrap.split(',')) expect(await apiVersionsOk(b)).toBe(true);
    await expect(floe(['cluster', 'up', '--detach', '--json', '--data-dir', d, '--port-base', '0', '--mode', 'shared-nothing'])).rejects.toThrow(/holds a shared-storage cluster/);
    await floe(['cluster', 'down', '--data-dir', d]);
    expect(up.processes.map((p) => alive(p.pid))).toEqual(up.processes.map(() => false));
  });

  it('stays in the foreground until SIGINT (what npm start does), then stops every process', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'floe-launch-fg-'));
    dirs.push(d);
    const child = spawn(process.execPath, [FLOE_BIN, 'cluster', 'up', '--data-dir', d, '--port-base', '0', '--mode', 'shared-nothing', '--brokers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await eventually(() => (out.includes('Ctrl-C stops the cluster') ? true : undefined), 60_000);
    const state = JSON.parse((await floe(['cluster', 'status', '--data-dir', d, '--json'])).stdout) as { processes: { pid: number; alive: boolean }[] };
    // Still in the foreground a moment later, with the cluster running.
    await new Promise((r) => setTimeout(r, 1500));
    expect(child.exitCode).toBe(null);
    expect(state.processes.every((p) => p.alive)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toContain('floe cluster stopped');
    expect(state.processes.map((p) => alive(p.pid))).toEqual(state.processes.map(() => false));
  });
});
