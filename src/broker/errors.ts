/**
 * The one place where operating failures become Kafka error codes. Handlers report
 * Kafka errors as data; anything thrown by storage, the WAL or the metadata store is
 * converted here so that every API answers the same failure with the same code.
 */
import { ErrorCode, KafkaError, type ErrorCode as ErrorCodeT } from '../protocol/errors.ts';
import { OffsetOutOfRangeError, StorageError } from '../storage/partition-log.ts';
import { ControllerUnavailableError } from '../metadata/controller-store.ts';
import { InvalidConfigError } from './topic-config.ts';

export class RequestTimeoutError extends Error {
  readonly code = 'FLOE_ERR_REQUEST_TIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'RequestTimeoutError';
  }
}

export function kafkaCodeOf(err: unknown): ErrorCodeT {
  if (err instanceof KafkaError) return err.errorCode;
  if (err instanceof OffsetOutOfRangeError) return ErrorCode.OFFSET_OUT_OF_RANGE;
  if (err instanceof RequestTimeoutError) return ErrorCode.REQUEST_TIMED_OUT;
  if (err instanceof InvalidConfigError) return ErrorCode.INVALID_CONFIG;
  // The controller is restarting or unreachable: a retriable timeout, as Kafka answers
  // when its controller does not respond in time.
  if (err instanceof ControllerUnavailableError) return ErrorCode.REQUEST_TIMED_OUT;
  if (err instanceof StorageError) {
    switch (err.code) {
      // The partition moved (closed here) or another writer fenced this broker: the
      // client refreshes its metadata and finds the new owner.
      case 'FLOE_ERR_STORAGE_CLOSED':
      case 'FLOE_ERR_STORAGE_FENCED':
        return ErrorCode.NOT_LEADER_OR_FOLLOWER;
      // Appended, but too few replicas (WAL nodes) acknowledged it: Kafka's answer when
      // the ISR shrinks below min.insync.replicas after the append. Retriable.
      case 'FLOE_ERR_STORAGE_UNAVAILABLE':
        return ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND;
      case 'FLOE_ERR_STORAGE_FULL':
      case 'FLOE_ERR_STORAGE_IO':
      case 'FLOE_ERR_STORAGE_CORRUPT':
      case 'FLOE_ERR_STORAGE_BACKLOG':
        return ErrorCode.KAFKA_STORAGE_ERROR;
    }
  }
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
