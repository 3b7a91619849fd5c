/**
 * The admin API (/v1): cluster overview, brokers, topics and their configs, partitions
 * with owner and epoch, reassignment of one partition, drain / undrain / remove of a
 * broker, rebalance, and the metadata version; in shared-storage mode also each
 * partition's object index summary and the object statistics. Every refusal is a 4xx with
 * `{ "error": { "code", "message" } }` and changes nothing.
 *
 * In shared-storage mode a move of a partition whose owner is alive (reassign, drain,
 * rebalance) is a hand-over: the answer shows the partition with `handoverTo` set, and
 * ownership moves once the owner has committed what it holds and released it.
 */
import type { TopicResult } from '../../src/metadata/cluster-view.ts';
import { MetadataErrorCode as Code } from '../../src/metadata/controller-api.ts';
import { TOPIC_CONFIGS, topicConfigValue } from '../../src/metadata/topic-configs.ts';
import type { Controller } from '../controller.ts';
import { ApiError, type ApiErrorCode } from '../errors.ts';
import type { PartitionState, TopicState } from '../state.ts';
import { NON_NEGATIVE_INT, intParam, paramsOf, queryOf, type JsonSchema, type RouteSpec } from './route.ts';

const brokerIds: JsonSchema = { type: 'array', items: { type: 'integer' } };
const configMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

export const partitionSchema: JsonSchema = {
  type: 'object',
  properties: {
    partition: { type: 'integer' },
    leader: { type: 'integer', description: 'owner (shared-storage) or leader (shared-nothing); -1 when offline' },
    leaderEpoch: { type: 'integer', description: 'bumped on every ownership change' },
    partitionEpoch: { type: 'integer', description: 'bumped on every change of leader, replicas or ISR' },
    replicas: brokerIds,
    isr: brokerIds,
    offline: { type: 'boolean' },
    handoverTo: { type: 'integer', description: 'shared-storage: the broker the partition is being handed to (absent when none)' },
  },
};

const objectsSummarySchema: JsonSchema = {
  type: 'object',
  description: 'shared-storage: the partition\'s object index',
  properties: {
    logStartOffset: { type: 'integer' },
    endOffset: { type: 'integer', description: 'the end of the last committed range' },
    objects: { type: 'integer', description: 'distinct objects holding the partition\'s ranges' },
    ranges: { type: 'integer' },
    bytes: { type: 'integer', description: 'bytes of the partition\'s sections' },
  },
};

const topicSchema: JsonSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    id: { type: 'string', description: '32 hex digits' },
    internal: { type: 'boolean' },
    config: { ...configMap, description: 'topic-level overrides' },
    partitions: { type: 'array', items: partitionSchema },
  },
};

const brokerSchema: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    host: { type: 'string' },
    port: { type: 'integer' },
    rack: { type: ['string', 'null'], description: 'zone label' },
    status: { type: 'string', enum: ['alive', 'dead'] },
    draining: { type: 'boolean' },
    incarnation: { type: 'string' },
    leaders: { type: 'integer' },
    replicas: { type: 'integer' },
    lastHeartbeatAgoMs: { type: ['integer', 'null'] },
  },
};

const moveSchema: JsonSchema = {
  type: 'object',
  properties: { topic: { type: 'string' }, partition: { type: 'integer' }, from: { type: 'integer' }, to: { type: 'integer' } },
};

const topicParams: JsonSchema = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } };
const partitionParams: JsonSchema = {
  type: 'object',
  required: ['name', 'partition'],
  properties: { name: { type: 'string', minLength: 1 }, partition: { type: 'string', pattern: NON_NEGATIVE_INT } },
};
const brokerParams: JsonSchema = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: NON_NEGATIVE_INT } } };

export function describePartition(p: PartitionState): Record<string, unknown> {
  return {
    partition: p.index,
    leader: p.leader,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
    replicas: p.replicas,
    isr: p.isr,
    offline: p.leader < 0,
    ...(p.handoverTo !== undefined ? { handoverTo: p.handoverTo } : {}),
  };
}

