/**
 * What the perf tools need from a cluster: its partition leaders for one topic, and a
 * connection per broker, all on floe's own codec.
 */
import { KafkaConnection } from '../client/connection.ts';
import { ErrorCode, errorName } from '../protocol/errors.ts';
import { Metadata } from '../protocol/messages/03-metadata.ts';

export interface Leader {
  partition: number;
  brokerId: number;
}

export function parseBootstrap(bootstrap: string): { host: string; port: number }[] {
  return bootstrap.split(',').map((hp) => {
    const one = hp.trim();
    const colon = one.lastIndexOf(':');
    if (colon < 0) throw new Error(`bootstrap ${bootstrap}: expected host:port[,host:port…]`);
    return { host: one.slice(0, colon), port: Number(one.slice(colon + 1)) };
  });
}

const METADATA_VERSION = 9;

export class ClusterClient {
  private readonly connections = new Map<number, Promise<KafkaConnection>>();
  private brokers = new Map<number, { host: string; port: number }>();

  private constructor(
    private readonly seed: KafkaConnection,
    private readonly clientId: string,
  ) {}

  /** Connects to the first bootstrap broker that answers (others may be down). */
  static async connect(bootstrap: string, clientId: string): Promise<ClusterClient> {
    let lastError: unknown;
    for (const { host, port } of parseBootstrap(bootstrap)) {
      try {
        return new ClusterClient(await KafkaConnection.connect(host, port, clientId), clientId);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(`no bootstrap broker of ${bootstrap} answered`);
  }

  get seedConnection(): KafkaConnection {
    return this.seed;
  }

  /** Partition leaders of `topic`, auto-creating it if the cluster allows; retries while leaders are unknown. */
  async leaders(topic: string, deadlineMs = 30_000): Promise<Leader[]> {
    const until = Date.now() + deadlineMs;
    for (;;) {
      const res = await this.seed.request(Metadata, METADATA_VERSION, {
        topics: [{ topicId: Buffer.alloc(16), name: topic }],
        allowAutoTopicCreation: true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      this.brokers = new Map(res.brokers.map((b) => [b.nodeId, { host: b.host, port: b.port }]));
      const t = res.topics[0];
      const ready = t && t.errorCode === ErrorCode.NONE && t.partitions.length > 0 && t.partitions.every((p) => p.leaderId >= 0);
      if (ready) return t.partitions.map((p) => ({ partition: p.partitionIndex, brokerId: p.leaderId })).sort((a, b) => a.partition - b.partition);
      if (Date.now() > until) throw new Error(`topic ${topic} has no leaders: ${t ? errorName(t.errorCode) : 'no answer'}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  connectionTo(brokerId: number): Promise<KafkaConnection> {
    let c = this.connections.get(brokerId);
    if (!c) {
      const b = this.brokers.get(brokerId);
      if (!b) return Promise.reject(new Error(`unknown broker ${brokerId}`));
      c = KafkaConnection.connect(b.host, b.port, this.clientId);
      this.connections.set(brokerId, c);
    }
    return c;
  }

  async close(): Promise<void> {
    const all = [this.seed.close(), ...[...this.connections.values()].map(async (c) => (await c).close())];
    await Promise.allSettled(all);
  }
}
