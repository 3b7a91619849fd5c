// ApiVersions (18): the advertised range of every registered handler. Versions above the
// highest are answered by the connection (v0 body, UNSUPPORTED_VERSION) so that clients
// retry lower; see connection.ts.
import { ErrorCode } from '../../protocol/errors.ts';
import { ApiVersions } from '../../protocol/messages/18-api-versions.ts';
import { defineHandler } from '../registry.ts';

export const apiVersionsHandler = defineHandler({
  api: ApiVersions,
  minVersion: 0,
  maxVersion: 3,
  handle(ctx) {
    return { errorCode: ErrorCode.NONE, apiKeys: ctx.broker.registry.advertised(), throttleTimeMs: 0 };
  },
});
