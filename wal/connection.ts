/**
 * One client connection to a WAL node: TCP, a HELLO handshake, pipelined requests matched
 * to their answers by request id, and a watchdog that treats a node leaving its oldest
 * request unanswered for requestTimeoutMs as dead (the connection is destroyed, every
 * pending request rejects with WalUnreachableError, and onClose listeners run once).
 */
import * as net from 'node:net';
import type { Clock } from '../src/common/clock.ts';
import { asError, WalProtocolError, WalUnreachableError } from './errors.ts';
import type { Response } from './protocol.ts';
import { decodeError, decodeHelloOk, decodeResponse, encodeHello, FrameReader, Op, Status } from './protocol.ts';

export interface WalEndpoint {
  host: string;
  port: number;
}

export interface ConnectionOptions {
  clock: Clock;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

interface Pending {
  resolve: (r: Response) => void;
  reject: (err: Error) => void;
  sentAt: number;
}

export function endpointName(e: WalEndpoint): string {
  return `${e.host}:${e.port}`;
}

export class WalConnection {
  readonly name: string;
  nodeId = -1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new FrameReader();
  private readonly closeListeners: ((err: Error) => void)[] = [];
  private nextRequestId = 1;
  private closedWith: Error | null = null;
  private corked = false;
  private cancelWatchdog: (() => void) | null = null;

  private constructor(
    private readonly socket: net.Socket,
    endpoint: WalEndpoint,
    private readonly opts: ConnectionOptions,
  ) {
    this.name = endpointName(endpoint);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shut(new WalUnreachableError(`${this.name}: ${err.message}`, { cause: err })));
    socket.on('close', () => this.shut(new WalUnreachableError(`${this.name}: connection closed`)));
    socket.on('end', () => socket.end());
    this.armWatchdog();
  }

  /**
   * Connects and shakes hands; rejects with WalUnreachableError (or WalProtocolError for a
   * node speaking another version). Aborting `signal` gives up at once (a closing client
   * must not keep a socket or a timer alive).
   */
  static connect(endpoint: WalEndpoint, opts: ConnectionOptions, signal?: AbortSignal): Promise<WalConnection> {
    return new Promise<WalConnection>((resolve, reject) => {
      const name = endpointName(endpoint);
      if (signal?.aborted) {
        reject(new WalUnreachableError(`${name}: connection attempt aborted`));
        return;
      }
      const socket = net.connect({ host: endpoint.host, port: endpoint.port });
      let conn: WalConnection | null = null;
      const onAbort = (): void => {
        cancel();
        socket.destroy();
        conn?.close();
        reject(new WalUnreachableError(`${name}: connection attempt aborted`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const cancel = opts.clock.setTimer(opts.connectTimeoutMs, () => {
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new WalUnreachableError(`${name}: no connection within ${opts.connectTimeoutMs} ms`));
      });
      socket.once('error', (err) => {
        cancel();
        signal?.removeEventListener('abort', onAbort);
        reject(new WalUnreachableError(`${name}: ${err.message}`, { cause: err }));
      });
      socket.once('connect', () => {
        cancel();
        socket.removeAllListeners('error');
        conn = new WalConnection(socket, endpoint, opts);
        const c = conn;
        c.onClose(() => signal?.removeEventListener('abort', onAbort));
        c.send((id) => encodeHello(id)).then(
          (r) => {
            signal?.removeEventListener('abort', onAbort);
            if (r.status !== Status.OK) {
              c.close();
              reject(decodeError(r, name));
              return;
            }
            try {
              c.nodeId = decodeHelloOk(r.body).nodeId;
              resolve(c);
            } catch (err) {
              c.close();
              reject(asError(err));
            }
          },
          (err: unknown) => reject(asError(err)),
        );
      });
    });
  }

  isOpen(): boolean {
    return this.closedWith === null;
  }

  pendingRequests(): number {
    return this.pending.size;
  }

  /**
   * Sends the request `encode` builds for a fresh request id; resolves with the node's
   * answer whatever its status (decodeError turns a refusal into its typed error), rejects
   * with WalUnreachableError when the connection fails first.
   */
  send(encode: (requestId: number) => Buffer | readonly Buffer[]): Promise<Response> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const requestId = this.nextRequestId;
    this.nextRequestId = this.nextRequestId >= 0xffff_ffff ? 1 : this.nextRequestId + 1;
    const bytes = encode(requestId);
    return new Promise<Response>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, sentAt: this.opts.clock.monotonic() });
      // Requests made in the same turn (a burst of appends) leave in one writev.
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      if (Buffer.isBuffer(bytes)) this.socket.write(bytes);
      else for (const b of bytes) this.socket.write(b);
    });
  }

  onClose(listener: (err: Error) => void): void {
    if (this.closedWith) listener(this.closedWith);
    else this.closeListeners.push(listener);
  }

  close(): void {
    this.shut(new WalUnreachableError(`${this.name}: connection closed by the client`));
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    try {
      for (let frame = this.reader.next(); frame !== null; frame = this.reader.next()) {
        const r = decodeResponse(frame);
        const p = this.pending.get(r.requestId);
        if (!p) throw new WalProtocolError(`${this.name}: an answer to request ${r.requestId}, which is not pending`);
        this.pending.delete(r.requestId);
        if (r.op === Op.READ && r.status === Status.OK) {
          // READ answers are kept by the caller: do not pin the socket chunk they arrived in.
          p.resolve({ ...r, body: Buffer.from(r.body) });
        } else p.resolve(r);
        if (this.closedWith) return;
      }
    } catch (err) {
      this.shut(new WalProtocolError(`${this.name}: ${asError(err).message}`, { cause: err }));
    }
  }

  private armWatchdog(): void {
    const period = Math.max(10, Math.floor(this.opts.requestTimeoutMs / 4));
    this.cancelWatchdog = this.opts.clock.setTimer(period, () => {
      this.cancelWatchdog = null;
      if (this.closedWith) return;
      // Map iteration follows insertion: the first pending request is the oldest.
      const oldest = this.pending.values().next();
      if (!oldest.done && this.opts.clock.monotonic() - oldest.value.sentAt > this.opts.requestTimeoutMs) {
        this.shut(new WalUnreachableError(`${this.name}: no answer within ${this.opts.requestTimeoutMs} ms`));
        return;
      }
      this.armWatchdog();
    });
  }

  private shut(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.cancelWatchdog?.();
    this.cancelWatchdog = null;
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
    for (const l of this.closeListeners.splice(0)) l(err);
  }
}
