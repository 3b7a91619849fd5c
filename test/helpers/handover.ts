/**
 * Plays a shared-storage broker's part of a hand-over for tests whose brokers are bare
 * ControllerMetadataStores: whenever the store's view shows a partition this broker owns
 * with `handoverTo` set, it releases the partition at the index's end offset (as an owner
 * with nothing left to upload would). Returns the releases made so far and a stop function.
 */
import type { ClusterView } from '../../src/metadata/cluster-view.ts';
import type { WirePartition } from '../../src/metadata/controller-api.ts';
import type { ControllerMetadataStore } from '../../src/metadata/controller-store.ts';

export interface AutoRelease {
  /** `topic-partition@epoch` of every release answered 0. */
  released: string[];
  /** Release answers other than 0 (a test may expect some, e.g. after a timeout). */
  refused: { partition: string; errorCode: number }[];
  stop(): void;
}

export function autoRelease(store: ControllerMetadataStore, brokerId: number): AutoRelease {
  const out: AutoRelease = { released: [], refused: [], stop: () => (stopped = true) };
  const started = new Set<string>();
  let stopped = false;
  const look = (view: ClusterView): void => {
    if (stopped) return;
    for (const t of view.topics.values()) {
      for (const p of t.partitions as WirePartition[]) {
        if (p.leader !== brokerId || p.handoverTo === undefined) continue;
        const name = `${t.name}-${p.index}@${p.leaderEpoch}`;
        if (started.has(name)) continue;
        started.add(name);
        void (async () => {
          const idx = await store.partitionObjects(t.name, p.index);
          const r = await store.releasePartition({ brokerId, topic: t.name, partition: p.index, leaderEpoch: p.leaderEpoch, endOffset: idx.endOffset });
          if (r.errorCode === 0) out.released.push(name);
          else out.refused.push({ partition: name, errorCode: r.errorCode });
        })().catch(() => started.delete(name));
      }
    }
  };
  store.onChange(look);
  look(store.current());
  return out;
}
