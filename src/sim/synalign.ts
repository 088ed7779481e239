/**
 * SynAlign (arXiv 2502.08661): synthetic samples made to match real ones.
 *
 * 1. MMD reweighting. With an RBF kernel k(x, y) = exp(−|x − y|² / (2σ²)) and real samples r_1…r_n,
 *    synthetic s_1…s_m weighted by w on the simplex,
 *      MMD²(R, S_w) = (1/n²)ΣᵢΣⱼ k(rᵢ, rⱼ) − (2/n)ΣᵢΣⱼ wⱼ k(rᵢ, sⱼ) + ΣⱼΣₗ wⱼ wₗ k(sⱼ, sₗ).
 *    σ² is the median of the pairwise squared distances of the pooled samples (median heuristic).
 *    The weights minimise this convex quadratic over the simplex by projected gradient descent
 *    (accelerated, step 1 / L with L = 2·max row sum of K_ss ≥ 2·λ_max; projection of Duchi et al. 2008).
 * 2. Diversity-seeking demonstrations. Cluster the real samples (k-means, k-means++ start); a
 *    Gaussian process with the same RBF kernel over the cluster centres gives each cluster a
 *    posterior variance given the clusters already chosen; pick the most uncertain next (UCB with
 *    β → ∞). Each chosen cluster contributes the real sample nearest its centre as a demonstration.
 *
 * Samples are rows of a row-major Float64Array with `dims` columns.
 */
import { Rng } from '../util/rng.ts';

/** Row-major samples. */
export interface Samples {
  data: Float64Array;
  dims: number;
}

const count = (s: Samples): number => s.data.length / s.dims;

function sqDist(a: Float64Array, i: number, b: Float64Array, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const t = a[i * d + k] - b[j * d + k];
    s += t * t;
  }
  return s;
}

/** σ² of the median heuristic: the median pairwise squared distance of the pooled samples (> 0). */
export function medianBandwidth2(...sets: Samples[]): number {
  const d = sets[0].dims;
  const pool = new Float64Array(sets.reduce((a, s) => a + s.data.length, 0));
  let off = 0;
  for (const s of sets) {
    if (s.dims !== d) throw new Error(`medianBandwidth2: samples have ${s.dims} and ${d} dimensions`);
    pool.set(s.data, off);
    off += s.data.length;
  }
  const n = pool.length / d;
  const dist: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) dist.push(sqDist(pool, i, pool, j, d));
  dist.sort((a, b) => a - b);
  const m = dist.length === 0 ? 1 : dist.length % 2 ? dist[(dist.length - 1) / 2] : (dist[dist.length / 2 - 1] + dist[dist.length / 2]) / 2;
  return m > 0 ? m : 1;
}

/** The RBF Gram matrix K[i, j] = k(a_i, b_j), row-major |a| × |b|. */
export function rbfGram(a: Samples, b: Samples, sigma2: number): Float64Array {
  const n = count(a), m = count(b), d = a.dims;
  const K = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) K[i * m + j] = Math.exp(-sqDist(a.data, i, b.data, j, d) / (2 * sigma2));
  return K;
}

/** The pieces of MMD² that do not change with w: mean K_rr, m_j = (1/n)Σᵢ k(rᵢ, sⱼ), and K_ss. */
export interface MmdProblem {
  krr: number;
  m: Float64Array;
  kss: Float64Array;
  sigma2: number;
}

/** Sets up MMD²(R, S_w) for bandwidth σ² (default: the median heuristic on R ∪ S). */
export function mmdProblem(real: Samples, synth: Samples, sigma2 = medianBandwidth2(real, synth)): MmdProblem {
  if (real.dims !== synth.dims) throw new Error(`mmdProblem: real samples have ${real.dims} dimensions, synthetic ${synth.dims}`);
  const n = count(real), ms = count(synth);
  if (n === 0 || ms === 0) throw new Error('mmdProblem: need at least one real and one synthetic sample');
  const Krr = rbfGram(real, real, sigma2);
  const krr = Krr.reduce((a, v) => a + v, 0) / (n * n);
  const Krs = rbfGram(real, synth, sigma2);
  const m = new Float64Array(ms);
  for (let i = 0; i < n; i++) for (let j = 0; j < ms; j++) m[j] += Krs[i * ms + j] / n;
  return { krr, m, kss: rbfGram(synth, synth, sigma2), sigma2 };
}

