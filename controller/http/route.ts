/**
 * A route of the controller's HTTP server, described once: fastify validates requests
 * with its params/query/body schemas, and the OpenAPI document is generated from the
 * same description (so the document cannot drift from what the server checks).
 *
 * Schemas are plain JSON Schema. Path and query values stay strings (type coercion is
 * off, so that a body's `"3"` is not silently taken for 3); routes parse them with
 * `intParam`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';

export type JsonSchema = Record<string, unknown>;
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  method: HttpMethod;
  /** fastify's pattern, e.g. `/v1/topics/:name`. */
  url: string;
  operationId: string;
  summary: string;
  tag: 'cluster' | 'brokers' | 'topics' | 'partitions' | 'objects' | 'internal' | 'operations';
  params?: JsonSchema;
  querystring?: JsonSchema;
  /** Validated by fastify; a route with an optional body validates it itself and sets `bodyOptional`. */
  body?: JsonSchema;
  bodyOptional?: boolean;
  /** Documented responses by status (errors are added for every route). */
  responses: Record<number, { description: string; schema?: JsonSchema; contentType?: string }>;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

export const NON_NEGATIVE_INT = '^[0-9]{1,9}$';

/** A path or query parameter already checked against NON_NEGATIVE_INT. */
export function intParam(value: string | undefined, name: string): number {
  if (value === undefined || !/^[0-9]{1,9}$/.test(value)) throw new ApiError('INVALID_REQUEST', `${name} must be a non-negative integer`);
  return Number(value);
}

/** The params of a request, as the route's schema guarantees them. */
export function paramsOf(req: FastifyRequest): Record<string, string> {
  return req.params as Record<string, string>;
}

export function queryOf(req: FastifyRequest): Record<string, string | undefined> {
  return req.query as Record<string, string | undefined>;
}

export const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};
