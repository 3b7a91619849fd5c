/**
 * The ObjectStore on S3 and S3-compatible servers (AWS S3, MinIO, the embedded s3rver)
 * through @aws-sdk/client-s3.
 *
 * What it does about the traps of the field (see shared/ENVIRONMENT.md):
 * * The SDK's own retries are off (maxAttempts 1); retry.ts retries instead, so that the
 *   bound, the backoff and the metrics are ours and every attempt is counted.
 * * Checksum calculation and validation are WHEN_REQUIRED: with the SDK defaults a
 *   streamed body is sent aws-chunked with a trailer that s3rver stores inside the
 *   object. Integrity does not suffer: PUT bodies carry an explicit
 *   x-amz-checksum-crc32c header (which S3 and MinIO verify), and floe's object format
 *   checks a CRC-32C per section on every read.
 * * Bodies are streamed from the caller's list of buffers (never concatenated), with
 *   Content-Length set, which also spares the SHA-256 of the payload (UNSIGNED-PAYLOAD).
 * * Ranges are always explicit `bytes=start-end`; a short answer is an error, never data.
 * * Path-style addressing is configurable and on by default for custom endpoints.
 * * Keys are never overwritten (the caller's contract); conditional PUTs are not used
 *   because s3rver ignores them.
 */
import { Readable, addAbortSignal } from 'node:stream';
import { crc32c } from '@node-rs/crc32';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { BucketLocationConstraint } from '@aws-sdk/client-s3';
import type { Registry } from 'prom-client';
import { systemClock } from '../src/common/clock.ts';
import type { Clock } from '../src/common/clock.ts';
import { assertValidRange, bodyLength, ObjectStoreError, objectStoreErrorCodes, outcomeOf, rangeLength } from './object-store.ts';
import type { ByteRange, ListOptions, ObjectInfo, ObjectStore, ObjectStoreOp } from './object-store.ts';
import { ObjectStoreMetrics } from './metrics.ts';
import { checkRetryPolicy, retryPolicyDefault, runWithRetries } from './retry.ts';
import type { RetryContext, RetryPolicy } from './retry.ts';

/** S3 deletes at most 1000 keys per DeleteObjects request. */
const deleteKeysPerRequestMax = 1000;
/** S3 returns at most 1000 keys per ListObjectsV2 page. */
const listPageSizeMax = 1000;
/**
 * One attempt may take this long (connect, send, answer, body) before it is aborted and
 * retried: an 8 MiB PUT takes ~0.1 s on s3rver and well under 2 s on S3, so 10 s means
 * stuck, not slow.
 */
const requestTimeoutMsDefault = 10_000;
const connectTimeoutMsDefault = 3_000;

/** The credentials the embedded s3rver accepts (anything else is refused with 403). */
export const embeddedS3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
/** s3rver only honours continuation tokens minted for this region. */
export const embeddedS3Region = 'us-east-1';

export interface S3ObjectStoreOptions {
  /** e.g. http://127.0.0.1:9000; absent for AWS S3 itself (the SDK derives it from the region). */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Absent: the SDK's default credential chain (AWS_* variables, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** http://host/bucket/key instead of http://bucket.host/key: needed by MinIO and s3rver. */
  forcePathStyle: boolean;
  /** Bound on one attempt (connect, send, answer, read the body), in ms. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Send x-amz-checksum-crc32c with each PUT so the server verifies the upload (default true). */
  putChecksum?: boolean;
  clock?: Clock;
  /** Jitter source; tests pass a seeded one. */
  random?: () => number;
  registry?: Registry;
}

/** Thrown when configuration (flags, environment) is unusable. */
export class ObjectStoreConfigError extends Error {
  readonly code = 'FLOE_ERR_OBJECTSTORE_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ObjectStoreConfigError';
  }
}

