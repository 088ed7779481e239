/**
 * BPR-MF — "BPR: Bayesian Personalized Ranking from Implicit Feedback" (Rendle et al., UAI 2009).
 *
 * Model: x̂_ui = p_u · q_i + b_i. For a user u, an item i they interacted with and an item j they
 * did not, BPR maximises ln σ(x̂_uij) with x̂_uij = x̂_ui − x̂_uj, minus L2 regularisation:
 *   ℓ(u,i,j) = −ln σ(x̂_uij) + (reg/2)(‖p_u‖² + ‖q_i‖² + ‖q_j‖² + b_i² + b_j²).
 * LearnBPR (Rendle, Fig. 4): draw (u, i) uniformly from the training pairs (bootstrap), draw a
 * negative j, take an SGD step. Negatives are uniform over items, or proportional to popularity
 * (`negatives: popularity`: harder negatives, as in Rendle & Freudenthaler 2014); either way
 * items the user has seen are redrawn. One epoch = as many steps as training pairs.
 *
 * Gradients (σ' = σ(1−σ), so ∂(−ln σ(x))/∂x = −σ(−x)), with e = σ(−x̂_uij):
 *   ∂ℓ/∂p_u = −e (q_i − q_j) + reg p_u,  ∂ℓ/∂q_i = −e p_u + reg q_i,  ∂ℓ/∂q_j = e p_u + reg q_j,
 *   ∂ℓ/∂b_i = −e + reg b_i,  ∂ℓ/∂b_j = e + reg b_j.
 * Users unseen in training are folded in by averaging their history items' factors. A trained
 * user whose history has changed since training (new feedback) is folded in by a few LearnBPR
 * passes on p_u alone, from the trained row, with Q and b fixed ({@link bprFoldIn}).
 */
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport } from './recommender.ts';
import type { ModelEntry } from './registry.ts';
import { Rng } from '../nn/rng.ts';
import { binaryRows, type BinaryCsr } from './cf/common.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import { normalFactors } from './cf/mf.ts';
import { gradientFoldInShape, distinctItems, FactorModel, rowFingerprint, sortedHas, type TableSpec } from './cf/factor.ts';
import { trainEpochs } from './cf/train.ts';

/** Hyperparameters of {@link Bpr}. */
export const BprConfigSchema = z
  .object({
    dim: z.number().int().positive().default(64).describe('factor dimension d'),
    epochs: z.number().int().positive().default(30),
    lr: z.number().positive().default(0.05).describe('SGD step size'),
    reg: z.number().min(0).default(0.005).describe('L2 weight on the parameters of a triple'),
    negatives: z.enum(['uniform', 'popularity']).default('uniform').describe('negative sampler: uniform over items, or proportional to popularity'),
    initStd: z.number().positive().default(0.1).describe('standard deviation of the initial factors'),
    ...gradientFoldInShape('passes over the history items', 0.05),
  })
  .strict();
export type BprConfig = z.infer<typeof BprConfigSchema>;

/** Defaults tuned on ML-1M (leave-one-out, full ranking). */
export const BPR_DEFAULTS: BprConfig = BprConfigSchema.parse({});

/** The BPR loss ℓ(u,i,j) of one triple (for tests and monitoring). */
export function bprLoss(p: ArrayLike<number>, qi: ArrayLike<number>, qj: ArrayLike<number>, bi: number, bj: number, reg: number): number {
  let x = bi - bj;
  let sq = bi * bi + bj * bj;
  for (let k = 0; k < p.length; k++) {
    x += p[k] * (qi[k] - qj[k]);
    sq += p[k] * p[k] + qi[k] * qi[k] + qj[k] * qj[k];
  }
  return softplus(-x) + 0.5 * reg * sq;
}

/** Gradient of {@link bprLoss}: returns [∂p, ∂qi, ∂qj, ∂bi, ∂bj]. */
export function bprGrad(p: ArrayLike<number>, qi: ArrayLike<number>, qj: ArrayLike<number>, bi: number, bj: number, reg: number): [number[], number[], number[], number, number] {
  let x = bi - bj;
  for (let k = 0; k < p.length; k++) x += p[k] * (qi[k] - qj[k]);
  const e = sigmoid(-x);
  const gp: number[] = [];
  const gi: number[] = [];
  const gj: number[] = [];
  for (let k = 0; k < p.length; k++) {
    gp.push(-e * (qi[k] - qj[k]) + reg * p[k]);
    gi.push(-e * p[k] + reg * qi[k]);
    gj.push(e * p[k] + reg * qj[k]);
  }
  return [gp, gi, gj, -e + reg * bi, e + reg * bj];
}

