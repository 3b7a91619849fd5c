/** The S3 store's pure parts: error classification and configuration from the environment. */
import { describe, expect, it } from 'vitest';
import { objectStoreErrorCodes } from '../../../objectstore/object-store.ts';
import { classifyS3Error, embeddedS3Options, s3OptionsFromEnv } from '../../../objectstore/s3-object-store.ts';

const sdkError = (name: string, status?: number, code?: string): Error =>
  Object.assign(new Error(`${name} happened`), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }), ...(code === undefined ? {} : { code }) });

describe('classifyS3Error', () => {
  it.each([
    ['500 InternalError', sdkError('InternalError', 500), objectStoreErrorCodes.unavailable, true, 'http_5xx'],
    ['502 from a proxy', sdkError('Unknown', 502), objectStoreErrorCodes.unavailable, true, 'http_5xx'],
    ['503 SlowDown', sdkError('SlowDown', 503), objectStoreErrorCodes.unavailable, true, 'throttled'],
    ['503 ServiceUnavailable', sdkError('ServiceUnavailable', 503), objectStoreErrorCodes.unavailable, true, 'throttled'],
    ['429', sdkError('TooManyRequests', 429), objectStoreErrorCodes.unavailable, true, 'throttled'],
    ['400 ThrottlingException', sdkError('ThrottlingException', 400), objectStoreErrorCodes.unavailable, true, 'throttled'],
    ['400 RequestTimeout', sdkError('RequestTimeout', 400), objectStoreErrorCodes.unavailable, true, 'timeout'],
    ['refused connection', sdkError('Error', undefined, 'ECONNREFUSED'), objectStoreErrorCodes.unavailable, true, 'network'],
    ['reset keep-alive socket', sdkError('TimeoutError', undefined, 'ECONNRESET'), objectStoreErrorCodes.unavailable, true, 'timeout'],
    ['404 NoSuchKey', sdkError('NoSuchKey', 404), objectStoreErrorCodes.notFound, false, 'none'],
    ['404 NoSuchBucket', sdkError('NoSuchBucket', 404), objectStoreErrorCodes.rejected, false, 'none'],
    ['416 InvalidRange', sdkError('InvalidRange', 416), objectStoreErrorCodes.range, false, 'none'],
    ['403 bad credentials', sdkError('Unknown', 403), objectStoreErrorCodes.rejected, false, 'none'],
    ['400 bad request', sdkError('InvalidArgument', 400), objectStoreErrorCodes.rejected, false, 'none'],
  ])('%s', (_name, err, code, retriable, reason) => {
    const { error, reason: why } = classifyS3Error(err, 'get k');
    expect(error.code).toBe(code);
    expect(error.retriable).toBe(retriable);
    expect(error.cause).toBe(err);
    expect(why).toBe(reason);
  });

  it('an attempt aborted by its own timeout is a retriable timeout whatever the SDK threw', () => {
    const { error, reason } = classifyS3Error(sdkError('AbortError'), 'put k', true);
    expect(error).toMatchObject({ code: objectStoreErrorCodes.unavailable, retriable: true });
    expect(error.message).toMatch(/timed out/);
    expect(reason).toBe('timeout');
  });
});

describe('s3OptionsFromEnv', () => {
  it('reads every variable', () => {
    expect(
      s3OptionsFromEnv({
        FLOE_S3_ENDPOINT: 'http://127.0.0.1:9000',
        FLOE_S3_REGION: 'eu-west-1',
        FLOE_S3_BUCKET: 'b1',
        FLOE_S3_ACCESS_KEY_ID: 'minioadmin',
        FLOE_S3_SECRET_ACCESS_KEY: 'minioadmin',
        FLOE_S3_FORCE_PATH_STYLE: 'false',
        FLOE_S3_REQUEST_TIMEOUT_MS: '2500',
      }),
    ).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      bucket: 'b1',
      accessKeyId: 'minioadmin',
      secretAccessKey: 'minioadmin',
      forcePathStyle: false,
      requestTimeoutMs: 2500,
    });
  });

  it('defaults: AWS (no endpoint, virtual-hosted style, SDK credential chain), us-east-1, bucket floe', () => {
    expect(s3OptionsFromEnv({})).toEqual({ region: 'us-east-1', bucket: 'floe', forcePathStyle: false });
    expect(s3OptionsFromEnv({ FLOE_S3_ENDPOINT: 'http://localhost:9000' }).forcePathStyle).toBe(true);
  });

  it('refuses half a credential pair, a malformed endpoint, and bad values', () => {
    expect(() => s3OptionsFromEnv({ FLOE_S3_ACCESS_KEY_ID: 'x' })).toThrow(/both/);
    expect(() => s3OptionsFromEnv({ FLOE_S3_ENDPOINT: 'localhost:9000' })).toThrow(/http/);
    expect(() => s3OptionsFromEnv({ FLOE_S3_FORCE_PATH_STYLE: 'maybe' })).toThrow(/true or false/);
    expect(() => s3OptionsFromEnv({ FLOE_S3_REQUEST_TIMEOUT_MS: '-1' })).toThrow(/positive integer/);
  });

  it('embedded options carry the credentials, region and path style s3rver needs', () => {
    expect(embeddedS3Options('http://127.0.0.1:1234', 'floe')).toEqual({
      endpoint: 'http://127.0.0.1:1234',
      region: 'us-east-1',
      bucket: 'floe',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      forcePathStyle: true,
    });
  });
});
