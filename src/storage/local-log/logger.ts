/**
 * The logging the local log needs: pino's `logger.warn(fields, message)` shape, so a pino
 * Logger (or a child of one) can be passed as is.
 */
export interface LocalLogLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: LocalLogLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
