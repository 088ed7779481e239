/**
 * SynAlign on interaction logs: synthetic ratings from the simulator, mixed with a few real ones,
 * reweighted by MMD toward the real distribution.
 *
 * Per seed:
 * 1. Split the ratings at random: `testFraction` test, the rest train; a `realFraction` sample of
 *    train is the "real" data the small model may see (the few-shot setting).
 * 2. The generator is the simulator's user model fitted on the train part only (it stands in for
 *    the LLM of the paper: a source with knowledge beyond the few real samples, never the test).
 *    The environment (NX_0, quit rule) is run with a random policy; every consumed (user, item,
 *    rating) is a synthetic sample — a distribution unlike the real log (uniform items).
 * 3. Each sample (real or synthetic) is embedded as φ = [genre flags of the item, the item's
 *    log-popularity, rating / 5] (from logged data and the sample; no learned model).
 * 4. MMD weights of the synthetic set against (a sample of) the real set; the weighted synthetic
 *    set is the synthetic samples redrawn with replacement in proportion to w (same size).
 * 5. The same biased-MF rating model is trained on real only, real + synthetic, real + weighted
 *    synthetic; RMSE and MAE on the test ratings.
 */
import type { Dataset, Interactions } from '../data/types.ts';
import { pairedTTest } from '../eval/significance.ts';
import { Rng } from '../util/rng.ts';
import { SimEnv, categoriesFromSide, type ItemCategories } from './env.ts';
import { RandomPolicy } from './policies.ts';
import { playEpisode } from './rollout.ts';
import { mmdProblem, mmdWeights, type Samples } from './synalign.ts';
import { fitRatingModel, type RatingModelOptions } from './user-model.ts';

/** Settings of {@link runSynAlignExperiment}. */
export interface SynAlignOptions {
  seeds: number;
  testFraction: number;
  realFraction: number;
  /** Synthetic samples kept (the first ones generated). */
  synthetic: number;
  /** Real samples used for the MMD statistics (a random subset when there are more). */
  mmdReal: number;
  mmdIterations: number;
  model: RatingModelOptions;
}

export const SYNALIGN_DEFAULTS: SynAlignOptions = { seeds: 5, testFraction: 0.1, realFraction: 0.1, synthetic: 2000, mmdReal: 2000, mmdIterations: 300, model: {} };

/** Figures of one seed. */
export interface SynAlignSeed {
  seed: number;
  real: number;
  synthetic: number;
  mmd2_unweighted: number;
  mmd2_weighted: number;
  /** Effective sample size of w: 1 / Σw². */
  weights_ess: number;
  rmse: { real: number; unweighted: number; weighted: number };
  mae: { real: number; unweighted: number; weighted: number };
}

/** Triples → CSR interactions (users in order, events within a user in input order). */
export function fromTriples(nUsers: number, nItems: number, users: ArrayLike<number>, items: ArrayLike<number>, values: ArrayLike<number>): Interactions {
  const n = users.length;
  const offsets = new Int32Array(nUsers + 1);
  for (let e = 0; e < n; e++) offsets[users[e] + 1]++;
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const fill = offsets.slice(0, nUsers);
  const it = new Int32Array(n), vals = new Float32Array(n), times = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const p = fill[users[e]]++;
    it[p] = items[e];
    vals[p] = values[e];
    times[p] = e;
  }
  return { nUsers, nItems, offsets, items: it, times, values: vals };
}

/** φ(item, rating) rows: genre flags, log-popularity share (scaled to about [0, 1]), rating / 5. */
export function embedSamples(items: ArrayLike<number>, ratings: ArrayLike<number>, cats: ItemCategories, logPop: Float64Array): Samples {
  const G = cats.names.length, d = G + 2;
  const data = new Float64Array(items.length * d);
  for (let e = 0; e < items.length; e++) {
    const i = items[e];
    for (let c = cats.offsets[i]; c < cats.offsets[i + 1]; c++) data[e * d + cats.values[c]] = 1;
    data[e * d + G] = logPop[i];
    data[e * d + G + 1] = ratings[e] / 5;
  }
  return { data, dims: d };
}

/** Rating triples as three parallel lists. */
interface Triples {
  u: number[];
  i: number[];
  r: number[];
}

function add(t: Triples, u: number, i: number, r: number): void {
  t.u.push(u);
  t.i.push(i);
  t.r.push(r);
}

function errors(model: Float32Array, nItems: number, users: number[], items: number[], values: number[]): { rmse: number; mae: number } {
  let sq = 0, ab = 0;
  for (let e = 0; e < users.length; e++) {
    const d = values[e] - model[users[e] * nItems + items[e]];
    sq += d * d;
    ab += Math.abs(d);
  }
  return { rmse: Math.sqrt(sq / users.length), mae: ab / users.length };
}

