/**
 * Approximate nearest-neighbour retrieval for large catalogues: an HNSW graph (usearch) over a
 * dot-product model's item vectors, used instead of scoring every item once the catalogue passes
 * a size (see {@link ANN_DEFAULTS}.minItems).
 *
 * A query asks the graph for `oversample · k` candidates by inner product, re-scores them exactly
 * in f32 from the model's own vectors (the graph may hold them quantised to f16 or i8 to halve or
 * quarter its memory), drops the user's history and items outside the requested category, and
 * returns the best k. When filters leave fewer than half the oversampled candidates, it asks again
 * with twice as many, and past `maxCandidates` it scans the catalogue exactly (a rare category is then answered
 * right, not approximately short).
 *
 * The index is a file beside the model bundle (`ann.usearch`, see {@link annPath}): built with the
 * bundle, loaded with it and swapped with it, so a served model and its index never disagree.
 */
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { Index, MetricKind, ScalarKind, type BatchMatches, type Matches } from 'usearch';

/** How the index is built and searched. */
export interface AnnSettings {
  /** HNSW graph degree M (links per node on upper layers; twice that on the base layer). */
  connectivity: number;
  /** Candidate list while inserting (efConstruction). */
  expansionAdd: number;
  /** Candidate list while searching (efSearch); a query for more candidates than this uses that many. */
  expansionSearch: number;
  /** How the graph stores vectors; re-scoring always uses the exact f32 vectors. */
  quantization: 'f32' | 'f16' | 'i8';
  /** Candidates asked of the graph per result wanted (before filters). */
  oversample: number;
  /** Above this many candidates a filtered query scans the catalogue exactly instead. */
  maxCandidates: number;
  /** Threads used while building (0 = all cores). */
  threads: number;
  /** Catalogues with fewer items are scored exactly (the index is not worth it there). */
  minItems: number;
}

/** Defaults: M 16, efConstruction 64, efSearch 256, f16 graph, 8× candidates, ANN from 100,000 items (measured in docs/scale.md: at efSearch 128 recall@10 on 1M items was 0.9495, just under 0.95). */
export const ANN_DEFAULTS: AnnSettings = {
  connectivity: 16,
  expansionAdd: 64,
  expansionSearch: 256,
  quantization: 'f16',
  oversample: 8,
  maxCandidates: 4096,
  threads: 0,
  minItems: 100_000,
};

/** Per-query options. */
export interface AnnQuery {
  /** Items never returned (the user's history, explicit exclusions). */
  exclude?: (item: number) => boolean;
  /** Only items passing this are returned (a category filter). */
  allow?: (item: number) => boolean;
}

/** A ranked answer: dense item ids and their exact scores, best first. */
export interface AnnAnswer {
  items: Int32Array;
  scores: Float32Array;
  /** Candidates asked of the graph in the last round (0 when the exact scan answered). */
  candidates: number;
  /** True when filters forced the exact scan. */
  exact: boolean;
}

/** The file of the index inside a bundle directory. */
export function annPath(bundleDir: string): string {
  return join(bundleDir, 'ann.usearch');
}

/** True when the catalogue is large enough for the ANN path under `settings`. */
export function useAnn(nItems: number, settings: Pick<AnnSettings, 'minItems'> = ANN_DEFAULTS): boolean {
  return nItems >= settings.minItems;
}

const SCALAR: Record<AnnSettings['quantization'], ScalarKind> = { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 };

/** Items inserted per call while building (the progress callback fires after each). */
const BUILD_CHUNK = 25_000;

/** An HNSW index over `n` item vectors of `d` floats, with exact re-scoring from those vectors. */
export class AnnIndex {
  private constructor(
    private readonly index: Index,
    /** The exact item vectors [n × d], row-major (the model's own, not copied). */
    readonly vectors: Float32Array,
    readonly n: number,
    readonly d: number,
    readonly settings: AnnSettings,
    /**
     * Search contexts usearch reserved: one per thread of the build's `add` (an index built on
     * 1 thread can serve 1 searching thread) or the machine's cores for a loaded index. A search
     * on more threads than this fails ("Reserve capacity ahead of searches!") whenever two of them
     * run at once, so searchMany never asks for more.
     */
    private readonly contexts: number,
  ) {}

  /** The thread count usearch takes for 0: the machine's cores (read once: `cpus()` builds an array per call). */
  private static readonly coreCount = Math.max(1, Math.min(cpus().length, availableParallelism()));

  private static empty(d: number, s: AnnSettings): Index {
    return new Index({
      dimensions: d,
      metric: MetricKind.IP,
      quantization: SCALAR[s.quantization],
      connectivity: s.connectivity,
      expansion_add: s.expansionAdd,
      expansion_search: s.expansionSearch,
      multi: false,
    });
  }

  private static check(vectors: Float32Array, n: number, d: number): void {
    if (!Number.isInteger(n) || n < 1 || !Number.isInteger(d) || d < 1) throw new RangeError(`ann: need n ≥ 1 items of d ≥ 1 dims, got n ${n}, d ${d}`);
    if (vectors.length < n * d) throw new RangeError(`ann: ${vectors.length} floats cannot hold ${n} items × ${d} dims`);
  }

