// InitProducerId (22), v0–4: a fresh producer id (epoch 0) for an idempotent producer.
// Producer ids come in blocks reserved durably through the metadata store, so no id is
// ever handed out twice, across brokers or restarts. Transactions are not supported: a
// transactional id is refused.
import { ErrorCode } from '../../protocol/errors.ts';
import { InitProducerId } from '../../protocol/messages/22-init-producer-id.ts';
import { kafkaCodeOf } from '../errors.ts';
import { defineHandler } from '../registry.ts';

export const initProducerIdHandler = defineHandler({
  api: InitProducerId,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx, req) {
    if (req.transactionalId !== null) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 };
    }
    try {
      const producerId = await ctx.broker.allocateProducerId();
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
    } catch (err) {
      ctx.broker.logger.warn({ err }, 'cannot allocate a producer id');
      const code = kafkaCodeOf(err);
      return { throttleTimeMs: 0, errorCode: code === ErrorCode.UNKNOWN_SERVER_ERROR ? ErrorCode.COORDINATOR_NOT_AVAILABLE : code, producerId: -1, producerEpoch: -1 };
    }
  },
});
