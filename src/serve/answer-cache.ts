/**
 * The answer cache of the engine: ranked pages per (user, filters), valid only for the same
 * served model, catalogue version and user history stamp, evicted least recently used first
 * under two bounds (entries and estimated bytes).
 */
import type { ServedModel } from './bundle.ts';

/** A ranked page in the served model's dense item ids: what ranking yields and the cache keeps. */
export interface DensePage {
  items: Int32Array;
  scores: Float32Array;
}

/**
 * A cached answer in compact form: the model's dense item ids and scores in typed arrays (8 bytes
 * an item, outside the JS object heap) instead of an object per item. Why: objects that live
 * long enough in the cache reach V8's old generation, and a cache under constant churn then
 * leaves old-space garbage that V8 collects late — measured, 64 MiB of cached answer objects
 * held ≈ 226 MB of RSS. Typed arrays cost what they say, and an answer is rebuilt on a hit
 * (1,000 small objects, far cheaper than scoring).
 */
export interface CacheEntry {
  served: ServedModel;
  catalog: number;
  stamp: string;
  page: DensePage;
  bytes: number;
}

/**
 * Bytes charged for a cache entry: its typed arrays (8 bytes an item), its key, and a fixed
 * overhead, with headroom — the measured cost is ≈ 12.8 bytes an item for 1000-item answers
 * (heap plus array buffers, test/serve/resources.test.ts), and over-charging only makes the
 * bound stricter.
 */
export function entryBytes(key: string, n: number): number {
  return 16 * n + 2 * key.length + 1024;
}

/** Ranked pages by key, LRU under an entry bound and a byte bound. */
export class AnswerCache {
  private readonly entries = new Map<string, CacheEntry>();
  /** Hits and misses since start, and the estimated bytes held now (for /metrics). */
  readonly stats = { hits: 0, misses: 0, bytes: 0 };

  constructor(private readonly bounds: { cacheSize: number; cacheBytes: number }) {}

  /** The page cached under `key` when it is still valid for this model, catalogue and history stamp (counts a hit or a miss). */
  lookup(key: string, served: ServedModel | undefined, catalog: number, stamp: string): CacheEntry | undefined {
    const hit = this.entries.get(key);
    if (hit && hit.served === served && hit.catalog === catalog && hit.stamp === stamp) {
      this.stats.hits++;
      this.entries.delete(key); // re-insert: most recently used last
      this.entries.set(key, hit);
      return hit;
    }
    this.stats.misses++;
    return undefined;
  }

  /** Caches an entry (unless caching is off), evicting least recently used ones until both bounds hold. */
  remember(key: string, entry: CacheEntry): void {
    if (this.bounds.cacheSize <= 0) return;
    this.forget(key);
    if (entry.bytes > this.bounds.cacheBytes) return;
    while (this.entries.size > 0 && (this.entries.size >= this.bounds.cacheSize || this.stats.bytes + entry.bytes > this.bounds.cacheBytes)) {
      this.forget(this.entries.keys().next().value!);
    }
    this.entries.set(key, entry);
    this.stats.bytes += entry.bytes;
  }

  /** Number of cached answers. */
  get size(): number {
    return this.entries.size;
  }

  private forget(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.stats.bytes -= old.bytes;
  }
}
