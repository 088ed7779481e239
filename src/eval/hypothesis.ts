/**
 * Hypothesis tests and agreement statistics beyond the paired tests of significance.ts:
 * the exact binomial test, Fleiss' κ between several raters, and the one-sample
 * Kolmogorov–Smirnov test of a sample against an intended distribution.
 *
 * jstat gives the binomial pmf; it has no Kolmogorov distribution, so that series is written here.
 */
import jstatModule from 'jstat';

interface JStat {
  binomial: { pdf(k: number, n: number, p: number): number };
}
const jStat = jstatModule as unknown as JStat;

/** Result of an exact binomial test. */
export interface BinomialTest {
  successes: number;
  n: number;
  /** Null proportion. */
  p0: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * Exact two-sided binomial test of `successes` out of `n` against proportion `p0`: the p-value is
 * the total probability, under Binomial(n, p0), of every outcome no more likely than the observed
 * one (the "minlike" method of R's binom.test and SciPy's binomtest, with their relative tolerance
 * 1 + 1e-7 so outcomes equal in exact arithmetic count as equal). For p0 = ½ this is
 * 2·min(P(X ≤ k), P(X ≥ k)), capped at 1. n = 0 gives p = 1 (no evidence either way).
 */
export function binomialTest(successes: number, n: number, p0 = 0.5): BinomialTest {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`binomialTest: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) throw new RangeError(`binomialTest: successes must be an integer in 0..${n}, got ${successes}`);
  if (!(p0 >= 0 && p0 <= 1)) throw new RangeError(`binomialTest: p0 must lie in [0, 1], got ${p0}`);
  if (n === 0) return { successes, n, p0, p: 1 };
  const observed = jStat.binomial.pdf(successes, n, p0);
  const limit = observed * (1 + 1e-7);
  let p = 0;
  for (let k = 0; k <= n; k++) {
    const pk = jStat.binomial.pdf(k, n, p0);
    if (pk <= limit) p += pk;
  }
  return { successes, n, p0, p: Math.min(1, p) };
}

/** Fleiss' κ with the quantities it is made of. */
export interface FleissKappa {
  kappa: number;
  /** Mean observed agreement P̄. */
  observed: number;
  /** Chance agreement P̄_e = Σ_j p_j². */
  expected: number;
  /** Items rated. */
  items: number;
  /** Raters per item. */
  raters: number;
}

/**
 * Fleiss' κ (Fleiss 1971) for N items each rated by the same number n ≥ 2 of raters into k
 * categories; `counts[i][j]` = raters who put item i in category j.
 *
 *   P_i = (Σ_j n_ij² − n) / (n(n − 1)),  P̄ = mean_i P_i,  p_j = Σ_i n_ij / (N n),  P̄_e = Σ_j p_j²,
 *   κ = (P̄ − P̄_e) / (1 − P̄_e)
 *
 * κ = 1 is perfect agreement, 0 what chance gives, < 0 worse than chance. When every rating falls
 * in one category P̄_e = 1 and κ is undefined (NaN): agreement cannot be told from chance.
 */
export function fleissKappa(counts: readonly (readonly number[])[]): FleissKappa {
  const N = counts.length;
  if (N === 0) return { kappa: NaN, observed: NaN, expected: NaN, items: 0, raters: 0 };
  const k = counts[0].length;
  const n = counts[0].reduce((a, x) => a + x, 0);
  if (n < 2) throw new RangeError(`fleissKappa: need at least 2 raters per item, item 0 has ${n}`);
  const totals = new Array<number>(k).fill(0);
  let sumP = 0;
  counts.forEach((row, i) => {
    if (row.length !== k) throw new RangeError(`fleissKappa: item ${i} has ${row.length} categories, item 0 has ${k}`);
    const ni = row.reduce((a, x) => a + x, 0);
    if (ni !== n) throw new RangeError(`fleissKappa: item ${i} has ${ni} ratings, item 0 has ${n} (every item needs the same raters)`);
    let sq = 0;
    row.forEach((x, j) => {
      sq += x * x;
      totals[j] += x;
    });
    sumP += (sq - n) / (n * (n - 1));
  });
  const observed = sumP / N;
  const expected = totals.reduce((a, t) => a + (t / (N * n)) ** 2, 0);
  const kappa = expected < 1 ? (observed - expected) / (1 - expected) : NaN;
  return { kappa, observed, expected, items: N, raters: n };
}

/**
 * Survival function of the Kolmogorov distribution, Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2 j² λ²}
 * (1 for λ below 0.2, where the series converges slowly and Q is 1 to double precision).
 */
export function kolmogorovQ(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let j = 1; j <= 100; j++) {
    const term = Math.exp(-2 * j * j * lambda * lambda);
    sum += (j % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-16) break;
  }
  return Math.max(0, Math.min(1, 2 * sum));
}

/** Result of a one-sample Kolmogorov–Smirnov test. */
export interface KsTest {
  /** D = sup_x |F_n(x) − F(x)|. */
  statistic: number;
  n: number;
  /** Asymptotic p-value with Stephens' small-sample correction. */
  p: number;
}

/**
 * One-sample Kolmogorov–Smirnov test of `sample` against the intended CDF `cdf`:
 * D = max over the sorted sample of max(i/n − F(x_(i)), F(x_(i)⁻) − (i−1)/n), with `cdfBefore(x)`
 * = P(X < x) for a discrete distribution (defaults to `cdf`, right for a continuous one). The
 * p-value is Q((√n + 0.12 + 0.11/√n)·D) (Stephens 1970; Numerical Recipes §14.3). For a discrete
 * intended distribution the test is conservative: p is an upper bound, so a small p still means
 * the sample does not follow the distribution.
 */
export function ksTest(sample: readonly number[], cdf: (x: number) => number, cdfBefore: (x: number) => number = cdf): KsTest {
  const n = sample.length;
  if (n === 0) return { statistic: NaN, n: 0, p: NaN };
  const xs = [...sample].sort((a, b) => a - b);
  let d = 0;
  for (let i = 0; i < n; ) {
    // Equal values form one step of the empirical CDF: from i/n just before x to e/n at x.
    let e = i;
    while (e < n && xs[e] === xs[i]) e++;
    const x = xs[i];
    d = Math.max(d, Math.abs(e / n - cdf(x)), Math.abs(cdfBefore(x) - i / n));
    i = e;
  }
  const sq = Math.sqrt(n);
  return { statistic: d, n, p: kolmogorovQ((sq + 0.12 + 0.11 / sq) * d) };
}
