/**
 * Collaborative item IDs ("How to Index Item IDs", Hua et al. 2023, collaborative indexing):
 * items that co-occur in users' sequences should share ID prefixes. The co-occurrence graph
 * (items within `window` events of each other in a user's sequence, weighted by count) is
 * embedded spectrally — the top eigenvectors of D^−½ A D^−½ by block power iteration — and the
 * embedding is clustered hierarchically: k-means into K groups, then each group again into K, …,
 * one level per split. (Hua et al. recompute the spectral clustering of each sub-graph; this
 * re-clusters the global spectral embedding inside each group — cheaper, same hierarchy idea.)
 * Items with no co-occurrence (cold items) all land together.
 */
import type { Interactions } from '../../data/types.ts';
import { Rng } from '../../util/rng.ts';
import { kmeans } from './kmeans.ts';
import { withCollisionLevel, type IdTable } from './ids.ts';

/** Options of {@link collaborativeIds}. */
export interface CollaborativeOptions {
  /** Codes per level (clusters per split). */
  K: number;
  /** Semantic levels. */
  levels: number;
  /** Spectral embedding width. */
  dims?: number;
  /** Co-occurrence window in events. */
  window?: number;
  /** Power-iteration rounds. */
  iterations?: number;
  seed: number;
}

/** Symmetric co-occurrence graph in CSR (counts of pairs within the window). */
function cooccurrence(train: Interactions, window: number): { off: Int32Array; col: Int32Array; w: Float32Array } {
  const n = train.nItems;
  const maps: Map<number, number>[] = Array.from({ length: n }, () => new Map());
  for (let u = 0; u < train.nUsers; u++) {
    const a = train.offsets[u], b = train.offsets[u + 1];
    for (let i = a; i < b; i++) {
      for (let j = i + 1; j < Math.min(b, i + 1 + window); j++) {
        const x = train.items[i], y = train.items[j];
        if (x === y) continue;
        maps[x].set(y, (maps[x].get(y) ?? 0) + 1);
        maps[y].set(x, (maps[y].get(x) ?? 0) + 1);
      }
    }
  }
  const off = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) off[i + 1] = off[i] + maps[i].size;
  const col = new Int32Array(off[n]);
  const w = new Float32Array(off[n]);
  for (let i = 0; i < n; i++) {
    let k = off[i];
    for (const [j, c] of maps[i]) {
      col[k] = j;
      w[k++] = c;
    }
  }
  return { off, col, w };
}

/** Orthonormalises the `k` columns of the n × k row-major matrix V in place (modified Gram–Schmidt). */
function orthonormalise(V: Float64Array, n: number, k: number): void {
  for (let c = 0; c < k; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += V[i * k + c] * V[i * k + p];
      for (let i = 0; i < n; i++) V[i * k + c] -= dot * V[i * k + p];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += V[i * k + c] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < n; i++) V[i * k + c] /= norm;
  }
}

/**
 * Spectral item vectors: the top `dims` eigenvectors of (I + D^−½ A D^−½)/2 (same eigenvectors,
 * spectrum shifted to [0, 1] so power iteration finds the largest), rows scaled to unit length.
 */
export function spectralEmbedding(train: Interactions, dims: number, window: number, iterations: number, seed: number): Float32Array {
  const n = train.nItems;
  const g = cooccurrence(train, window);
  const dinv = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = g.off[i]; k < g.off[i + 1]; k++) s += g.w[k];
    dinv[i] = s > 0 ? 1 / Math.sqrt(s) : 0;
  }
  const rng = new Rng(seed);
  let V = Float64Array.from({ length: n * dims }, () => rng.normal());
  orthonormalise(V, n, dims);
  for (let it = 0; it < iterations; it++) {
    const W = new Float64Array(n * dims);
    for (let i = 0; i < n; i++) {
      for (let k = g.off[i]; k < g.off[i + 1]; k++) {
        const j = g.col[k];
        const a = 0.5 * g.w[k] * dinv[i] * dinv[j];
        for (let c = 0; c < dims; c++) W[i * dims + c] += a * V[j * dims + c];
      }
      for (let c = 0; c < dims; c++) W[i * dims + c] += 0.5 * V[i * dims + c];
    }
    orthonormalise(W, n, dims);
    V = W;
  }
  const out = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let c = 0; c < dims; c++) norm += V[i * dims + c] ** 2;
    const s = dinv[i] > 0 && norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let c = 0; c < dims; c++) out[i * dims + c] = V[i * dims + c] * s;
  }
  return out;
}

/**
 * Hierarchical k-means codes of `n` rows of `x` (width `dim`): level 0 splits all rows into up
 * to K groups, each further level splits every group of the level before into up to K.
 */
export function hierarchicalCodes(x: Float32Array, n: number, dim: number, K: number, levels: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const codes = new Int32Array(n * levels);
  let groups: Int32Array[] = [Int32Array.from({ length: n }, (_, i) => i)];
  for (let l = 0; l < levels; l++) {
    const nextGroups: Int32Array[] = [];
    for (const members of groups) {
      if (members.length === 0) continue;
      const sub = new Float32Array(members.length * dim);
      members.forEach((m, r) => sub.set(x.subarray(m * dim, (m + 1) * dim), r * dim));
      const k = Math.min(K, members.length);
      const km = kmeans(sub, members.length, dim, k, rng, 15);
      const buckets: number[][] = Array.from({ length: k }, () => []);
      members.forEach((m, r) => {
        codes[m * levels + l] = km.assign[r];
        buckets[km.assign[r]].push(m);
      });
      for (const b of buckets) if (b.length > 1) nextGroups.push(Int32Array.from(b));
    }
    groups = nextGroups;
  }
  return codes;
}

/** Collaborative IDs from the training events (see the file comment). */
export function collaborativeIds(train: Interactions, o: CollaborativeOptions): IdTable {
  const dims = o.dims ?? 32, window = o.window ?? 3, iterations = o.iterations ?? 30;
  const emb = spectralEmbedding(train, dims, window, iterations, o.seed);
  const codes = hierarchicalCodes(emb, train.nItems, dims, o.K, o.levels, o.seed + 1);
  return withCollisionLevel(codes, train.nItems, o.levels, 'collaborative', new Array(o.levels).fill(o.K), { K: o.K, dims, window, iterations, seed: o.seed });
}