function parseBool(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new ObjectStoreConfigError(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

function parsePositiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ObjectStoreConfigError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Options from the environment:
 * FLOE_S3_ENDPOINT (absent: AWS), FLOE_S3_REGION (default us-east-1), FLOE_S3_BUCKET
 * (default floe), FLOE_S3_ACCESS_KEY_ID and FLOE_S3_SECRET_ACCESS_KEY (both or neither;
 * neither: the SDK's default chain), FLOE_S3_FORCE_PATH_STYLE (default true when an
 * endpoint is given, false otherwise), FLOE_S3_REQUEST_TIMEOUT_MS.
 */
export function s3OptionsFromEnv(env: NodeJS.ProcessEnv = process.env): S3ObjectStoreOptions {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const endpoint = get('FLOE_S3_ENDPOINT');
  const accessKeyId = get('FLOE_S3_ACCESS_KEY_ID');
  const secretAccessKey = get('FLOE_S3_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ObjectStoreConfigError('set both FLOE_S3_ACCESS_KEY_ID and FLOE_S3_SECRET_ACCESS_KEY, or neither');
  }
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
    throw new ObjectStoreConfigError(`FLOE_S3_ENDPOINT must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  }
  const pathStyle = get('FLOE_S3_FORCE_PATH_STYLE');
  const timeout = get('FLOE_S3_REQUEST_TIMEOUT_MS');
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    region: get('FLOE_S3_REGION') ?? 'us-east-1',
    bucket: get('FLOE_S3_BUCKET') ?? 'floe',
    ...(accessKeyId === undefined || secretAccessKey === undefined ? {} : { accessKeyId, secretAccessKey }),
    forcePathStyle: pathStyle === undefined ? endpoint !== undefined : parseBool('FLOE_S3_FORCE_PATH_STYLE', pathStyle),
    ...(timeout === undefined ? {} : { requestTimeoutMs: parsePositiveInt('FLOE_S3_REQUEST_TIMEOUT_MS', timeout) }),
  };
}

/** Options for the embedded s3rver started by `floe cluster up` (objectstore/s3rver-main.ts). */
export function embeddedS3Options(endpoint: string, bucket: string): S3ObjectStoreOptions {
  return { endpoint, region: embeddedS3Region, bucket, ...embeddedS3Credentials, forcePathStyle: true };
}

/**
 * The object store the flags and environment name, or null when they name none.
 * --s3-endpoint without FLOE_S3_ACCESS_KEY_ID is the embedded s3rver (its fixed
 * credentials, path style); with keys, the environment's options at that endpoint.
 * Without the flag, any FLOE_S3_ENDPOINT or FLOE_S3_BUCKET (or --s3-bucket) means S3 as
 * the environment describes it.
 */
export function objectStoreOptionsFrom(flags: { s3Endpoint?: string | undefined; s3Bucket?: string | undefined }, env: NodeJS.ProcessEnv = process.env): S3ObjectStoreOptions | null {
  const set = (name: string): boolean => (env[name] ?? '').trim() !== '';
  if (flags.s3Endpoint !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(flags.s3Endpoint)) throw new ObjectStoreConfigError(`--s3-endpoint must be an http:// or https:// URL, got ${JSON.stringify(flags.s3Endpoint)}`);
    const bucket = flags.s3Bucket ?? (set('FLOE_S3_BUCKET') ? (env['FLOE_S3_BUCKET'] ?? '').trim() : 'floe');
    if (!set('FLOE_S3_ACCESS_KEY_ID')) return embeddedS3Options(flags.s3Endpoint, bucket);
    return { ...s3OptionsFromEnv(env), endpoint: flags.s3Endpoint, bucket, forcePathStyle: true };
  }
  if (flags.s3Bucket === undefined && !set('FLOE_S3_ENDPOINT') && !set('FLOE_S3_BUCKET')) return null;
  const fromEnv = s3OptionsFromEnv(env);
  return { ...fromEnv, ...(flags.s3Bucket !== undefined ? { bucket: flags.s3Bucket } : {}) };
}

/** The shape of the SDK's errors and of Node's socket errors, as far as classification needs. */
interface SdkErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Error names S3 and compatible servers use for "slow down": retriable whatever the status. */
const throttlingNames = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
]);
const timeoutNames = new Set(['RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'AbortError']);

export interface Classified {
  error: ObjectStoreError;
  /** Why a retriable failure happened, as the retries metric labels it. */
  reason: 'http_5xx' | 'throttled' | 'timeout' | 'network' | 'none';
}

/**
 * Turns whatever the SDK or the socket threw into an ObjectStoreError. The rule: an
 * answer with a status is judged by its status (5xx and throttling retriable, 404 not
 * found, 416 range, any other 4xx final); a failure without an answer (refused, reset,
 * timed out, aborted) is retriable, because the request may never have reached the store.
 */
export function classifyS3Error(err: unknown, what: string, timedOut = false): Classified {
  if (err instanceof ObjectStoreError) return { error: err, reason: err.retriable ? 'network' : 'none' };
  const e: SdkErrorLike = typeof err === 'object' && err !== null ? err : {};
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : name;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const make = (code: (typeof objectStoreErrorCodes)[keyof typeof objectStoreErrorCodes], retriable: boolean, text: string): ObjectStoreError =>
    new ObjectStoreError(code, `${what}: ${text}`, { cause: err, retriable, ...(status === undefined ? {} : { httpStatus: status }) });

  if (timedOut) return { error: make(objectStoreErrorCodes.unavailable, true, 'request timed out'), reason: 'timeout' };
  if (status === undefined) {
    const code = typeof e.code === 'string' ? ` (${e.code})` : '';
    return { error: make(objectStoreErrorCodes.unavailable, true, `no answer: ${message}${code}`), reason: timeoutNames.has(name) ? 'timeout' : 'network' };
  }
  if (throttlingNames.has(name) || status === 429) return { error: make(objectStoreErrorCodes.unavailable, true, `throttled (${status} ${name})`), reason: 'throttled' };
  if (status === 503) return { error: make(objectStoreErrorCodes.unavailable, true, `service unavailable (${status} ${name})`), reason: 'throttled' };
  if (status >= 500) return { error: make(objectStoreErrorCodes.unavailable, true, `server error (${status} ${name})`), reason: 'http_5xx' };
  if (status === 408 || timeoutNames.has(name)) return { error: make(objectStoreErrorCodes.unavailable, true, `request timeout (${status} ${name})`), reason: 'timeout' };
  if (status === 404 && name !== 'NoSuchBucket') return { error: make(objectStoreErrorCodes.notFound, false, 'no such key'), reason: 'none' };
  if (status === 416) return { error: make(objectStoreErrorCodes.range, false, `range not satisfiable (${name})`), reason: 'none' };
  return { error: make(objectStoreErrorCodes.rejected, false, `refused (${status} ${name}): ${message}`), reason: 'none' };
}

/** Reads a response body stream fully, as one buffer, aborting with the attempt. */
async function readBody(body: unknown, signal: AbortSignal): Promise<Buffer> {
  if (!(body instanceof Readable)) {
    // The Node request handler always answers with an IncomingMessage (a Readable); anything else is a misconfiguration.
    throw new TypeError('expected a Node.js Readable response body');
  }
  addAbortSignal(signal, body);
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    chunks.push(b);
    length += b.length;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
}

/** The first byte of a `Content-Range: bytes a-b/n` answer, or undefined when it does not parse. */
function contentRangeStart(header: string): number | undefined {
  const m = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header.trim());
  return m === null ? undefined : Number(m[1]);
}

function crc32cBase64(body: readonly Buffer[]): string {
  let crc = 0;
  for (const b of body) crc = crc32c(b, crc) >>> 0;
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(crc, 0);
  return out.toString('base64');
}

const silentSdkLogger = { trace: (): void => {}, debug: (): void => {}, info: (): void => {}, warn: (): void => {}, error: (): void => {} };

export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;
  private readonly policy: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly putChecksum: boolean;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly metrics: ObjectStoreMetrics | undefined;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.policy = { ...retryPolicyDefault, ...options.retry };
    checkRetryPolicy(this.policy);
    this.requestTimeoutMs = options.requestTimeoutMs ?? requestTimeoutMsDefault;
    this.putChecksum = options.putChecksum ?? true;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.metrics = options.registry === undefined ? undefined : new ObjectStoreMetrics(options.registry);
    // The SDK warns on every process start that future versions will need Node >= 22. The
    // variable is the SDK's documented switch; set only when the operator has not chosen.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    this.client = new S3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.accessKeyId === undefined || options.secretAccessKey === undefined
        ? {}
        : { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }),
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The SDK's own logger is silent by default, except that a failed request with a
      // streamed body warns on the console that it will not be retried: true of the SDK,
      // but this store retries it, so the warning is noise. A silent logger drops it.
      logger: silentSdkLogger,
      requestHandler: { connectionTimeout: options.connectTimeoutMs ?? connectTimeoutMsDefault, requestTimeout: this.requestTimeoutMs },
    });
  }

  /**
   * Creates the bucket unless it exists (MinIO starts with none; the embedded s3rver
   * creates its own). Resolves with whether it was created. Not part of the ObjectStore
   * seam: a deployment step, run once at start.
   */
  async ensureBucket(region: string): Promise<boolean> {
    const exists = await this.operation('head', `head bucket ${this.bucket}`, async (abortSignal) => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal });
        return { value: true, bytes: 0 };
      } catch (err) {
        if ((err as SdkErrorLike | null)?.$metadata?.httpStatusCode === 404) return { value: false, bytes: 0 };
        throw err;
      }
    });
    if (exists) return false;
    return this.operation('put', `create bucket ${this.bucket}`, async (abortSignal) => {
      try {
        await this.client.send(
          new CreateBucketCommand({
            Bucket: this.bucket,
            // us-east-1 is the one region that must not be named as a location constraint. The
            // SDK types list the AWS regions it knows; other stores accept other names.
            ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
          }),
          { abortSignal },
        );
        return { value: true, bytes: 0 };
      } catch (err) {
        // Another process created it between our HEAD and our PUT: the outcome we wanted.
        const name = (err as SdkErrorLike | null)?.name;
        if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return { value: false, bytes: 0 };
        throw err;
      }
    });
  }

  /** Closes idle keep-alive sockets; the store must not be used afterwards. */
  close(): void {
    this.client.destroy();
  }

  /**
   * One operation: attempts under the retry policy, each bounded by the request timeout
   * (or by what is left of the total bound), each counted in the metrics.
   */
  private async operation<T>(op: ObjectStoreOp, what: string, attempt: (signal: AbortSignal) => Promise<{ value: T; bytes: number }>): Promise<T> {
    const started = this.clock.monotonic();
    try {
      const value = await runWithRetries(what, (ctx) => this.attempt(op, what, ctx, attempt), {
        policy: this.policy,
        clock: this.clock,
        random: this.random,
        onRetry: (err) => this.metrics?.observeRetry(op, this.reasons.get(err) ?? 'network'),
      });
      this.metrics?.observeOperation(op, 'ok', (this.clock.monotonic() - started) / 1000);
      return value;
    } catch (err) {
      this.metrics?.observeOperation(op, outcomeOf(err), (this.clock.monotonic() - started) / 1000);
      throw err;
    }
  }

  /** Why each failed attempt failed, for the retries metric's `reason` label. */
  private readonly reasons = new WeakMap<ObjectStoreError, Classified['reason']>();

  private async attempt<T>(
    op: ObjectStoreOp,
    what: string,
    ctx: RetryContext,
    run: (signal: AbortSignal) => Promise<{ value: T; bytes: number }>,
  ): Promise<T> {
    const controller = new AbortController();
    let timedOut = false;
    const cancel = this.clock.setTimer(Math.min(this.requestTimeoutMs, ctx.remainingMs), () => {
      timedOut = true;
      controller.abort();
    });
    const started = this.clock.monotonic();
    try {
      const { value, bytes } = await run(controller.signal);
      this.metrics?.observeRequest(op, 'ok', (this.clock.monotonic() - started) / 1000, bytes);
      return value;
    } catch (err) {
      const { error, reason } = classifyS3Error(err, what, timedOut);
      this.metrics?.observeRequest(op, outcomeOf(error), (this.clock.monotonic() - started) / 1000);
      this.reasons.set(error, reason);
      throw error;
    } finally {
      cancel();
    }
  }

  async put(key: string, body: Buffer | readonly Buffer[]): Promise<void> {
    const parts = Buffer.isBuffer(body) ? [body] : body;
    const length = bodyLength(parts);
    const checksum = this.putChecksum ? crc32cBase64(parts) : undefined;
    await this.operation('put', `put ${key}`, async (abortSignal) => {
      // A fresh stream per attempt: a stream is consumed by the attempt that sends it.
      const stream = Readable.from(parts, { objectMode: false });
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: stream,
          ContentLength: length,
          ContentType: 'application/octet-stream',
          ...(checksum === undefined ? {} : { ChecksumCRC32C: checksum }),
        }),
        { abortSignal },
      );
      return { value: undefined, bytes: length };
    });
    this.metrics?.observePutObject(length);
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    if (range !== undefined) assertValidRange(range);
    const what = range === undefined ? `get ${key}` : `get ${key} bytes ${range.start}-${range.endInclusive}`;
    return this.operation('get', what, async (abortSignal) => {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.endInclusive}` }),
        }),
        { abortSignal },
      );
      let data = await readBody(res.Body, abortSignal);
      if (res.ContentLength !== undefined && data.length !== res.ContentLength) {
        // The connection ended early: a transport failure, so retriable.
        throw new ObjectStoreError(objectStoreErrorCodes.unavailable, `${what}: answer ended after ${data.length} of ${res.ContentLength} bytes`);
      }
      if (range !== undefined) {
        const wanted = rangeLength(range);
        if (data.length > wanted) {
          // More than asked for: a server that ignores Range (200, the whole object), or one
          // that ignores its end (s3rver reads `bytes=0-0` as `bytes=0-`). Take the range
          // out of what was sent, located by Content-Range.
          const from = res.ContentRange === undefined ? 0 : contentRangeStart(res.ContentRange);
          if (from !== undefined && from <= range.start && from + data.length > range.endInclusive) {
            data = data.subarray(range.start - from, range.endInclusive + 1 - from);
          }
        }
        if (data.length !== wanted) {
          throw new ObjectStoreError(objectStoreErrorCodes.range, `${what}: object ends before the range (got ${data.length} of ${wanted} bytes)`);
        }
      }
      return { value: data, bytes: data.length };
    });
  }

  head(key: string): Promise<{ size: number } | null> {
    return this.operation('head', `head ${key}`, async (abortSignal) => {
      try {
        const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal });
        if (res.ContentLength === undefined) throw new ObjectStoreError(objectStoreErrorCodes.unavailable, `head ${key}: answer without Content-Length`);
        return { value: { size: res.ContentLength }, bytes: 0 };
      } catch (err) {
        const status = (err as SdkErrorLike | null)?.$metadata?.httpStatusCode;
        if (status === 404) return { value: null, bytes: 0 };
        throw err;
      }
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += deleteKeysPerRequestMax) {
      const batch = keys.slice(i, i + deleteKeysPerRequestMax);
      await this.operation('delete', `delete ${batch.length} key(s) from ${batch[0]}`, async (abortSignal) => {
        const res = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          { abortSignal },
        );
        const failed = res.Errors ?? [];
        if (failed.length > 0) {
          // A per-key failure comes with an S3 error code; judge it as if it were the answer's status.
          const first = failed[0]!;
          const code = first.Code ?? 'Unknown';
          const retriable = code === 'InternalError' || code === 'ServiceUnavailable' || throttlingNames.has(code);
          throw new ObjectStoreError(
            retriable ? objectStoreErrorCodes.unavailable : objectStoreErrorCodes.rejected,
            `delete: ${failed.length} key(s) not deleted, first ${first.Key ?? '?'}: ${code} ${first.Message ?? ''}`.trim(),
            { retriable },
          );
        }
        return { value: undefined, bytes: 0 };
      });
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const pageSize = Math.min(options.pageSize ?? listPageSizeMax, listPageSizeMax);
    if (!Number.isInteger(pageSize) || pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
    let token: string | undefined;
    for (;;) {
      const page = await this.operation('list', `list ${prefix}`, async (abortSignal) => {
        const res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: pageSize, ...(token === undefined ? {} : { ContinuationToken: token }) }),
          { abortSignal },
        );
        return { value: res, bytes: 0 };
      });
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined) yield { key: o.Key, size: o.Size ?? 0, lastModifiedMs: o.LastModified?.getTime() ?? 0 };
      }
      if (page.IsTruncated !== true || page.NextContinuationToken === undefined) return;
      token = page.NextContinuationToken;
    }
  }
}
