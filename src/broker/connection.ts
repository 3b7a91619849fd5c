/**
 * One client connection: splits the byte stream into request frames, routes each frame
 * to its handler, and writes the responses back strictly in request order.
 *
 * Frames: a 4-byte size, then the request. The size is checked against
 * requestFrameBytesMax before any buffer for the frame exists; a negative or oversized
 * size closes the connection (Kafka's behaviour). Socket chunks are kept in a list with
 * a running length, and a frame that lies within one chunk is used as a view (no copy).
 *
 * Order: every request takes a slot in a FIFO when it arrives; handlers may finish in
 * any order, and a slot's response is written only once every earlier slot is written
 * or was answered with nothing (acks=0). Handlers are started in arrival order and do
 * their order-sensitive work (such as assigning offsets) before their first await.
 *
 * Closing: an unknown API key, a version outside the advertised range (except
 * ApiVersions, which is always answered), a request that cannot be decoded, or a handler
 * asking for it closes the connection; other connections are not affected.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { API_VERSIONS_KEY, encodeResponseFrame, isFlexible, readRequestHeaderRest, readRequestPrefix } from '../protocol/api.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { ApiVersions } from '../protocol/messages/18-api-versions.ts';
import { DecodeError, Reader } from '../protocol/reader.ts';
import { decode } from '../protocol/schema.ts';
import type { Broker } from './broker.ts';
import { BrokerLimits } from './limits.ts';
import { CLOSE_CONNECTION, NO_RESPONSE, type HandlerRegistry, type HandlerResult } from './registry.ts';
import type { ApiSpec } from '../protocol/api.ts';

interface Slot {
  /** null until the handler has answered; [] when the answer is "no response". */
  chunks: Buffer[] | null;
  bytes: number;
}

type CloseKind = 'frame-size' | 'unknown-api' | 'unsupported-version' | 'decode' | 'handler-failed' | 'handler-asked' | 'shutdown';

const FRAME_SIZE_BYTES = 4;
/** Smallest request: api key, version, correlation id, client id length. */
const REQUEST_HEADER_BYTES_MIN = 10;

export class Connection {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly slots: Slot[] = [];
  private inFlightBytes = 0;
  private closed = false;
  private pausedForBackpressure = false;
  readonly remote: string;

