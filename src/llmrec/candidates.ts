/**
 * Candidate lists for comparing LLM and traditional recommenders on identical candidates: each
 * sampled user's held-out target plus N − 1 negatives drawn, without replacement, from the items
 * the user never interacted with — uniformly, or with probability proportional to training
 * popularity — and a Kolmogorov–Smirnov check that the drawn negatives follow that distribution.
 *
 * The check is exact for sampling without replacement. Items are ordered by training popularity
 * (most popular first). Draw j of user u follows q(i) ∝ w_i over the items u never saw and not yet
 * drawn (w_i = 1 uniform, = training count for popularity), a discrete distribution with CDF F_uj
 * over that order. Its randomised probability integral transform U = F_uj(x⁻) + V·(F_uj(x) −
 * F_uj(x⁻)), V ~ U(0, 1) (seeded), is exactly uniform under the intended sampler, and the U of
 * successive draws are independent (Rosenblatt 1952), so one K-S test of all U against U(0, 1)
 * checks every draw of every user at once. A sampler drawing from the wrong distribution (e.g.
 * uniform when popularity was asked for) pushes the U towards one end and fails by a wide margin.
 */
import type { Interactions } from '../data/types.ts';
import { DataRng } from '../data/random.ts';
import { Rng } from '../util/rng.ts';
import { ksTest, type KsTest } from '../eval/hypothesis.ts';
import type { ItemCatalogue } from './catalogue.ts';
import { userHistory } from './history.ts';
import type { ProbeUser } from './probes.ts';

/** How negatives are drawn. */
export type CandidateSampling = 'uniform' | 'popularity';

/** Options of {@link sampleCandidates}. */
export interface CandidateOptions {
  /** Candidates per user, the target included (default 20). */
  n?: number;
  sampling?: CandidateSampling;
  /** Training interaction count per item (needed for popularity sampling and the K-S check). */
  popularity: ArrayLike<number>;
  seed?: number;
  label?: (u: number) => string;
}

/** The sampling weight of each item. */
function weights(sampling: CandidateSampling, popularity: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: popularity.length }, (_, i) => (sampling === 'uniform' ? 1 : popularity[i]));
}

/**
 * For each user: the target (their first event in `targets`), the full history before it, and
 * `n − 1` distinct negatives never seen in `history` and not the target.
 */
export function sampleCandidates(history: Interactions, targets: Interactions, catalogue: ItemCatalogue, users: ArrayLike<number>, options: CandidateOptions): ProbeUser[] {
  const n = options.n ?? 20;
  const sampling = options.sampling ?? 'uniform';
  const label = options.label ?? String;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`sampleCandidates: n must be an integer ≥ 2 (target + at least one negative), got ${n}`);
  const w = weights(sampling, options.popularity);
  const cum = new Float64Array(w.length);
  let total = 0;
  for (let i = 0; i < w.length; i++) cum[i] = total += w[i];
  const rng = new DataRng(options.seed ?? 0);
  const out: ProbeUser[] = [];
  for (let x = 0; x < users.length; x++) {
    const u = users[x];
    if (targets.offsets[u + 1] === targets.offsets[u]) throw new Error(`sampleCandidates: user ${label(u)} has no held-out event`);
    const target = targets.items[targets.offsets[u]];
    const seen = new Set<number>(history.items.subarray(history.offsets[u], history.offsets[u + 1]));
    seen.add(target);
    let available = 0;
    for (let i = 0; i < w.length; i++) if (!seen.has(i) && w[i] > 0) available++;
    if (available < n - 1) throw new Error(`sampleCandidates: user ${label(u)} has ${available} eligible unseen items, fewer than the ${n - 1} negatives asked for`);
    const chosen = new Set<number>();
    const negatives: number[] = [];
    while (negatives.length < n - 1) {
      // Inverse-CDF draw over all items, rejecting seen and already chosen ones: the accepted
      // draws follow w restricted to the remaining items.
      const r = rng.next() * total;
      let lo = 0;
      let hi = cum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid] > r) hi = mid;
        else lo = mid + 1;
      }
      if (seen.has(lo) || chosen.has(lo) || w[lo] === 0) continue;
      chosen.add(lo);
      negatives.push(lo);
    }
    out.push({ user: u, label: label(u), history: userHistory(history, u, catalogue), target, negatives });
  }
  return out;
}

/** The K-S check of sampled negatives. */
export interface CandidateCheck extends KsTest {
  sampling: CandidateSampling;
}

/**
 * K-S test of the negatives (in draw order) against the intended sampler, by the randomised
 * probability integral transform of each draw (see the module comment). `seenOf(u)` gives the
 * items user u was excluded from (history ∪ target).
 */
export function checkCandidates(users: readonly ProbeUser[], sampling: CandidateSampling, popularity: ArrayLike<number>, seenOf: (u: ProbeUser) => ReadonlySet<number>, seed = 0): CandidateCheck {
  const nItems = popularity.length;
  const w = weights(sampling, popularity);
  // Popularity rank: most popular first, ties by id (the order catalogueStats uses).
  const byPop = Array.from({ length: nItems }, (_, i) => i).sort((a, b) => popularity[b] - popularity[a] || a - b);
  const rankOf = new Int32Array(nItems);
  byPop.forEach((item, r) => (rankOf[item] = r));
  const rng = new Rng(seed);
  const pit: number[] = [];
  for (const u of users) {
    const seen = seenOf(u);
    // below[r] = total weight of eligible items ranked before r.
    const below = new Float64Array(nItems + 1);
    for (let r = 0; r < nItems; r++) below[r + 1] = below[r] + (seen.has(byPop[r]) ? 0 : w[byPop[r]]);
    const chosen: number[] = [];
    let removed = 0;
    for (const x of u.negatives) {
      const rx = rankOf[x];
      let before = below[rx];
      for (const c of chosen) if (rankOf[c] < rx) before -= w[c];
      const z = below[nItems] - removed;
      const lo = before / z;
      const hi = (before + w[x]) / z;
      pit.push(lo + rng.next() * (hi - lo));
      chosen.push(x);
      removed += w[x];
    }
  }
  return { sampling, ...ksTest(pit, (v) => Math.min(1, Math.max(0, v))) };
}
