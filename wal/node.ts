/**
 * The WAL node: a WalStore served over the binary protocol of protocol.ts on TCP.
 * `startWalNode` runs one in this process (unit tests pass a SimulatedFileSystem);
 * wal/main.ts wraps it into a process with metrics over HTTP.
 *
 * Each connection is read as a stream of frames; every request goes straight to the store
 * and is answered, with its request id, when the store settles it. A connection with
 * connectionPendingRequestsMax unanswered requests is not read from until half of them
 * are answered, so a client that pipelines without bound cannot exhaust the node's memory.
 */
import * as net from 'node:net';
import pino from 'pino';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { nodeFileSystem } from '../src/common/fs.ts';
import { asError, WalClosedError, WalCorruptError, WalDiskFullError, WalFencedError, WalStorageError } from './errors.ts';
import { connectionPendingRequestsMax, readBytesMax } from './limits.ts';
import { WalMetrics } from './metrics.ts';
import type { Request } from './protocol.ts';
import {
  decodeRequest,
  encodeError,
  encodeHelloOk,
  encodeOk,
  encodeReadOk,
  encodeStateOk,
  FrameReader,
  Op,
  protocolVersion,
  Status,
} from './protocol.ts';
import { WalStore } from './store.ts';
import type { WalStoreOptions } from './store.ts';

export interface WalNodeOptions extends Omit<WalStoreOptions, 'metrics' | 'fs' | 'logger'> {
  id: number;
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** Defaults to 0 (an ephemeral port). */
  port?: number;
  fs?: WalStoreOptions['fs'];
  registry?: Registry;
  logger?: Logger;
}

export interface WalNodeServer {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  readonly store: WalStore;
  readonly metrics: WalMetrics;
  readonly registry: Registry;
  /** Stops taking connections, finishes every accepted request, answers it, closes. */
  close(): Promise<void>;
  /**
   * Drops every connection at once and answers nothing more, as a killed process would
   * (for in-process tests; pair it with SimulatedFileSystem.crash()). Resolves when the
   * port is free again.
   */
  abort(): Promise<void>;
}

function statusOf(err: Error): { status: Exclude<Status, 0>; fenceEpoch: number } {
  if (err instanceof WalFencedError) return { status: Status.FENCED, fenceEpoch: err.fenceEpoch };
  if (err instanceof WalDiskFullError) return { status: Status.DISK_FULL, fenceEpoch: 0 };
  if (err instanceof WalStorageError) return { status: Status.STORAGE_ERROR, fenceEpoch: 0 };
  if (err instanceof WalCorruptError) return { status: Status.CORRUPT, fenceEpoch: 0 };
  if (err instanceof WalClosedError) return { status: Status.SHUTTING_DOWN, fenceEpoch: 0 };
  // Argument and limit violations (WalInvalidArgumentError, WalEntryTooLargeError, …).
  return { status: Status.BAD_REQUEST, fenceEpoch: 0 };
}

export async function startWalNode(opts: WalNodeOptions): Promise<WalNodeServer> {
  const registry = opts.registry ?? new Registry();
  const metrics = new WalMetrics(registry);
  const log = opts.logger ?? pino({ level: 'silent' });
  const store = await WalStore.open({ ...opts, fs: opts.fs ?? nodeFileSystem, metrics, logger: log });
  const host = opts.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  let aborted = false;
  let closing = false;

  const serve = (socket: net.Socket): void => {
    if (closing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.setNoDelay(true);
    const reader = new FrameReader();
    let pending = 0;
    let paused = false;
    let corked = false;

    const send = (bytes: Buffer | readonly Buffer[]): void => {
      if (aborted || socket.destroyed) return;
      // Answers that become ready in the same turn (one commit's appends) leave in one writev.
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      if (Buffer.isBuffer(bytes)) socket.write(bytes);
      else for (const b of bytes) socket.write(b);
    };

    const answer = (req: Request, work: Promise<Buffer | readonly Buffer[]>): void => {
      pending++;
      if (pending >= connectionPendingRequestsMax && !paused) {
        paused = true;
        socket.pause();
      }
      work.then(
        (bytes) => send(bytes),
        (err: unknown) => {
          const e = asError(err);
          const { status, fenceEpoch } = statusOf(e);
          send(encodeError(req.op, req.requestId, status, e.message, fenceEpoch));
        },
      ).finally(() => {
        pending--;
        if (paused && pending < connectionPendingRequestsMax / 2 && !closing) {
          paused = false;
          socket.resume();
        }
      });
    };

    const handle = (req: Request): void => {
      switch (req.op) {
        case Op.HELLO:
          if (req.version !== protocolVersion) {
            send(encodeError(Op.HELLO, req.requestId, Status.BAD_REQUEST, `protocol version ${req.version} is not supported (this node speaks ${protocolVersion})`));
          } else send(encodeHelloOk(req.requestId, opts.id));
          return;
        case Op.APPEND:
          answer(req, store.append(req.logId, req.epoch, req.entryId, req.payload).then(() => encodeOk(Op.APPEND, req.requestId)));
          return;
        case Op.FENCE:
          answer(req, store.fence(req.logId, req.epoch).then((s) => encodeStateOk(Op.FENCE, req.requestId, s)));
          return;
        case Op.READ:
          answer(
            req,
            store.read(req.logId, req.fromEntryId, Math.min(req.maxBytes, readBytesMax)).then((r) => encodeReadOk(req.requestId, r.state, r.entries, r.more)),
          );
          return;
        case Op.TRIM:
          answer(req, store.trim(req.logId, req.epoch, req.upTo).then(() => encodeOk(Op.TRIM, req.requestId)));
          return;
        case Op.TRUNCATE:
          answer(req, store.truncate(req.logId, req.epoch, req.fromEntryId).then(() => encodeOk(Op.TRUNCATE, req.requestId)));
          return;
        case Op.STATE:
          send(encodeStateOk(Op.STATE, req.requestId, store.state(req.logId)));
          return;
        default: {
          const never: never = req;
          throw new Error(`unhandled request ${String(never)}`);
        }
      }
    };

    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      try {
        for (let frame = reader.next(); frame !== null; frame = reader.next()) handle(decodeRequest(frame));
      } catch (err) {
        log.warn({ err, remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'closing a connection that sent a malformed frame');
        socket.destroy();
      }
    });
    socket.on('error', (err) => log.debug({ err }, 'connection error'));
    socket.on('close', () => sockets.delete(socket));
  };

  const server = net.createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the WAL node has no TCP address');
  log.info({ host, port: address.port }, 'WAL node listening');

  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
    });

  return {
    id: opts.id,
    host,
    port: address.port,
    store,
    metrics,
    registry,
    async close(): Promise<void> {
      if (closing) return;
      closing = true;
      const listening = stopListening();
      for (const s of sockets) s.pause();
      await store.close();
      // Half-close: the answers written while the store finished still leave; a client
      // that does not close its side within a second is cut off.
      for (const s of sockets) s.end();
      let timer: NodeJS.Timeout | undefined;
      const cutOff = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1000);
        timer.unref();
      });
      await Promise.race([listening, cutOff]);
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      await listening;
    },
    abort(): Promise<void> {
      aborted = true;
      closing = true;
      const stopped = stopListening();
      for (const s of sockets) s.destroy();
      return stopped;
    },
  };
}
