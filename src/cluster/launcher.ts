/**
 * The local cluster launcher behind `floe cluster up|down|status`: starts every floe
 * process of a cluster as its own OS process, waits for each one's ready line, and
 * records what it started in `<data-dir>/cluster.json` so that `down`, `status`, drills
 * and a later `up` (which restarts whatever is not running, on the same ports) can find
 * it. Several clusters run side by side as long as their data dirs and ports differ.
 *
 * Each process writes its ready line to `<data-dir>/run/<role>-<id>.out` and its log to
 * `<data-dir>/run/<role>-<id>.log`; files rather than pipes, so that detached processes
 * outlive the launcher without a broken pipe.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Role = 'controller' | 'broker' | 'wal' | 'objectstore';
export type Mode = 'shared-storage' | 'shared-nothing';

export interface ProcessRecord {
  role: Role;
  id: number;
  pid: number;
  ports: Record<string, number>;
  /** The script run (relative to the repository root); the `floe` CLI when absent. */
  entry?: string;
  /** Arguments of the script (after `floe` for the CLI) that restart this process. */
  args: string[];
  nodeFlags: string[];
}

export interface ClusterState {
  bootstrap: string;
  admin: string | null;
  dataDir: string;
  mode: Mode;
  processes: ProcessRecord[];
}

export interface UpOptions {
  dataDir: string;
  brokers: number;
  mode: Mode;
  portBase: number;
  zones: string[];
  /** Extra `--config key=value` settings for every broker. */
  brokerConfig: string[];
  /** Broker lease of the controller (failure detection time); the controller's default when absent. */
  leaseMs?: number;
  /** Shared storage: WAL node processes. */
  walNodes: number;
  /** Shared storage: an external S3-compatible endpoint instead of the embedded one. */
  s3Endpoint?: string;
}

export class LaunchError extends Error {
  readonly code = 'FLOE_ERR_LAUNCH';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LaunchError';
  }
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'src/cli/main.ts');
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

export function stateFile(dataDir: string): string {
  return path.join(dataDir, 'cluster.json');
}

export function readState(dataDir: string): ClusterState | null {
  const file = stateFile(dataDir);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
}

