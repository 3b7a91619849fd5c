/**
 * Object keys. Every object gets a key of its own that is never written twice (s3rver's
 * writes are not atomic and conditional PUTs are ignored, so an overwrite could be read
 * half-written): the writer, its WAL epoch, a sequence number and random bits.
 */
import { randomBytes } from 'node:crypto';

export function dataObjectKey(prefix: string, brokerId: number, walEpoch: number, seq: number): string {
  return `${prefix}data/b${brokerId}/e${walEpoch}/${String(seq).padStart(10, '0')}-${randomBytes(4).toString('hex')}`;
}

export function recoveryObjectKey(prefix: string, brokerId: number, walEpoch: number): string {
  return `${prefix}recovered/b${brokerId}/e${walEpoch}-${randomBytes(4).toString('hex')}`;
}

export function compactedObjectKey(prefix: string, brokerId: number, walEpoch: number, seq: number): string {
  return `${prefix}compacted/b${brokerId}/e${walEpoch}/${String(seq).padStart(10, '0')}-${randomBytes(4).toString('hex')}`;
}
