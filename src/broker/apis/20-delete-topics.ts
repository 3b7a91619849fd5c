// DeleteTopics (20), v0–6 (v6 names topics in a struct that may carry an id instead of a
// name; floe resolves ids to names). Deleting removes the topic from metadata; the brokers
// that served its partitions delete their data when they see the change.
import { ErrorCode, errorName } from '../../protocol/errors.ts';
import { DeleteTopics } from '../../protocol/messages/20-delete-topics.ts';
import { kafkaCodeOf, messageOf } from '../errors.ts';
import { defineHandler } from '../registry.ts';

const ZERO_ID = '0'.repeat(32);

export const deleteTopicsHandler = defineHandler({
  api: DeleteTopics,
  minVersion: 0,
  maxVersion: 6,
  async handle(ctx, req, version) {
    const broker = ctx.broker;
    const view = broker.view;
    const requested =
      version >= 6
        ? req.topics.map((t) => {
            const id = t.topicId.toString('hex');
            const byId = id !== ZERO_ID ? [...view.topics.values()].find((x) => x.id === id) : undefined;
            return { name: t.name ?? byId?.name ?? null, topicId: t.topicId };
          })
        : req.topicNames.map((name) => ({ name, topicId: Buffer.alloc(16) }));
    const names = requested.flatMap((r) => (r.name === null ? [] : [r.name]));
    let results: Map<string, { code: number; message: string | null }>;
    try {
      const answered = await broker.metadata.deleteTopics(names);
      results = new Map(answered.map((r) => [r.name, { code: r.errorCode, message: r.errorMessage }]));
      await broker.settled();
    } catch (err) {
      results = new Map(names.map((n) => [n, { code: kafkaCodeOf(err), message: messageOf(err) }]));
    }
    return {
      throttleTimeMs: 0,
      responses: requested.map((r) => {
        const res = r.name === null ? { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: 'unknown topic id' } : (results.get(r.name) ?? { code: ErrorCode.UNKNOWN_SERVER_ERROR, message: null });
        return {
          name: r.name,
          topicId: r.topicId,
          errorCode: res.code,
          errorMessage: res.code === ErrorCode.NONE ? null : (res.message ?? errorName(res.code)),
        };
      }),
    };
  },
});