/** σ(x) = 1 / (1 + e^−x), computed without overflow. */
export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** ln(1 + e^x) without overflow (= −ln σ(−x)). */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** True when sorted `row` (a slice of cols) contains `item` (binary search). */
export function rowHas(x: BinaryCsr, u: number, item: number): boolean {
  let lo = x.offsets[u];
  let hi = x.offsets[u + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = x.cols[mid];
    if (v === item) return true;
    if (v < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * One LearnBPR step on the triple (u, i, j), in place on the tables P (users), Q (items) and b
 * (item bias): every parameter θ of the triple becomes θ − lr·∂ℓ/∂θ with the gradients of
 * {@link bprGrad}, all taken at the values before the step. `gu` is scratch of length d.
 * Returns the triple's ranking loss −ln σ(x̂_uij) (without the regulariser). `fit` runs this
 * function; the tests check it against {@link bprGrad}.
 */
export function bprStep(P: Float32Array, Q: Float32Array, b: Float32Array, u: number, i: number, j: number, d: number, lr: number, reg: number, gu: Float64Array): number {
  const pu = u * d;
  const qi = i * d;
  const qj = j * d;
  let s = b[i] - b[j];
  for (let k = 0; k < d; k++) s += P[pu + k] * (Q[qi + k] - Q[qj + k]);
  const e = sigmoid(-s);
  for (let k = 0; k < d; k++) {
    const pk = P[pu + k];
    const qik = Q[qi + k];
    const qjk = Q[qj + k];
    gu[k] = -e * (qik - qjk) + reg * pk;
    Q[qi + k] = qik - lr * (-e * pk + reg * qik);
    Q[qj + k] = qjk - lr * (e * pk + reg * qjk);
  }
  for (let k = 0; k < d; k++) P[pu + k] -= lr * gu[k];
  b[i] -= lr * (-e + reg * b[i]);
  b[j] -= lr * (e + reg * b[j]);
  return softplus(-s);
}

/**
 * Fold-in of one user by BPR on their vector alone: `steps` passes over their distinct history
 * items `set` (ascending); for each positive i one uniform negative j ∉ set and the step
 * p ← p − lr·∂ℓ/∂p, ∂ℓ/∂p = −σ(−x̂_uij)(q_i − q_j) + reg·p (the p part of {@link bprGrad}), with
 * the item factors Q and biases b (if any) fixed. `p` holds the starting vector (the trained row)
 * and is updated in place. A user who has seen every item has no negative: nothing changes.
 */
export function bprFoldIn(p: Float64Array, Q: Float32Array, b: Float32Array | undefined, set: Int32Array, nItems: number, steps: number, lr: number, reg: number, rng: Rng): void {
  const d = p.length;
  if (set.length === 0 || set.length >= nItems) return;
  for (let step = 0; step < steps; step++) {
    for (const i of set) {
      let j: number;
      do j = rng.int(nItems);
      while (sortedHas(set, j));
      const qi = i * d;
      const qj = j * d;
      let x = b ? b[i] - b[j] : 0;
      for (let k = 0; k < d; k++) x += p[k] * (Q[qi + k] - Q[qj + k]);
      const e = sigmoid(-x);
      for (let k = 0; k < d; k++) p[k] -= lr * (-e * (Q[qi + k] - Q[qj + k]) + reg * p[k]);
    }
  }
}

/** BPR matrix factorisation. */
export class Bpr extends FactorModel<BprConfig> {
  readonly name = 'bpr';
  /** Item bias b. */
  bias: Float32Array = new Float32Array(0);

  constructor(config: Record<string, unknown> = {}) {
    super(parseConfig('bpr', BprConfigSchema, config));
  }

  /** A few LearnBPR passes on p_u from the trained row; the negatives' seed is the history's fingerprint, so an answer is reproducible. */
  protected foldInKnown(history: Interactions, u: number, vec: Float64Array): void {
    const { foldInSteps, foldInLr, reg } = this.config;
    bprFoldIn(vec, this.items, this.bias, distinctItems(history, u), this.n, foldInSteps, foldInLr, reg, new Rng(rowFingerprint(history, u) ^ u));
  }

  protected override tables(): Record<string, TableSpec> {
    return { ...super.tables(), bias: { rows: 'items', vector: true } };
  }

  protected override itemBias(): Float32Array {
    return this.bias;
  }

  /** LearnBPR with bootstrap sampling of (u, i) and the configured negative sampler. */
  protected async fitFactors(train: Interactions, options: FitOptions): Promise<FitReport> {
    const { dim: d, epochs, lr, reg, negatives, initStd } = this.config;
    const rng = new Rng(options.seed);
    const nU = train.nUsers;
    const nI = train.nItems;
    this.users = normalFactors(rng, nU, d, initStd);
    this.items = normalFactors(rng, nI, d, initStd);
    this.bias = new Float32Array(nI);
    this.begin(train);
    const x = binaryRows(train);
    // Pair owner of each CSR position, so a uniform pair is one random index.
    const owner = new Int32Array(x.cols.length);
    for (let u = 0; u < nU; u++) owner.fill(u, x.offsets[u], x.offsets[u + 1]);
    const nPairs = x.cols.length;
    if (nPairs === 0) throw new Error('bpr: training data has no interactions');
    const gu = new Float64Array(d);
    return trainEpochs('bpr', epochs, options, () => {
      let loss = 0;
      for (let step = 0; step < nPairs; step++) {
        const pos = rng.int(nPairs);
        const u = owner[pos];
        const i = x.cols[pos];
        if (x.offsets[u + 1] - x.offsets[u] >= nI) continue; // user saw everything: no negative exists
        let j: number;
        do j = negatives === 'uniform' ? rng.int(nI) : x.cols[rng.int(nPairs)];
        while (rowHas(x, u, j));
        loss += bprStep(this.users, this.items, this.bias, u, i, j, d, lr, reg, gu);
      }
      return loss / nPairs;
    });
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<Bpr> {
    return FactorModel.loadInto(dir, (config) => new Bpr(config));
  }
}

/** Registry entry. */
export const bprEntry: ModelEntry = {
  name: 'bpr',
  description: 'BPR-MF (Rendle 2009): pairwise ranking MF, uniform or popularity negatives',
  configSchema: BprConfigSchema,
  sequential: false,
  create: (config) => new Bpr(config),
  load: (dir) => Bpr.load(dir),
};
