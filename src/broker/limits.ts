/**
 * The broker's limits, in one place. Units are the last word of each name. Relations
 * between them are checked at start-up (assertLimits), so a misconfiguration fails fast
 * rather than under load.
 */
export const BrokerLimits = {
  /** Largest request frame accepted (Kafka's socket.request.max.bytes default). */
  requestFrameBytesMax: 100 * 1024 * 1024,
  /** Requests of one connection being processed or waiting to be answered. */
  inFlightRequestsPerConnectionMax: 512,
  /** Bytes of requests of one connection being processed before its socket is paused. */
  inFlightBytesPerConnectionMax: 64 * 1024 * 1024,
  /** Longest a Fetch may wait (clients ask for 500 ms; a few ask for more). */
  fetchWaitMsMax: 30_000,
  /** Bytes one Fetch response may carry in total, whatever the client asks. */
  fetchResponseBytesMax: 64 * 1024 * 1024,
  /** Longest a Produce with acks=-1 waits for durability before REQUEST_TIMED_OUT. */
  produceTimeoutMsMax: 300_000,
  /** Topic name length (Kafka's 249). */
  topicNameLengthMax: 249,
  /** Partitions one topic may have. */
  partitionsPerTopicMax: 10_000,
} as const;

export function assertLimits(): void {
  const l = BrokerLimits;
  if (l.fetchResponseBytesMax > l.requestFrameBytesMax) {
    throw new Error('fetchResponseBytesMax must not exceed requestFrameBytesMax');
  }
  if (l.inFlightBytesPerConnectionMax < l.requestFrameBytesMax / 2) {
    throw new Error('inFlightBytesPerConnectionMax must hold at least half a maximal request');
  }
}
