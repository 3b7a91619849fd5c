// Metadata (key 3), versions 0–9 (10+ carry topic ids, which floe does not issue).
// Request: topics (null = all from v1; empty = all in v0) auto_create(v4+).
// Response: brokers cluster_id(v2+) controller_id(v1+) topics with partitions.
import { defineApi } from '../api.ts';
import { array, bool, f, int16, int32, nullableArray, nullableString, string, struct, uuid } from '../schema.ts';

export const Metadata = defineApi({
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 9,
  flexibleFrom: 9,
  request: struct({
    topics: f(nullableArray(struct({ topicId: f(uuid, { since: 10 }), name: f(string) }), 1)),
    allowAutoTopicCreation: f(bool, { since: 4, default: true }),
    includeClusterAuthorizedOperations: f(bool, { since: 8, until: 10 }),
    includeTopicAuthorizedOperations: f(bool, { since: 8 }),
  }),
  response: struct({
    throttleTimeMs: f(int32, { since: 3 }),
    brokers: f(
      array(
        struct({
          nodeId: f(int32),
          host: f(string),
          port: f(int32),
          rack: f(nullableString, { since: 1 }),
        }),
      ),
    ),
    clusterId: f(nullableString, { since: 2 }),
    controllerId: f(int32, { since: 1, default: -1 }),
    topics: f(
      array(
        struct({
          errorCode: f(int16),
          name: f(string),
          topicId: f(uuid, { since: 10 }),
          isInternal: f(bool, { since: 1 }),
          partitions: f(
            array(
              struct({
                errorCode: f(int16),
                partitionIndex: f(int32),
                leaderId: f(int32),
                leaderEpoch: f(int32, { since: 7, default: -1 }),
                replicaNodes: f(array(int32)),
                isrNodes: f(array(int32)),
                offlineReplicas: f(array(int32), { since: 5 }),
              }),
            ),
          ),
          topicAuthorizedOperations: f(int32, { since: 8, default: -2147483648 }),
        }),
      ),
    ),
    clusterAuthorizedOperations: f(int32, { since: 8, until: 10, default: -2147483648 }),
  }),
});