  constructor(
    private readonly socket: Socket,
    private readonly broker: Broker,
    private readonly registry: HandlerRegistry,
    private readonly log: Logger,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.updateBackpressure());
    socket.on('error', (err) => this.log.debug({ err, remote: this.remote }, 'connection error'));
    socket.on('close', () => {
      this.closed = true;
      this.onClose(this);
    });
  }

  /** Closes the connection; `kind` labels the reason in metrics, `reason` explains it in the log. */
  close(kind: CloseKind, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.broker.metrics.closedConnections.inc({ reason: kind });
    this.log.info({ remote: this.remote, reason }, 'closing connection');
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (!this.closed && this.buffered >= FRAME_SIZE_BYTES) {
      const size = this.peekInt32();
      if (size < REQUEST_HEADER_BYTES_MIN || size > BrokerLimits.requestFrameBytesMax) {
        this.close('frame-size', `bad frame size ${size}`);
        return;
      }
      if (this.buffered < FRAME_SIZE_BYTES + size) break;
      this.skip(FRAME_SIZE_BYTES);
      this.handleFrame(this.take(size));
    }
    this.updateBackpressure();
  }

  private peekInt32(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.alloc(4);
    let at = 0;
    for (const c of this.chunks) {
      const n = Math.min(c.length, 4 - at);
      c.copy(head, at, 0, n);
      at += n;
      if (at === 4) break;
    }
    return head.readInt32BE(0);
  }

  private skip(n: number): void {
    this.take(n);
  }

  /** Removes n bytes from the front of the chunk list: a view when they lie in one chunk. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }

  private handleFrame(frame: Buffer): void {
    const r = new Reader(frame);
    const { apiKey, apiVersion, correlationId } = readRequestPrefix(r);
    const handler = this.registry.get(apiKey);
    if (!handler) {
      this.close('unknown-api', `unknown API key ${apiKey}`);
      return;
    }
    if (apiVersion < handler.minVersion || apiVersion > handler.maxVersion) {
      if (apiKey === API_VERSIONS_KEY) {
        // A client probing with a newer ApiVersions than we know gets a v0-format answer
        // with UNSUPPORTED_VERSION and our range for key 18, and then retries lower.
        const slot = this.openSlot(0);
        this.fill(
          slot,
          encodeResponseFrame(ApiVersions, 0, correlationId, {
            errorCode: ErrorCode.UNSUPPORTED_VERSION,
            apiKeys: [{ apiKey: API_VERSIONS_KEY, minVersion: handler.minVersion, maxVersion: handler.maxVersion }],
            throttleTimeMs: 0,
          }),
        );
        return;
      }
      this.close('unsupported-version', `${handler.api.name} v${apiVersion} is outside the advertised ${handler.minVersion}-${handler.maxVersion}`);
      return;
    }
    const flexible = isFlexible(handler.api, apiVersion);
    let request: unknown;
    let clientId: string | null;
    try {
      const body = r.withFlexible(flexible);
      clientId = readRequestHeaderRest(body, flexible);
      request = decode(handler.api.request, body, apiVersion);
    } catch (err) {
      if (err instanceof DecodeError) {
        this.close('decode', `cannot decode ${handler.api.name} v${apiVersion}: ${err.message}`);
        return;
      }
      throw err;
    }
    const slot = this.openSlot(frame.length);
    const metrics = this.broker.metrics;
    metrics.requests.inc({ api: handler.api.name });
    const endTimer = metrics.requestSeconds.startTimer({ api: handler.api.name });
    const ctx = { broker: this.broker, header: { apiKey, apiVersion, correlationId, clientId }, remote: this.remote };
    let result: HandlerResult<ApiSpec> | Promise<HandlerResult<ApiSpec>>;
    try {
      result = handler.handle(ctx, request as never, apiVersion);
    } catch (err) {
      this.handlerFailed(handler.api.name, err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (res) => {
          endTimer();
          this.answer(slot, handler.api, apiVersion, correlationId, res);
        },
        (err: unknown) => this.handlerFailed(handler.api.name, err),
      );
    } else {
      endTimer();
      this.answer(slot, handler.api, apiVersion, correlationId, result);
    }
  }

  private handlerFailed(api: string, err: unknown): void {
    // A handler that throws has a bug: Kafka errors are answered as data. The request
    // cannot be answered correctly, so the connection closes; the broker carries on.
    this.log.error({ err, api, remote: this.remote }, 'handler failed');
    this.close('handler-failed', `${api} handler failed`);
  }

  private openSlot(requestBytes: number): Slot {
    const slot: Slot = { chunks: null, bytes: requestBytes };
    this.slots.push(slot);
    this.inFlightBytes += requestBytes;
    return slot;
  }

  private answer(slot: Slot, api: ApiSpec, version: number, correlationId: number, res: HandlerResult<ApiSpec>): void {
    if (res === CLOSE_CONNECTION) {
      this.close('handler-asked', `${api.name} asked to close (acks=0 with an error)`);
      return;
    }
    this.fill(slot, res === NO_RESPONSE ? [] : encodeResponseFrame(api, version, correlationId, res));
  }

  private fill(slot: Slot, chunks: Buffer[]): void {
    slot.chunks = chunks;
    this.flush();
  }

  private flush(): void {
    if (this.closed) return;
    let corked = false;
    while (this.slots.length > 0 && this.slots[0]!.chunks !== null) {
      const slot = this.slots.shift()!;
      this.inFlightBytes -= slot.bytes;
      if (slot.chunks!.length === 0) continue;
      if (!corked) {
        this.socket.cork();
        corked = true;
      }
      for (const c of slot.chunks!) this.socket.write(c);
    }
    if (corked) this.socket.uncork();
    this.updateBackpressure();
  }

  /**
   * Stops reading while too many requests are being processed or the socket's write
   * buffer is full (a client that does not read its responses), and resumes after.
   */
  private updateBackpressure(): void {
    if (this.closed) return;
    const overloaded =
      this.slots.length >= BrokerLimits.inFlightRequestsPerConnectionMax ||
      this.inFlightBytes >= BrokerLimits.inFlightBytesPerConnectionMax ||
      this.socket.writableNeedDrain;
    if (overloaded && !this.pausedForBackpressure) {
      this.pausedForBackpressure = true;
      this.socket.pause();
    } else if (!overloaded && this.pausedForBackpressure) {
      this.pausedForBackpressure = false;
      this.socket.resume();
    }
  }
}