  /**
   * Builds the graph over `vectors` [n × d]. Blocks for the build (minutes at a million items):
   * run it where the bundle is made, not in a serving process. `onProgress(done, n)` follows it.
   */
  static build(vectors: Float32Array, n: number, d: number, settings: Partial<AnnSettings> = {}, onProgress?: (done: number, total: number) => void): AnnIndex {
    AnnIndex.check(vectors, n, d);
    const s = { ...ANN_DEFAULTS, ...settings };
    const index = AnnIndex.empty(d, s);
    for (let start = 0; start < n; start += BUILD_CHUNK) {
      const end = Math.min(n, start + BUILD_CHUNK);
      const keys = new BigUint64Array(end - start);
      for (let i = 0; i < keys.length; i++) keys[i] = BigInt(start + i);
      index.add(keys, vectors.subarray(start * d, end * d), s.threads);
      onProgress?.(end, n);
    }
    return new AnnIndex(index, vectors, n, d, s, s.threads || AnnIndex.coreCount);
  }

  /** Loads an index saved by {@link save} over the same vectors; checks its size. */
  static load(path: string, vectors: Float32Array, n: number, d: number, settings: Partial<AnnSettings> = {}): AnnIndex {
    AnnIndex.check(vectors, n, d);
    if (!existsSync(path)) throw new Error(`${path}: no ANN index (build it with the bundle)`);
    const s = { ...ANN_DEFAULTS, ...settings };
    const index = AnnIndex.empty(d, s);
    index.load(path);
    if (Number(index.size()) !== n) throw new Error(`${path}: index holds ${index.size()} items but the model has ${n}; rebuild it with the bundle`);
    if (Number(index.dimensions()) !== d) throw new Error(`${path}: index vectors have ${index.dimensions()} dims but the model's have ${d}`);
    return new AnnIndex(index, vectors, n, d, s, AnnIndex.coreCount);
  }

  /** Writes the index to `path` (beside the bundle: {@link annPath}). */
  save(path: string): void {
    this.index.save(path);
  }

  /** Exact score of item `i` for `query`. */
  private dot(query: Float32Array, i: number): number {
    const v = this.vectors;
    const o = i * this.d;
    let s = 0;
    for (let j = 0; j < this.d; j++) s += query[j] * v[o + j];
    return s;
  }

  /** The best `k` items for `query` (length d), filtered and exactly scored. */
  search(query: Float32Array, k: number, opts: AnnQuery = {}): AnnAnswer {
    if (query.length !== this.d) throw new RangeError(`ann: query has ${query.length} dims, index ${this.d}`);
    const want = this.wanted(k);
    let c = this.firstAsk(want);
    for (;;) {
      const found = this.index.search(query, c, 1);
      const answer = this.settle(query, found.keys, 0, found.keys.length, want, c, opts);
      if (answer) return answer;
      // Past the cap (or the whole catalogue asked of the graph, which need not return it all).
      if (this.capped(c)) return exactTopK(this.vectors, this.n, this.d, query, want, opts);
      c = Math.min(this.n, c * 2);
    }
  }

  /**
   * {@link search} for many queries at once ([count × d] row-major, one {@link AnnQuery} per
   * query or one for all): one call into the graph searches them on `threads` native threads
   * (usearch's own; 0 = all cores), then each is filtered and re-scored here. A query whose
   * filters leave too few candidates goes on alone through {@link search}. Same answers as
   * calling search one query at a time; what it saves is the per-call cost and one core's limit.
   */
  searchMany(queries: Float32Array, count: number, k: number, opts: AnnQuery | readonly AnnQuery[] = {}, threads = 0): AnnAnswer[] {
    if (!Number.isInteger(count) || count < 0 || queries.length < count * this.d) throw new RangeError(`ann: ${queries.length} floats cannot hold ${count} queries × ${this.d} dims`);
    const want = this.wanted(k);
    const c = this.firstAsk(want);
    const optsOf = (r: number): AnnQuery => (Array.isArray(opts) ? (opts as readonly AnnQuery[])[r] : (opts as AnnQuery)) ?? {};
    if (count === 0) return [];
    // usearch hands one query's answer back as plain Matches (cut to its count), several as
    // BatchMatches (k slots per query, `counts` of them filled).
    const found = this.index.search(queries.subarray(0, count * this.d), c, Math.min(threads || AnnIndex.coreCount, this.contexts)) as Matches | BatchMatches;
    const counts = 'counts' in found ? found.counts : undefined;
    const out: AnnAnswer[] = [];
    for (let r = 0; r < count; r++) {
      const q = queries.subarray(r * this.d, (r + 1) * this.d);
      const got = counts ? Number(counts[r]) : found.keys.length;
      out.push(this.settle(q, found.keys, r * c, got, want, c, optsOf(r)) ?? this.search(q, k, optsOf(r)));
    }
    return out;
  }

