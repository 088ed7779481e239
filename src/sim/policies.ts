/**
 * Non-deep policies of the simulator: random, popularity, greedy on a fitted reclab model,
 * ε-greedy and LinUCB bandits. Every policy fills a list of k items for the current observation,
 * never picking an item in `banned` (the environment's recommended mask in the NX modes), and may
 * learn from the rewards it is shown.
 */
import type { Rng } from '../util/rng.ts';
import type { ItemCategories, Observation } from './env.ts';

/** A recommendation policy in the simulator. */
export interface Policy {
  readonly name: string;
  /** k items for `obs`, none of them with `banned[i]` = 1 (may be null: nothing banned). */
  act(obs: Observation, k: number, banned: Uint8Array | null, rng: Rng): Int32Array;
  /** The answer to the last list (bandits and RL policies learn from it). */
  observe?(obs: Observation, list: Int32Array, rewards: Float64Array, done: boolean): void;
}

/** The k best-scoring items not banned (ties: lower id first). Scores of length nItems. */
export function topKAllowed(scores: ArrayLike<number>, k: number, banned: Uint8Array | null): Int32Array {
  const out = new Int32Array(k).fill(-1);
  const best = new Float64Array(k).fill(-Infinity);
  let filled = 0;
  for (let i = 0; i < scores.length; i++) {
    if (banned?.[i]) continue;
    const s = scores[i];
    if (filled === k && !(s > best[k - 1])) continue;
    let p = filled < k ? filled++ : k - 1;
    while (p > 0 && s > best[p - 1]) {
      best[p] = best[p - 1];
      out[p] = out[p - 1];
      p--;
    }
    best[p] = s;
    out[p] = i;
  }
  if (filled < k) throw new Error(`only ${filled} items are left to recommend, the list needs ${k}`);
  return out;
}

/** k distinct items drawn uniformly among those not banned. */
export function randomAllowed(nItems: number, k: number, banned: Uint8Array | null, rng: Rng, taken: Int32Array = new Int32Array(0)): Int32Array {
  const out = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    let i: number, tries = 0;
    do {
      i = rng.int(nItems);
      if (++tries > 100 * nItems) throw new Error('randomAllowed: no item left to recommend');
    } while (banned?.[i] || out.subarray(0, j).includes(i) || taken.includes(i));
    out[j] = i;
  }
  return out;
}

/** Uniformly random items. */
export class RandomPolicy implements Policy {
  readonly name = 'random';
  constructor(private readonly nItems: number) {}
  act(_obs: Observation, k: number, banned: Uint8Array | null, rng: Rng): Int32Array {
    return randomAllowed(this.nItems, k, banned, rng);
  }
}

/** The most popular items of the logged data (number of events), the same for everyone. */
export class PopularityPolicy implements Policy {
  readonly name = 'popularity';
  constructor(private readonly counts: ArrayLike<number>) {}
  act(_obs: Observation, k: number, banned: Uint8Array | null): Int32Array {
    return topKAllowed(this.counts, k, banned);
  }
}

/**
 * The top items of a fitted model's scores for the user (any reclab `Recommender`, scored once for
 * every user into `scores`, row-major nUsers × nItems).
 */
export class GreedyPolicy implements Policy {
  constructor(readonly name: string, private readonly scores: Float32Array, private readonly nItems: number) {}
  act(obs: Observation, k: number, banned: Uint8Array | null): Int32Array {
    return topKAllowed(this.scores.subarray(obs.user * this.nItems, (obs.user + 1) * this.nItems), k, banned);
  }
}

/**
 * ε-greedy bandit over items (shared by all users): with probability ε a random item, else the
 * item with the highest mean reward seen so far; unseen items start at `prior` (optimistic when
 * above the mean reward, so every item gets tried once it has not been beaten).
 */
export class EpsilonGreedyPolicy implements Policy {
  readonly name = 'epsilon-greedy';
  private readonly sum: Float64Array;
  private readonly count: Float64Array;
  private readonly means: Float64Array;
  constructor(nItems: number, private readonly epsilon = 0.1, prior = 0) {
    this.sum = new Float64Array(nItems);
    this.count = new Float64Array(nItems);
    this.means = new Float64Array(nItems).fill(prior);
  }
  act(_obs: Observation, k: number, banned: Uint8Array | null, rng: Rng): Int32Array {
    const greedy = topKAllowed(this.means, k, banned);
    const out = new Int32Array(k);
    for (let j = 0; j < k; j++) {
      out[j] = rng.next() < this.epsilon ? randomAllowed(this.means.length, 1, banned, rng, out.subarray(0, j))[0] : greedy[j];
      // a greedy item already taken by an earlier random pick: take the next unused greedy one
      if (out.subarray(0, j).includes(out[j])) out[j] = greedy.find((g) => !out.subarray(0, j).includes(g)) ?? out[j];
    }
    return out;
  }
  observe(_obs: Observation, list: Int32Array, rewards: Float64Array): void {
    for (let j = 0; j < list.length; j++) {
      if (!Number.isFinite(rewards[j])) continue;
      const i = list[j];
      this.sum[i] += rewards[j];
      this.count[i]++;
      this.means[i] = this.sum[i] / this.count[i];
    }
  }
}

