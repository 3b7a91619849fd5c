/**
 * The metadata floe stores with each partition's section of an object (the object
 * format's per-section blob): the newest record timestamp in the section (retention.ms and
 * ListOffsets by time without reading data) and, when it fits, the idempotent-producer
 * table as of the section's end (so that a new owner rebuilds it without reading the
 * whole log). JSON, because it is small and read rarely.
 */
import { objectLimits } from '../../../objectstore/index.ts';
import type { ProducerSnapshot } from '../producer-state.ts';

export interface SectionMeta {
  maxTimestamp: number;
  producers?: ProducerSnapshot;
}

export function encodeSectionMeta(meta: SectionMeta): Buffer {
  const full = Buffer.from(JSON.stringify(meta), 'utf8');
  if (full.length <= objectLimits.sectionMetadataBytesMax) return full;
  // Too many producers to fit: keep the timestamp; a rebuild then scans further back.
  return Buffer.from(JSON.stringify({ maxTimestamp: meta.maxTimestamp }), 'utf8');
}

export function decodeSectionMeta(blob: Buffer): SectionMeta | null {
  if (blob.length === 0) return null;
  try {
    const v = JSON.parse(blob.toString('utf8')) as SectionMeta;
    return typeof v.maxTimestamp === 'number' ? v : null;
  } catch {
    return null;
  }
}
