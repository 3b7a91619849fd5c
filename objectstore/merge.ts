/**
 * The mechanical half of compaction: build one new object from chosen sections of
 * several existing objects. Which objects to merge, when, and the metadata switch that
 * makes readers use the new object (before the old ones are deleted) belong to the
 * caller; this module only reads, checks, packs and writes.
 *
 * * Every section read is checked against its CRC-32C; one bad section fails the merge
 *   with FLOE_ERR_OBJECT_CORRUPT and nothing is written.
 * * Sections of one stream are ordered by offset and concatenated into one section
 *   where their ranges touch ([a, b) then [b, c) becomes [a, c)) and their metadata can
 *   be combined; the batches inside stay opaque and unchanged.
 * * Overlapping ranges of one stream are a caller error (the same data chosen twice).
 * * The new key must be fresh: a HEAD checks it, because an overwrite is unsafe on
 *   S3-compatible stores and conditional PUTs cannot be relied on.
 */
import type { Registry } from 'prom-client';
import { ObjectStoreError, objectStoreErrorCodes } from './object-store.ts';
import type { ObjectStore } from './object-store.ts';
import { verifySection } from './object-format.ts';
import type { ObjectIndex, SectionEntry } from './object-format.ts';
import { ObjectBuilder } from './object-writer.ts';
import { directReader } from './object-reader.ts';
import type { RangeReader } from './object-reader.ts';
import { MergeMetrics } from './metrics.ts';

/** A merge holds its whole output in memory: 512 MiB bounds that (compaction targets are far smaller). */
export const mergeOutputBytesMaxDefault = 512 * 1024 * 1024;
/** Sections of one input closer than this are fetched with one GET, the gap read and dropped. */
const readGapBytesMax = 1024 * 1024;
/** Inputs read at once. */
const readConcurrencyMax = 4;

export interface MergeInput {
  key: string;
  /** The input object's size (from the caller's metadata or a HEAD). */
  size: number;
  /** The sections to take from it: entries of its index. */
  sections: readonly SectionEntry[];
}

export interface MergeOptions {
  store: ObjectStore;
  inputs: readonly MergeInput[];
  /** A key never used before. */
  targetKey: string;
  /**
   * Metadata for a section made of touching sections, or null to keep them apart. The
   * default joins sections only when their metadata are byte-for-byte equal.
   */
  combineMetadata?: (parts: readonly SectionEntry[]) => Buffer | null;
  /** How input sections are read (default: straight from the store). */
  via?: RangeReader;
  outputBytesMax?: number;
  registry?: Registry;
}

export interface MergeResult {
  key: string;
  size: number;
  index: ObjectIndex;
  /** Section bytes read from the inputs. */
  inputBytes: number;
}

interface ReadSection {
  entry: SectionEntry;
  data: Buffer;
}

function defaultCombine(parts: readonly SectionEntry[]): Buffer | null {
  const first = parts[0]!.metadata;
  return parts.every((p) => p.metadata.equals(first)) ? first : null;
}

/** Reads the chosen sections of one input with as few GETs as gaps allow, each checked. */
async function readInput(via: RangeReader, input: MergeInput): Promise<ReadSection[]> {
  const what = `object ${input.key}`;
  const sorted = [...input.sections].sort((a, b) => a.position - b.position);
  const out: ReadSection[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    let end = sorted[i]!.position + sorted[i]!.length;
    while (j + 1 < sorted.length && sorted[j + 1]!.position - end <= readGapBytesMax) {
      j++;
      end = Math.max(end, sorted[j]!.position + sorted[j]!.length);
    }
    const start = sorted[i]!.position;
    const bytes = end > start ? await via.read(input.key, { start, endInclusive: end - 1 }, input.size) : Buffer.alloc(0);
    for (let k = i; k <= j; k++) {
      const entry = sorted[k]!;
      const data = bytes.subarray(entry.position - start, entry.position - start + entry.length);
      verifySection(entry, data, what);
      out.push({ entry, data });
    }
    i = j + 1;
  }
  return out;
}

