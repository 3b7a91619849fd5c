/**
 * The object-store seam: what floe needs from S3-compatible storage, and nothing more.
 * Implementations: S3ObjectStore (s3-object-store.ts, real S3 over HTTP with retries),
 * MemoryObjectStore (memory-object-store.ts, for unit tests), and the decorators
 * FaultyObjectStore (fault injection), RetryingObjectStore and MeteredObjectStore.
 *
 * Contract:
 * * Keys are immutable: a key is PUT once and never overwritten. S3-compatible servers
 *   differ in what a reader sees while a key is being rewritten (s3rver even shows a
 *   partly written object), and conditional PUTs cannot be relied on, so callers choose
 *   fresh keys and read only objects that their metadata says are complete.
 * * Ranges are inclusive on both ends, as HTTP's `bytes=start-end` is, and always
 *   explicit: suffix ranges (`bytes=-N`) are not offered because s3rver answers them
 *   wrongly. A ranged `get` returns exactly `endInclusive - start + 1` bytes or fails
 *   with FLOE_ERR_OBJECT_RANGE (the object is shorter than the range).
 * * Returned buffers belong to the caller; a store never mutates them afterwards.
 *   Buffers given to `put` must not be mutated until the returned promise settles.
 * * Every failure is an ObjectStoreError with a stable code; see objectStoreErrorCodes.
 */

export interface ByteRange {
  /** First byte, counted from 0. */
  start: number;
  /** Last byte, inclusive (HTTP's convention). */
  endInclusive: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /**
   * When the store last wrote the object (ms since the epoch), as the store reports it.
   * Orphan collection uses it to leave alone objects whose upload may still be on its way
   * to being committed.
   */
  lastModifiedMs: number;
}

export interface ListOptions {
  /** Keys per LIST request (S3 caps it at 1000). */
  pageSize?: number;
}

export interface ObjectStore {
  /** Stores `body` (one buffer or a list written in order, never concatenated here) under a fresh `key`. */
  put(key: string, body: Buffer | readonly Buffer[]): Promise<void>;
  /** Reads the whole object, or exactly the bytes of `range`. Fails with FLOE_ERR_OBJECT_NOT_FOUND when absent. */
  get(key: string, range?: ByteRange): Promise<Buffer>;
  /** The object's size, or null when there is no such key. */
  head(key: string): Promise<{ size: number } | null>;
  /** Deletes the keys; deleting an absent key is not an error (deletion is idempotent). */
  delete(keys: readonly string[]): Promise<void>;
  /** Every key that starts with `prefix`, in ascending key order, fetched page by page. */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
}

export type ObjectStoreOp = 'put' | 'get' | 'head' | 'delete' | 'list';

/**
 * The stable error codes of the object store and what each one means to a caller.
 * `retriable` says whether trying the same request again may succeed; the retry layer
 * turns a retriable failure that outlives its bound into FLOE_ERR_OBJECTSTORE_UNAVAILABLE.
 */
export const objectStoreErrorCodes = {
  /** The key does not exist (HTTP 404 NoSuchKey). */
  notFound: 'FLOE_ERR_OBJECT_NOT_FOUND',
  /** The store could not be reached or kept failing (5xx, SlowDown, throttling, timeouts, refused connections), after retries when there are any. */
  unavailable: 'FLOE_ERR_OBJECTSTORE_UNAVAILABLE',
  /** The bytes read fail a checksum or do not parse as a floe object: never served. */
  corrupt: 'FLOE_ERR_OBJECT_CORRUPT',
  /** The range asked for does not lie within the object (HTTP 416, or a short answer). */
  range: 'FLOE_ERR_OBJECT_RANGE',
  /** The store refused the request for a reason retrying cannot fix (4xx: credentials, missing bucket, bad request). */
  rejected: 'FLOE_ERR_OBJECTSTORE_REJECTED',
  /** A PUT to a key that already exists, where the store can tell (keys are never overwritten). */
  exists: 'FLOE_ERR_OBJECT_EXISTS',
} as const;

export type ObjectStoreErrorCode = (typeof objectStoreErrorCodes)[keyof typeof objectStoreErrorCodes];

export interface ObjectStoreErrorOptions {
  cause?: unknown;
  /** Whether the same request may succeed if tried again; defaults by code (only unavailable is). */
  retriable?: boolean;
  /** HTTP status of the failed answer, when there was one. */
  httpStatus?: number;
  /** Requests made before giving up, when retries were involved. */
  attempts?: number;
}

export class ObjectStoreError extends Error {
  readonly retriable: boolean;
  readonly httpStatus: number | undefined;
  readonly attempts: number | undefined;
  constructor(
    readonly code: ObjectStoreErrorCode,
    message: string,
    options: ObjectStoreErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ObjectStoreError';
    this.retriable = options.retriable ?? code === objectStoreErrorCodes.unavailable;
    this.httpStatus = options.httpStatus;
    this.attempts = options.attempts;
  }
}

export function isObjectStoreError(err: unknown, code?: ObjectStoreErrorCode): err is ObjectStoreError {
  return err instanceof ObjectStoreError && (code === undefined || err.code === code);
}

/** The short label of an error code, as metrics use it in their `outcome` label. */
export function outcomeOf(err: unknown): string {
  if (!(err instanceof ObjectStoreError)) return 'error';
  switch (err.code) {
    case objectStoreErrorCodes.notFound:
      return 'not_found';
    case objectStoreErrorCodes.unavailable:
      return 'unavailable';
    case objectStoreErrorCodes.corrupt:
      return 'corrupt';
    case objectStoreErrorCodes.range:
      return 'range';
    case objectStoreErrorCodes.rejected:
      return 'rejected';
    case objectStoreErrorCodes.exists:
      return 'exists';
    default: {
      const never: never = err.code;
      return never;
    }
  }
}

/** Total length of a PUT body given as one buffer or a list of them. */
export function bodyLength(body: Buffer | readonly Buffer[]): number {
  if (Buffer.isBuffer(body)) return body.length;
  let n = 0;
  for (const b of body) n += b.length;
  return n;
}

/** Programmer errors (a malformed range) are assertions, not operating errors. */
export function assertValidRange(range: ByteRange): void {
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.endInclusive) || range.start < 0 || range.endInclusive < range.start) {
    throw new RangeError(`invalid byte range ${range.start}-${range.endInclusive}`);
  }
}

/** Length of an inclusive range. */
export function rangeLength(range: ByteRange): number {
  return range.endInclusive - range.start + 1;
}
