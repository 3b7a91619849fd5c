/**
 * The OpenAPI 3 document of the controller's HTTP API, generated from the route table
 * (the same schemas fastify validates with). Served at GET /openapi.json.
 */
import { ApiErrors } from '../errors.ts';
import { errorSchema, type JsonSchema, type RouteSpec } from './route.ts';

function parametersOf(schema: JsonSchema | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
  if (!schema) return [];
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema['required'] ?? []) as string[]);
  return Object.entries(properties).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: s,
    ...(typeof s['description'] === 'string' ? { description: s['description'] } : {}),
  }));
}

export function openApiDocument(routes: readonly RouteSpec[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorResponse = { description: 'refused; nothing changed', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  for (const r of routes) {
    const p = r.url.replace(/:(\w+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = { description: resp.description, ...(resp.schema ? { content: { [resp.contentType ?? 'application/json']: { schema: resp.schema } } } : {}) };
    }
    responses['4XX'] = errorResponse;
    responses['5XX'] = errorResponse;
    (paths[p] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      parameters: [...parametersOf(r.params, 'path'), ...parametersOf(r.querystring, 'query')],
      ...(r.body ? { requestBody: { required: r.bodyOptional !== true, content: { 'application/json': { schema: r.body } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'floe controller',
      version: info.version,
      description: [
        'Admin API (/v1) of the floe controller, the broker-facing API (/internal/v1) and /metrics.',
        'Every refusal is a 4xx with {"error":{"code","message"}} and changes nothing. Codes:',
        ...Object.entries(ApiErrors).map(([code, e]) => `- ${code} (${e.status}): ${e.meaning}`),
      ].join('\n'),
    },
    tags: [
      { name: 'cluster', description: 'overview and metadata version' },
      { name: 'brokers', description: 'registered brokers, drain and removal' },
      { name: 'topics', description: 'topics and their configs' },
      { name: 'partitions', description: 'partitions with owner/leader and epochs, reassignment' },
      { name: 'objects', description: 'shared-storage: the object index and the collection of unreferenced objects' },
      { name: 'operations', description: 'rebalance, metrics, this document' },
      { name: 'internal', description: 'spoken by brokers (src/metadata/controller-store.ts), not by operators' },
    ],
    paths,
    components: { schemas: { Error: errorSchema } },
  };
}