export async function mergeObjects(options: MergeOptions): Promise<MergeResult> {
  const { store, inputs, targetKey } = options;
  const via = options.via ?? directReader(store);
  const combine = options.combineMetadata ?? defaultCombine;
  const outputBytesMax = options.outputBytesMax ?? mergeOutputBytesMaxDefault;
  const metrics = options.registry === undefined ? undefined : new MergeMetrics(options.registry);

  let inputBytes = 0;
  let inputSections = 0;
  for (const input of inputs) {
    for (const s of input.sections) {
      inputBytes += s.length;
      inputSections++;
    }
  }
  if (inputBytes > outputBytesMax) throw new RangeError(`merge of ${inputBytes} bytes exceeds the bound of ${outputBytesMax}`);

  try {
    // Read every input (a few at a time), checking each section.
    const read: ReadSection[] = [];
    for (let i = 0; i < inputs.length; i += readConcurrencyMax) {
      const batch = await Promise.all(inputs.slice(i, i + readConcurrencyMax).map((input) => readInput(via, input)));
      for (const sections of batch) read.push(...sections);
    }

    // Group by stream, order by offset, refuse overlaps.
    const byStream = new Map<string, ReadSection[]>();
    for (const s of read) {
      const list = byStream.get(s.entry.streamId);
      if (list === undefined) byStream.set(s.entry.streamId, [s]);
      else list.push(s);
    }
    const builder = new ObjectBuilder();
    for (const streamId of [...byStream.keys()].sort()) {
      const list = byStream.get(streamId)!.sort((a, b) => a.entry.startOffset - b.entry.startOffset || a.entry.endOffset - b.entry.endOffset);
      for (let k = 1; k < list.length; k++) {
        const prev = list[k - 1]!.entry;
        const cur = list[k]!.entry;
        // Empty ranges overlap nothing; two non-empty ones must not share an offset.
        if (cur.startOffset < prev.endOffset && cur.startOffset < cur.endOffset && prev.startOffset < prev.endOffset) {
          throw new RangeError(`merge: ${streamId} sections [${prev.startOffset}, ${prev.endOffset}) and [${cur.startOffset}, ${cur.endOffset}) overlap`);
        }
      }
      // Join runs of touching sections whose metadata combine.
      let run: ReadSection[] = [];
      let runMetadata: Buffer | null = null;
      const emit = (): void => {
        if (run.length === 0) return;
        const first = run[0]!.entry;
        const last = run[run.length - 1]!.entry;
        builder.addSection({
          streamId,
          startOffset: first.startOffset,
          endOffset: last.endOffset,
          data: run.map((r) => r.data),
          metadata: run.length === 1 ? first.metadata : (runMetadata ?? first.metadata),
        });
        run = [];
        runMetadata = null;
      };
      for (const s of list) {
        const prev = run[run.length - 1];
        if (prev !== undefined && prev.entry.endOffset === s.entry.startOffset) {
          const joined = combine([...run.map((r) => r.entry), s.entry]);
          if (joined !== null) {
            run.push(s);
            runMetadata = joined;
            continue;
          }
        }
        emit();
        run = [s];
      }
      emit();
    }

    const built = builder.build();
    if ((await store.head(targetKey)) !== null) {
      throw new ObjectStoreError(objectStoreErrorCodes.exists, `merge target ${targetKey} already exists; keys are never overwritten`);
    }
    await store.put(targetKey, built.chunks);
    metrics?.merges.inc({ outcome: 'ok' });
    metrics?.inputBytes.inc(inputBytes);
    metrics?.inputSections.inc(inputSections);
    metrics?.outputBytes.inc(built.size);
    metrics?.outputSections.inc(built.index.entries.length);
    return { key: targetKey, size: built.size, index: built.index, inputBytes };
  } catch (err) {
    metrics?.merges.inc({ outcome: 'error' });
    throw err;
  }
}
