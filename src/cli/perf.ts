/**
 * `floe perf produce|consume`: load generators (see src/perf/). Each prints a readable
 * summary on stderr and one JSON line on stdout.
 */
import { Command, Option } from 'commander';
import { positiveInt } from '../common/cli-args.ts';
import { consumePerf } from '../perf/consume.ts';
import { producePerf } from '../perf/produce.ts';

export function perfCommand(): Command {
  const perf = new Command('perf').description('load generators on floe\'s own Kafka codec');

  perf
    .command('produce')
    .description('produce records as fast as allowed and report throughput and latency percentiles')
    .option('--bootstrap <host:port>', 'a broker of the cluster', '127.0.0.1:9092')
    .option('--topic <name>', 'topic (auto-created if the cluster allows)', 'floe-perf')
    .option('--num-records <n>', 'records to send', positiveInt, 100_000)
    .option('--record-size <bytes>', 'bytes per record value', positiveInt, 1024)
    .addOption(new Option('--acks <acks>', 'acknowledgement level').choices(['-1', 'all', '0', '1']).default('1'))
    .option('--batch-size <bytes>', 'record bytes per batch (batch.size)', positiveInt, 16_384)
    .option('--max-in-flight <n>', 'requests outstanding per broker connection', positiveInt, 5)
    .option('--idempotence', 'use the idempotent producer (InitProducerId, sequences)')
    .option('--timeout-ms <ms>', 'produce request timeout', positiveInt, 30_000)
    .action(async (flags: { bootstrap: string; topic: string; numRecords: number; recordSize: number; acks: string; batchSize: number; maxInFlight: number; idempotence?: boolean; timeoutMs: number }) => {
      const acks = flags.acks === 'all' ? -1 : (Number(flags.acks) as -1 | 0 | 1);
      const r = await producePerf({ ...flags, acks, idempotence: flags.idempotence ?? false });
      const lat = r.latency ? `latency ms: mean ${r.latency.meanMs}, p50 ${r.latency.p50Ms}, p99 ${r.latency.p99Ms}, p99.9 ${r.latency.p999Ms}, max ${r.latency.maxMs}` : 'latency: n/a with acks=0';
      process.stderr.write(`${r.records} records sent, ${r.recordsPerSec} records/s (${r.mbPerSec} MB/s), ${lat}\n`);
      if (Object.keys(r.errors).length > 0) process.stderr.write(`errors: ${JSON.stringify(r.errors)}\n`);
      process.stdout.write(`${JSON.stringify(r)}\n`);
    });

  perf
    .command('consume')
    .description('read a topic from the beginning and report throughput')
    .option('--bootstrap <host:port>', 'a broker of the cluster', '127.0.0.1:9092')
    .option('--topic <name>', 'topic', 'floe-perf')
    .option('--num-records <n>', 'stop after this many records (default: up to the high watermarks at start)', positiveInt)
    .option('--partition-fetch-bytes <bytes>', 'max.partition.fetch.bytes', positiveInt, 1_048_576)
    .option('--fetch-max-bytes <bytes>', 'fetch.max.bytes', positiveInt, 52_428_800)
    .action(async (flags: { bootstrap: string; topic: string; numRecords?: number; partitionFetchBytes: number; fetchMaxBytes: number }) => {
      const r = await consumePerf({ ...flags, numRecords: flags.numRecords ?? Infinity });
      process.stderr.write(`${r.records} records read in ${r.durationMs} ms, ${r.recordsPerSec} records/s (${r.mbPerSec} MB/s), ${r.fetches} fetches\n`);
      process.stdout.write(`${JSON.stringify(r)}\n`);
    });

  return perf;
}