function describeTopic(t: TopicState): Record<string, unknown> {
  return { name: t.name, id: t.id, internal: t.internal, config: t.config, partitions: t.partitions.map(describePartition) };
}

/** Kafka's code in a TopicResult, as the admin API's error. */
function raiseTopicResult(r: TopicResult): void {
  if (r.errorCode === Code.NONE) return;
  const byCode: Record<number, ApiErrorCode> = {
    [Code.UNKNOWN_TOPIC_OR_PARTITION]: 'UNKNOWN_TOPIC',
    [Code.INVALID_TOPIC_EXCEPTION]: 'INVALID_TOPIC',
    [Code.TOPIC_ALREADY_EXISTS]: 'TOPIC_ALREADY_EXISTS',
    [Code.INVALID_PARTITIONS]: 'INVALID_PARTITIONS',
    [Code.INVALID_REPLICATION_FACTOR]: 'INVALID_REPLICATION_FACTOR',
    [Code.INVALID_CONFIG]: 'INVALID_CONFIG',
  };
  throw new ApiError(byCode[r.errorCode] ?? 'INVALID_REQUEST', r.errorMessage ?? `Kafka error ${r.errorCode}`);
}

function firstResult(results: TopicResult[]): TopicResult {
  const r = results[0];
  if (!r) throw new ApiError('INTERNAL', 'no result for the topic');
  return r;
}

