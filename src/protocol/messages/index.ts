/**
 * Every Kafka API floe's codec implements, one file per API key (the listing of this
 * folder is the API table). ApiVersions and the broker's router read ALL_APIS.
 */
import type { ApiSpec } from '../api.ts';
import { Produce } from './00-produce.ts';
import { Fetch } from './01-fetch.ts';
import { ListOffsets } from './02-list-offsets.ts';
import { Metadata } from './03-metadata.ts';
import { OffsetCommit } from './08-offset-commit.ts';
import { OffsetFetch } from './09-offset-fetch.ts';
import { FindCoordinator } from './10-find-coordinator.ts';
import { JoinGroup } from './11-join-group.ts';
import { Heartbeat } from './12-heartbeat.ts';
import { LeaveGroup } from './13-leave-group.ts';
import { SyncGroup } from './14-sync-group.ts';
import { DescribeGroups } from './15-describe-groups.ts';
import { ListGroups } from './16-list-groups.ts';
import { ApiVersions } from './18-api-versions.ts';
import { CreateTopics } from './19-create-topics.ts';
import { DeleteTopics } from './20-delete-topics.ts';
import { DeleteRecords } from './21-delete-records.ts';
import { InitProducerId } from './22-init-producer-id.ts';
import { DescribeConfigs } from './32-describe-configs.ts';
import { AlterConfigs } from './33-alter-configs.ts';
import { CreatePartitions } from './37-create-partitions.ts';
import { DeleteGroups } from './42-delete-groups.ts';

export {
  AlterConfigs,
  ApiVersions,
  CreatePartitions,
  CreateTopics,
  DeleteGroups,
  DeleteRecords,
  DeleteTopics,
  DescribeConfigs,
  DescribeGroups,
  Fetch,
  FindCoordinator,
  Heartbeat,
  InitProducerId,
  JoinGroup,
  LeaveGroup,
  ListGroups,
  ListOffsets,
  Metadata,
  OffsetCommit,
  OffsetFetch,
  Produce,
  SyncGroup,
};

/** Every implemented API, ordered by key. */
export const ALL_APIS: readonly ApiSpec[] = [
  Produce,
  Fetch,
  ListOffsets,
  Metadata,
  OffsetCommit,
  OffsetFetch,
  FindCoordinator,
  JoinGroup,
  Heartbeat,
  LeaveGroup,
  SyncGroup,
  DescribeGroups,
  ListGroups,
  ApiVersions,
  CreateTopics,
  DeleteTopics,
  DeleteRecords,
  InitProducerId,
  DescribeConfigs,
  AlterConfigs,
  CreatePartitions,
  DeleteGroups,
];

/** The implemented APIs by key (the router's lookup). */
export const API_BY_KEY: ReadonlyMap<number, ApiSpec> = new Map(ALL_APIS.map((api) => [api.key, api]));