/**
 * Features of (user, item) for LinUCB, from logged data only: [1, log-popularity share, item genre
 * flags g, g ⊙ the user's genre profile p_u (share of each genre in the user's logged events)].
 */
export class LinUcbFeatures {
  readonly dims: number;
  private readonly profiles: Float64Array;
  private readonly logPop: Float64Array;
  constructor(readonly cats: ItemCategories, counts: ArrayLike<number>, history: { nUsers: number; offsets: Int32Array; items: Int32Array }) {
    const G = cats.names.length;
    this.dims = 2 + 2 * G;
    const nItems = cats.offsets.length - 1;
    let total = 0;
    for (let i = 0; i < nItems; i++) total += counts[i];
    this.logPop = Float64Array.from({ length: nItems }, (_, i) => Math.log((counts[i] + 1) / (total + nItems)) / Math.log(nItems));
    this.profiles = new Float64Array(history.nUsers * G);
    for (let u = 0; u < history.nUsers; u++) {
      let n = 0;
      for (let e = history.offsets[u]; e < history.offsets[u + 1]; e++) {
        const i = history.items[e];
        for (let c = cats.offsets[i]; c < cats.offsets[i + 1]; c++, n++) this.profiles[u * G + cats.values[c]]++;
      }
      if (n > 0) for (let g = 0; g < G; g++) this.profiles[u * G + g] /= n;
    }
  }
  /** Writes x(u, i) into `out` (length dims). */
  fill(u: number, i: number, out: Float64Array): void {
    const G = this.cats.names.length;
    out.fill(0);
    out[0] = 1;
    out[1] = this.logPop[i];
    for (let c = this.cats.offsets[i]; c < this.cats.offsets[i + 1]; c++) {
      const g = this.cats.values[c];
      out[2 + g] = 1;
      out[2 + G + g] = this.profiles[u * G + g];
    }
  }
}

/**
 * LinUCB with one shared linear model (Li et al. 2010, "hybrid-free" variant): score(u, i) =
 * θᵀx + α·√(xᵀA⁻¹x), θ = A⁻¹b, A = I + Σ x xᵀ, b = Σ r x. A⁻¹ is kept by Sherman–Morrison updates.
 */
export class LinUcbPolicy implements Policy {
  readonly name = 'linucb';
  private readonly Ainv: Float64Array;
  private readonly b: Float64Array;
  private readonly x: Float64Array;
  private readonly scores: Float64Array;
  constructor(private readonly features: LinUcbFeatures, private readonly alpha = 1) {
    const d = features.dims;
    this.Ainv = new Float64Array(d * d);
    for (let j = 0; j < d; j++) this.Ainv[j * d + j] = 1;
    this.b = new Float64Array(d);
    this.x = new Float64Array(d);
    this.scores = new Float64Array(features.cats.offsets.length - 1);
  }
  act(obs: Observation, k: number, banned: Uint8Array | null): Int32Array {
    const d = this.features.dims, A = this.Ainv, x = this.x;
    const theta = new Float64Array(d);
    for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) theta[r] += A[r * d + c] * this.b[c];
    const nz = new Int32Array(d);
    for (let i = 0; i < this.scores.length; i++) {
      if (banned?.[i]) continue;
      this.features.fill(obs.user, i, x);
      // x has a handful of non-zeros (bias, popularity, the item's genres): sum over those pairs only
      let m = 0;
      for (let r = 0; r < d; r++) if (x[r] !== 0) nz[m++] = r;
      let mean = 0, quad = 0;
      for (let a = 0; a < m; a++) {
        const r = nz[a];
        mean += theta[r] * x[r];
        let row = 0;
        for (let b = 0; b < m; b++) row += A[r * d + nz[b]] * x[nz[b]];
        quad += x[r] * row;
      }
      this.scores[i] = mean + this.alpha * Math.sqrt(Math.max(0, quad));
    }
    return topKAllowed(this.scores, k, banned);
  }
  observe(obs: Observation, list: Int32Array, rewards: Float64Array): void {
    const d = this.features.dims, A = this.Ainv, x = this.x;
    const Ax = new Float64Array(d);
    for (let j = 0; j < list.length; j++) {
      if (!Number.isFinite(rewards[j])) continue;
      this.features.fill(obs.user, list[j], x);
      // Sherman–Morrison: (A + xxᵀ)⁻¹ = A⁻¹ − A⁻¹x xᵀA⁻¹ / (1 + xᵀA⁻¹x)
      Ax.fill(0);
      for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) Ax[r] += A[r * d + c] * x[c];
      let denom = 1;
      for (let r = 0; r < d; r++) denom += x[r] * Ax[r];
      for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) A[r * d + c] -= (Ax[r] * Ax[c]) / denom;
      for (let r = 0; r < d; r++) this.b[r] += rewards[j] * x[r];
    }
  }
}
