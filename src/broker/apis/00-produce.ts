// Produce (0), served at v3–9; v0–2 are advertised (librdkafka gates compression support
// on Produce v0 being in range) and answered per partition with UNSUPPORTED_VERSION.
//
// Each partition's batch is validated (checkProducedBatch), checked against ownership and
// the idempotent producer's sequence, and appended synchronously in request order. The
// response then waits for the level the producer asked for:
//   acks=0  no response at all; an error closes the connection instead (Kafka's way of
//           telling a producer that does not read responses),
//   acks=1  the engine's leader durability (local append, or one WAL node's fsync),
//   acks=-1 the engine's full durability (ISR, or the WAL ack quorum), refused up front
//           with NOT_ENOUGH_REPLICAS when fewer than min.insync.replicas can acknowledge,
//           and REQUEST_TIMED_OUT when it is not reached within timeout_ms.
import type { RequestOf, ResponseOf } from '../../protocol/api.ts';
import { ErrorCode, errorName, type ErrorCode as ErrorCodeT } from '../../protocol/errors.ts';
import { Produce } from '../../protocol/messages/00-produce.ts';
import { checkProducedBatch } from '../../protocol/record-batch.ts';
import type { Broker } from '../broker.ts';
import { withDeadline } from '../durability.ts';
import { kafkaCodeOf, messageOf } from '../errors.ts';
import { BrokerLimits } from '../limits.ts';
import { CLOSE_CONNECTION, defineHandler, NO_RESPONSE } from '../registry.ts';

type PartitionResponse = ResponseOf<typeof Produce>['responses'][number]['partitionResponses'][number];
type Acks = -1 | 0 | 1;

const SERVED_VERSION_MIN = 3;

function result(index: number, errorCode: ErrorCodeT, baseOffset = -1, errorMessage: string | null = null, logAppendTimeMs = -1, logStartOffset = -1): PartitionResponse {
  return { index, errorCode, baseOffset, logAppendTimeMs, logStartOffset, recordErrors: [], errorMessage: errorCode === ErrorCode.NONE ? null : (errorMessage ?? errorName(errorCode)) };
}

/** Appends one partition's batch and resolves with its response once acknowledged as asked. */
function producePartition(broker: Broker, topic: string, index: number, records: Buffer | null, acks: Acks, timeoutMs: number): PartitionResponse | Promise<PartitionResponse> {
  const lookup = broker.partition(topic, index);
  if (!lookup.ok) return result(index, lookup.errorCode);
  const part = lookup.partition;
  // Internal topics (__consumer_offsets) are written by the coordinator only, as in Kafka.
  if (broker.view.topics.get(topic)?.internal) return result(index, ErrorCode.INVALID_TOPIC_EXCEPTION, -1, `${topic} is an internal topic`);
  if (records === null) return result(index, ErrorCode.CORRUPT_MESSAGE, -1, 'null records');
  const check = checkProducedBatch(records, part.settings.maxMessageBytes);
  if (!check.ok) return result(index, check.errorCode, -1, check.message);
  if (acks === -1) {
    const available = broker.availableReplicas(part);
    const required = broker.replicasRequired(part);
    if (available < required) {
      return result(index, ErrorCode.NOT_ENOUGH_REPLICAS, -1, `${available} replicas can acknowledge, ${required} needed (min.insync.replicas is ${part.settings.minInsyncReplicas})`);
    }
  }
  const decision = part.append(records, check.header);
  broker.metrics.producedBatches.inc({ outcome: decision.kind });
  if (decision.kind === 'error') return result(index, decision.errorCode, -1, decision.message);
  if (decision.kind === 'appended') broker.metrics.producedBytes.inc(records.length);
  if (acks === 0) {
    // Nobody will read the outcome; failures still reach the log through the partition.
    decision.leaderDurable.catch(() => undefined);
    decision.fullyDurable.catch(() => undefined);
    return result(index, ErrorCode.NONE, decision.baseOffset);
  }
  const level = acks === 1 ? decision.leaderDurable : decision.fullyDurable;
  // The other level's promise may reject too; it is reported through `level` or not at all.
  (acks === 1 ? decision.fullyDurable : decision.leaderDurable).catch(() => undefined);
  return withDeadline(broker.clock, level, timeoutMs, acks === 1 ? 'leader durability' : 'full durability').then(
    () => result(index, ErrorCode.NONE, decision.baseOffset, null, decision.logAppendTimeMs, part.log.logStartOffset()),
    (err: unknown) => result(index, kafkaCodeOf(err), -1, messageOf(err)),
  );
}

export const produceHandler = defineHandler({
  api: Produce,
  minVersion: 0,
  maxVersion: 9,
  async handle(ctx, req: RequestOf<typeof Produce>, version) {
    const broker = ctx.broker;
    const acks = req.acks;
    const timeoutMs = Math.min(Math.max(req.timeoutMs, 0), BrokerLimits.produceTimeoutMsMax);
    const fixed = (code: ErrorCodeT, message: string) =>
      req.topicData.map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => result(p.index, code, -1, message)) }));

    let responses: { name: string; partitionResponses: (PartitionResponse | Promise<PartitionResponse>)[] }[];
    if (version < SERVED_VERSION_MIN) {
      responses = fixed(ErrorCode.UNSUPPORTED_VERSION, `Produce v${version} carries message format v0/v1; floe needs v3+ (RecordBatch v2)`);
    } else if (acks !== 0 && acks !== 1 && acks !== -1) {
      responses = fixed(ErrorCode.INVALID_REQUIRED_ACKS, `acks=${acks} is not one of -1, 0, 1`);
    } else if (req.transactionalId !== null) {
      responses = fixed(ErrorCode.INVALID_REQUEST, 'transactions are not supported');
    } else {
      // Synchronous up to the first await: every partition is appended before we wait.
      responses = req.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => producePartition(broker, t.name, p.index, p.records as Buffer | null, acks, timeoutMs)),
      }));
    }
    if (acks === 0) {
      const failed = responses.some((t) => t.partitionResponses.some((p) => !(p instanceof Promise) && p.errorCode !== ErrorCode.NONE));
      return failed ? CLOSE_CONNECTION : NO_RESPONSE;
    }
    const settled = await Promise.all(
      responses.map(async (t) => ({ name: t.name, partitionResponses: await Promise.all(t.partitionResponses.map((p) => Promise.resolve(p))) })),
    );
    return { responses: settled, throttleTimeMs: 0 };
  },
});
