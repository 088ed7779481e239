/**
 * Significance of metric differences between two models evaluated on the same users (paired by
 * user), confidence intervals by the bootstrap, and mean ± std over seeds.
 *
 * Pairing: per-user arrays from `evaluate` are aligned by `result.users`; pairs where either value
 * is NaN (metric undefined for that user) are dropped before testing.
 */
import jstatModule from 'jstat';
import { Rng } from '../nn/rng.ts';

interface JStat {
  studentt: { cdf(x: number, df: number): number };
  normal: { cdf(x: number, mean: number, sd: number): number };
}
const jStat = jstatModule as unknown as JStat;

/** Result of a paired test. */
export interface TestResult {
  /** Test statistic (t for the t-test, z for Wilcoxon's normal approximation). */
  statistic: number;
  /** Two-sided p-value. */
  p: number;
  /** Number of pairs used (Wilcoxon: after dropping zero differences). */
  n: number;
  /** Mean difference a − b over the pairs used in the test. */
  meanDiff: number;
}

/** The finite pairs (a_i, b_i) as differences a_i − b_i. */
function differences(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  if (a.length !== b.length) throw new Error(`paired test: arrays differ in length (${a.length} vs ${b.length}); evaluate both models on the same users`);
  const d: number[] = [];
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]) && Number.isFinite(b[i])) d.push(a[i] - b[i]);
  return d;
}

/**
 * Paired Student t-test of mean(a − b) = 0: `t = d̄ / (s_d / √n)` with s_d the sample standard
 * deviation (n − 1), `p = 2·(1 − F_{t,n−1}(|t|))`. When all differences are equal, s_d = 0: p = 1
 * if they are all 0 (identical models) and p = 0 otherwise. Fewer than 2 pairs: p = NaN.
 */
export function pairedTTest(a: ArrayLike<number>, b: ArrayLike<number>): TestResult {
  const d = differences(a, b);
  const n = d.length;
  const mean = n ? d.reduce((s, x) => s + x, 0) / n : NaN;
  if (n < 2) return { statistic: NaN, p: NaN, n, meanDiff: mean };
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  if (sd === 0 || sd < 1e-15 * Math.abs(mean)) return { statistic: mean === 0 ? 0 : Math.sign(mean) * Infinity, p: mean === 0 ? 1 : 0, n, meanDiff: mean };
  const t = mean / (sd / Math.sqrt(n));
  // 2·F(−|t|) rather than 2·(1 − F(|t|)): no cancellation, so tiny p-values stay exact.
  return { statistic: t, p: Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), n - 1)), n, meanDiff: mean };
}

/**
 * Wilcoxon signed-rank test, normal approximation (what large user counts call for):
 * zero differences are dropped (Wilcoxon's original method); |d| are ranked with average ranks
 * for ties; `W+` = sum of ranks of positive differences over the n remaining pairs;
 * `z = (W+ − n(n+1)/4) / σ` with `σ² = n(n+1)(2n+1)/24 − Σ_t (t³ − t)/48` (tie correction over
 * groups of t equal |d|), no continuity correction; `p = 2·(1 − Φ(|z|))`. Matches
 * `scipy.stats.wilcoxon(..., zero_method='wilcox', correction=False, method='approx')`.
 * No non-zero difference: p = 1.
 */
export function wilcoxon(a: ArrayLike<number>, b: ArrayLike<number>): TestResult {
  const all = differences(a, b);
  const meanDiff = all.length ? all.reduce((s, x) => s + x, 0) / all.length : NaN;
  const d = all.filter((x) => x !== 0);
  const n = d.length;
  if (n === 0) return { statistic: 0, p: 1, n: 0, meanDiff };
  const order = d.map((_, i) => i).sort((i, j) => Math.abs(d[i]) - Math.abs(d[j]));
  let wPlus = 0;
  let tieTerm = 0;
  for (let s = 0; s < n; ) {
    let e = s;
    while (e + 1 < n && Math.abs(d[order[e + 1]]) === Math.abs(d[order[s]])) e++;
    const rank = (s + e + 2) / 2; // average of 1-based ranks s+1..e+1
    const t = e - s + 1;
    tieTerm += t ** 3 - t;
    for (let j = s; j <= e; j++) if (d[order[j]] > 0) wPlus += rank;
    s = e + 1;
  }
  const mean = (n * (n + 1)) / 4;
  const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48;
  if (variance <= 0) return { statistic: 0, p: 1, n, meanDiff };
  const z = (wPlus - mean) / Math.sqrt(variance);
  return { statistic: z, p: twoSidedNormalP(z), n, meanDiff };
}

/**
 * Two-sided normal p-value 2·Φ(−|z|). jStat's Φ is exact to double precision for moderate |z| but
 * computes 1 + erf(·) and so underflows to 0 beyond |z| ≈ 8; there we use the Chebyshev fit of
 * erfc from Numerical Recipes (§6.2, relative error < 1.2e-7), so huge effects still get a
 * meaningful, tiny p-value.
 */
export function twoSidedNormalP(z: number): number {
  const a = Math.abs(z);
  if (a < 5) return Math.min(1, 2 * jStat.normal.cdf(-a, 0, 1));
  const x = a / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * Math.exp(-x * x + poly);
}

/** A confidence interval. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
  level: number;
}

/**
 * Percentile bootstrap CI of the mean of `values` (NaN dropped): `reps` resamples of n users with
 * replacement (seeded, so the interval is reproducible), interval = the (α/2, 1 − α/2) quantiles
 * of the resampled means (linear interpolation between order statistics).
 */
export function bootstrapCI(values: ArrayLike<number>, options: { reps?: number; level?: number; seed?: number } = {}): Interval {
  const xs: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) xs.push(values[i]);
  const level = options.level ?? 0.95;
  const n = xs.length;
  const estimate = n ? xs.reduce((s, x) => s + x, 0) / n : NaN;
  if (n < 2) return { estimate, low: estimate, high: estimate, level };
  const reps = options.reps ?? 1000;
  const rng = new Rng(options.seed ?? 0);
  const means = new Float64Array(reps);
  for (let r = 0; r < reps; r++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += xs[rng.int(n)];
    means[r] = s / n;
  }
  means.sort();
  return { estimate, low: quantile(means, (1 - level) / 2), high: quantile(means, 1 - (1 - level) / 2), level };
}

/** Bootstrap CI of the paired mean difference a − b (resampling users). */
export function bootstrapDiffCI(a: ArrayLike<number>, b: ArrayLike<number>, options: { reps?: number; level?: number; seed?: number } = {}): Interval {
  return bootstrapCI(differences(a, b), options);
}

/** Quantile q of sorted `xs` with linear interpolation (type 7, the R / NumPy default). */
export function quantile(xs: ArrayLike<number>, q: number): number {
  const h = (xs.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(xs.length - 1, lo + 1);
  return xs[lo] + (h - lo) * (xs[hi] - xs[lo]);
}

/** Mean and sample standard deviation (n − 1) of per-seed results; std is 0 for one seed. */
export function meanStd(xs: readonly number[]): { mean: number; std: number; n: number } {
  const n = xs.length;
  const mean = n ? xs.reduce((s, x) => s + x, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}
