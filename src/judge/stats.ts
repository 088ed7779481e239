/**
 * The statistics of pairwise judging: Wilson intervals for win rates, Bradley–Terry strengths
 * fitted by Hunter's MM algorithm, and Kendall's τ-b between two rankings.
 */

/** A proportion with its confidence interval. */
export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
}

/**
 * Wilson score interval for `successes` out of `n` at normal quantile `z` (1.96 ≈ 95 %):
 * centre `(p̂ + z²/2n) / (1 + z²/n)`, half-width `z / (1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²)`.
 * Unlike the Wald interval it stays inside [0, 1] and is sensible at p̂ = 0 or 1 and small n.
 * n = 0 gives the uninformative [0, 1] around NaN.
 */
export function wilson(successes: number, n: number, z = 1.959963984540054): Interval {
  if (n === 0) return { estimate: NaN, lo: 0, hi: 1 };
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { estimate: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/** Pairwise results among `n` players: `wins[i][j]` = times i beat j (ties may be split as 0.5 each). */
export type WinMatrix = number[][];

/** Bradley–Terry fit. */
export interface BradleyTerry {
  /** Strengths p_i > 0, scaled to geometric mean 1. P(i beats j) = p_i / (p_i + p_j). */
  strength: number[];
  /** Elo-like ratings: 1000 + 400·log10(p_i) (a 400-point gap = 10:1 odds). */
  rating: number[];
  iterations: number;
  converged: boolean;
}

/**
 * Bradley–Terry maximum likelihood by the MM algorithm of Hunter (2004, Ann. Statist. 32:384):
 *
 *   p_i ← W_i / Σ_{j≠i} n_ij / (p_i + p_j)
 *
 * with W_i the wins of i and n_ij the comparisons of i and j, each sweep renormalised to geometric
 * mean 1 (the likelihood is scale-free). Each step increases the likelihood; it converges to the
 * MLE when the comparison graph is strongly connected (every player both wins and loses within
 * every split of the players). `prior` adds that many virtual ties (0.5 win each way) to every
 * pair that met at least once, which keeps a player with no wins at a finite rating.
 */
export function bradleyTerry(wins: WinMatrix, options: { prior?: number; tol?: number; maxIter?: number } = {}): BradleyTerry {
  const n = wins.length;
  const prior = options.prior ?? 0;
  const tol = options.tol ?? 1e-10;
  const maxIter = options.maxIter ?? 10_000;
  const w: number[][] = wins.map((row, i) => {
    if (row.length !== n) throw new Error(`bradleyTerry: row ${i} has ${row.length} entries, expected ${n}`);
    return row.map((x, j) => {
      if (!(x >= 0)) throw new Error(`bradleyTerry: wins[${i}][${j}] = ${x} must be ≥ 0`);
      return i === j ? 0 : x;
    });
  });
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && (wins[i][j] > 0 || wins[j][i] > 0)) w[i][j] += prior / 2;
  const W = w.map((row) => row.reduce((a, x) => a + x, 0));
  let p = new Array<number>(n).fill(1);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIter) {
    iterations++;
    const next = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) if (j !== i) s += (w[i][j] + w[j][i]) / (p[i] + p[j]);
      next[i] = s > 0 ? W[i] / s : p[i];
    }
    // Geometric-mean-1 normalisation over players with positive strength.
    const pos = next.filter((x) => x > 0);
    const g = pos.length ? Math.exp(pos.reduce((a, x) => a + Math.log(x), 0) / pos.length) : 1;
    for (let i = 0; i < n; i++) next[i] /= g;
    let change = 0;
    for (let i = 0; i < n; i++) change = Math.max(change, Math.abs(next[i] - p[i]) / Math.max(p[i], 1e-300));
    p = next;
    if (change < tol) {
      converged = true;
      break;
    }
  }
  return { strength: p, rating: p.map((x) => 1000 + 400 * Math.log10(x)), iterations, converged };
}

/**
 * Kendall's τ-b between paired observations x and y:
 *
 *   τ_b = (C − D) / √((n₀ − n₁)(n₀ − n₂))
 *
 * with C / D the concordant / discordant pairs, n₀ = n(n−1)/2, n₁ = Σ t(t−1)/2 over groups of
 * ties in x, n₂ likewise in y. Pairs tied in either variable count as neither. O(n²), which is
 * right for rankings of a handful of systems. NaN when either variable is constant.
 */
export function kendallTauB(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new Error(`kendallTauB: lengths differ (${x.length} vs ${y.length})`);
  const n = x.length;
  let c = 0;
  let d = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const sx = Math.sign(x[i] - x[j]);
      const sy = Math.sign(y[i] - y[j]);
      if (sx === 0) tx++;
      if (sy === 0) ty++;
      if (sx !== 0 && sy !== 0) {
        if (sx === sy) c++;
        else d++;
      }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  const denom = Math.sqrt((n0 - tx) * (n0 - ty));
  return denom > 0 ? (c - d) / denom : NaN;
}

/** Agreement of two raters on the same items. */
export interface CohenKappa {
  /** κ = (p_o − p_e) / (1 − p_e); NaN when there are no items or chance agreement is certain (p_e = 1). */
  kappa: number;
  /** p_o: share of items both raters put in the same category. */
  observed: number;
  /** p_e: agreement expected by chance, Σ_c p_1(c)·p_2(c) from each rater's own category shares. */
  expected: number;
  /** Items rated by both. */
  n: number;
}

/**
 * Cohen's κ (Cohen 1960, Educ. Psychol. Meas. 20:37) between two raters who each put the same n
 * items into categories: `a[i]` and `b[i]` are the two ratings of item i. κ is 1 for perfect
 * agreement, 0 for agreement at chance level, negative below it.
 */
export function cohenKappa(a: readonly string[], b: readonly string[]): CohenKappa {
  if (a.length !== b.length) throw new Error(`cohenKappa: lengths differ (${a.length} vs ${b.length})`);
  const n = a.length;
  if (n === 0) return { kappa: NaN, observed: NaN, expected: NaN, n: 0 };
  const countA = new Map<string, number>();
  const countB = new Map<string, number>();
  let same = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) same++;
    countA.set(a[i], (countA.get(a[i]) ?? 0) + 1);
    countB.set(b[i], (countB.get(b[i]) ?? 0) + 1);
  }
  const observed = same / n;
  let expected = 0;
  for (const [c, x] of countA) expected += (x / n) * ((countB.get(c) ?? 0) / n);
  const kappa = expected < 1 ? (observed - expected) / (1 - expected) : NaN;
  return { kappa, observed, expected, n };
}
