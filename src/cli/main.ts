/**
 * `floe`: the command line. Subcommands:
 *   floe cluster up|down|status   a local cluster, each process its own OS process
 *   floe broker                   one broker process (what the launcher runs)
 *   floe controller               the controller process
 *   floe perf produce|consume     load generators on floe's own codec
 */
import { Command, InvalidArgumentError } from 'commander';
import { controllerCommand } from '../../controller/main.ts';
import { brokerCommand } from '../broker/main.ts';
import { clusterCommand } from './cluster.ts';
import { perfCommand } from './perf.ts';

const program = new Command('floe')
  .description('floe: a Kafka-wire-compatible broker on shared storage, beside a shared-nothing baseline')
  .showHelpAfterError()
  .addCommand(clusterCommand())
  .addCommand(brokerCommand())
  .addCommand(controllerCommand())
  .addCommand(perfCommand());

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof InvalidArgumentError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`floe: ${message}\n`);
  process.exit(1);
});