  private wanted(k: number): number {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`ann: k must be a positive integer, got ${k}`);
    return Math.min(k, this.n);
  }

  private firstAsk(want: number): number {
    return Math.min(this.n, Math.max(want * this.settings.oversample, want));
  }

  private capped(c: number): boolean {
    return c >= this.settings.maxCandidates || c >= this.n;
  }

  /**
   * Filters `found` candidates ([offset, offset + got) of `keys`) and ranks them, or returns
   * undefined when too few survived for a faithful answer (the caller asks for more).
   */
  private settle(query: Float32Array, keys: BigUint64Array, offset: number, got: number, want: number, asked: number, opts: AnnQuery): AnnAnswer | undefined {
    const kept = new Int32Array(got);
    let m = 0;
    const { exclude, allow } = opts;
    for (let r = 0; r < got; r++) {
      const i = Number(keys[offset + r]);
      if (i >= this.n || (exclude && exclude(i)) || (allow && !allow(i))) continue;
      kept[m++] = i;
    }
    // Enough when half the oversampled target survived the filters (a selective filter would
    // otherwise re-score barely k candidates, and recall would suffer), or at the cap.
    if (m >= want && (2 * m >= want * this.settings.oversample || this.capped(asked))) return this.rank(query, kept, m, want, asked);
    return undefined;
  }

  /**
   * Re-scores the first `m` candidates exactly and keeps the best `k` (ties by lower id): a
   * top-k insertion into typed arrays, since k is small next to the candidates and a sort of
   * objects cost more than the graph search on a 1M catalogue's profile.
   */
  private rank(query: Float32Array, candidates: Int32Array, m: number, k: number, asked: number): AnnAnswer {
    const v = this.vectors;
    const d = this.d;
    const items = new Int32Array(k);
    const scores = new Float32Array(k);
    let size = 0;
    for (let r = 0; r < m; r++) {
      const i = candidates[r];
      const o = i * d;
      let x = 0;
      for (let j = 0; j < d; j++) x += query[j] * v[o + j];
      const f = Math.fround(x);
      if (size === k && (f < scores[k - 1] || (f === scores[k - 1] && i > items[k - 1]))) continue;
      let p = size < k ? size++ : k - 1;
      while (p > 0 && (scores[p - 1] < f || (scores[p - 1] === f && items[p - 1] > i))) {
        scores[p] = scores[p - 1];
        items[p] = items[p - 1];
        p--;
      }
      scores[p] = f;
      items[p] = i;
    }
    return { items: size === k ? items : items.slice(0, size), scores: size === k ? scores : scores.slice(0, size), candidates: asked, exact: false };
  }
}

/**
 * The exact answer: every item scored, filtered, the best `k` kept (ties by lower id). The
 * reference the ANN path is measured against, and its fallback for very selective filters.
 */
export function exactTopK(vectors: Float32Array, n: number, d: number, query: Float32Array, k: number, opts: AnnQuery = {}): AnnAnswer {
  // A bounded min-heap of the best k so far: O(n log k) and no n-sized sort.
  const heapI = new Int32Array(k);
  const heapS = new Float32Array(k);
  let size = 0;
  const worse = (a: number, b: number) => heapS[a] < heapS[b] || (heapS[a] === heapS[b] && heapI[a] > heapI[b]);
  const swap = (a: number, b: number) => {
    const ti = heapI[a];
    heapI[a] = heapI[b];
    heapI[b] = ti;
    const ts = heapS[a];
    heapS[a] = heapS[b];
    heapS[b] = ts;
  };
  const down = (p: number) => {
    for (;;) {
      const l = 2 * p + 1;
      const r = l + 1;
      let m = p;
      if (l < size && worse(l, m)) m = l;
      if (r < size && worse(r, m)) m = r;
      if (m === p) return;
      swap(p, m);
      p = m;
    }
  };
  for (let i = 0; i < n; i++) {
    if (opts.exclude?.(i) || (opts.allow && !opts.allow(i))) continue;
    const o = i * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += query[j] * vectors[o + j];
    const f = Math.fround(s);
    if (size < k) {
      heapI[size] = i;
      heapS[size] = f;
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(c, p)) break;
        swap(c, p);
        c = p;
      }
    } else if (f > heapS[0] || (f === heapS[0] && i < heapI[0])) {
      heapI[0] = i;
      heapS[0] = f;
      down(0);
    }
  }
  const order = Array.from({ length: size }, (_, r) => r).sort((a, b) => heapS[b] - heapS[a] || heapI[a] - heapI[b]);
  return { items: Int32Array.from(order, (r) => heapI[r]), scores: Float32Array.from(order, (r) => heapS[r]), candidates: 0, exact: true };
}

/** recall@k of `got` against `truth`: the share of the true top-k that the answer holds. */
export function recallAt(got: ArrayLike<number>, truth: ArrayLike<number>): number {
  if (truth.length === 0) return 1;
  const g = new Set(Array.from(got));
  let hit = 0;
  for (let r = 0; r < truth.length; r++) if (g.has(truth[r])) hit++;
  return hit / truth.length;
}
