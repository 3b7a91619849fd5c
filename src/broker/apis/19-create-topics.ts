// CreateTopics (19), v0–7. Any broker accepts it (the metadata store forwards it to the
// authority). num_partitions / replication_factor -1 take the broker defaults; manual
// replica assignments are refused with INVALID_REPLICA_ASSIGNMENT. The answer comes once
// the topic exists; partitions this broker owns are open by then.
import type { ResponseOf } from '../../protocol/api.ts';
import { ErrorCode, errorName } from '../../protocol/errors.ts';
import { CreateTopics } from '../../protocol/messages/19-create-topics.ts';
import type { NewTopic } from '../../metadata/cluster-view.ts';
import { kafkaCodeOf, messageOf } from '../errors.ts';
import { defineHandler } from '../registry.ts';

type TopicResponse = ResponseOf<typeof CreateTopics>['topics'][number];

export const createTopicsHandler = defineHandler({
  api: CreateTopics,
  minVersion: 0,
  maxVersion: 7,
  async handle(ctx, req) {
    const broker = ctx.broker;
    const refused = new Map<string, { code: number; message: string }>();
    const wanted: NewTopic[] = [];
    const seen = new Set<string>();
    for (const t of req.topics) {
      if (seen.has(t.name)) {
        refused.set(t.name, { code: ErrorCode.INVALID_REQUEST, message: `topic ${t.name} appears twice in the request` });
        continue;
      }
      seen.add(t.name);
      if (t.assignments.length > 0) {
        refused.set(t.name, { code: ErrorCode.INVALID_REPLICA_ASSIGNMENT, message: 'manual replica assignments are not supported; floe places partitions' });
        continue;
      }
      const nullConfig = t.configs.find((c) => c.value === null);
      if (nullConfig) {
        refused.set(t.name, { code: ErrorCode.INVALID_CONFIG, message: `config ${nullConfig.name} has a null value` });
        continue;
      }
      wanted.push({
        name: t.name,
        numPartitions: t.numPartitions === -1 ? broker.config.defaultPartitions : t.numPartitions,
        replicationFactor: t.replicationFactor === -1 ? broker.config.defaultReplicationFactor : t.replicationFactor,
        config: Object.fromEntries(t.configs.map((c) => [c.name, c.value ?? ''])),
      });
    }
    let results: Map<string, { code: number; message: string | null }>;
    try {
      const answered = await broker.metadata.createTopics(wanted, req.validateOnly);
      results = new Map(answered.map((r) => [r.name, { code: r.errorCode, message: r.errorMessage }]));
      if (!req.validateOnly) await broker.settled();
    } catch (err) {
      const code = kafkaCodeOf(err);
      results = new Map(wanted.map((t) => [t.name, { code, message: messageOf(err) }]));
    }
    const view = broker.view;
    const topics = req.topics.map((t): TopicResponse => {
      const r = refused.get(t.name) ?? results.get(t.name) ?? { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: null };
      const created = r.code === ErrorCode.NONE ? view.topics.get(t.name) : undefined;
      return {
        name: t.name,
        topicId: created ? Buffer.from(created.id, 'hex') : Buffer.alloc(16),
        errorCode: r.code,
        errorMessage: r.code === ErrorCode.NONE ? null : (r.message ?? errorName(r.code)),
        numPartitions: created ? created.partitions.length : -1,
        replicationFactor: created ? (created.partitions[0]?.replicas.length ?? -1) : -1,
        configs: null,
      };
    });
    return { throttleTimeMs: 0, topics };
  },
});
