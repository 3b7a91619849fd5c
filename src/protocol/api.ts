/**
 * What every Kafka API needs from the codec: its key, the versions floe can encode and
 * decode, the first flexible version, and the request and response schemas.
 *
 * Header rules: a request uses header v2 (client id + tag section) at flexible versions
 * and v1 otherwise; a response uses header v1 (correlation id + tag section) at flexible
 * versions and v0 otherwise — except ApiVersions, whose response header is always v0 so
 * that a client can parse it before it knows what the broker supports.
 */
import { Reader } from './reader.ts';
import { decode, encode, type Fields, type StructType, type TypeOf } from './schema.ts';
import { Writer } from './writer.ts';

export interface ApiSpec<Req extends Fields = Fields, Res extends Fields = Fields> {
  readonly key: number;
  readonly name: string;
  /** Lowest and highest version this codec implements. */
  readonly minVersion: number;
  readonly maxVersion: number;
  /** First flexible version (Infinity when none). */
  readonly flexibleFrom: number;
  readonly request: StructType<Req>;
  readonly response: StructType<Res>;
}

export type RequestOf<A> = A extends ApiSpec<infer Req, Fields> ? TypeOf<StructType<Req>> : never;
export type ResponseOf<A> = A extends ApiSpec<Fields, infer Res> ? TypeOf<StructType<Res>> : never;

export const API_VERSIONS_KEY = 18;

export function defineApi<Req extends Fields, Res extends Fields>(spec: ApiSpec<Req, Res>): ApiSpec<Req, Res> {
  return spec;
}

export function isFlexible(api: ApiSpec, version: number): boolean {
  return version >= api.flexibleFrom;
}

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Reads api key, version and correlation id: enough to route or to refuse a request. */
export function readRequestPrefix(r: Reader): Omit<RequestHeader, 'clientId'> {
  return { apiKey: r.int16(), apiVersion: r.int16(), correlationId: r.int32() };
}

/** Reads the rest of the request header (the client id is always a classic string). */
export function readRequestHeaderRest(r: Reader, flexible: boolean): string | null {
  const classic = r.withFlexible(false);
  const clientId = classic.nullableString();
  r.offset = classic.offset;
  if (flexible) r.tags();
  return clientId;
}

/** Decodes a whole request frame (header and body); used by tests and tooling. */
export function decodeRequestFrame<A extends ApiSpec>(api: A, frame: Buffer): { header: RequestHeader; body: RequestOf<A> } {
  const r = new Reader(frame);
  const prefix = readRequestPrefix(r);
  const flexible = isFlexible(api, prefix.apiVersion);
  const body = new Reader(frame, r.offset, flexible);
  const clientId = readRequestHeaderRest(body, flexible);
  return { header: { ...prefix, clientId }, body: decode(api.request, body, prefix.apiVersion) as RequestOf<A> };
}

/** Encodes a request frame with its 4-byte size prefix, as a client sends it. */
export function encodeRequestFrame<A extends ApiSpec>(
  api: A,
  version: number,
  correlationId: number,
  clientId: string | null,
  body: RequestOf<A>,
): Buffer[] {
  const flexible = isFlexible(api, version);
  const w = new Writer(flexible);
  w.int32(0).int16(api.key).int16(version).int32(correlationId);
  // The client id is a classic INT16 string even in header v2.
  const id = clientId === null ? null : Buffer.from(clientId, 'utf8');
  if (id === null) w.int16(-1);
  else w.int16(id.length).raw(id);
  w.tags();
  encode(api.request, w, body as TypeOf<StructType<Fields>>, version);
  return withSizePrefix(w);
}

/** Encodes a response frame (size prefix, header, body) as a list of buffers. */
export function encodeResponseFrame<A extends ApiSpec>(api: A, version: number, correlationId: number, body: ResponseOf<A>): Buffer[] {
  const flexibleBody = isFlexible(api, version);
  const w = new Writer(flexibleBody);
  w.int32(0).int32(correlationId);
  if (flexibleBody && api.key !== API_VERSIONS_KEY) w.uvarint(0); // response header v1 tag section
  encode(api.response, w, body as TypeOf<StructType<Fields>>, version);
  return withSizePrefix(w);
}

/** Decodes a response frame body (without the size prefix); used by floe's clients. */
export function decodeResponseFrame<A extends ApiSpec>(api: A, version: number, frame: Buffer): { correlationId: number; body: ResponseOf<A> } {
  const flexibleBody = isFlexible(api, version);
  const r = new Reader(frame, 0, flexibleBody);
  const correlationId = r.int32();
  if (flexibleBody && api.key !== API_VERSIONS_KEY) r.tags();
  return { correlationId, body: decode(api.response, r, version) as ResponseOf<A> };
}

function withSizePrefix(w: Writer): Buffer[] {
  const chunks = w.chunksOut();
  // The first 4 bytes were reserved in the first chunk; patch the frame size into them.
  chunks[0]!.writeInt32BE(w.length - 4, 0);
  return chunks;
}
