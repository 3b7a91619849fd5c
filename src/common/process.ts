/**
 * Conventions shared by every floe process entry point: a pino logger on stderr, the
 * one-line JSON "ready" announcement on stdout that launchers and tests wait for, and
 * clean shutdown on SIGTERM/SIGINT.
 */
import pino, { type Logger } from 'pino';

export function processLogger(name: string, level = process.env['FLOE_LOG_LEVEL'] ?? 'info'): Logger {
  return pino({ name, level }, pino.destination({ fd: 2, sync: false }));
}

export interface ReadyLine {
  event: 'ready';
  role: string;
  id: number;
  pid: number;
  ports: Record<string, number>;
  [extra: string]: unknown;
}

/** Announces readiness: exactly one JSON line on stdout. */
export function announceReady(line: Omit<ReadyLine, 'event' | 'pid'>): void {
  process.stdout.write(`${JSON.stringify({ event: 'ready', pid: process.pid, ...line })}\n`);
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits; a second signal exits at once. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => {
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}
