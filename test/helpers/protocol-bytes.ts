/**
 * Small byte helpers for protocol tests: hex in and out, and joining the chunk list a
 * Writer or a frame encoder hands back.
 */

/** Bytes from a hex string; whitespace and `|` separators are ignored (for readable layouts). */
export function hex(s: string): Buffer {
  const clean = s.replace(/[\s|]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`not hex: ${s}`);
  return Buffer.from(clean, 'hex');
}

export function toHex(b: Buffer): string {
  return b.toString('hex');
}

export function join(chunks: readonly Buffer[]): Buffer {
  return Buffer.concat(chunks);
}

/** A frame as a client sends it, without its 4-byte size prefix (what decoders take). */
export function withoutSize(frame: Buffer): Buffer {
  if (frame.readInt32BE(0) !== frame.length - 4) throw new Error('frame size prefix does not match its length');
  return frame.subarray(4);
}
