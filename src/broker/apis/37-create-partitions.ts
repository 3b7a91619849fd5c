// CreatePartitions (37), v0–3: grows a topic to `count` partitions. Manual assignments are
// refused (INVALID_REPLICA_ASSIGNMENT); a count not above the current one is
// INVALID_PARTITIONS.
import { ErrorCode, errorName } from '../../protocol/errors.ts';
import { CreatePartitions } from '../../protocol/messages/37-create-partitions.ts';
import { kafkaCodeOf, messageOf } from '../errors.ts';
import { defineHandler } from '../registry.ts';

export const createPartitionsHandler = defineHandler({
  api: CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  async handle(ctx, req) {
    const broker = ctx.broker;
    const refused = new Map<string, string>();
    for (const t of req.topics) {
      if (t.assignments !== null && t.assignments.length > 0) refused.set(t.name, 'manual replica assignments are not supported; floe places partitions');
    }
    const wanted = req.topics.filter((t) => !refused.has(t.name)).map((t) => ({ name: t.name, count: t.count }));
    let results: Map<string, { code: number; message: string | null }>;
    try {
      const answered = await broker.metadata.createPartitions(wanted, req.validateOnly);
      results = new Map(answered.map((r) => [r.name, { code: r.errorCode, message: r.errorMessage }]));
      if (!req.validateOnly) await broker.settled();
    } catch (err) {
      results = new Map(wanted.map((t) => [t.name, { code: kafkaCodeOf(err), message: messageOf(err) }]));
    }
    return {
      throttleTimeMs: 0,
      results: req.topics.map((t) => {
        const why = refused.get(t.name);
        if (why) return { name: t.name, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: why };
        const r = results.get(t.name) ?? { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: null };
        return { name: t.name, errorCode: r.code, errorMessage: r.code === ErrorCode.NONE ? null : (r.message ?? errorName(r.code)) };
      }),
    };
  },
});
