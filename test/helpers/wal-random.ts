/**
 * Seeded randomness for WAL tests: every test that draws random numbers takes its seed
 * from FLOE_TEST_SEED when set (to replay a failure) or from the clock, and prints it.
 */

/** mulberry32: a small, fast PRNG with a 32-bit state; returns numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for `name`, printed so that a failing run can be replayed with FLOE_TEST_SEED. */
export function testSeed(name: string): number {
  const fromEnv = process.env.FLOE_TEST_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : (Date.now() ^ (process.pid << 8)) >>> 0;
  console.log(`[${name}] seed ${seed} (replay with FLOE_TEST_SEED=${seed})`);
  return seed;
}

/** A deterministic payload for (seed, log, entry id): recovery checks compare bytes against it. */
export function payloadFor(seed: number, entryId: number, bytes: number): Buffer {
  const b = Buffer.alloc(Math.max(bytes, 12));
  b.writeUInt32BE(seed >>> 0, 0);
  b.writeUInt32BE(Math.floor(entryId / 2 ** 32), 4);
  b.writeUInt32BE(entryId >>> 0, 8);
  const r = prng((seed ^ Math.imul(entryId + 1, 0x9e3779b1)) >>> 0);
  for (let i = 12; i < b.length; i++) b[i] = Math.floor(r() * 256);
  return b;
}
