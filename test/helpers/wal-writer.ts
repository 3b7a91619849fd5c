/**
 * A WAL writer process for crash tests: it appends deterministic payloads to one log,
 * keeping `inFlight` entries in flight, and prints a line for every entry reported
 * quorum-durable, so a test that kill -9s it knows exactly what it reported.
 *
 *   node --import tsx test/helpers/wal-writer.ts '<json WalWriterConfig>'
 *
 * stdout lines: `ready` once the client is open, then `q <entryId>` per quorum-durable
 * entry, in id order. Writes to a pipe are synchronous on Linux, so a reported line is in
 * the pipe before the next entry is appended.
 */
import { WalClient } from '../../wal/client.ts';
import { WalBackpressureError } from '../../wal/errors.ts';
import type { WalEndpoint } from '../../wal/connection.ts';
import { payloadFor } from './wal-random.ts';

export interface WalWriterConfig {
  nodes: WalEndpoint[];
  logId: string;
  epoch: number;
  nextEntryId: number;
  seed: number;
  entryBytes: number;
  inFlight: number;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as WalWriterConfig;
  const w = await WalClient.open({ nodes: cfg.nodes, ackQuorum: 2, logId: cfg.logId, epoch: cfg.epoch, nextEntryId: cfg.nextEntryId });
  process.stdout.write('ready\n');
  let outstanding = 0;
  const pump = (): void => {
    while (outstanding < cfg.inFlight) {
      let a;
      try {
        a = w.append(payloadFor(cfg.seed, w.nextEntryId(), cfg.entryBytes));
      } catch (err) {
        if (err instanceof WalBackpressureError) return;
        throw err;
      }
      outstanding++;
      const id = a.entryId;
      a.quorumDurable.then(
        () => {
          process.stdout.write(`q ${id}\n`);
          outstanding--;
          pump();
        },
        () => {
          outstanding--;
          // Unavailable for now: try again shortly rather than spin.
          setTimeout(pump, 5);
        },
      );
    }
  };
  pump();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