/** Runs the three-way comparison on a dataset with ratings and genres. */
export function runSynAlignExperiment(data: Dataset, options: Partial<SynAlignOptions> = {}, onSeed?: (s: SynAlignSeed) => void): { seeds: SynAlignSeed[]; summary: Record<string, unknown> } {
  const o = { ...SYNALIGN_DEFAULTS, ...options };
  if (!data.values) throw new Error(`${data.name}: SynAlign's rating experiment needs ratings`);
  const cats = categoriesFromSide(data.itemSide, data.nItems);
  const n = data.items.length;
  const users = new Int32Array(n);
  for (let u = 0; u < data.nUsers; u++) users.fill(u, data.offsets[u], data.offsets[u + 1]);
  const out: SynAlignSeed[] = [];
  for (let s = 0; s < o.seeds; s++) {
    const rng = new Rng(s);
    const holdout = new Uint8Array(n);
    const test = { u: [], i: [], r: [] } as Triples;
    const real = { u: [], i: [], r: [] } as Triples;
    for (let e = 0; e < n; e++) {
      if (rng.next() < o.testFraction) {
        holdout[e] = 1;
        add(test, users[e], data.items[e], data.values[e]);
      } else if (rng.next() < o.realFraction) {
        add(real, users[e], data.items[e], data.values[e]);
      }
    }
    // popularity as the few real samples show it (the only log the small model has)
    const counts = new Float64Array(data.nItems);
    for (const i of real.i) counts[i]++;
    const logPop = Float64Array.from(counts, (c) => Math.log(c + 1) / Math.log(real.i.length + 1));
    // the generator: user model on the train part (never the test ratings)
    const generator = fitRatingModel(data, { seed: s, holdout, ...o.model });
    const env = new SimEnv(generator.rewards, cats, { mode: 'NX_0' }, 100 + s);
    const policy = new RandomPolicy(data.nItems);
    const syn = { u: [], i: [], r: [] } as Triples;
    while (syn.u.length < o.synthetic) {
      const ep = playEpisode(env, policy, rng);
      for (let k = 0; k < ep.items.length && syn.u.length < o.synthetic; k++) {
        add(syn, ep.user, ep.items[k], ep.rewards[k]);
      }
    }
    // MMD weights in φ-space
    const pick = rng.shuffle(Int32Array.from(real.u.keys())).subarray(0, Math.min(o.mmdReal, real.u.length));
    const R = embedSamples(Array.from(pick, (e) => real.i[e]), Array.from(pick, (e) => real.r[e]), cats, logPop);
    const Sy = embedSamples(syn.i, syn.r, cats, logPop);
    const fit = mmdWeights(mmdProblem(R, Sy), { iterations: o.mmdIterations });
    const w = fit.weights;
    // redraw the synthetic set in proportion to w (inverse CDF on sorted uniforms)
    const cdf = new Float64Array(w.length);
    w.reduce((acc, x, j) => (cdf[j] = acc + x), 0);
    const re = { u: [], i: [], r: [] } as Triples;
    for (let k = 0; k < o.synthetic; k++) {
      const x = rng.next() * cdf[cdf.length - 1];
      let lo = 0, hi = cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid] < x) lo = mid + 1;
        else hi = mid;
      }
      add(re, syn.u[lo], syn.i[lo], syn.r[lo]);
    }
    const train = (extra: Triples | null): Float32Array => {
      const tu = extra ? [...real.u, ...extra.u] : real.u, ti = extra ? [...real.i, ...extra.i] : real.i, tr = extra ? [...real.r, ...extra.r] : real.r;
      return fitRatingModel(fromTriples(data.nUsers, data.nItems, tu, ti, tr), { seed: s, clip: [1, 5], ...o.model }).rewards.values;
    };
    const eReal = errors(train(null), data.nItems, test.u, test.i, test.r);
    const eUn = errors(train(syn), data.nItems, test.u, test.i, test.r);
    const eW = errors(train(re), data.nItems, test.u, test.i, test.r);
    const seed: SynAlignSeed = {
      seed: s,
      real: real.u.length,
      synthetic: syn.u.length,
      mmd2_unweighted: fit.before,
      mmd2_weighted: fit.after,
      weights_ess: 1 / w.reduce((a, x) => a + x * x, 0),
      rmse: { real: eReal.rmse, unweighted: eUn.rmse, weighted: eW.rmse },
      mae: { real: eReal.mae, unweighted: eUn.mae, weighted: eW.mae },
    };
    out.push(seed);
    onSeed?.(seed);
  }
  const col = (f: (x: SynAlignSeed) => number): number[] => out.map(f);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = (xs: number[]): number => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
  const summary: Record<string, unknown> = {};
  for (const k of ['real', 'unweighted', 'weighted'] as const) {
    summary[`rmse_${k}`] = { mean: mean(col((x) => x.rmse[k])), std: std(col((x) => x.rmse[k])) };
    summary[`mae_${k}`] = { mean: mean(col((x) => x.mae[k])), std: std(col((x) => x.mae[k])) };
  }
  summary.mmd2_unweighted = mean(col((x) => x.mmd2_unweighted));
  summary.mmd2_weighted = mean(col((x) => x.mmd2_weighted));
  const t = pairedTTest(col((x) => x.rmse.weighted), col((x) => x.rmse.unweighted));
  summary.weighted_vs_unweighted_rmse = { mean_diff: t.meanDiff, p: t.p };
  const t2 = pairedTTest(col((x) => x.rmse.weighted), col((x) => x.rmse.real));
  summary.weighted_vs_real_rmse = { mean_diff: t2.meanDiff, p: t2.p };
  return { seeds: out, summary };
}
