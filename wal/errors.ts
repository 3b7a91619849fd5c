/**
 * The WAL's operating errors: one class per failure a caller can act on, each with a
 * stable `code` (documented here) and the underlying `cause`. Programmer errors (a bad
 * argument) are WalInvalidArgumentError and are thrown synchronously.
 *
 * | code                              | meaning                                                              |
 * |-----------------------------------|----------------------------------------------------------------------|
 * | FLOE_ERR_WAL_QUORUM_UNAVAILABLE   | fewer than the ack quorum (or fence quorum) of nodes are reachable   |
 * | FLOE_ERR_WAL_FENCED               | a node holds a newer epoch for the log: this writer is superseded    |
 * | FLOE_ERR_WAL_DISK_FULL            | the node's disk-usage limit (or the disk) is full                    |
 * | FLOE_ERR_WAL_STORAGE              | a write or fdatasync failed; the node stops taking writes            |
 * | FLOE_ERR_WAL_CORRUPT              | stored bytes fail their CRC, or a node's answers contradict another's |
 * | FLOE_ERR_WAL_PROTOCOL             | a malformed frame, or a request the node refused as malformed        |
 * | FLOE_ERR_WAL_CLOSED               | the client or node was closed                                        |
 * | FLOE_ERR_WAL_BACKPRESSURE         | too many entries or bytes in flight; append again once some settle  |
 * | FLOE_ERR_WAL_ENTRY_TOO_LARGE      | an entry is larger than entryBytesMax                                |
 * | FLOE_ERR_WAL_UNREACHABLE          | one node could not be reached or stopped answering                   |
 * | FLOE_ERR_WAL_INVALID_ARGUMENT     | a caller passed an argument outside its contract                     |
 */

export const WalErrorCode = {
  QUORUM_UNAVAILABLE: 'FLOE_ERR_WAL_QUORUM_UNAVAILABLE',
  FENCED: 'FLOE_ERR_WAL_FENCED',
  DISK_FULL: 'FLOE_ERR_WAL_DISK_FULL',
  STORAGE: 'FLOE_ERR_WAL_STORAGE',
  CORRUPT: 'FLOE_ERR_WAL_CORRUPT',
  PROTOCOL: 'FLOE_ERR_WAL_PROTOCOL',
  CLOSED: 'FLOE_ERR_WAL_CLOSED',
  BACKPRESSURE: 'FLOE_ERR_WAL_BACKPRESSURE',
  ENTRY_TOO_LARGE: 'FLOE_ERR_WAL_ENTRY_TOO_LARGE',
  UNREACHABLE: 'FLOE_ERR_WAL_UNREACHABLE',
  INVALID_ARGUMENT: 'FLOE_ERR_WAL_INVALID_ARGUMENT',
} as const;
export type WalErrorCode = (typeof WalErrorCode)[keyof typeof WalErrorCode];

export abstract class WalError extends Error {
  abstract readonly code: WalErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class WalQuorumUnavailableError extends WalError {
  readonly code = WalErrorCode.QUORUM_UNAVAILABLE;
  constructor(
    message: string,
    readonly reachable: number,
    readonly required: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class WalFencedError extends WalError {
  readonly code = WalErrorCode.FENCED;
  constructor(
    message: string,
    /** The epoch the node holds for the log (newer than, or equal to, the refused one). */
    readonly fenceEpoch: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class WalDiskFullError extends WalError {
  readonly code = WalErrorCode.DISK_FULL;
}

export class WalStorageError extends WalError {
  readonly code = WalErrorCode.STORAGE;
}

export class WalCorruptError extends WalError {
  readonly code = WalErrorCode.CORRUPT;
}

export class WalProtocolError extends WalError {
  readonly code = WalErrorCode.PROTOCOL;
}

export class WalClosedError extends WalError {
  readonly code = WalErrorCode.CLOSED;
}

export class WalBackpressureError extends WalError {
  readonly code = WalErrorCode.BACKPRESSURE;
}

export class WalEntryTooLargeError extends WalError {
  readonly code = WalErrorCode.ENTRY_TOO_LARGE;
}

export class WalUnreachableError extends WalError {
  readonly code = WalErrorCode.UNREACHABLE;
}

export class WalInvalidArgumentError extends WalError {
  readonly code = WalErrorCode.INVALID_ARGUMENT;
}

/** Wraps anything thrown into an Error (for `cause` chains and rejections). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
