/**
 * The HTTP layer in-process (fastify inject): the OpenAPI document covers every route,
 * fastify's own refusals come back in our error shape, and /metrics serves the injected
 * registry. Bad input over a real process is in test/integration/controller/.
 */
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../../../controller/controller.ts';
import { ApiErrors } from '../../../../controller/errors.ts';
import { buildControllerServer } from '../../../../controller/http/server.ts';
import { ControllerLimits } from '../../../../controller/limits.ts';
import { ControllerMetrics } from '../../../../controller/metrics.ts';
import { ManualClock } from '../../../../src/common/clock.ts';
import { SimulatedFileSystem } from '../../../../src/common/sim-fs.ts';

let app: FastifyInstance;
let controller: Controller;

beforeAll(async () => {
  const registry = new Registry();
  const metrics = new ControllerMetrics(registry);
  const logger = pino({ level: 'silent' });
  controller = await Controller.open({
    fs: new SimulatedFileSystem(),
    dataDir: '/c',
    clock: new ManualClock(),
    logger,
    metrics,
    mode: 'shared-storage',
    leaseMs: 3000,
    defaults: { partitions: 1, replicationFactor: 1 },
  });
  app = await buildControllerServer({ controller, metrics, registry, logger });
});

afterAll(async () => {
  await app.close();
  await controller.close();
});

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
}

describe('controller HTTP server', () => {
  it('documents every route it serves in an OpenAPI 3 document, with the error responses', async () => {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<OpenApi>();
    expect(doc.openapi).toMatch(/^3\./);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    for (const want of [
      'GET /v1/cluster',
      'GET /v1/brokers',
      'POST /v1/brokers/{id}/drain',
      'DELETE /v1/brokers/{id}',
      'POST /v1/topics',
      'GET /v1/topics/{name}',
      'DELETE /v1/topics/{name}',
      'GET /v1/topics/{name}/config',
      'PUT /v1/topics/{name}/config',
      'PATCH /v1/topics/{name}/config',
      'POST /v1/topics/{name}/partitions',
      'POST /v1/topics/{name}/partitions/{partition}/reassign',
      'GET /v1/partitions',
      'POST /v1/rebalance',
      'GET /v1/metadata/version',
      'GET /metrics',
      'POST /internal/v1/brokers/register',
      'GET /internal/v1/metadata',
      'GET /v1/objects/stats',
      'GET /v1/topics/{name}/partitions/{partition}',
      'POST /internal/v1/objects/commit',
      'POST /internal/v1/objects/replace',
      'POST /internal/v1/partitions/objects',
      'POST /internal/v1/partitions/log-start',
      'POST /internal/v1/partitions/release',
    ]) {
      expect(documented).toContain(want);
    }
    for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) expect(op.responses).toHaveProperty('4XX');
    // Every documented operation is served: asking for it never answers 404/405 NOT_FOUND.
    for (const d of documented) {
      const [method, p] = d.split(' ') as [string, string];
      const url = p.replace('{id}', '1').replace('{name}', 'nope').replace('{partition}', '0');
      const r = await app.inject({ method: method as 'GET', url: `${url}${url.endsWith('metadata') && url.startsWith('/internal') ? '?after=0' : ''}` });
      expect([404, 405].includes(r.statusCode) ? r.json<{ error: { code: string } }>().error.code : 'served', d).not.toMatch(/NOT_FOUND|METHOD_NOT_ALLOWED/);
    }
    expect(JSON.stringify(doc)).toContain(Object.keys(ApiErrors)[0]);
  });

  const refusals: { name: string; method: 'POST' | 'GET' | 'PUT'; url: string; headers?: Record<string, string>; payload?: string; status: number; code: string }[] = [
    { name: 'a body that is not JSON', method: 'POST', url: '/v1/topics', headers: { 'content-type': 'application/json' }, payload: '{"name":', status: 400, code: 'MALFORMED_JSON' },
    { name: 'a body of another media type', method: 'POST', url: '/v1/topics', headers: { 'content-type': 'text/plain' }, payload: 'name=x', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
    {
      name: 'a body over the limit',
      method: 'POST',
      url: '/v1/topics',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(ControllerLimits.requestBodyBytesMax) }),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    { name: 'a missing body', method: 'POST', url: '/v1/topics', status: 400, code: 'INVALID_REQUEST' },
    { name: 'a wrong method', method: 'PUT', url: '/v1/topics', status: 405, code: 'METHOD_NOT_ALLOWED' },
    { name: 'an unknown path', method: 'GET', url: '/v2/topics', status: 404, code: 'NOT_FOUND' },
    { name: 'a long-poll without a version', method: 'GET', url: '/internal/v1/metadata', status: 400, code: 'INVALID_REQUEST' },
  ];
  for (const r of refusals) {
    it(`answers ${r.status} ${r.code} with the error body for ${r.name}`, async () => {
      const res = await app.inject({ method: r.method, url: r.url, ...(r.headers ? { headers: r.headers } : {}), ...(r.payload !== undefined ? { payload: r.payload } : {}) });
      expect(res.statusCode).toBe(r.status);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      const body = res.json<{ error: { code: string; message: string } }>();
      expect(body.error.code).toBe(r.code);
      expect(body.error.message.length).toBeGreaterThan(0);
    });
  }

  it('takes the largest object commit the limits allow in one request body', async () => {
    const section = { topic: 'x'.repeat(ControllerLimits.topicNameLengthMax), topicId: 'f'.repeat(32), partition: 999_999, startOffset: Number.MAX_SAFE_INTEGER - 1, endOffset: Number.MAX_SAFE_INTEGER, position: Number.MAX_SAFE_INTEGER - 1, length: 1, leaderEpoch: 2_147_483_647 };
    const body = { brokerId: 1, key: `floe/${'k'.repeat(ControllerLimits.objectKeyBytesMax - 5)}`, size: Number.MAX_SAFE_INTEGER, sections: Array.from({ length: ControllerLimits.objectSectionsPerCommitMax }, () => section) };
    const res = await app.inject({ method: 'POST', url: '/internal/v1/objects/commit', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ errorCode: number }>().errorCode).toBe(3);
    const over = { ...body, sections: [...body.sections, section] };
    const refused = await app.inject({ method: 'POST', url: '/internal/v1/objects/commit', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(over) });
    expect(refused.statusCode).toBe(400);
  });

  it('names the allowed methods on a 405', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/v1/cluster' });
    expect(res.statusCode).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD');
  });

  it('serves Prometheus metrics from the injected registry, request counts included', async () => {
    await app.inject({ method: 'GET', url: '/v1/cluster' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toContain('floe_controller_metadata_version');
    expect(res.body).toContain('floe_controller_brokers_alive 0');
    expect(res.body).toMatch(/floe_controller_http_requests_total\{method="GET",route="\/v1\/cluster",status="200"\} [1-9]/);
  });
});
