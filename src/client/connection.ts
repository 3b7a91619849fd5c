/**
 * A minimal Kafka client connection on floe's own codec: pipelined requests over one
 * socket, responses matched to requests in order by correlation id. Used by the perf
 * tools (so that the load generator is not the bottleneck) and by floe's own
 * broker-to-broker traffic; tests also use it to send exactly the bytes they mean.
 */
import * as net from 'node:net';
import { decodeResponseFrame, encodeRequestFrame, type ApiSpec, type RequestOf, type ResponseOf } from '../protocol/api.ts';

export class ConnectionClosedError extends Error {
  readonly code = 'FLOE_ERR_CONNECTION_CLOSED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionClosedError';
  }
}

interface Pending {
  correlationId: number;
  decode: (frame: Buffer) => void;
  fail: (err: Error) => void;
}

const RESPONSE_FRAME_BYTES_MAX = 256 * 1024 * 1024;

export class KafkaConnection {
  private nextCorrelationId = 1;
  private readonly pending: Pending[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closedError: Error | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly clientId: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.failAll(new ConnectionClosedError(`connection error: ${err.message}`, { cause: err })));
    socket.on('close', () => this.failAll(new ConnectionClosedError('connection closed by the broker')));
  }

  static connect(host: string, port: number, clientId = 'floe'): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new KafkaConnection(socket, clientId));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Sends a request and resolves with its decoded response. */
  request<A extends ApiSpec>(api: A, version: number, body: RequestOf<A>): Promise<ResponseOf<A>> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = this.nextCorrelationId++;
    return new Promise<ResponseOf<A>>((resolve, reject) => {
      this.pending.push({
        correlationId,
        decode: (frame) => resolve(decodeResponseFrame(api, version, frame).body),
        fail: reject,
      });
      this.write(encodeRequestFrame(api, version, correlationId, this.clientId, body));
    });
  }

  /** Sends a request that gets no response (Produce with acks=0). */
  send<A extends ApiSpec>(api: A, version: number, body: RequestOf<A>): void {
    if (this.closedError) throw this.closedError;
    this.write(encodeRequestFrame(api, version, this.nextCorrelationId++, this.clientId, body));
  }

  /** Sends pre-encoded bytes (tests of malformed input). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves once the socket's buffered writes have drained (backpressure for senders). */
  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('drain', resolve));
  }

  private write(chunks: Buffer[]): void {
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return;
      const head = this.chunks.length === 1 || this.chunks[0]!.length >= 4 ? this.chunks[0]! : Buffer.concat(this.chunks);
      const size = head.readInt32BE(0);
      if (size < 4 || size > RESPONSE_FRAME_BYTES_MAX) {
        this.socket.destroy();
        this.failAll(new ConnectionClosedError(`bad response frame size ${size}`));
        return;
      }
      if (this.buffered < 4 + size) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      const correlationId = frame.readInt32BE(0);
      const p = this.pending.shift();
      if (!p || p.correlationId !== correlationId) {
        this.socket.destroy();
        this.failAll(new ConnectionClosedError(`response ${correlationId} does not match the oldest request ${p?.correlationId ?? 'none'}`));
        return;
      }
      try {
        p.decode(frame);
      } catch (err) {
        p.fail(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  private failAll(err: Error): void {
    if (!this.closedError) this.closedError = err;
    for (const p of this.pending.splice(0)) p.fail(err);
  }

  close(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      this.socket.destroySoon();
    });
  }
}
