/**
 * Approximate Entropy (Pincus 1991) of item-id sequences: how predictable a user's next item is
 * from the previous `m` items. Low ApEn = repetitive / regular sequences; high = irregular.
 *
 * For a sequence x of length N, window length m and tolerance r:
 *
 *   C_i^m(r) = #{ j : max_k |x[i+k] − x[j+k]| ≤ r, k = 0..m−1 } / (N − m + 1)   (self-match j = i counted)
 *   Φ^m(r)   = (1 / (N − m + 1)) · Σ_i ln C_i^m(r)
 *   ApEn     = | Φ^m(r) − Φ^{m+1}(r) |
 *
 * The absolute value follows the widely used reference implementation (the one on Wikipedia's
 * "Approximate entropy" page) and the test vectors; Pincus's signed difference only goes
 * negative for short, irregular sequences (e.g. all-distinct ids: Φ^m = ln 1/(N−m+1) < Φ^{m+1}).
 *
 * With r = 0 a match means equal ids at every position (ids are categorical); this is computed
 * in O(N·m) by ranking windows. With r > 0 the Chebyshev distance on the raw ids is used, in
 * O(N²·m). ApEn is undefined (NaN) when N < m + 1 (no (m+1)-window exists).
 *
 * Test vectors (m = 2, r = 0): ApEn([1,2,1,2,1,2,1,2]) = 0.010239, ApEn([5,3,9,1,7,2,8,4]) = 0.154151;
 * ApEn([1,2,1,2,3], m = 2, r = 0.2) = 0.058892.
 */
import type { Interactions } from './types.ts';

/** Pincus ApEn of one sequence (absolute value); self-matches counted. NaN when `sequence.length < m + 1`. */
export function apen(sequence: ArrayLike<number>, m = 2, r = 0): number {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`apen: m must be a positive integer, got ${m}`);
  if (!(r >= 0)) throw new RangeError(`apen: r must be ≥ 0, got ${r}`);
  const n = sequence.length;
  if (n < m + 1) return NaN;
  return r === 0 ? apenExact(sequence, m) : apenTolerance(sequence, m, r);
}

/** Φ^k for k = m and m+1 via window ranks: windows are equal iff their ranks are equal. */
function apenExact(x: ArrayLike<number>, m: number): number {
  const n = x.length;
  // rank[i] = dense id of the window of current length k starting at i (valid for i ≤ n − k).
  let rank = new Int32Array(n);
  const symbols = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    let id = symbols.get(x[i]);
    if (id === undefined) {
      id = symbols.size;
      symbols.set(x[i], id);
    }
    rank[i] = id;
  }
  const sym = rank.slice();
  let phiM = 0;
  let distinct = symbols.size;
  for (let k = 1; k <= m + 1; k++) {
    if (k > 1) {
      // Extend each window of length k−1 at i by the symbol at i+k−1.
      const next = new Int32Array(n - k + 1);
      const pairs = new Map<number, number>();
      for (let i = 0; i <= n - k; i++) {
        const key = rank[i] * n + sym[i + k - 1];
        let id = pairs.get(key);
        if (id === undefined) {
          id = pairs.size;
          pairs.set(key, id);
        }
        next[i] = id;
      }
      rank = next;
      distinct = pairs.size;
    }
    if (k === m || k === m + 1) {
      const windows = n - k + 1;
      const counts = new Int32Array(distinct);
      for (let i = 0; i < windows; i++) counts[rank[i]]++;
      // Σ_i ln(C_i) = Σ_w count_w · ln(count_w / windows)
      let sum = 0;
      for (let w = 0; w < distinct; w++) {
        const c = counts[w];
        if (c > 0) sum += c * Math.log(c / windows);
      }
      const phi = sum / windows;
      if (k === m) phiM = phi;
      else return Math.abs(phiM - phi);
    }
  }
  return NaN; // unreachable
}

function apenTolerance(x: ArrayLike<number>, m: number, r: number): number {
  const phi = (k: number): number => {
    const windows = x.length - k + 1;
    let sum = 0;
    for (let i = 0; i < windows; i++) {
      let count = 0;
      for (let j = 0; j < windows; j++) {
        let ok = true;
        for (let p = 0; p < k; p++) {
          if (Math.abs(x[i + p] - x[j + p]) > r) {
            ok = false;
            break;
          }
        }
        if (ok) count++;
      }
      sum += Math.log(count / windows);
    }
    return sum / windows;
  };
  return Math.abs(phi(m) - phi(m + 1));
}

/**
 * ApEn of every user's item sequence and their mean. Users whose sequence (after truncation to
 * the last `maxLen` events, when given) is shorter than m + 1 get NaN and are left out of the mean.
 * `mean` is NaN when no user qualifies.
 */
export function datasetApen(
  data: Interactions,
  options: { m?: number; r?: number; maxLen?: number } = {},
): { mean: number; perUser: Float64Array } {
  const m = options.m ?? 2;
  const r = options.r ?? 0;
  const maxLen = options.maxLen;
  const perUser = new Float64Array(data.nUsers);
  let sum = 0;
  let counted = 0;
  for (let u = 0; u < data.nUsers; u++) {
    let start = data.offsets[u];
    const end = data.offsets[u + 1];
    if (maxLen !== undefined && end - start > maxLen) start = end - maxLen;
    const value = apen(data.items.subarray(start, end), m, r);
    perUser[u] = value;
    if (!Number.isNaN(value)) {
      sum += value;
      counted++;
    }
  }
  return { mean: counted > 0 ? sum / counted : NaN, perUser };
}
