/**
 * Every limit of the WAL in one place, with the unit last. Sizes are checked before the
 * buffer for them exists (a frame length is checked before the frame is assembled).
 * The relations between them are asserted at module load, so a bad edit fails at once.
 */

/** A log id is a UTF-8 string carried with a one-byte length. */
export const logIdBytesMax = 255;

/** The largest payload of one entry (a broker packs many record batches into one entry). */
export const entryBytesMax = 16 * 1024 * 1024;

/** Room for the fixed fields of a protocol frame or a segment record around a payload. */
export const headerBytesMax = 1024;

/** The largest protocol frame either side accepts (length prefix excluded). */
export const frameBytesMax = entryBytesMax + headerBytesMax;

/** The largest segment record (length prefix excluded). */
export const recordBytesMax = entryBytesMax + headerBytesMax;

/** A read answers at most this many payload bytes, but always at least one entry. */
export const readBytesMax = 8 * 1024 * 1024;

/** Entry ids travel as u64 on the wire but must stay exact in a JavaScript number. */
export const entryIdMax = Number.MAX_SAFE_INTEGER;

/** Epochs are u32. */
export const epochMax = 0xffff_ffff;

/** The most WAL nodes one client talks to (acknowledgements are kept in a bit mask). */
export const nodesMax = 16;

/** One group commit writes at most this many bytes before its fdatasync (at least one entry). */
export const groupCommitBytesMax = 8 * 1024 * 1024;

/** The longest a node waits to gather a group commit. */
export const groupCommitDelayMsMax = 1000;

/** Default segment size: a segment is rolled once it would grow past this. */
export const segmentBytesDefault = 64 * 1024 * 1024;

/** Segments smaller than this make no sense (every roll costs a directory fsync). */
export const segmentBytesMin = 4096;

/** Requests a node accepts on one connection before it stops reading from it until some are answered. */
export const connectionPendingRequestsMax = 4096;

/** Client: entries appended but not yet quorum-durable (append throws WalBackpressureError beyond). */
export const clientInFlightEntriesMax = 65_536;

/** Client: bytes appended but not yet quorum-durable (append throws WalBackpressureError beyond). */
export const clientInFlightBytesMax = 64 * 1024 * 1024;

/**
 * Client: bytes of quorum-durable entries kept to re-send to a node that missed them (a
 * node that was down, slow or erroring). Past this the oldest are dropped and that node
 * keeps a gap, which is safe (see wal/quorum.ts).
 */
export const clientRetainBytesMax = 64 * 1024 * 1024;

/** Client: bytes sent to one node and not yet answered; a slower node gets no more until it catches up. */
export const nodeOutstandingBytesMax = 16 * 1024 * 1024;

/** Client: a node that leaves a request unanswered this long is treated as dead and reconnected. */
export const requestTimeoutMsDefault = 5000;

/** Client: how long one connection attempt may take. */
export const connectTimeoutMsDefault = 2000;

/** Client: reconnection backoff bounds. */
export const reconnectBackoffMsMin = 50;
export const reconnectBackoffMsMax = 2000;

/** Recovery: after the fence quorum answered, how long to wait for the remaining nodes. */
export const recoveryStragglerMsDefault = 200;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`wal/limits.ts: ${what}`);
}
check(frameBytesMax > entryBytesMax, 'a frame must hold the largest entry');
check(recordBytesMax > entryBytesMax, 'a record must hold the largest entry');
check(readBytesMax <= entryBytesMax, 'a read answer (at most max(readBytesMax, one entry)) must fit a frame');
check(groupCommitBytesMax >= 1, 'a group commit holds at least one entry');
check(clientInFlightBytesMax >= entryBytesMax, 'the client must accept at least one entry of the largest size');
check(nodeOutstandingBytesMax >= entryBytesMax, 'a node must be sent at least one entry of the largest size');
check(nodesMax <= 31, 'acknowledgement masks are 31-bit integers');
check(reconnectBackoffMsMin <= reconnectBackoffMsMax, 'backoff bounds are ordered');
check(segmentBytesMin <= segmentBytesDefault, 'the default segment size is allowed');
