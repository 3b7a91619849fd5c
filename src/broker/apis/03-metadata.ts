// Metadata (3), v0–9: brokers, controller, topics and partition owners, from the
// broker's metadata view. Requested topics that do not exist are auto-created when both
// the request (v4+: allow_auto_topic_creation; always before v4) and the broker allow it,
// and the created topic is answered in the same response.
import type { ResponseOf } from '../../protocol/api.ts';
import { ErrorCode } from '../../protocol/errors.ts';
import { Metadata } from '../../protocol/messages/03-metadata.ts';
import type { ClusterView, TopicInfo } from '../../metadata/cluster-view.ts';
import { topicNameProblem } from '../../metadata/cluster-view.ts';
import type { Broker } from '../broker.ts';
import { BrokerLimits } from '../limits.ts';
import { defineHandler } from '../registry.ts';

type TopicResponse = ResponseOf<typeof Metadata>['topics'][number];

function describeTopic(broker: Broker, t: TopicInfo): TopicResponse {
  return {
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: Buffer.from(t.id, 'hex'),
    isInternal: t.internal,
    partitions: t.partitions.map((p) => ({
      errorCode: p.leader < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : ErrorCode.NONE,
      partitionIndex: p.index,
      leaderId: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicaNodes: p.replicas,
      isrNodes: broker.inSyncReplicas(p.leader, p.isr),
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: -2147483648,
  };
}

function missingTopic(name: string, errorCode: number): TopicResponse {
  return { errorCode, name, topicId: Buffer.alloc(16), isInternal: false, partitions: [], topicAuthorizedOperations: -2147483648 };
}

export const metadataHandler = defineHandler({
  api: Metadata,
  minVersion: 0,
  maxVersion: 9,
  async handle(ctx, req, version) {
    const broker = ctx.broker;
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    const all = req.topics === null || (version === 0 && req.topics.length === 0);
    let view: ClusterView = broker.view;
    let topics: TopicResponse[];
    if (all) {
      topics = [...view.topics.values()].map((t) => describeTopic(broker, t));
    } else {
      const names = [...new Set((req.topics ?? []).map((t) => t.name))];
      const allowCreate = broker.config.autoCreateTopics && (version < 4 || req.allowAutoTopicCreation);
      const toCreate = names.filter((n) => !view.topics.has(n) && topicNameProblem(n, BrokerLimits.topicNameLengthMax) === null);
      if (allowCreate && toCreate.length > 0) {
        await broker.metadata.createTopics(
          toCreate.map((name) => ({
            name,
            numPartitions: broker.config.defaultPartitions,
            replicationFactor: broker.config.defaultReplicationFactor,
            config: {},
          })),
          false,
        );
        await broker.settled();
        view = broker.view;
      }
      topics = names.map((name) => {
        const t = view.topics.get(name);
        if (t) return describeTopic(broker, t);
        if (topicNameProblem(name, BrokerLimits.topicNameLengthMax) !== null) return missingTopic(name, ErrorCode.INVALID_TOPIC_EXCEPTION);
        return missingTopic(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      });
    }
    return {
      throttleTimeMs: 0,
      brokers: view.brokers.map((b) => ({ nodeId: b.id, host: b.host, port: b.port, rack: b.rack })),
      clusterId: view.clusterId,
      controllerId: view.controllerId,
      topics,
      clusterAuthorizedOperations: -2147483648,
    };
  },
});