function writeState(state: ClusterState): void {
  const file = stateFile(state.dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function isAlive(pid: number): boolean {
  // Never probe 0 or negative pids: kill(-1, …) addresses every process we may signal.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process whose parent never reaps it (detached processes are reparented, and
  // in containers pid 1 may not reap) lingers as a zombie: it is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

/**
 * Port layout for a port base P (0: every process picks a free port): brokers listen on
 * P, P+1, …; the controller's admin API on P+100; WAL nodes on P+110, P+111, …; the
 * embedded S3 endpoint on P+120. Metrics ports are always picked free.
 */
export const CONTROLLER_PORT_OFFSET = 100;
export const WAL_PORT_OFFSET = 110;
export const OBJECTSTORE_PORT_OFFSET = 120;
/** The bucket of the embedded S3 endpoint. */
export const EMBEDDED_BUCKET = 'floe';

type Spec = Omit<ProcessRecord, 'pid' | 'ports'>;

/** The broker settings that the controller needs too (defaults of topics it creates). */
function controllerDefaults(brokerConfig: string[]): string[] {
  const args: string[] = [];
  for (const c of brokerConfig) {
    const [k, v] = [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)];
    if (k === 'num.partitions') args.push('--default-partitions', v);
    if (k === 'default.replication.factor') args.push('--default-replication-factor', v);
  }
  return args;
}

/**
 * What a cluster of these options consists of, as stages started one after the other
 * (the processes of a stage start in parallel; each stage may use the addresses of the
 * ones before): the object store and WAL nodes, then the controller, then the brokers.
 */
function plan(opts: UpOptions): ((started: ProcessRecord[]) => Spec[])[] {
  const at = (offset: number): string => String(opts.portBase === 0 ? 0 : opts.portBase + offset);
  const shared = opts.mode === 'shared-storage';
  const embeddedS3 = shared && opts.s3Endpoint === undefined && process.env['FLOE_S3_ENDPOINT'] === undefined;
  const walNodes = (started: ProcessRecord[]): string =>
    started
      .filter((p) => p.role === 'wal')
      .map((p) => `127.0.0.1:${p.ports['wal']}`)
      .join(',');
  /** Flags that point a process at the object store: the embedded one, or what the user gave. */
  const s3Flags = (started: ProcessRecord[]): string[] => {
    if (!shared) return [];
    const embedded = started.find((p) => p.role === 'objectstore');
    if (embedded) return ['--s3-endpoint', `http://127.0.0.1:${embedded.ports['s3']}`, '--s3-bucket', EMBEDDED_BUCKET];
    return opts.s3Endpoint ? ['--s3-endpoint', opts.s3Endpoint] : [];
  };
  const services = (): Spec[] => {
    if (!shared) return [];
    const specs: Spec[] = [];
    if (embeddedS3) {
      specs.push({
        role: 'objectstore',
        id: 1,
        entry: 'objectstore/s3rver-main.ts',
        args: ['--data-dir', path.join(opts.dataDir, 'objectstore'), '--host', '127.0.0.1', '--port', at(OBJECTSTORE_PORT_OFFSET), '--bucket', EMBEDDED_BUCKET],
        // s3rver's paginated listing needs the legacy OpenSSL provider (ENVIRONMENT.md).
        nodeFlags: ['--openssl-legacy-provider'],
      });
    }
    for (let i = 1; i <= opts.walNodes; i++) {
      specs.push({
        role: 'wal',
        id: i,
        entry: 'wal/main.ts',
        args: ['--id', String(i), '--host', '127.0.0.1', '--port', at(WAL_PORT_OFFSET + i - 1), '--data-dir', path.join(opts.dataDir, `wal-${i}`)],
        nodeFlags: [],
      });
    }
    return specs;
  };
  const controller = (started: ProcessRecord[]): Spec[] => {
    const args = ['controller', '--id', '1', '--data-dir', path.join(opts.dataDir, 'controller'), '--port', at(CONTROLLER_PORT_OFFSET), '--mode', opts.mode];
    if (opts.leaseMs !== undefined) args.push('--lease-ms', String(opts.leaseMs));
    args.push(...controllerDefaults(opts.brokerConfig));
    if (shared) args.push('--wal-nodes', walNodes(started), ...s3Flags(started));
    return [{ role: 'controller', id: 1, args, nodeFlags: [] }];
  };
  const brokers = (started: ProcessRecord[]): Spec[] => {
    const ctl = started.find((p) => p.role === 'controller')!;
    return Array.from({ length: opts.brokers }, (_, k) => {
      const i = k + 1;
      const zone = opts.zones.length > 0 ? opts.zones[k % opts.zones.length] : undefined;
      const args = ['broker', '--id', String(i), '--data-dir', path.join(opts.dataDir, `broker-${i}`), '--port', at(k), '--mode', opts.mode, '--controller', adminUrl(ctl)];
      if (shared) args.push('--wal-nodes', walNodes(started), ...s3Flags(started));
      if (zone) args.push('--rack', zone);
      for (const c of opts.brokerConfig) args.push('--config', c);
      return { role: 'broker' as const, id: i, args, nodeFlags: [] };
    });
  };
  return [services, controller, brokers];
}

function adminUrl(controller: ProcessRecord): string {
  return `http://127.0.0.1:${controller.ports['admin']}`;
}

function runFiles(dataDir: string, role: Role, id: number): { out: string; log: string } {
  const dir = path.join(dataDir, 'run');
  mkdirSync(dir, { recursive: true });
  return { out: path.join(dir, `${role}-${id}.out`), log: path.join(dir, `${role}-${id}.log`) };
}

/** Starts one process and resolves with its record once it printed its ready line. */
export async function startProcess(dataDir: string, spec: Omit<ProcessRecord, 'pid' | 'ports'>): Promise<ProcessRecord> {
  const files = runFiles(dataDir, spec.role, spec.id);
  const out = openSync(files.out, 'w');
  const log = openSync(files.log, 'a');
  const script = spec.entry ? path.join(ROOT, spec.entry) : CLI;
  const child = spawn(process.execPath, [...spec.nodeFlags, '--import', 'tsx', script, ...spec.args], {
    detached: true,
    stdio: ['ignore', out, log],
    env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING: '1' },
  });
  closeSync(out);
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new LaunchError(`could not start ${spec.role} ${spec.id}`);
  const status: { exited: number | null } = { exited: null };
  child.on('exit', (code, signal) => {
    status.exited = code ?? (signal ? 128 : 1);
  });
  child.unref();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const text = readFileSync(files.out, 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('{'));
    if (line) {
      const ready = JSON.parse(line) as { ports: Record<string, number> };
      return { ...spec, pid, ports: ready.ports };
    }
    if (status.exited !== null) {
      const tail = readFileSync(files.log, 'utf8').split('\n').slice(-15).join('\n');
      throw new LaunchError(`${spec.role} ${spec.id} exited (${status.exited}) before it was ready; its log ends with:\n${tail}`);
    }
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new LaunchError(`${spec.role} ${spec.id} was not ready within ${READY_TIMEOUT_MS} ms (log: ${files.log})`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

function bootstrapOf(processes: ProcessRecord[]): string {
  return processes
    .filter((p) => p.role === 'broker')
    .map((p) => `127.0.0.1:${p.ports['kafka']}`)
    .join(',');
}

/**
 * Starts the cluster, or whatever part of it is not running (a process killed in a
 * drill comes back on its recorded ports). Resolves once every process is ready.
 */
export async function clusterUp(opts: UpOptions): Promise<ClusterState> {
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const previous = readState(dataDir);
  if (previous && previous.mode !== opts.mode) {
    throw new LaunchError(`${dataDir} holds a ${previous.mode} cluster; it cannot be started as ${opts.mode}`);
  }
  const processes: ProcessRecord[] = [];
  const save = (): ClusterState => {
    const controller = processes.find((p) => p.role === 'controller');
    const state: ClusterState = { bootstrap: bootstrapOf(processes), admin: controller ? adminUrl(controller) : null, dataDir, mode: opts.mode, processes };
    writeState(state);
    return state;
  };
  const ensure = async (spec: Spec): Promise<ProcessRecord> => {
    const old = previous?.processes.find((p) => p.role === spec.role && p.id === spec.id);
    if (old && isAlive(old.pid)) return old;
    // Restart on the port it had, so that clients and other processes find it again.
    return startProcess(dataDir, { ...spec, args: old ? withPort(spec.args, old.ports) : spec.args });
  };
  for (const stage of plan({ ...opts, dataDir })) {
    // The processes of a stage start in parallel; each registers or listens on its own.
    processes.push(...(await Promise.all(stage(processes).map(ensure))));
    save();
  }
  return save();
}

/** The same arguments with the port the process had (its main port: Kafka, WAL, S3 or admin). */
function withPort(args: string[], ports: Record<string, number>): string[] {
  const out = [...args];
  const i = out.indexOf('--port');
  const port = ports['kafka'] ?? ports['wal'] ?? ports['s3'] ?? ports['admin'];
  if (i >= 0 && port !== undefined) out[i + 1] = String(port);
  return out;
}

/** Restarts one recorded process that is not running (drills use this after kill -9). */
export async function restartProcess(dataDir: string, role: Role, id: number): Promise<ProcessRecord> {
  const state = readState(path.resolve(dataDir));
  const old = state?.processes.find((p) => p.role === role && p.id === id);
  if (!state || !old) throw new LaunchError(`no ${role} ${id} in ${dataDir}`);
  if (isAlive(old.pid)) return old;
  const record = await startProcess(state.dataDir, { role, id, args: withPort(old.args, old.ports), nodeFlags: old.nodeFlags, ...(old.entry ? { entry: old.entry } : {}) });
  state.processes = state.processes.map((p) => (p.role === role && p.id === id ? record : p));
  writeState(state);
  return record;
}

/** Stops every process of the cluster: SIGTERM, then SIGKILL after a grace period. */
export async function clusterDown(dataDir: string): Promise<{ stopped: ProcessRecord[] }> {
  const state = readState(path.resolve(dataDir));
  if (!state) return { stopped: [] };
  // The controller first: with it gone, a broker's shutdown moves nothing (a broker
  // stopping under a live controller hands its partitions to the others, and the last
  // one standing would end up owning everything). Then brokers, then their services.
  const order: Role[] = ['controller', 'broker', 'wal', 'objectstore'];
  const stopped: ProcessRecord[] = [];
  for (const role of order) {
    const group = state.processes.filter((p) => p.role === role && isAlive(p.pid));
    for (const p of group) process.kill(p.pid, 'SIGTERM');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (group.some((p) => isAlive(p.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const p of group) if (isAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
    stopped.push(...group);
  }
  writeState({ ...state, processes: state.processes.map((p) => ({ ...p, pid: -1 })) });
  return { stopped };
}

export interface ProcessStatus extends ProcessRecord {
  alive: boolean;
}

export function clusterStatus(dataDir: string): (Omit<ClusterState, 'processes'> & { processes: ProcessStatus[] }) | null {
  const state = readState(path.resolve(dataDir));
  if (!state) return null;
  return { ...state, processes: state.processes.map((p) => ({ ...p, alive: p.pid > 0 && isAlive(p.pid) })) };
}

/** The admin API of the running cluster in `dataDir`, or an error naming what is missing. */
function adminOf(state: ClusterState): string {
  if (!state.admin) throw new LaunchError(`the cluster in ${state.dataDir} has no controller`);
  return state.admin;
}

async function adminCall(url: string, method: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (!res.ok) throw new LaunchError(`${method} ${url}: ${res.status} ${text}`);
  return text.length > 0 ? (JSON.parse(text) as unknown) : null;
}

/**
 * Adds a broker to a running cluster: the next broker id, started like the others (same
 * mode, controller, storage flags and settings), then a rebalance so that it takes its
 * share of partitions (by hand-over in shared storage, by metadata only).
 */
export async function addBroker(dataDir: string): Promise<ProcessRecord> {
  const state = readState(path.resolve(dataDir));
  if (!state) throw new LaunchError(`no cluster in ${dataDir}`);
  const brokers = state.processes.filter((p) => p.role === 'broker');
  const model = brokers[0];
  if (!model) throw new LaunchError(`the cluster in ${dataDir} has no broker to copy the settings of`);
  const id = Math.max(...brokers.map((b) => b.id)) + 1;
  const args = [...model.args];
  const set = (flag: string, value: string): void => {
    const i = args.indexOf(flag);
    if (i >= 0) args[i + 1] = value;
  };
  set('--id', String(id));
  set('--data-dir', path.join(state.dataDir, `broker-${id}`));
  set('--port', '0');
  const record = await startProcess(state.dataDir, { role: 'broker', id, args, nodeFlags: model.nodeFlags });
  state.processes.push(record);
  state.bootstrap = bootstrapOf(state.processes);
  writeState(state);
  await adminCall(`${adminOf(state)}/v1/rebalance`, 'POST', {});
  return record;
}

/**
 * Removes a broker from a running cluster: drain it (its partitions move away), wait until
 * it holds nothing, stop it, and make the controller forget it.
 */
export async function removeBroker(dataDir: string, id: number, timeoutMs = 60_000): Promise<void> {
  const state = readState(path.resolve(dataDir));
  if (!state) throw new LaunchError(`no cluster in ${dataDir}`);
  const record = state.processes.find((p) => p.role === 'broker' && p.id === id);
  if (!record) throw new LaunchError(`no broker ${id} in ${dataDir}`);
  const admin = adminOf(state);
  await adminCall(`${admin}/v1/brokers/${id}/drain`, 'POST', {});
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = (await adminCall(`${admin}/v1/brokers/${id}`, 'GET')) as { leaders: number; replicas: number };
    if (b.leaders === 0 && b.replicas === 0) break;
    if (Date.now() > deadline) throw new LaunchError(`broker ${id} still holds ${b.leaders} partitions after ${timeoutMs} ms of draining`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (isAlive(record.pid)) {
    process.kill(record.pid, 'SIGTERM');
    while (isAlive(record.pid) && Date.now() < deadline + STOP_GRACE_MS) await new Promise((r) => setTimeout(r, 25));
    if (isAlive(record.pid)) process.kill(record.pid, 'SIGKILL');
  }
  // The controller forgets only a broker it no longer considers alive (after its lease).
  for (;;) {
    const res = await fetch(`${admin}/v1/brokers/${id}`, { method: 'DELETE' });
    if (res.ok || res.status === 404) break;
    if (Date.now() > deadline + STOP_GRACE_MS) throw new LaunchError(`the controller did not forget broker ${id}: ${res.status} ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  state.processes = state.processes.filter((p) => p !== record);
  state.bootstrap = bootstrapOf(state.processes);
  writeState(state);
}
