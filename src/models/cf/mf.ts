/**
 * Shared pieces of the matrix-factorisation models (BPR-MF, iALS, DirectAU, LightGCN): factor
 * initialisation, fold-in of users unseen in training by averaging their
 * history items' factors, lazy (row-sparse) Adam, and checkpoint validation.
 */
import type { Interactions } from '../../data/types.ts';
import type { NamedTensor } from '../../nn/safetensors.ts';
import type { Rng } from '../../nn/rng.ts';

/** n×d factors drawn from N(0, std²). */
export function normalFactors(rng: Rng, n: number, d: number, std: number): Float32Array {
  const f = new Float32Array(n * d);
  for (let i = 0; i < f.length; i++) f[i] = rng.normal() * std;
  return f;
}

/** Dot product of rows a[ia·d..] and b[ib·d..]. */
export function dotRows(a: Float32Array, ia: number, b: Float32Array, ib: number, d: number): number {
  let s = 0;
  const oa = ia * d;
  const ob = ib * d;
  for (let k = 0; k < d; k++) s += a[oa + k] * b[ob + k];
  return s;
}

/**
 * Fold-in for a user without a learned vector: the mean of the factors of their distinct history
 * items (a documented approximation; iALS solves exactly instead). Writes into `vec`; a user
 * without history gets the zero vector (scores fall back to item biases, if any).
 */
export function meanFoldIn(history: Interactions, u: number, items: Float32Array, d: number, vec: Float64Array): void {
  vec.fill(0);
  const seen = new Set<number>();
  for (let p = history.offsets[u]; p < history.offsets[u + 1]; p++) {
    const i = history.items[p];
    if (seen.has(i)) continue;
    seen.add(i);
    for (let k = 0; k < d; k++) vec[k] += items[i * d + k];
  }
  if (seen.size > 0) for (let k = 0; k < d; k++) vec[k] /= seen.size;
}

/** Which users have at least one training event (they have learned vectors). */
export function trainedUsers(train: Interactions): Uint8Array {
  const seen = new Uint8Array(train.nUsers);
  for (let u = 0; u < train.nUsers; u++) seen[u] = train.offsets[u + 1] > train.offsets[u] ? 1 : 0;
  return seen;
}

/**
 * Adam (Kingma & Ba 2015) on embedding tables, "lazy": only rows that received a gradient in a
 * step are updated (their moments decay only when touched), as in sparse-embedding trainers —
 * a full-table update per mini-batch would cost more than the batch itself.
 */
export class LazyAdam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;

  constructor(
    private readonly param: Float32Array,
    private readonly d: number,
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = new Float32Array(param.length);
    this.v = new Float32Array(param.length);
  }

  /** Starts a step (advances the bias-correction clock). */
  step(): void {
    this.t++;
  }

  /** Applies gradient `g` (length d, offset go) to row `row`. */
  updateRow(row: number, g: Float64Array | Float32Array, go = 0): void {
    const { m, v, param, d, beta1, beta2 } = this;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    const a = (this.lr * Math.sqrt(c2)) / c1;
    const o = row * d;
    for (let k = 0; k < d; k++) {
      const gk = g[go + k];
      const mk = (m[o + k] = beta1 * m[o + k] + (1 - beta1) * gk);
      const vk = (v[o + k] = beta2 * v[o + k] + (1 - beta2) * gk * gk);
      param[o + k] -= (a * mk) / (Math.sqrt(vk) + this.eps);
    }
  }
}

/** Returns tensor `name` as Float32Array of `length`, or throws naming the checkpoint. */
export function floatTensor(dir: string, tensors: Record<string, NamedTensor>, name: string, length: number): Float32Array {
  const t = tensors[name];
  if (!t || !(t.data instanceof Float32Array) || t.data.length !== length) {
    throw new Error(`${dir}: checkpoint lacks a float32 "${name}" tensor of ${length} values`);
  }
  return t.data;
}

/** Returns tensor `name` as Uint8Array of `length`, or throws naming the checkpoint. */
export function byteTensor(dir: string, tensors: Record<string, NamedTensor>, name: string, length: number): Uint8Array {
  const t = tensors[name];
  if (!t || !(t.data instanceof Uint8Array) || t.data.length !== length) {
    throw new Error(`${dir}: checkpoint lacks a uint8 "${name}" tensor of ${length} values`);
  }
  return t.data;
}
