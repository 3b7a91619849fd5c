/**
 * Which __consumer_offsets partition holds a group: Kafka's rule,
 * `abs(groupId.hashCode()) % partitionCount`, with Java's String.hashCode over UTF-16
 * code units and Kafka's Utils.abs (which maps Integer.MIN_VALUE to 0). Matching Kafka
 * exactly means a group lands on the same partition number as it would in Kafka.
 */

/** Java's String.hashCode: s[0]*31^(n-1) + … + s[n-1], in 32-bit two's complement. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

export function partitionForGroup(groupId: string, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) throw new RangeError(`partition count ${partitionCount} must be a positive integer`);
  const h = javaStringHashCode(groupId);
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % partitionCount;
}
