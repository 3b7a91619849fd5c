/**
 * The controller's one HTTP server: the admin API (/v1), the broker-facing API
 * (/internal/v1), GET /metrics (Prometheus), GET /openapi.json and GET /healthz.
 *
 * Errors: every failure answers `{ "error": { "code", "message" } }` with a 4xx/5xx:
 * ApiError as it says; schema violations 400 INVALID_REQUEST; bodies that are not JSON
 * 400 MALFORMED_JSON; a known path with another method 405 (with an Allow header); an
 * unknown path 404. Handlers change state only after validating, so a refusal changes
 * nothing.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Controller } from '../controller.ts';
import { ApiError, ApiErrors, type ApiErrorCode } from '../errors.ts';
import { ControllerLimits } from '../limits.ts';
import type { ControllerMetrics } from '../metrics.ts';
import { adminRoutes } from './admin-routes.ts';
import { internalRoutes } from './internal-routes.ts';
import { openApiDocument } from './openapi.ts';
import type { HttpMethod, RouteSpec } from './route.ts';

export interface ControllerServerOptions {
  controller: Controller;
  metrics: ControllerMetrics;
  registry: Registry;
  logger: Logger;
  /** Shown in the OpenAPI document. */
  version?: string;
}

function body(code: ApiErrorCode, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** fastify's own errors (parsing, limits, validation) as our codes. */
function classify(err: FastifyError): { status: number; code: ApiErrorCode } {
  if (err.validation) return { status: 400, code: 'INVALID_REQUEST' };
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'MALFORMED_JSON' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'PAYLOAD_TOO_LARGE' };
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return { status, code: 'INVALID_REQUEST' };
  return { status: 500, code: 'INTERNAL' };
}

export async function buildControllerServer(opts: ControllerServerOptions): Promise<FastifyInstance> {
  const { controller, metrics, logger } = opts;
  const app = Fastify({
    logger: false,
    bodyLimit: ControllerLimits.requestBodyBytesMax,
    // Long-polls and keep-alive connections must not hold up a shutdown.
    forceCloseConnections: true,
    // No coercion: a JSON body's "3" is not a number. Unknown body properties are
    // refused (additionalProperties: false), not silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
  });

  // JSON only (other media types are 415), with our own parser: an empty body is "no
  // body" (POST /v1/rebalance without one), anything else must parse.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    const s = typeof text === 'string' ? text : text.toString('utf8');
    if (s.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(s));
    } catch (err) {
      done(new ApiError('MALFORMED_JSON', `the body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`), undefined);
    }
  });

  const routes: RouteSpec[] = [...adminRoutes(controller), ...internalRoutes(controller)];
  const opsRoutes: RouteSpec[] = [
    {
      method: 'GET',
      url: '/metrics',
      operationId: 'metrics',
      summary: 'Prometheus metrics of the controller',
      tag: 'operations',
      responses: { 200: { description: 'text exposition format', contentType: 'text/plain', schema: { type: 'string' } } },
      handler: async (_req, reply) => {
        const text = await opts.registry.metrics();
        await reply.type(opts.registry.contentType).send(text);
        return reply;
      },
    },
    {
      method: 'GET',
      url: '/healthz',
      operationId: 'health',
      summary: 'Liveness of the controller process (200 while it can accept changes)',
      tag: 'operations',
      responses: { 200: { description: 'healthy', schema: { type: 'object', properties: { ok: { type: 'boolean' } } } } },
      handler: async () => {
        await controller.readBarrier();
        return { ok: true };
      },
    },
    {
      method: 'GET',
      url: '/openapi.json',
      operationId: 'openapi',
      summary: 'This API as an OpenAPI 3 document',
      tag: 'operations',
      responses: { 200: { description: 'the document', schema: { type: 'object' } } },
      handler: () => Promise.resolve(document),
    },
  ];
  routes.push(...opsRoutes);
  const document = openApiDocument(routes, { version: opts.version ?? '0.1.0' });

  for (const r of routes) {
    const schema: Record<string, unknown> = {};
    if (r.params) schema['params'] = r.params;
    if (r.querystring) schema['querystring'] = r.querystring;
    if (r.body && !r.bodyOptional) schema['body'] = r.body;
    app.route({ method: r.method, url: r.url, schema, handler: r.handler });
  }

  // 405 for a known path asked with another method; 404 otherwise.
  const patterns = routes.map((r) => ({ method: r.method, re: new RegExp(`^${r.url.replace(/:(\w+)/g, '[^/]+')}/?$`) }));
  app.setNotFoundHandler(async (req, reply) => {
    const pathOnly = req.url.split('?')[0] ?? '';
    const allowed = new Set<HttpMethod | 'HEAD'>();
    for (const p of patterns) {
      if (!p.re.test(pathOnly)) continue;
      allowed.add(p.method);
      if (p.method === 'GET') allowed.add('HEAD');
    }
    if (allowed.size > 0) {
      await reply
        .code(405)
        .header('allow', [...allowed].join(', '))
        .send(body('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${pathOnly}; allowed: ${[...allowed].join(', ')}`));
      return reply;
    }
    await reply.code(404).send(body('NOT_FOUND', `no route ${req.method} ${pathOnly}`));
    return reply;
  });

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    if (err instanceof ApiError) {
      if (err.statusCode >= 500) logger.error({ err, url: req.url }, 'request failed');
      await reply.code(err.statusCode).send(body(err.code, err.message));
      return reply;
    }
    const { status, code } = classify(err);
    if (status >= 500) logger.error({ err, url: req.url, method: req.method }, 'request failed');
    await reply.code(status).send(body(code, status >= 500 ? `${ApiErrors.INTERNAL.meaning}: ${err.message}` : err.message));
    return reply;
  });

  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.httpSeconds.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    done();
  });

  await app.ready();
  return app;
}
