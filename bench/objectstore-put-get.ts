/**
 * Benchmark (not a test): S3ObjectStore against the embedded s3rver process on this
 * machine, over HTTP on 127.0.0.1. Measures, one after the other:
 * * PUT of 1 MiB and of 8 MiB objects (floe objects built by ObjectBuilder from 64 KiB
 *   sections, PUT as the builder's list of buffers), one at a time;
 * * 16 concurrent 1 MiB PUTs (objects per second);
 * * ranged GET of 64 KiB at random positions of an 8 MiB object;
 * * the read path: a sequential reader of 64 KiB sections through the block cache
 *   (1 MiB blocks, read-ahead 2) against the same reads straight from the store.
 * Reports median, p90 and p99 per operation, and throughput.
 *
 *   node --import tsx bench/objectstore-put-get.ts [--iterations N] [--json]
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { BlockCache } from '../objectstore/block-cache.ts';
import { directReader, readSection } from '../objectstore/object-reader.ts';
import type { RangeReader } from '../objectstore/object-reader.ts';
import { ObjectBuilder } from '../objectstore/object-writer.ts';
import type { BuiltObject } from '../objectstore/object-writer.ts';
import { S3ObjectStore } from '../objectstore/s3-object-store.ts';
import { removeDataDir, startObjectStoreServer } from '../test/helpers/objectstore-server.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '40' }, json: { type: 'boolean', default: false } } });
const ITERATIONS = Number(values.iterations);
const MiB = 1024 * 1024;
const SECTION_BYTES = 64 * 1024;
const CONCURRENT_PUTS = 16;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
}

function summary(name: string, ms: number[], bytesEach: number): Record<string, number | string> {
  const med = percentile(ms, 50);
  return {
    name,
    n: ms.length,
    medianMs: Number(med.toFixed(2)),
    p90Ms: Number(percentile(ms, 90).toFixed(2)),
    p99Ms: Number(percentile(ms, 99).toFixed(2)),
    mbPerSecAtMedian: Number((bytesEach / 1e6 / (med / 1000)).toFixed(1)),
  };
}

function objectOf(bytes: number, seed: number): BuiltObject {
  const b = new ObjectBuilder();
  const sections = Math.max(1, Math.floor(bytes / SECTION_BYTES));
  for (let i = 0; i < sections; i++) {
    b.addSection({ streamId: `bench/${i}`, startOffset: seed * 1000, endOffset: seed * 1000 + 100, data: Buffer.alloc(SECTION_BYTES, (seed + i) & 0xff) });
  }
  return b.build();
}

async function main(): Promise<void> {
  const server = await startObjectStoreServer();
  const store = new S3ObjectStore(server.options());
  const results: Record<string, number | string>[] = [];
  try {
    let key = 0;
    // Warm up the connection pool and the server's code paths.
    for (let i = 0; i < 5; i++) await store.put(`warm/${i}`, objectOf(MiB, i).chunks);

    for (const size of [MiB, 8 * MiB]) {
      const ms: number[] = [];
      for (let i = 0; i < ITERATIONS; i++) {
        const obj = objectOf(size, i);
        const t = performance.now();
        await store.put(`put/${key++}`, obj.chunks);
        ms.push(performance.now() - t);
      }
      results.push(summary(`PUT ${size / MiB} MiB`, ms, size));
    }

    {
      const objects = Array.from({ length: ITERATIONS * 2 }, (_, i) => objectOf(MiB, i));
      const t = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENT_PUTS }, async () => {
          while (next < objects.length) await store.put(`conc/${key++}`, objects[next++]!.chunks);
        }),
      );
      const secs = (performance.now() - t) / 1000;
      results.push({ name: `PUT 1 MiB x${CONCURRENT_PUTS} concurrent`, n: objects.length, objectsPerSec: Number((objects.length / secs).toFixed(1)), mbPerSec: Number((objects.length * 1.048576 / secs).toFixed(1)) });
    }

    const big = objectOf(8 * MiB, 7);
    await store.put('get/big', big.chunks);
    {
      const ms: number[] = [];
      for (let i = 0; i < ITERATIONS * 2; i++) {
        const start = Math.floor(Math.random() * (big.size - SECTION_BYTES));
        const t = performance.now();
        await store.get('get/big', { start, endInclusive: start + SECTION_BYTES - 1 });
        ms.push(performance.now() - t);
      }
      results.push(summary('GET 64 KiB range', ms, SECTION_BYTES));
    }

    // A sequential reader of every section of the 8 MiB object: straight, then through the cache.
    const readAll = async (via: RangeReader): Promise<number[]> => {
      const ms: number[] = [];
      for (const entry of big.index.entries) {
        const t = performance.now();
        await readSection(via, 'get/big', big.size, entry);
        ms.push(performance.now() - t);
      }
      return ms;
    };
    const direct = await readAll(directReader(store));
    results.push(summary('section read 64 KiB, direct', direct, SECTION_BYTES));
    const cache = new BlockCache(store, { blockBytes: MiB, capacityBytes: 64 * MiB, readAheadBlocks: 2 });
    const t = performance.now();
    const cached = await readAll(cache);
    const totalMs = performance.now() - t;
    const stats = cache.stats();
    results.push({
      ...summary('section read 64 KiB, block cache (1 MiB, read-ahead 2)', cached, SECTION_BYTES),
      totalMs: Number(totalMs.toFixed(1)),
      gets: stats.gets,
      hitRatio: Number(stats.hitRatio.toFixed(3)),
    });
  } finally {
    store.close();
    await server.stop();
    removeDataDir(server.dataDir);
  }

  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ machine, iterations: ITERATIONS, results })}\n`);
    return;
  }
  process.stdout.write(`objectstore put/get against embedded s3rver (${machine}), ${ITERATIONS} iterations\n`);
  for (const r of results) {
    const { name, ...rest } = r;
    process.stdout.write(`  ${String(name).padEnd(58)} ${Object.entries(rest).map(([k, v]) => `${k}=${v}`).join('  ')}\n`);
  }
}

await main();