export function adminRoutes(controller: Controller): RouteSpec[] {
  const topicOf = (name: string): TopicState => {
    const t = controller.metadata.topics.get(name);
    if (!t) throw new ApiError('UNKNOWN_TOPIC', `unknown topic ${name}`);
    return t;
  };
  const brokerOf = (id: number): Record<string, unknown> => {
    const b = controller.describeBrokers().find((x) => x.id === id);
    if (!b) throw new ApiError('UNKNOWN_BROKER', `no broker ${id} has registered`);
    return { ...b };
  };

  return [
    {
      method: 'GET',
      url: '/v1/cluster',
      operationId: 'getCluster',
      summary: 'Cluster overview: id, mode, metadata version, the controller id clients see, counts of brokers, topics and offline partitions',
      tag: 'cluster',
      responses: {
        200: {
          description: 'the overview',
          schema: {
            type: 'object',
            properties: {
              clusterId: { type: 'string' },
              mode: { type: 'string', enum: ['shared-storage', 'shared-nothing'] },
              metadataVersion: { type: 'integer' },
              controllerId: { type: 'integer', description: 'the live broker clients treat as controller; -1 when none is alive' },
              leaseMs: { type: 'integer' },
              brokers: { type: 'object', properties: { registered: { type: 'integer' }, alive: { type: 'integer' }, draining: { type: 'integer' } } },
              topics: { type: 'integer' },
              partitions: { type: 'integer' },
              offlinePartitions: { type: 'integer' },
              underReplicatedPartitions: { type: 'integer' },
              pendingFailovers: { ...brokerIds, description: 'dead brokers whose partitions wait for their WAL recovery (or the beforeReassign hook)' },
              handoversInProgress: { type: 'integer', description: 'shared-storage: partitions being handed over' },
              objectStore: { type: 'boolean', description: 'shared-storage: whether an object store is configured (garbage collection)' },
              walRecovery: { type: 'boolean', description: 'shared-storage: whether WAL nodes are configured (a dead broker\'s WAL is recovered before its partitions move)' },
            },
          },
        },
      },
      handler: async () => {
        await controller.readBarrier();
        return controller.overview();
      },
    },
    {
      method: 'GET',
      url: '/v1/metadata/version',
      operationId: 'getMetadataVersion',
      summary: 'The metadata version every broker follows',
      tag: 'cluster',
      responses: { 200: { description: 'the version', schema: { type: 'object', properties: { version: { type: 'integer' } } } } },
      handler: () => Promise.resolve({ version: controller.view.version }),
    },
    {
      method: 'GET',
      url: '/v1/metadata',
      operationId: 'getMetadata',
      summary: 'The metadata view exactly as brokers receive it (live brokers, controllerId, topics with partitions)',
      tag: 'cluster',
      responses: { 200: { description: 'the view (see src/metadata/controller-api.ts WireView)', schema: { type: 'object' } } },
      handler: async (_req, reply) => {
        await reply.type('application/json').send(controller.view.json);
        return reply;
      },
    },
    {
      method: 'GET',
      url: '/v1/brokers',
      operationId: 'listBrokers',
      summary: 'Every registered broker, alive or dead, with what it holds',
      tag: 'brokers',
      responses: { 200: { description: 'the brokers', schema: { type: 'object', properties: { brokers: { type: 'array', items: brokerSchema } } } } },
      handler: async () => {
        await controller.readBarrier();
        return { brokers: controller.describeBrokers() };
      },
    },
    {
      method: 'GET',
      url: '/v1/brokers/:id',
      operationId: 'getBroker',
      summary: 'One broker',
      tag: 'brokers',
      params: brokerParams,
      responses: { 200: { description: 'the broker', schema: brokerSchema } },
      handler: async (req) => {
        await controller.readBarrier();
        return brokerOf(intParam(paramsOf(req)['id'], 'id'));
      },
    },
    {
      method: 'POST',
      url: '/v1/brokers/:id/drain',
      operationId: 'drainBroker',
      summary: 'Mark a broker draining (it gets nothing new) and move everything it owns or replicates to other brokers (shared-storage: by hand-over)',
      tag: 'brokers',
      params: brokerParams,
      responses: {
        200: {
          description: 'the moves made',
          schema: { type: 'object', properties: { broker: { type: 'integer' }, moves: { type: 'array', items: moveSchema } } },
        },
      },
      handler: (req) => controller.drain(intParam(paramsOf(req)['id'], 'id')),
    },
    {
      method: 'POST',
      url: '/v1/brokers/:id/undrain',
      operationId: 'undrainBroker',
      summary: 'Let a drained broker take partitions again (they come to it by rebalance or failover)',
      tag: 'brokers',
      params: brokerParams,
      responses: { 200: { description: 'the broker', schema: brokerSchema } },
      handler: async (req) => {
        const id = intParam(paramsOf(req)['id'], 'id');
        await controller.undrain(id);
        return brokerOf(id);
      },
    },
    {
      method: 'DELETE',
      url: '/v1/brokers/:id',
      operationId: 'removeBroker',
      summary: 'Forget a dead broker that holds no partitions (drain it first)',
      tag: 'brokers',
      params: brokerParams,
      responses: { 200: { description: 'removed', schema: { type: 'object', properties: { removed: { type: 'integer' } } } } },
      handler: async (req) => {
        const id = intParam(paramsOf(req)['id'], 'id');
        await controller.removeBroker(id);
        return { removed: id };
      },
    },
    {
      method: 'POST',
      url: '/v1/rebalance',
      operationId: 'rebalance',
      summary: 'Even out partitions over live, non-draining brokers (per topic first, then over the cluster); brokers added at runtime get their share this way (shared-storage: by hand-over)',
      tag: 'operations',
      body: { type: 'object', additionalProperties: false, properties: { dryRun: { type: 'boolean', description: 'plan only' } } },
      bodyOptional: true,
      responses: { 200: { description: 'the moves (made, or planned with dryRun)', schema: { type: 'object', properties: { moves: { type: 'array', items: moveSchema } } } } },
      handler: (req) => {
        const body: unknown = req.body;
        let dryRun = false;
        if (body !== undefined && body !== null) {
          if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError('INVALID_REQUEST', 'body must be an object');
          for (const [k, v] of Object.entries(body)) {
            if (k !== 'dryRun') throw new ApiError('INVALID_REQUEST', `body must NOT have additional property ${k}`);
            if (typeof v !== 'boolean') throw new ApiError('INVALID_REQUEST', 'body/dryRun must be boolean');
            dryRun = v;
          }
        }
        return controller.rebalance(dryRun);
      },
    },
    {
      method: 'GET',
      url: '/v1/topics',
      operationId: 'listTopics',
      summary: 'Every topic, with its partition count and replication factor',
      tag: 'topics',
      responses: {
        200: {
          description: 'the topics',
          schema: {
            type: 'object',
            properties: {
              topics: {
                type: 'array',
                items: { type: 'object', properties: { name: { type: 'string' }, id: { type: 'string' }, internal: { type: 'boolean' }, partitions: { type: 'integer' }, replicationFactor: { type: 'integer' } } },
              },
            },
          },
        },
      },
      handler: async () => {
        await controller.readBarrier();
        const topics = [...controller.metadata.topics.values()]
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((t) => ({ name: t.name, id: t.id, internal: t.internal, partitions: t.partitions.length, replicationFactor: t.partitions[0]?.replicas.length ?? 0 }));
        return { topics };
      },
    },
    {
      method: 'POST',
      url: '/v1/topics',
      operationId: 'createTopic',
      summary: 'Create a topic; partitions are placed evenly over live brokers (and zones)',
      tag: 'topics',
      body: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: { type: 'string' },
          partitions: { type: 'integer', description: 'default: the controller\'s --default-partitions' },
          replicationFactor: { type: 'integer', description: 'shared-nothing only (shared-storage has one owner per partition); default: --default-replication-factor' },
          config: { ...configMap, description: 'topic configs by Kafka name' },
        },
      },
      responses: { 201: { description: 'the created topic', schema: topicSchema } },
      handler: async (req, reply) => {
        const body = req.body as { name: string; partitions?: number; replicationFactor?: number; config?: Record<string, string> };
        const { results } = await controller.createTopics(
          [{ name: body.name, numPartitions: body.partitions ?? -1, replicationFactor: body.replicationFactor ?? -1, config: body.config ?? {} }],
          false,
        );
        raiseTopicResult(firstResult(results));
        reply.code(201);
        return describeTopic(topicOf(body.name));
      },
    },
    {
      method: 'GET',
      url: '/v1/topics/:name',
      operationId: 'describeTopic',
      summary: 'A topic with its config overrides and every partition (owner/leader, epochs, replicas, ISR)',
      tag: 'topics',
      params: topicParams,
      responses: { 200: { description: 'the topic', schema: topicSchema } },
      handler: async (req) => {
        await controller.readBarrier();
        return describeTopic(topicOf(paramsOf(req)['name'] ?? ''));
      },
    },
    {
      method: 'DELETE',
      url: '/v1/topics/:name',
      operationId: 'deleteTopic',
      summary: 'Delete a topic',
      tag: 'topics',
      params: topicParams,
      responses: { 200: { description: 'deleted', schema: { type: 'object', properties: { deleted: { type: 'string' } } } } },
      handler: async (req) => {
        const name = paramsOf(req)['name'] ?? '';
        const { results } = await controller.deleteTopics([name]);
        raiseTopicResult(firstResult(results));
        return { deleted: name };
      },
    },
    {
      method: 'GET',
      url: '/v1/topics/:name/config',
      operationId: 'getTopicConfig',
      summary: 'A topic\'s overrides and the value in force of every topic config, with its source',
      tag: 'topics',
      params: topicParams,
      responses: {
        200: {
          description: 'the config',
          schema: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              overrides: configMap,
              effective: {
                type: 'object',
                additionalProperties: { type: 'object', properties: { value: { type: 'string' }, source: { type: 'string', enum: ['topic', 'default'] } } },
              },
            },
          },
        },
      },
      handler: async (req) => {
        await controller.readBarrier();
        const t = topicOf(paramsOf(req)['name'] ?? '');
        const effective: Record<string, { value: string; source: 'topic' | 'default' }> = {};
        for (const name of Object.keys(TOPIC_CONFIGS).sort()) {
          effective[name] = { value: topicConfigValue(name, t.config), source: name in t.config ? 'topic' : 'default' };
        }
        return { name: t.name, overrides: t.config, effective };
      },
    },
    {
      method: 'PUT',
      url: '/v1/topics/:name/config',
      operationId: 'replaceTopicConfig',
      summary: 'Replace all of a topic\'s overrides (Kafka AlterConfigs semantics)',
      tag: 'topics',
      params: topicParams,
      body: { type: 'object', required: ['config'], additionalProperties: false, properties: { config: configMap } },
      responses: { 200: { description: 'the topic', schema: topicSchema } },
      handler: async (req) => {
        const name = paramsOf(req)['name'] ?? '';
        const { config } = req.body as { config: Record<string, string> };
        const { result } = await controller.alterTopicConfig(name, config, false);
        raiseTopicResult(result);
        return describeTopic(topicOf(name));
      },
    },
    {
      method: 'PATCH',
      url: '/v1/topics/:name/config',
      operationId: 'updateTopicConfig',
      summary: 'Set some of a topic\'s overrides; a null value removes an override',
      tag: 'topics',
      params: topicParams,
      body: { type: 'object', required: ['config'], additionalProperties: false, properties: { config: { type: 'object', additionalProperties: { type: ['string', 'null'] } } } },
      responses: { 200: { description: 'the topic', schema: topicSchema } },
      handler: async (req) => {
        const name = paramsOf(req)['name'] ?? '';
        const { config } = req.body as { config: Record<string, string | null> };
        const merged: Record<string, string> = { ...topicOf(name).config };
        for (const [k, v] of Object.entries(config)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        const { result } = await controller.alterTopicConfig(name, merged, false);
        raiseTopicResult(result);
        return describeTopic(topicOf(name));
      },
    },
    {
      method: 'GET',
      url: '/v1/topics/:name/partitions',
      operationId: 'listTopicPartitions',
      summary: 'A topic\'s partitions with owner/leader and epochs',
      tag: 'partitions',
      params: topicParams,
      responses: { 200: { description: 'the partitions', schema: { type: 'object', properties: { partitions: { type: 'array', items: partitionSchema } } } } },
      handler: async (req) => {
        await controller.readBarrier();
        return { partitions: topicOf(paramsOf(req)['name'] ?? '').partitions.map(describePartition) };
      },
    },
    {
      method: 'POST',
      url: '/v1/topics/:name/partitions',
      operationId: 'addPartitions',
      summary: 'Raise a topic\'s partition count (Kafka CreatePartitions)',
      tag: 'partitions',
      params: topicParams,
      body: { type: 'object', required: ['count'], additionalProperties: false, properties: { count: { type: 'integer', description: 'the new total' } } },
      responses: { 200: { description: 'the topic', schema: topicSchema } },
      handler: async (req) => {
        const name = paramsOf(req)['name'] ?? '';
        const { count } = req.body as { count: number };
        const { results } = await controller.createPartitions([{ name, count }], false);
        raiseTopicResult(firstResult(results));
        return describeTopic(topicOf(name));
      },
    },
    {
      method: 'GET',
      url: '/v1/topics/:name/partitions/:partition',
      operationId: 'getPartition',
      summary: 'One partition; in shared-storage mode with its object index summary',
      tag: 'partitions',
      params: partitionParams,
      responses: { 200: { description: 'the partition', schema: { ...partitionSchema, properties: { ...(partitionSchema['properties'] as object), objects: objectsSummarySchema } } } },
      handler: async (req) => {
        await controller.readBarrier();
        const params = paramsOf(req);
        const t = topicOf(params['name'] ?? '');
        const index = intParam(params['partition'], 'partition');
        const p = t.partitions[index];
        if (!p) throw new ApiError('UNKNOWN_PARTITION', `topic ${t.name} has ${t.partitions.length} partitions; there is no partition ${index}`);
        const objects = controller.mode === 'shared-storage' ? controller.partitionObjectsSummary(t.name, index) : null;
        return { ...describePartition(p), ...(objects ? { objects } : {}) };
      },
    },
    {
      method: 'POST',
      url: '/v1/topics/:name/partitions/:partition/reassign',
      operationId: 'reassignPartition',
      summary:
        'Move one partition: shared-storage takes {"owner": id} and starts a hand-over (the answer shows handoverTo; ownership moves, with the epoch bumped, once the owner has committed what it holds and released it; abandoned after the hand-over timeout); shared-nothing takes {"replicas": [ids]}. Bumps the leader epoch when the leader changes',
      tag: 'partitions',
      params: partitionParams,
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: { owner: { type: 'integer' }, replicas: brokerIds },
      },
      responses: { 200: { description: 'the partition after the move', schema: partitionSchema } },
      handler: async (req) => {
        const params = paramsOf(req);
        const body = req.body as { owner?: number; replicas?: number[] };
        const p = await controller.reassign(params['name'] ?? '', intParam(params['partition'], 'partition'), body);
        return describePartition(p);
      },
    },
    {
      method: 'GET',
      url: '/v1/objects/stats',
      operationId: 'getObjectStats',
      summary: 'shared-storage: objects the index refers to and their bytes, garbage awaiting deletion, objects deleted since start, the last orphan scan',
      tag: 'objects',
      responses: {
        200: {
          description: 'the statistics',
          schema: {
            type: 'object',
            properties: {
              objectStore: { type: 'boolean', description: 'whether the controller has an object store (without one nothing is deleted)' },
              prefix: { type: 'string', description: 'only keys under it are committed and collected' },
              graceMs: { type: 'integer', description: 'how long an unreferenced or uncommitted object is kept' },
              objects: { type: 'integer', description: 'objects at least one partition refers to' },
              bytes: { type: 'integer', description: 'bytes of those objects' },
              ranges: { type: 'integer', description: 'ranges in all partitions\' indexes' },
              partitionsWithData: { type: 'integer' },
              garbagePending: {
                type: 'object',
                properties: { objects: { type: 'integer' }, bytes: { type: 'integer' }, oldestSinceMs: { type: ['integer', 'null'], description: 'when the oldest lost its last reference (ms since the epoch)' } },
              },
              deleted: { type: 'object', description: 'since this controller process started', properties: { garbage: { type: 'integer' }, orphans: { type: 'integer' } } },
              lastOrphanScan: { type: ['object', 'null'], properties: { atMs: { type: 'integer' }, deleted: { type: 'integer' }, bytes: { type: 'integer' } } },
            },
          },
        },
      },
      handler: async () => {
        await controller.readBarrier();
        return controller.objectStats();
      },
    },
    {
      method: 'GET',
      url: '/v1/partitions',
      operationId: 'listPartitions',
      summary: 'Every partition of every topic with owner/leader and epochs; ?broker=N keeps those it leads or replicates',
      tag: 'partitions',
      querystring: { type: 'object', additionalProperties: false, properties: { broker: { type: 'string', pattern: NON_NEGATIVE_INT } } },
      responses: {
        200: {
          description: 'the partitions',
          schema: { type: 'object', properties: { partitions: { type: 'array', items: { ...partitionSchema, properties: { topic: { type: 'string' }, ...(partitionSchema['properties'] as object) } } } } },
        },
      },
      handler: async (req) => {
        await controller.readBarrier();
        const q = queryOf(req)['broker'];
        const broker = q === undefined ? undefined : intParam(q, 'broker');
        const out: Record<string, unknown>[] = [];
        for (const t of [...controller.metadata.topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
          for (const p of t.partitions) {
            if (broker !== undefined && p.leader !== broker && !p.replicas.includes(broker)) continue;
            out.push({ topic: t.name, ...describePartition(p) });
          }
        }
        return { partitions: out };
      },
    },
  ];
}
