import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { javaStringHashCode, partitionForGroup } from '../../../../src/broker/groups/partitioning.ts';

describe('javaStringHashCode', () => {
  // Values of java.lang.String.hashCode() for the same strings.
  it.each([
    ['', 0],
    ['abc', 96354],
    ['hello', 99162322],
    ['my-group', -1906497762],
    ['é', 233],
    // A character outside the BMP counts as its two UTF-16 code units, as in Java.
    ['\u{1F600}', 31 * 0xd83d + 0xde00],
    ['polygenelubricants', -2147483648],
  ])('hashes %j to %d', (s, h) => {
    expect(javaStringHashCode(s)).toBe(h);
  });
});

describe('partitionForGroup', () => {
  it('takes the absolute value of the hash modulo the partition count', () => {
    expect(partitionForGroup('hello', 50)).toBe(99162322 % 50);
    expect(partitionForGroup('my-group', 50)).toBe(1906497762 % 50);
  });

  it("maps Integer.MIN_VALUE to partition 0, as Kafka's Utils.abs does", () => {
    expect(partitionForGroup('polygenelubricants', 7)).toBe(0);
  });

  it('always lands in [0, count)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), fc.integer({ min: 1, max: 1000 }), (s, n) => {
        const p = partitionForGroup(s, n);
        return Number.isInteger(p) && p >= 0 && p < n;
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a partition count below 1', () => {
    expect(() => partitionForGroup('g', 0)).toThrow(RangeError);
  });
});
