/**
 * What the engine re-rankers share: their input and config types, the interface the trainer
 * drives and the item encoder (their loss is nn/bce.ts's meanBceWithLogits).
 *
 * Item encoder: e_i = E[i] + mean_{g ∈ genres(i)} G[g] (d dimensions); the genre part lets items
 * seen in few lists still have a usable representation. Parameters `item.emb` [nItems × d] and
 * `item.genre` [nGenres × d], N(0, 0.1²).
 */
import type { Engine } from '../../kernels/engine.ts';
import { normalInit, type Param, type ParamSet } from '../../nn/params.ts';
import type { Rng } from '../../nn/rng.ts';
import type { ItemCategories } from '../env.ts';

/** What a re-ranker reads: the user's past lists with clicks, the candidate list and its ranker scores. */
export interface RerankInput {
  past: { items: Int32Array; clicks: Uint8Array }[];
  candidates: Int32Array;
  /** Ranker score of each candidate, scaled to [0, 1] within the list. */
  scores: Float64Array;
}

/** A list with its clicks (the labels of training). */
export interface LabelledList extends RerankInput {
  clicks: Uint8Array;
}

/** Shape of the re-rankers. */
export interface RerankNetConfig {
  nItems: number;
  dims: number;
  hidden: number;
  /** Longest list (positions) and most past lists (ages) the position / age tables cover. */
  maxList: number;
  maxHistory: number;
  /** Most lists in one forward (the training batch; scoring goes in chunks of it). */
  batch: number;
  seed: number;
}

/** The loss of a batch and its parts. */
export interface BatchLoss {
  loss: number;
  bce: number;
  nce: number;
}

/** A re-ranker on the engine (float32 parameters in a ParamSet, one thread). */
export interface EngineReranker {
  readonly name: string;
  readonly config: RerankNetConfig;
  readonly params: ParamSet;
  /** A logit per candidate of each list (at most `config.batch` lists). */
  logits(xs: readonly RerankInput[]): Float32Array[];
  /**
   * Mean BCE over the batch's candidates + λ·InfoNCE (models without patterns ignore λ), and its
   * gradient added into every parameter's thread-0 gradient.
   */
  lossAndGrad(batch: readonly LabelledList[], lambda: number, tau: number): BatchLoss;
}

/** Items of the past lists with a given click value, oldest first. */
export function pastItems(x: RerankInput, click: number): number[] {
  const out: number[] = [];
  for (const l of x.past) l.items.forEach((i, k) => l.clicks[k] === click && out.push(i));
  return out;
}

/** Row offsets (length n + 1) of consecutive groups of the given sizes. */
export function offsets(sizes: readonly number[]): Int32Array {
  const o = new Int32Array(sizes.length + 1);
  sizes.forEach((s, i) => (o[i + 1] = o[i] + s));
  return o;
}

/** e_i = E[i] + mean of i's genre embeddings, for rows of item ids. */
export class ItemEncoder {
  readonly emb: Param;
  readonly genre: Param;

  constructor(params: ParamSet, private readonly cats: ItemCategories, nItems: number, readonly d: number) {
    if (cats.offsets.length !== nItems + 1) throw new Error(`ItemEncoder: categories for ${cats.offsets.length - 1} items, expected ${nItems}`);
    this.emb = params.add('item.emb', [nItems, d]);
    this.genre = params.add('item.genre', [Math.max(1, cats.names.length), d]);
  }

  init(rng: Rng): void {
    normalInit(this.emb, 0.1, rng);
    normalInit(this.genre, 0.1, rng);
  }

  /** X [ids.length × d] (byte pointer) = the encodings of `ids` (int32 buffer in engine memory). */
  forward(engine: Engine, ids: { ptr: number; a: Int32Array }, n: number, X: { ptr: number; a: Float32Array }): void {
    const d = this.d, G = this.genre.data.a, x = X.a;
    engine.k.embed_fwd(X.ptr, this.emb.data.ptr, ids.ptr, 0, 0, n, d, 1);
    for (let r = 0; r < n; r++) {
      const a = this.cats.offsets[ids.a[r]], b = this.cats.offsets[ids.a[r] + 1];
      for (let k = a; k < b; k++) {
        const g = this.cats.values[k] * d;
        for (let j = 0; j < d; j++) x[r * d + j] += G[g + j] / (b - a);
      }
    }
  }

  /** Adds the gradients of E and G given ∂L/∂X (rows as in the forward). */
  backward(engine: Engine, ids: { ptr: number; a: Int32Array }, n: number, dX: { ptr: number; a: Float32Array }): void {
    const d = this.d, dG = this.genre.grads[0].a, dx = dX.a;
    engine.k.embed_bwd(this.emb.grads[0].ptr, 0, dX.ptr, ids.ptr, 0, n, d, 1);
    for (let r = 0; r < n; r++) {
      const a = this.cats.offsets[ids.a[r]], b = this.cats.offsets[ids.a[r] + 1];
      for (let k = a; k < b; k++) {
        const g = this.cats.values[k] * d;
        for (let j = 0; j < d; j++) dG[g + j] += dx[r * d + j] / (b - a);
      }
    }
  }
}
