/**
 * What the shared-storage engine needs from the controller: the object index of a
 * partition, and commits to it fenced by the owner's leader epoch. The broker's
 * ControllerMetadataStore implements it over HTTP; the controller implements it in
 * process for its own recoveries.
 */
import type {
  AdvanceLogStartRequest,
  CommitObjectRequest,
  PartitionObjectsResponse,
  ReplaceObjectsRequest,
  SharedStorageResponse,
} from '../../metadata/controller-api.ts';

export interface ObjectIndexClient {
  commitObject(req: CommitObjectRequest): Promise<SharedStorageResponse>;
  replaceObjects(req: ReplaceObjectsRequest): Promise<SharedStorageResponse>;
  partitionObjects(topic: string, partition: number): Promise<PartitionObjectsResponse>;
  advanceLogStart(req: AdvanceLogStartRequest): Promise<SharedStorageResponse>;
}
