/**
 * The broker-facing API (/internal/v1), spoken by src/metadata/controller-store.ts:
 * registration, heartbeats, controlled shutdown, the metadata long-poll, and the
 * forwarded topic operations, answered with Kafka codes per topic (not HTTP errors), the
 * way a Kafka controller answers a broker. Bodies and paths: src/metadata/controller-api.ts.
 * The shared-storage routes (object index, hand-over release) answer HTTP 200 with a Kafka
 * errorCode in the body too.
 */
import {
  InternalPaths,
  SharedStoragePaths,
  type AdvanceLogStartRequest,
  type CommitObjectRequest,
  type PartitionObjectsRequest,
  type ReleasePartitionRequest,
  type ShutdownRequest,
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
const offset: JsonSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const storageAnswer = (codes: string): Record<number, { description: string; schema: JsonSchema }> => ({
  200: { description: `errorCode 0 or the Kafka error (${codes})`, schema: { type: 'object', properties: { errorCode: int, errorMessage: { type: ['string', 'null'] } } } },
});
const objectBody = obj(['brokerId', 'key', 'size', 'sections'], {
  brokerId: nonNegative,
  key: { type: 'string', minLength: 1, maxLength: ControllerLimits.objectKeyBytesMax },
  size: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
  sections: {
    type: 'array',
    minItems: 1,
    maxItems: ControllerLimits.objectSectionsPerCommitMax,
    items: obj(['topic', 'topicId', 'partition', 'startOffset', 'endOffset', 'position', 'length', 'leaderEpoch'], {
      topic: str,
      topicId: str,
      partition: nonNegative,
      startOffset: offset,
      endOffset: offset,
      position: offset,
      length: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
      leaderEpoch: int,
    }),
  },
});

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
      responses: {
        200: {
          description: 'registered',
          schema: { type: 'object', properties: { view: wireView, leaseMs: int, heartbeatMs: int, walEpoch: { type: 'integer', description: 'shared-storage: the epoch this incarnation recovers and writes its WAL log at' } } },
        },
      },
      handler: async (req, reply) => {
        const r = await controller.register(req.body as RegisterRequest);
        const walEpoch = r.walEpoch === undefined ? '' : `"walEpoch":${r.walEpoch},`;
        await reply.type('application/json').send(`{"leaseMs":${r.leaseMs},"heartbeatMs":${r.heartbeatMs},${walEpoch}"view":${controller.view.json}}`);
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
      body: obj(['id', 'incarnation'], {
        id: nonNegative,
        incarnation: { type: 'string', minLength: 1, maxLength: 200 },
        uploaded: { type: 'boolean', description: 'shared-storage: nothing is left in the broker\'s WAL, so it is not recovered (default false)' },
      }),
      responses: { 200: { description: 'done', schema: { type: 'object', properties: { version: int } } } },
      handler: async (req) => {
        await controller.shutdown(req.body as ShutdownRequest);
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
    {
      method: 'POST',
      url: SharedStoragePaths.commitObject,
      operationId: 'commitObject',
      summary: 'shared-storage: the owner commits an uploaded object; each section extends its partition\'s index from its end offset, all or nothing',
      tag: 'internal',
      body: objectBody,
      responses: storageAnswer('3 unknown partition, 6 not the owner, 74 stale leader epoch, 42 not contiguous or a reused key'),
      handler: (req) => controller.commitObject(req.body as CommitObjectRequest),
    },
    {
      method: 'POST',
      url: SharedStoragePaths.replaceObjects,
      operationId: 'replaceObjects',
      summary: 'shared-storage: compaction; each section replaces the run of whole ranges of its partition that it covers exactly; the replaced objects become garbage',
      tag: 'internal',
      body: objectBody,
      responses: storageAnswer('3, 6, 74, 42 not a run of whole ranges'),
      handler: (req) => controller.replaceObjects(req.body as CommitObjectRequest),
    },
    {
      method: 'POST',
      url: SharedStoragePaths.partitionObjects,
      operationId: 'partitionObjects',
      summary: 'shared-storage: a partition\'s object index (log start, end offset, ranges) and its leader epoch',
      tag: 'internal',
      body: obj(['topic', 'partition'], { topic: str, partition: nonNegative }),
      responses: {
        200: {
          description: 'errorCode 0, or 3 for an unknown partition',
          schema: {
            type: 'object',
            properties: {
              errorCode: int,
              errorMessage: { type: ['string', 'null'] },
              topicId: str,
              leaderEpoch: int,
              logStartOffset: int,
              endOffset: int,
              objects: { type: 'array', items: { type: 'object', description: 'ObjectRange of src/metadata/controller-api.ts' } },
            },
          },
        },
      },
      handler: (req) => {
        const body = req.body as PartitionObjectsRequest;
        return controller.partitionObjects(body.topic, body.partition);
      },
    },
    {
      method: 'POST',
      url: SharedStoragePaths.advanceLogStart,
      operationId: 'advanceLogStart',
      summary: 'shared-storage: retention or DeleteRecords moves a partition\'s log start forward; ranges wholly below it are dropped',
      tag: 'internal',
      body: obj(['brokerId', 'topic', 'partition', 'leaderEpoch', 'logStartOffset'], { brokerId: nonNegative, topic: str, partition: nonNegative, leaderEpoch: int, logStartOffset: offset }),
      responses: storageAnswer('3, 6, 74, 42 beyond the end offset'),
      handler: (req) => controller.advanceLogStart(req.body as AdvanceLogStartRequest),
    },
    {
      method: 'POST',
      url: SharedStoragePaths.release,
      operationId: 'releasePartition',
      summary: 'shared-storage: the owner completes a hand-over (it committed everything up to endOffset and stopped); ownership moves to handoverTo with the epoch bumped',
      tag: 'internal',
      body: obj(['brokerId', 'topic', 'partition', 'leaderEpoch', 'endOffset'], { brokerId: nonNegative, topic: str, partition: nonNegative, leaderEpoch: int, endOffset: offset }),
      responses: {
        200: {
          description: 'errorCode 0 or the Kafka error (3, 6, 74, 42 no hand-over in progress or endOffset not the index end), and the metadata version after it',
          schema: { type: 'object', properties: { errorCode: int, errorMessage: { type: ['string', 'null'] }, version: int } },
        },
      },
      handler: (req) => controller.release(req.body as ReleasePartitionRequest),
    },
  ];
}
