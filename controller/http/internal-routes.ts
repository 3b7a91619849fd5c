/**
 * The broker-facing API (/internal/v1), spoken by src/metadata/controller-store.ts:
 * registration, heartbeats, controlled shutdown, the metadata long-poll, and the
 * forwarded topic operations, answered with Kafka codes per topic (not HTTP errors), the
 * way a Kafka controller answers a broker. Bodies and paths: src/metadata/controller-api.ts.
 */
import {
  InternalPaths,
  type AlterConfigRequest,
  type AlterIsrRequest,
  type CreatePartitionsRequest,
  type CreateTopicsRequest,
  type DeleteTopicsRequest,
  type HeartbeatRequest,
  type ProducerIdsRequest,
  type RegisterRequest,
} from '../../src/metadata/controller-api.ts';
import type { Controller } from '../controller.ts';
import { ControllerLimits } from '../limits.ts';
import { queryOf, type JsonSchema, type RouteSpec } from './route.ts';

const int: JsonSchema = { type: 'integer' };
const nonNegative: JsonSchema = { type: 'integer', minimum: 0 };
const str: JsonSchema = { type: 'string' };
const configMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };
const obj = (required: string[], properties: Record<string, JsonSchema>): JsonSchema => ({ type: 'object', required, additionalProperties: false, properties });
const topicResult: JsonSchema = obj(['name', 'errorCode', 'errorMessage'], { name: str, errorCode: int, errorMessage: { type: ['string', 'null'] } });
const topicResults: JsonSchema = { type: 'object', properties: { results: { type: 'array', items: topicResult }, version: int } };
const wireView: JsonSchema = { type: 'object', description: 'WireView of src/metadata/controller-api.ts' };
const identity = obj(['id', 'incarnation'], { id: nonNegative, incarnation: { type: 'string', minLength: 1, maxLength: 200 } });

