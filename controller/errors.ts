/**
 * The controller's errors. Two kinds:
 *  - operating failures (the metadata log cannot be written or read back, a bad start-up
 *    configuration): typed errors with a stable `code` and a `cause`;
 *  - refused requests (unknown topic, bad count, broker not alive...): ApiError, one
 *    registry of stable codes, each with its HTTP status, answered as
 *    `{ "error": { "code", "message" } }`. Nothing changes when a request is refused.
 */

export class MetadataLogCorruptError extends Error {
  readonly code = 'FLOE_ERR_METADATA_LOG_CORRUPT';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataLogCorruptError';
  }
}

/** A write or fsync of the metadata log failed: the controller accepts no further change. */
export class MetadataLogWriteError extends Error {
  readonly code = 'FLOE_ERR_METADATA_LOG_WRITE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataLogWriteError';
  }
}

/** A violated invariant of the record stream: a bug or a corrupt log, never a user error. */
export class RecordApplyError extends Error {
  readonly code = 'FLOE_ERR_RECORD_APPLY';
  constructor(message: string) {
    super(message);
    this.name = 'RecordApplyError';
  }
}

export class ControllerConfigError extends Error {
  readonly code = 'FLOE_ERR_CONTROLLER_CONFIG';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ControllerConfigError';
  }
}

/** Every code a refused request can carry, with its HTTP status and meaning. */
export const ApiErrors = {
  NOT_FOUND: { status: 404, meaning: 'no route has this path' },
  METHOD_NOT_ALLOWED: { status: 405, meaning: 'the path exists but not with this method (see the Allow header)' },
  MALFORMED_JSON: { status: 400, meaning: 'the body is not valid JSON' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'the body is not application/json' },
  PAYLOAD_TOO_LARGE: { status: 413, meaning: 'the body is larger than the limit' },
  INVALID_REQUEST: { status: 400, meaning: 'the body, path or query does not match the schema of the route' },
  UNKNOWN_TOPIC: { status: 404, meaning: 'no topic has this name' },
  UNKNOWN_PARTITION: { status: 404, meaning: 'the topic has no partition with this index' },
  UNKNOWN_BROKER: { status: 404, meaning: 'no broker with this id ever registered (400 when named in a body)' },
  INVALID_TOPIC: { status: 400, meaning: 'the topic name is not a legal Kafka topic name' },
  TOPIC_ALREADY_EXISTS: { status: 409, meaning: 'a topic with this name exists' },
  INVALID_PARTITIONS: { status: 400, meaning: 'a partition count out of range, or not larger than the current one' },
  INVALID_REPLICATION_FACTOR: { status: 400, meaning: 'a replication factor out of range or larger than the eligible brokers' },
  INVALID_REPLICAS: { status: 400, meaning: 'a replica list with duplicates, the wrong length, or brokers that cannot take it' },
  INVALID_CONFIG: { status: 400, meaning: 'an unknown topic config name or a bad value' },
  BROKER_NOT_ALIVE: { status: 409, meaning: 'the broker named is not alive' },
  BROKER_DRAINING: { status: 409, meaning: 'the broker named is draining and takes no new partitions' },
  BROKER_ALIVE: { status: 409, meaning: 'a live broker cannot be removed; stop it first' },
  BROKER_HAS_PARTITIONS: { status: 409, meaning: 'the broker still holds replicas; drain it first' },
  NO_ELIGIBLE_BROKER: { status: 409, meaning: 'no other live, non-draining broker can take the partitions' },
  DUPLICATE_BROKER_REGISTRATION: { status: 409, meaning: 'another process with this broker id holds a live lease' },
  TOO_MANY_WAITERS: { status: 503, meaning: 'too many metadata long-polls are open; retry' },
  FAILOVER_IN_PROGRESS: { status: 503, meaning: 'the WAL of this broker id\'s previous process is being recovered; register again shortly' },
  CONTROLLER_FAILED: { status: 503, meaning: 'the metadata log could not be written; the controller must restart' },
  INTERNAL: { status: 500, meaning: 'a bug: the controller failed to handle the request' },
} as const;
export type ApiErrorCode = keyof typeof ApiErrors;

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options?: { status?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.statusCode = options?.status ?? ApiErrors[code].status;
  }
}
