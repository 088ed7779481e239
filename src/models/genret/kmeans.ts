/**
 * k-means (Lloyd's iterations after k-means++ seeding) on row-major float vectors. Used to
 * initialise the RQ-VAE codebooks (TIGER: "k-means on the first batch"), and by the
 * collaborative ID scheme on spectral item vectors.
 */
import type { Rng } from '../../util/rng.ts';

/** Result of {@link kmeans}. */
export interface KMeansResult {
  /** k × dim centroids, row-major. */
  centroids: Float32Array;
  /** Cluster of each row. */
  assign: Int32Array;
  /** Sum of squared distances of rows to their centroids. */
  inertia: number;
}

/** Squared Euclidean distance between row `i` of `a` and row `j` of `b` (both width `dim`). */
export function sqDist(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  const ai = i * dim, bj = j * dim;
  for (let t = 0; t < dim; t++) {
    const d = a[ai + t] - b[bj + t];
    s += d * d;
  }
  return s;
}

/** Index of the row of `centroids` (k rows) nearest to row `i` of `x`, and its squared distance. */
export function nearest(x: Float32Array, i: number, centroids: Float32Array, k: number, dim: number): { index: number; dist: number } {
  let best = 0, bestD = Infinity;
  for (let c = 0; c < k; c++) {
    const d = sqDist(x, i, centroids, c, dim);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return { index: best, dist: bestD };
}

/**
 * Clusters the `n` rows of `x` (width `dim`) into `k` groups. With fewer distinct rows than `k`,
 * the surplus centroids are copies of data rows (they stay empty; RQ-VAE's dead-code restarts deal
 * with them). Deterministic for a given rng state.
 */
export function kmeans(x: Float32Array, n: number, dim: number, k: number, rng: Rng, iterations = 20): KMeansResult {
  if (n <= 0) throw new Error('kmeans: no rows');
  if (!(k >= 1)) throw new Error(`kmeans: k must be ≥ 1, got ${k}`);
  const C = new Float32Array(k * dim);
  // k-means++: the first centre uniformly, each next one with probability ∝ squared distance
  const d2 = new Float64Array(n).fill(Infinity);
  let c0 = rng.int(n);
  for (let c = 0; c < k; c++) {
    C.set(x.subarray(c0 * dim, (c0 + 1) * dim), c * dim);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = sqDist(x, i, C, c, dim);
      if (d < d2[i]) d2[i] = d;
      total += d2[i];
    }
    if (total <= 0) {
      c0 = rng.int(n); // every row already sits on a centre: duplicates
      continue;
    }
    let r = rng.next() * total;
    c0 = n - 1;
    for (let i = 0; i < n; i++) {
      r -= d2[i];
      if (r <= 0) {
        c0 = i;
        break;
      }
    }
  }
  const assign = new Int32Array(n);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  let inertia = 0;
  for (let it = 0; it < iterations; it++) {
    let changed = 0;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      const { index, dist } = nearest(x, i, C, k, dim);
      if (it === 0 || assign[i] !== index) changed++;
      assign[i] = index;
      inertia += dist;
    }
    if (changed === 0 && it > 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const a = assign[i];
      counts[a]++;
      for (let t = 0; t < dim; t++) sums[a * dim + t] += x[i * dim + t];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue; // keep an empty centre where it is
      for (let t = 0; t < dim; t++) C[c * dim + t] = sums[c * dim + t] / counts[c];
    }
  }
  // the assignment and inertia of the final centroids
  inertia = 0;
  for (let i = 0; i < n; i++) {
    const { index, dist } = nearest(x, i, C, k, dim);
    assign[i] = index;
    inertia += dist;
  }
  return { centroids: C, assign, inertia };
}
