/**
 * The API registry: one handler per Kafka API key, each declaring the version range it
 * advertises. ApiVersions is derived from this registry, so what floe advertises is
 * exactly what it serves.
 */
import type { ApiSpec, RequestHeader, RequestOf, ResponseOf } from '../protocol/api.ts';
import type { Broker } from './broker.ts';

/** A handler's answer when the request gets no response (Produce with acks=0). */
export const NO_RESPONSE = Symbol('no-response');
/** A handler's answer when Kafka closes the connection instead (acks=0 with an error). */
export const CLOSE_CONNECTION = Symbol('close-connection');

export type HandlerResult<A extends ApiSpec> = ResponseOf<A> | typeof NO_RESPONSE | typeof CLOSE_CONNECTION;

export interface RequestContext {
  broker: Broker;
  header: RequestHeader;
  /** The client's address, for logs. */
  remote: string;
}

export interface Handler<A extends ApiSpec = ApiSpec> {
  readonly api: A;
  /** Advertised versions; must lie within the codec's [api.minVersion, api.maxVersion]. */
  readonly minVersion: number;
  readonly maxVersion: number;
  handle(ctx: RequestContext, request: RequestOf<A>, version: number): HandlerResult<A> | Promise<HandlerResult<A>>;
}

export function defineHandler<A extends ApiSpec>(h: Handler<A>): Handler {
  if (h.minVersion < h.api.minVersion || h.maxVersion > h.api.maxVersion || h.minVersion > h.maxVersion) {
    throw new Error(`${h.api.name}: advertised ${h.minVersion}-${h.maxVersion} outside the codec's ${h.api.minVersion}-${h.api.maxVersion}`);
  }
  // Erasing the API's request/response types is safe: the connection decodes each
  // request with the same handler's `api`, so the shapes always match.
  return h;
}

export class HandlerRegistry {
  private readonly byKey = new Map<number, Handler>();

  register(handler: Handler): this {
    if (this.byKey.has(handler.api.key)) throw new Error(`API key ${handler.api.key} registered twice`);
    this.byKey.set(handler.api.key, handler);
    return this;
  }

  get(key: number): Handler | undefined {
    return this.byKey.get(key);
  }

  /** The advertised ranges, by key: what ApiVersions answers. */
  advertised(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    return [...this.byKey.values()]
      .map((h) => ({ apiKey: h.api.key, minVersion: h.minVersion, maxVersion: h.maxVersion }))
      .sort((a, b) => a.apiKey - b.apiKey);
  }
}
