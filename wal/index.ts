/**
 * The WAL's public surface, for brokers, the controller and tooling. The WAL knows
 * nothing of Kafka: payloads are opaque bytes. See wal/quorum.ts for the guarantees and
 * their argument, wal/protocol.ts for the wire format.
 */
export { WalClient } from './client.ts';
export type { WalAppend, WalClientOptions, WalEndpoint } from './client.ts';
export { readLog, recoverLog, trimLog } from './recovery.ts';
export { parseWalEndpoints } from './endpoints.ts';
export type { ReadLogOptions, RecoveredLog, RecoverLogOptions, TrimLogOptions } from './recovery.ts';
export { startWalNode } from './node.ts';
export type { WalNodeOptions, WalNodeServer } from './node.ts';
export { WalStore } from './store.ts';
export type { LogState, StoredEntry, WalStoreOptions } from './store.ts';
export { defaultAckQuorum, fenceQuorum } from './quorum.ts';
export * from './errors.ts';
export * as walLimits from './limits.ts';
