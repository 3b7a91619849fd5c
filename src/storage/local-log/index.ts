/** The local segmented log: floe's first storage engine (the shared-nothing baseline's storage). */
export { LocalLog, type LocalLogOptions } from './local-log.ts';
export type { LocalLogLogger } from './logger.ts';
export * as localLogLimits from './limits.ts';