export function internalRoutes(controller: Controller): RouteSpec[] {
  return [
    {
      method: 'POST',
      url: InternalPaths.register,
      operationId: 'registerBroker',
      summary: 'A broker (re)registers; answers the view, the lease and the heartbeat interval. 409 DUPLICATE_BROKER_REGISTRATION while another process holds the id\'s lease',
      tag: 'internal',
      body: obj(['id', 'incarnation', 'host', 'port', 'rack'], {
        id: nonNegative,
        incarnation: { type: 'string', minLength: 1, maxLength: 200 },
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        rack: { type: ['string', 'null'] },
      }),
      responses: { 200: { description: 'registered', schema: { type: 'object', properties: { view: wireView, leaseMs: int, heartbeatMs: int } } } },
      handler: async (req, reply) => {
        const r = await controller.register(req.body as RegisterRequest);
        await reply.type('application/json').send(`{"leaseMs":${r.leaseMs},"heartbeatMs":${r.heartbeatMs},"view":${controller.view.json}}`);
        return reply;
      },
    },
    {
      method: 'POST',
      url: InternalPaths.heartbeat,
      operationId: 'heartbeat',
      summary: 'Renews a broker\'s lease; registered=false means register again',
      tag: 'internal',
      body: identity,
      responses: { 200: { description: 'renewed or not', schema: { type: 'object', properties: { registered: { type: 'boolean' }, version: int } } } },
      handler: (req) => Promise.resolve(controller.heartbeat(req.body as HeartbeatRequest)),
    },
    {
      method: 'POST',
      url: InternalPaths.shutdown,
      operationId: 'shutdownBroker',
      summary: 'Controlled shutdown: the broker is declared dead now and its partitions fail over',
      tag: 'internal',
      body: identity,
      responses: { 200: { description: 'done', schema: { type: 'object', properties: { version: int } } } },
      handler: async (req) => {
        await controller.shutdown(req.body as HeartbeatRequest);
        return { version: controller.view.version };
      },
    },
    {
      method: 'GET',
      url: InternalPaths.metadata,
      operationId: 'pollMetadata',
      summary: 'Long-poll: the view as soon as its version is not `after`, else {changed:false} after waitMs',
      tag: 'internal',
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['after'],
        properties: {
          after: { type: 'string', pattern: '^-?[0-9]{1,15}$' },
          waitMs: { type: 'string', pattern: '^[0-9]{1,9}$', description: `at most ${ControllerLimits.longPollWaitMsMax}` },
          brokerId: { type: 'string', pattern: '^[0-9]{1,9}$' },
        },
      },
      responses: {
        200: {
          description: 'changed or not',
          schema: { type: 'object', properties: { changed: { type: 'boolean' }, view: wireView, version: int } },
        },
      },
      handler: async (req, reply) => {
        const q = queryOf(req);
        const { result, cancel } = controller.poll(Number(q['after']), Number(q['waitMs'] ?? 0));
        reply.raw.on('close', cancel);
        const r = await result;
        await reply.type('application/json').send(r.changed ? `{"changed":true,"view":${r.json}}` : JSON.stringify(r));
        return reply;
      },
    },
    {
      method: 'POST',
      url: InternalPaths.createTopics,
      operationId: 'internalCreateTopics',
      summary: 'CreateTopics forwarded by a broker',
      tag: 'internal',
      body: obj(['topics', 'validateOnly'], {
        topics: {
          type: 'array',
          maxItems: ControllerLimits.topicsPerRequestMax,
          items: obj(['name', 'numPartitions', 'replicationFactor', 'config'], { name: str, numPartitions: int, replicationFactor: int, config: configMap, internal: { type: 'boolean' } }),
        },
        validateOnly: { type: 'boolean' },
      }),
      responses: { 200: { description: 'one result per topic', schema: topicResults } },
      handler: (req) => {
        const body = req.body as CreateTopicsRequest;
        return controller.createTopics(body.topics, body.validateOnly);
      },
    },
    {
      method: 'POST',
      url: InternalPaths.deleteTopics,
      operationId: 'internalDeleteTopics',
      summary: 'DeleteTopics forwarded by a broker',
      tag: 'internal',
      body: obj(['names'], { names: { type: 'array', maxItems: ControllerLimits.topicsPerRequestMax, items: str } }),
      responses: { 200: { description: 'one result per topic', schema: topicResults } },
      handler: (req) => controller.deleteTopics((req.body as DeleteTopicsRequest).names),
    },
    {
      method: 'POST',
      url: InternalPaths.createPartitions,
      operationId: 'internalCreatePartitions',
      summary: 'CreatePartitions forwarded by a broker',
      tag: 'internal',
      body: obj(['changes', 'validateOnly'], {
        changes: { type: 'array', maxItems: ControllerLimits.topicsPerRequestMax, items: obj(['name', 'count'], { name: str, count: int }) },
        validateOnly: { type: 'boolean' },
      }),
      responses: { 200: { description: 'one result per topic', schema: topicResults } },
      handler: (req) => {
        const body = req.body as CreatePartitionsRequest;
        return controller.createPartitions(body.changes, body.validateOnly);
      },
    },
    {
      method: 'POST',
      url: InternalPaths.alterConfig,
      operationId: 'internalAlterConfig',
      summary: 'AlterConfigs (replace a topic\'s overrides) forwarded by a broker',
      tag: 'internal',
      body: obj(['name', 'config', 'validateOnly'], { name: str, config: configMap, validateOnly: { type: 'boolean' } }),
      responses: { 200: { description: 'the result', schema: { type: 'object', properties: { result: topicResult, version: int } } } },
      handler: (req) => {
        const body = req.body as AlterConfigRequest;
        return controller.alterTopicConfig(body.name, body.config, body.validateOnly);
      },
    },
    {
      method: 'POST',
      url: InternalPaths.producerIds,
      operationId: 'allocateProducerIds',
      summary: `A block of producer ids no other broker gets (at least ${ControllerLimits.producerIdBlockSizeMin})`,
      tag: 'internal',
      body: obj(['brokerId', 'count'], { brokerId: nonNegative, count: { type: 'integer', minimum: 1 } }),
      responses: { 200: { description: 'the block', schema: { type: 'object', properties: { firstId: int, count: int } } } },
      handler: (req) => {
        const body = req.body as ProducerIdsRequest;
        return controller.allocateProducerIds(body.brokerId, body.count);
      },
    },
    {
      method: 'POST',
      url: InternalPaths.alterIsr,
      operationId: 'alterIsr',
      summary: 'A partition leader reports a new ISR (Kafka AlterPartition), fenced by its leader epoch and optionally the partition epoch',
      tag: 'internal',
      body: obj(['brokerId', 'topic', 'partition', 'leaderEpoch', 'isr'], {
        brokerId: nonNegative,
        topic: str,
        partition: nonNegative,
        leaderEpoch: int,
        partitionEpoch: int,
        isr: { type: 'array', items: int, maxItems: ControllerLimits.replicationFactorMax },
      }),
      responses: {
        200: {
          description: 'errorCode 0 or the Kafka error (6, 74, 95, 107, 42, 3)',
          schema: { type: 'object', properties: { errorCode: int, errorMessage: { type: ['string', 'null'] }, partition: { type: ['object', 'null'] }, version: int } },
        },
      },
      handler: (req) => controller.alterIsr(req.body as AlterIsrRequest),
    },
  ];
}