/** MMD²(R, S_w) = krr − 2·mᵀw + wᵀK_ss w. */
export function mmd2(p: MmdProblem, w: ArrayLike<number>): number {
  const ms = p.m.length;
  let lin = 0, quad = 0;
  for (let j = 0; j < ms; j++) {
    lin += p.m[j] * w[j];
    let row = 0;
    for (let l = 0; l < ms; l++) row += p.kss[j * ms + l] * w[l];
    quad += w[j] * row;
  }
  return p.krr - 2 * lin + quad;
}

/** Euclidean projection of v onto the probability simplex (Duchi, Shalev-Shwartz, Singer, Chandra 2008). */
export function projectSimplex(v: ArrayLike<number>): Float64Array {
  const u = Array.from(v).sort((a, b) => b - a);
  let css = 0, theta = 0;
  for (let k = 0; k < u.length; k++) {
    css += u[k];
    const t = (css - 1) / (k + 1);
    if (u[k] - t > 0) theta = t;
  }
  return Float64Array.from(v, (x) => Math.max(0, x - theta));
}

/**
 * Weights on the simplex minimising MMD², from uniform, by accelerated projected gradient (FISTA,
 * Beck & Teboulle 2009; the objective is a convex quadratic, so the iterates converge at O(1/t²)).
 */
export function mmdWeights(p: MmdProblem, options: { iterations?: number; tolerance?: number } = {}): { weights: Float64Array; before: number; after: number; iterations: number } {
  const ms = p.m.length, iters = options.iterations ?? 5000, tol = options.tolerance ?? 1e-12;
  let L = 0;
  for (let j = 0; j < ms; j++) {
    let row = 0;
    for (let l = 0; l < ms; l++) row += Math.abs(p.kss[j * ms + l]);
    L = Math.max(L, 2 * row);
  }
  let w: Float64Array = new Float64Array(ms).fill(1 / ms);
  let y = w.slice();
  let t = 1;
  const before = mmd2(p, w);
  const g = new Float64Array(ms);
  let it = 0;
  for (; it < iters; it++) {
    for (let j = 0; j < ms; j++) {
      let row = 0;
      for (let l = 0; l < ms; l++) row += p.kss[j * ms + l] * y[l];
      g[j] = 2 * row - 2 * p.m[j];
    }
    const next = projectSimplex(y.map((x, j) => x - g[j] / L));
    const t2 = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    let change = 0;
    for (let j = 0; j < ms; j++) change = Math.max(change, Math.abs(next[j] - w[j]));
    y = next.map((x, j) => x + ((t - 1) / t2) * (x - w[j]));
    w = next;
    t = t2;
    if (change < tol) break;
  }
  return { weights: w, before, after: mmd2(p, w), iterations: it };
}

/** k-means (k-means++ start, Lloyd iterations); returns centres and each sample's cluster. */
export function kMeans(x: Samples, k: number, seed: number, iterations = 50): { centres: Samples; assign: Int32Array } {
  const n = count(x), d = x.dims;
  if (k < 1 || k > n) throw new Error(`kMeans: k = ${k} must be in 1..${n}`);
  const rng = new Rng(seed);
  const C = new Float64Array(k * d);
  const first = rng.int(n);
  C.set(x.data.subarray(first * d, (first + 1) * d), 0);
  const near = new Float64Array(n).fill(Infinity);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      near[i] = Math.min(near[i], sqDist(x.data, i, C, c - 1, d));
      total += near[i];
    }
    let u = rng.next() * total, pick = n - 1;
    for (let i = 0; i < n; i++) if ((u -= near[i]) <= 0) {
      pick = i;
      break;
    }
    C.set(x.data.subarray(pick * d, (pick + 1) * d), c * d);
  }
  const assign = new Int32Array(n);
  for (let it = 0; it < iterations; it++) {
    let moved = false;
    for (let i = 0; i < n; i++) {
      let best = 0, bd = Infinity;
      for (let c = 0; c < k; c++) {
        const dd = sqDist(x.data, i, C, c, d);
        if (dd < bd) {
          bd = dd;
          best = c;
        }
      }
      if (assign[i] !== best || it === 0) moved = moved || assign[i] !== best;
      assign[i] = best;
    }
    const sums = new Float64Array(k * d), sizes = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      sizes[assign[i]]++;
      for (let j = 0; j < d; j++) sums[assign[i] * d + j] += x.data[i * d + j];
    }
    for (let c = 0; c < k; c++) if (sizes[c] > 0) for (let j = 0; j < d; j++) C[c * d + j] = sums[c * d + j] / sizes[c];
    if (!moved && it > 0) break;
  }
  return { centres: { data: C, dims: d }, assign };
}

