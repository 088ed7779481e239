/**
 * The simulated user's taste: a dense matrix of the reward every user would give every item, as in
 * EasyRL4Rec (reward = the estimated rating mat[u, a]). It is filled by a biased matrix
 * factorisation fitted on the logged ratings:
 *
 *   r̂(u, i) = μ + b_u + b_i + p_u · q_i,   clipped to the rating scale,
 *
 * trained by SGD on ½(r − r̂)² + ½λ(b_u² + b_i² + |p_u|² + |q_i|²) over the observed ratings
 * (Koren, Bell & Volinsky 2009). Hand-written here rather than taken from `src/models/` because the
 * ranking models there are trained for implicit feedback and do not predict ratings.
 */
import type { Interactions } from '../data/types.ts';
import { Rng } from '../util/rng.ts';

/** Reward of every (user, item): row-major `nUsers × nItems`. */
export interface RewardMatrix {
  nUsers: number;
  nItems: number;
  values: Float32Array;
}

/** Settings of {@link fitRatingModel}. */
export interface RatingModelOptions {
  /** Latent dimensions (default 32). */
  dims?: number;
  /** SGD epochs (default 30). */
  epochs?: number;
  /** Learning rate (default 0.01). */
  lr?: number;
  /** L2 penalty λ (default 0.05). */
  reg?: number;
  /** Clip predictions to [min, max] (default the observed rating range). */
  clip?: [number, number];
  /** Ratings whose index `idx` has `holdout[idx]` true are not trained on (for a held-out RMSE). */
  holdout?: Uint8Array;
  seed?: number;
}

/** A fitted biased MF: the reward matrix plus its fit record. */
export interface RatingModel {
  rewards: RewardMatrix;
  /** RMSE on the training ratings after the last epoch. */
  trainRmse: number;
  /** RMSE on the held-out ratings (NaN without a holdout). */
  heldOutRmse: number;
  mean: number;
  clip: [number, number];
}

/** Fits the biased MF on `data`'s ratings (`values`, required) and fills the full reward matrix. */
export function fitRatingModel(data: Interactions, options: RatingModelOptions = {}): RatingModel {
  const { nUsers, nItems, offsets, items, values } = data;
  if (!values) throw new Error('fitRatingModel: the data has no ratings (values); the user model needs explicit ratings');
  const dims = options.dims ?? 32, epochs = options.epochs ?? 30, lr = options.lr ?? 0.01, reg = options.reg ?? 0.05;
  if (!(dims >= 1 && epochs >= 1 && lr > 0 && reg >= 0)) throw new Error(`fitRatingModel: need dims ≥ 1, epochs ≥ 1, lr > 0, reg ≥ 0 (got ${dims}, ${epochs}, ${lr}, ${reg})`);
  const n = items.length;
  const users = new Int32Array(n);
  for (let u = 0; u < nUsers; u++) users.fill(u, offsets[u], offsets[u + 1]);
  const train: number[] = [];
  let lo = Infinity, hi = -Infinity, sum = 0;
  for (let e = 0; e < n; e++) {
    lo = Math.min(lo, values[e]);
    hi = Math.max(hi, values[e]);
    if (options.holdout?.[e]) continue;
    train.push(e);
    sum += values[e];
  }
  if (train.length === 0) throw new Error('fitRatingModel: no training ratings');
  const clip = options.clip ?? [lo, hi];
  const mean = sum / train.length;
  const rng = new Rng(options.seed ?? 0);
  // N(0, 0.1²) init, as Surprise's SVD
  const P = Float64Array.from({ length: nUsers * dims }, () => 0.1 * rng.normal());
  const Q = Float64Array.from({ length: nItems * dims }, () => 0.1 * rng.normal());
  const bu = new Float64Array(nUsers), bi = new Float64Array(nItems);
  const order = Int32Array.from(train);
  const predict = (u: number, i: number): number => {
    let s = mean + bu[u] + bi[i];
    for (let f = 0; f < dims; f++) s += P[u * dims + f] * Q[i * dims + f];
    return s;
  };
  let trainRmse = NaN;
  for (let epoch = 0; epoch < epochs; epoch++) {
    rng.shuffle(order);
    let sq = 0;
    for (const e of order) {
      const u = users[e], i = items[e];
      const err = values[e] - predict(u, i);
      sq += err * err;
      bu[u] += lr * (err - reg * bu[u]);
      bi[i] += lr * (err - reg * bi[i]);
      for (let f = 0; f < dims; f++) {
        const p = P[u * dims + f], q = Q[i * dims + f];
        P[u * dims + f] += lr * (err * q - reg * p);
        Q[i * dims + f] += lr * (err * p - reg * q);
      }
    }
    trainRmse = Math.sqrt(sq / order.length);
  }
  const out = new Float32Array(nUsers * nItems);
  for (let u = 0; u < nUsers; u++) for (let i = 0; i < nItems; i++) out[u * nItems + i] = Math.min(clip[1], Math.max(clip[0], predict(u, i)));
  let hsq = 0, hn = 0;
  if (options.holdout) {
    for (let e = 0; e < n; e++) {
      if (!options.holdout[e]) continue;
      const d = values[e] - out[users[e] * nItems + items[e]];
      hsq += d * d;
      hn++;
    }
  }
  return { rewards: { nUsers, nItems, values: out }, trainRmse, heldOutRmse: hn > 0 ? Math.sqrt(hsq / hn) : NaN, mean, clip };
}
