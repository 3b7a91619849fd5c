/**
 * WAL nodes inside the test process, each on its own SimulatedFileSystem and a real
 * loopback port: `crash(i)` drops the node's connections and loses every unsynced byte
 * (optionally keeping torn prefixes), `restart(i)` recovers it from what survived, on the
 * same port, so clients reconnect to it as they would to a restarted process.
 */
import { SimulatedFileSystem } from '../../src/common/sim-fs.ts';
import type { FileSystem } from '../../src/common/fs.ts';
import { IncarnationFs } from './wal-gated-fs.ts';
import { startWalNode } from '../../wal/node.ts';
import type { WalNodeOptions, WalNodeServer } from '../../wal/node.ts';
import type { WalEndpoint } from '../../wal/connection.ts';
import type { WalStore } from '../../wal/store.ts';

export interface InProcessCluster {
  nodes: WalEndpoint[];
  sims: SimulatedFileSystem[];
  /** The running node i (throws when it is down). */
  server(i: number): WalNodeServer;
  store(i: number): WalStore;
  isUp(i: number): boolean;
  /** Power loss on node i: connections drop, unsynced writes are lost (torn when `random` is given). */
  crash(i: number, random?: () => number): Promise<void>;
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface InProcessOptions extends Partial<Omit<WalNodeOptions, 'id' | 'fs' | 'port'>> {
  /** Wraps node i's filesystem (a gate, a fault injector). */
  wrapFs?: (i: number, sim: SimulatedFileSystem) => FileSystem;
  /** Options for one node only. */
  perNode?: (i: number) => Partial<Omit<WalNodeOptions, 'id' | 'fs' | 'port'>>;
}

export async function startInProcessCluster(n: number, opts: InProcessOptions = {}): Promise<InProcessCluster> {
  const { wrapFs, perNode, ...common } = opts;
  const sims = Array.from({ length: n }, () => new SimulatedFileSystem());
  const servers: (WalNodeServer | null)[] = [];
  const incarnations: IncarnationFs[] = [];
  const ports: number[] = [];
  const start = async (i: number, port: number): Promise<WalNodeServer> => {
    const fs = new IncarnationFs(wrapFs ? wrapFs(i, sims[i]!) : sims[i]!);
    incarnations[i] = fs;
    return startWalNode({ ...common, ...(perNode?.(i) ?? {}), id: i + 1, host: '127.0.0.1', port, dataDir: '/wal', fs });
  };
  for (let i = 0; i < n; i++) {
    const s = await start(i, 0);
    servers.push(s);
    ports.push(s.port);
  }
  const server = (i: number): WalNodeServer => {
    const s = servers[i];
    if (!s) throw new Error(`node ${i} is down`);
    return s;
  };
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    sims,
    server,
    store: (i) => server(i).store,
    isUp: (i) => servers[i] !== null,
    async crash(i, random) {
      const s = server(i);
      servers[i] = null;
      incarnations[i]!.kill();
      sims[i]!.crash(random);
      await s.abort();
    },
    async restart(i) {
      if (servers[i]) throw new Error(`node ${i} is already up`);
      servers[i] = await start(i, ports[i]!);
    },
    async stop() {
      for (let i = 0; i < n; i++) {
        const s = servers[i];
        servers[i] = null;
        if (s) await s.close();
      }
    },
  };
}

/** Resolves once `client.reachableNodes()` equals `n` (at once if it already does). */
export function reachable(client: { reachableNodes(): number; onReachableChange(l: (n: number) => void): () => void }, n: number): Promise<void> {
  if (client.reachableNodes() === n) return Promise.resolve();
  return new Promise((resolve) => {
    const off = client.onReachableChange((now) => {
      if (now === n) {
        off();
        resolve();
      }
    });
  });
}