/**
 * GP posterior variance at each of `points` given observations at `chosen` (indices into points),
 * prior k(x, x) = 1 (RBF), noise `noise`: σ²(x) = 1 − k_xᵀ (K + noise·I)⁻¹ k_x.
 */
export function gpVariance(points: Samples, chosen: readonly number[], sigma2: number, noise = 1e-6): Float64Array {
  const n = count(points), c = chosen.length;
  const out = new Float64Array(n).fill(1);
  if (c === 0) return out;
  const K = rbfGram(points, points, sigma2);
  // Cholesky of K_cc + noise·I
  const A = new Float64Array(c * c);
  for (let a = 0; a < c; a++) for (let b = 0; b < c; b++) A[a * c + b] = K[chosen[a] * n + chosen[b]] + (a === b ? noise : 0);
  for (let j = 0; j < c; j++) {
    for (let k = 0; k < j; k++) A[j * c + j] -= A[j * c + k] ** 2;
    A[j * c + j] = Math.sqrt(A[j * c + j]);
    for (let i = j + 1; i < c; i++) {
      for (let k = 0; k < j; k++) A[i * c + j] -= A[i * c + k] * A[j * c + k];
      A[i * c + j] /= A[j * c + j];
    }
  }
  const v = new Float64Array(c);
  for (let x = 0; x < n; x++) {
    // solve L v = k_x; variance = 1 − |v|²
    let s2 = 0;
    for (let i = 0; i < c; i++) {
      let t = K[x * n + chosen[i]];
      for (let k = 0; k < i; k++) t -= A[i * c + k] * v[k];
      v[i] = t / A[i * c + i];
      s2 += v[i] * v[i];
    }
    out[x] = Math.max(0, 1 - s2);
  }
  return out;
}

/**
 * Diversity-seeking demonstrations: `k` clusters of the real samples, then `picks` clusters chosen
 * one by one by the largest GP posterior variance (ties: lower cluster index); returns the chosen
 * clusters in order and, for each, the index of the real sample nearest its centre.
 */
export function selectDemonstrations(real: Samples, k: number, picks: number, seed: number): { clusters: number[]; demos: number[]; assign: Int32Array } {
  if (picks > k) throw new Error(`selectDemonstrations: ${picks} picks from ${k} clusters`);
  const { centres, assign } = kMeans(real, k, seed);
  const sigma2 = medianBandwidth2(centres);
  const clusters: number[] = [];
  for (let p = 0; p < picks; p++) {
    const v = gpVariance(centres, clusters, sigma2);
    let best = -1;
    for (let c = 0; c < k; c++) if (!clusters.includes(c) && (best < 0 || v[c] > v[best])) best = c;
    clusters.push(best);
  }
  const demos = clusters.map((c) => {
    let best = -1, bd = Infinity;
    for (let i = 0; i < assign.length; i++) {
      if (assign[i] !== c) continue;
      const dd = sqDist(real.data, i, centres.data, c, real.dims);
      if (dd < bd) {
        bd = dd;
        best = i;
      }
    }
    return best;
  });
  return { clusters, demos, assign };
}
