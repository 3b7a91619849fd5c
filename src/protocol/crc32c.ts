/**
 * CRC-32C (Castagnoli), as RecordBatch v2 uses it. @node-rs/crc32 computes it with the
 * SSE4.2 instruction in native code: measured ≈ 10 GB/s against ≈ 0.4 GB/s for a
 * table-driven JavaScript loop, which matters because every produced and fetched byte
 * passes through it.
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

export function crc32c(bytes: Uint8Array, initial = 0): number {
  return nativeCrc32c(bytes, initial) >>> 0;
}
