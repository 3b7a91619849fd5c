/**
 * The broker process, run as `floe broker …` (the cluster launcher starts it that way).
 * Prints one ready line on stdout once it accepts Kafka requests.
 */
import { Command, Option } from 'commander';
import { int, keyValue } from '../common/cli-args.ts';

export interface BrokerFlags {
  id: number;
  dataDir: string;
  host: string;
  port: number;
  advertisedHost?: string;
  rack?: string;
  mode: string;
  controller?: string;
  walNodes?: string;
  walAckQuorum?: number;
  s3Endpoint?: string;
  s3Bucket?: string;
  objectPrefix: string;
  metricsPort: number;
  config: Record<string, string>;
}

export function brokerCommand(): Command {
  return new Command('broker')
    .description('run one floe broker process in the foreground')
    .requiredOption('--id <n>', 'broker id (node.id)', int)
    .requiredOption('--data-dir <dir>', 'directory for this broker\'s data')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'Kafka port (0 picks a free one)', int, 9092)
    .option('--advertised-host <host>', 'host given to clients in Metadata')
    .option('--rack <rack>', 'rack / zone label (broker.rack)')
    .addOption(new Option('--mode <mode>', 'storage architecture: shared-nothing (local logs) or shared-storage (quorum WAL + object storage)').choices(['shared-nothing', 'shared-storage']).default('shared-nothing'))
    .option('--controller <url>', 'the controller to follow (http://host:port); without it the broker keeps its own metadata (a one-broker cluster, shared-nothing only)')
    .option('--wal-nodes <host:port,...>', 'shared-storage: the WAL nodes')
    .option('--wal-ack-quorum <n>', 'shared-storage: WAL nodes that must fsync an acks=all write (default: a majority)', int)
    .option('--s3-endpoint <url>', 'shared-storage: S3-compatible endpoint (the embedded one\'s credentials are used; otherwise FLOE_S3_* from the environment)')
    .option('--s3-bucket <name>', 'shared-storage: bucket (default FLOE_S3_BUCKET or floe)')
    .option('--object-prefix <prefix>', 'shared-storage: prefix of this cluster\'s object keys', 'floe/')
    .option('--metrics-port <port>', 'port of GET /metrics (0 picks a free one)', int, 0)
    .option('--config <key=value>', 'broker setting or topic default by Kafka name, repeatable (e.g. num.partitions=3, flush.messages=1)', keyValue, {})
    .action(async (opts: BrokerFlags) => {
      // Loaded on demand: other subcommands of the CLI need none of the broker's code.
      const { runBroker } = await import('./run.ts');
      await runBroker(opts);
    });
}

