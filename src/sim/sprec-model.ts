/**
 * The next-item model SPRec fine-tunes here: a softmax over the catalogue from a mean-pooled
 * history (the simplest "generative" recommender: it emits one item id, as SPRec's LLM emits one
 * title).
 *
 *   h(x) = (1/|x|)·Σ_{j ∈ x} E[j],   z = O·h + b,   π(i | x) = softmax(z)_i,
 *
 * with x the user's last `maxHistory` items. Two losses share one backward through z:
 * - SFT: −log π(y | x);  ∂/∂z = π − onehot(y);
 * - DPO (Rafailov et al. 2023) with a frozen reference π_ref, chosen c, rejected r:
 *     Δ = β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))],  loss = −log σ(Δ);
 *   since log π(c) − log π(r) = z_c − z_r, ∂/∂z = −β·σ(−Δ)·(onehot(c) − onehot(r)).
 * Float64 JavaScript with a hand-written backward (checked against finite differences in the test),
 * Adam on minibatches.
 */
import { Rng } from '../util/rng.ts';

/** One training record: history (item ids, oldest first) and a target item. */
export interface SeqRecord {
  user: number;
  history: Int32Array;
  target: number;
}

/** Shape and optimiser of {@link MeanSoftmaxModel}. */
export interface MeanSoftmaxConfig {
  nItems: number;
  dims: number;
  maxHistory: number;
  lr: number;
  batch: number;
  seed: number;
}

export const MEAN_SOFTMAX_DEFAULTS = { dims: 32, maxHistory: 20, lr: 2e-3, batch: 32 };

const logSigmoid = (x: number): number => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** The model: parameters in one Float64Array (E, then O, then b) with Adam moments. */
export class MeanSoftmaxModel {
  readonly params: Float64Array;
  readonly grads: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  readonly offO: number;
  readonly offB: number;
  private readonly h: Float64Array;
  private readonly dh: Float64Array;

  constructor(readonly config: MeanSoftmaxConfig, params?: Float64Array) {
    const { nItems: n, dims: d } = config;
    this.offO = n * d;
    this.offB = 2 * n * d;
    const size = 2 * n * d + n;
    if (params && params.length !== size) throw new Error(`MeanSoftmaxModel: expected ${size} parameters, got ${params.length}`);
    const rng = new Rng(config.seed);
    this.params = params ? params.slice() : Float64Array.from({ length: size }, (_, k) => (k < this.offB ? 0.1 * rng.normal() : 0));
    this.grads = new Float64Array(size);
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    this.h = new Float64Array(d);
    this.dh = new Float64Array(d);
  }

  /** A frozen copy (the DPO reference). */
  clone(): MeanSoftmaxModel {
    return new MeanSoftmaxModel(this.config, this.params);
  }

  /** The history window the model reads. */
  window(history: Int32Array): Int32Array {
    return history.subarray(Math.max(0, history.length - this.config.maxHistory));
  }

  /** Logits z for `history` into `out` (length nItems); leaves h for {@link backward}. */
  logits(history: Int32Array, out: Float64Array): Float64Array {
    const { nItems: n, dims: d } = this.config, P = this.params, h = this.h;
    const win = this.window(history);
    h.fill(0);
    for (const j of win) for (let k = 0; k < d; k++) h[k] += P[j * d + k];
    if (win.length > 0) for (let k = 0; k < d; k++) h[k] /= win.length;
    for (let i = 0; i < n; i++) {
      let s = P[this.offB + i];
      const o = this.offO + i * d;
      for (let k = 0; k < d; k++) s += P[o + k] * h[k];
      out[i] = s;
    }
    return out;
  }

  /** Adds the parameter gradients for ∂loss/∂z = dz of the last {@link logits} call (sparse: `rows`, or all when null). */
  backward(history: Int32Array, dz: Float64Array, rows: readonly number[] | null): void {
    const { nItems: n, dims: d } = this.config, P = this.params, G = this.grads, h = this.h, dh = this.dh;
    dh.fill(0);
    const visit = (i: number): void => {
      const g = dz[i];
      if (g === 0) return;
      const o = this.offO + i * d;
      G[this.offB + i] += g;
      for (let k = 0; k < d; k++) {
        G[o + k] += g * h[k];
        dh[k] += g * P[o + k];
      }
    };
    if (rows) for (const i of rows) visit(i);
    else for (let i = 0; i < n; i++) visit(i);
    const win = this.window(history);
    for (const j of win) for (let k = 0; k < d; k++) G[j * d + k] += dh[k] / win.length;
  }

  /** Adam step (PyTorch defaults, β = (0.9, 0.999)) on the mean of `count` examples' gradients; zeroes them. */
  step(count: number): void {
    const lr = this.config.lr, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    this.t++;
    const c1 = 1 - b1 ** this.t, c2 = 1 - b2 ** this.t;
    const P = this.params, G = this.grads, M = this.m, V = this.v;
    for (let k = 0; k < P.length; k++) {
      const g = G[k] / count;
      if (g === 0 && M[k] === 0) continue;
      M[k] = b1 * M[k] + (1 - b1) * g;
      V[k] = b2 * V[k] + (1 - b2) * g * g;
      P[k] -= (lr * (M[k] / c1)) / (Math.sqrt(V[k] / c2) + eps);
      G[k] = 0;
    }
  }
}

/** log-softmax of z at index y. */
export function logSoftmaxAt(z: Float64Array, y: number): number {
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  let s = 0;
  for (const v of z) s += Math.exp(v - max);
  return z[y] - max - Math.log(s);
}

/** SFT loss −log π(y | x) and its logit gradient (π − onehot(y)) into dz. */
export function sftLoss(z: Float64Array, y: number, dz: Float64Array): number {
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  let s = 0;
  for (let i = 0; i < z.length; i++) s += (dz[i] = Math.exp(z[i] - max));
  for (let i = 0; i < z.length; i++) dz[i] /= s;
  dz[y] -= 1;
  return -(z[y] - max - Math.log(s));
}

/**
 * DPO loss −log σ(Δ) for one pair, with `refChosen` / `refRejected` the reference's log π of c and
 * r; writes the logit gradient into dz (only c and r non-zero) and returns the loss.
 */
export function dpoLoss(z: Float64Array, chosen: number, rejected: number, refChosen: number, refRejected: number, beta: number, dz: Float64Array): number {
  const lc = logSoftmaxAt(z, chosen), lr = logSoftmaxAt(z, rejected);
  const delta = beta * (lc - refChosen - (lr - refRejected));
  dz.fill(0);
  const g = -beta * sigmoid(-delta);
  dz[chosen] += g;
  dz[rejected] -= g;
  return -logSigmoid(delta);
}
