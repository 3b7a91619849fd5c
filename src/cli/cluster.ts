/**
 * `floe cluster up|down|status`. See src/cluster/launcher.ts for what they do.
 */
import { Command, Option } from 'commander';
import { collect, port, positiveInt } from '../common/cli-args.ts';
import { addBroker, clusterDown, clusterStatus, clusterUp, removeBroker, type Mode, type UpOptions } from '../cluster/launcher.ts';

/** How often a foreground cluster looks for processes that stopped. */
const FOREGROUND_WATCH_MS = 1000;

interface UpFlags {
  brokers: number;
  mode: Mode;
  dataDir: string;
  portBase: number;
  zones?: string;
  detach?: boolean;
  json?: boolean;
  config: string[];
  leaseMs?: number;
  walNodes: number;
  s3Endpoint?: string;
}

function describe(state: { bootstrap: string; admin: string | null; dataDir: string; processes: { role: string; id: number; pid: number; ports: Record<string, number> }[] }): string {
  const lines = [`bootstrap: ${state.bootstrap}`, `admin:     ${state.admin ?? '(none)'}`, `data dir:  ${state.dataDir}`];
  for (const p of state.processes) lines.push(`  ${p.role} ${p.id}  pid ${p.pid}  ${Object.entries(p.ports).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return lines.join('\n');
}

export function clusterCommand(): Command {
  const cluster = new Command('cluster').description('run a local floe cluster, one OS process per component');

  cluster
    .command('up')
    .description('start a cluster (or restart the processes of an existing one that are not running)')
    .option('--brokers <n>', 'number of brokers', positiveInt, 3)
    .addOption(new Option('--mode <mode>', 'storage architecture').choices(['shared-storage', 'shared-nothing']).default('shared-storage'))
    .option('--data-dir <dir>', 'where every process keeps its data and logs', '.floe/cluster')
    .option('--port-base <port>', 'brokers listen on port-base, port-base+1, …; the controller\'s admin API on port-base+100, WAL nodes on port-base+110…, the embedded S3 endpoint on port-base+120; 0 picks free ports', port, 9092)
    .option('--lease-ms <ms>', 'how long a silent broker stays alive for the controller (failure detection time)', positiveInt)
    .option('--wal-nodes <n>', 'shared-storage: WAL node processes', positiveInt, 3)
    .option('--s3-endpoint <url>', 'shared-storage: use this S3-compatible endpoint (credentials and bucket from FLOE_S3_*) instead of starting the embedded one')
    .option('--zones <a,b,c>', 'zone labels given to brokers round-robin (broker.rack)')
    .option('--config <key=value>', 'broker setting or topic default by Kafka name for every broker, repeatable', collect, [])
    .option('--detach', 'return once the cluster is ready and leave it running')
    .option('--json', 'print exactly one JSON object describing the cluster on stdout')
    .action(async (flags: UpFlags) => {
      const opts: UpOptions = {
        dataDir: flags.dataDir,
        brokers: flags.brokers,
        mode: flags.mode,
        portBase: flags.portBase,
        zones: flags.zones ? flags.zones.split(',').filter((z) => z.length > 0) : [],
        brokerConfig: flags.config,
        ...(flags.leaseMs !== undefined ? { leaseMs: flags.leaseMs } : {}),
        walNodes: flags.walNodes,
        ...(flags.s3Endpoint !== undefined ? { s3Endpoint: flags.s3Endpoint } : {}),
      };
      const state = await clusterUp(opts);
      const summary = {
        bootstrap: state.bootstrap,
        admin: state.admin,
        dataDir: state.dataDir,
        processes: state.processes.map((p) => ({ role: p.role, id: p.id, pid: p.pid, ports: p.ports })),
      };
      process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : `floe cluster is up\n${describe(summary)}\n`);
      if (flags.detach) return;
      if (!flags.json) process.stdout.write('Ctrl-C stops the cluster.\n');
      // Stay in the foreground (signal listeners alone do not keep Node running) and say
      // when a process of the cluster stops: a drill may have killed it, and
      // `floe cluster up` in another terminal brings it back.
      const reported = new Set<number>();
      const watch = setInterval(() => {
        for (const p of clusterStatus(state.dataDir)?.processes ?? []) {
          if (p.alive || reported.has(p.pid)) continue;
          reported.add(p.pid);
          process.stderr.write(`${p.role} ${p.id} (pid ${p.pid}) is not running\n`);
        }
      }, FOREGROUND_WATCH_MS);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      clearInterval(watch);
      await clusterDown(state.dataDir);
      if (!flags.json) process.stdout.write('floe cluster stopped\n');
    });

  cluster
    .command('down')
    .description('stop every process of the cluster in --data-dir')
    .option('--data-dir <dir>', 'the cluster\'s data dir', '.floe/cluster')
    .option('--json', 'print the stopped processes as JSON')
    .action(async (flags: { dataDir: string; json?: boolean }) => {
      const { stopped } = await clusterDown(flags.dataDir);
      const list = stopped.map((p) => ({ role: p.role, id: p.id, pid: p.pid }));
      process.stdout.write(flags.json ? `${JSON.stringify({ stopped: list })}\n` : `stopped ${list.length} process(es)\n`);
    });

  cluster
    .command('status')
    .description('show the processes of the cluster in --data-dir and whether they run')
    .option('--data-dir <dir>', 'the cluster\'s data dir', '.floe/cluster')
    .option('--json', 'print one JSON object')
    .action((flags: { dataDir: string; json?: boolean }) => {
      const status = clusterStatus(flags.dataDir);
      if (!status) {
        process.stderr.write(`no cluster in ${flags.dataDir}\n`);
        process.exitCode = 1;
        return;
      }
      const out = { ...status, processes: status.processes.map((p) => ({ role: p.role, id: p.id, pid: p.pid, alive: p.alive, ports: p.ports })) };
      process.stdout.write(flags.json ? `${JSON.stringify(out)}\n` : `${describe(out)}\n${out.processes.map((p) => `  ${p.role} ${p.id}: ${p.alive ? 'running' : 'not running'}`).join('\n')}\n`);
    });

  cluster
    .command('add-broker')
    .description('start one more broker in the running cluster and rebalance partitions onto it')
    .option('--data-dir <dir>', 'the cluster\'s data dir', '.floe/cluster')
    .option('--json', 'print the new process as JSON')
    .action(async (flags: { dataDir: string; json?: boolean }) => {
      const p = await addBroker(flags.dataDir);
      const out = { role: p.role, id: p.id, pid: p.pid, ports: p.ports };
      process.stdout.write(flags.json ? `${JSON.stringify(out)}\n` : `broker ${p.id} started (pid ${p.pid}, kafka port ${p.ports['kafka']}) and partitions rebalanced\n`);
    });

  cluster
    .command('remove-broker')
    .description('drain a broker (its partitions move away), stop it, and remove it from the cluster')
    .requiredOption('--id <n>', 'broker id', positiveInt)
    .option('--data-dir <dir>', 'the cluster\'s data dir', '.floe/cluster')
    .action(async (flags: { id: number; dataDir: string }) => {
      await removeBroker(flags.dataDir, flags.id);
      process.stdout.write(`broker ${flags.id} drained, stopped and removed\n`);
    });

  return cluster;
}
