/**
 * An HTTP proxy between an S3 client and a real S3 server, injecting faults at the
 * HTTP level so that the client's own error handling is what gets tested: real 503
 * SlowDown answers with S3's XML error body, added latency, and connection resets.
 * Requests are forwarded unchanged (Host header included, so SigV4 signatures made for
 * the proxy's address still verify at the server). Listens on 127.0.0.1, port 0.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

const slowDownBody =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>injected</RequestId></Error>';

export interface FaultProxy {
  endpoint: string;
  /** The next `count` requests are answered 503 SlowDown without reaching the server. */
  failNext(count: number): void;
  /** Every request is delayed by `ms` before it is forwarded. */
  setLatencyMs(ms: number): void;
  /** Requests seen, and how many were answered with an injected 503. */
  readonly counts: { requests: number; injected503: number };
  /** The last requests seen (method, path, headers), newest last, at most 100. */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const url = new URL(target);
  let failures = 0;
  let latencyMs = 0;
  const counts = { requests: 0, injected503: 0 };
  const seen: FaultProxy['seen'] = [];

  const server = http.createServer((req, res) => {
    counts.requests++;
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (seen.length > 100) seen.shift();
    if (failures > 0) {
      failures--;
      counts.injected503++;
      // Drain the request body so the client sees the answer rather than a reset.
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(slowDownBody) });
        res.end(slowDownBody);
      });
      return;
    }
    const forward = (): void => {
      const upstream = http.request(
        { host: url.hostname, port: url.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    };
    if (latencyMs > 0) setTimeout(forward, latencyMs);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failNext(count) {
      failures = count;
    },
    setLatencyMs(ms) {
      latencyMs = ms;
    },
    counts,
    seen,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
