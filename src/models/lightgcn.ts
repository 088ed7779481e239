/**
 * LightGCN — "LightGCN: Simplifying and Powering Graph Convolution Network for Recommendation"
 * (He, Deng, Wang, Li, Zhang & Wang, SIGIR 2020).
 *
 * Nodes are users and items of the bipartite interaction graph, each with an ego embedding
 * E⁽⁰⁾ (the only parameters). Light graph convolution with symmetric normalisation (eq. 3):
 *   E⁽ᵏ⁺¹⁾ = Â E⁽ᵏ⁾,   Â_ui = Â_iu = 1 / √(|N_u|·|N_i|),
 * and layer combination by averaging (eq. 4, α_k = 1/(K+1)):
 *   F = (1/(K+1)) Σ_{k=0..K} E⁽ᵏ⁾ = M E⁽⁰⁾,   M = (1/(K+1)) Σ_k Âᵏ.
 * Prediction ŷ_ui = f_u · f_i. Training minimises BPR with L2 on the batch's ego embeddings (eq. 15):
 *   L = (1/B) Σ_(u,i,j) −ln σ(f_u·f_i − f_u·f_j) + (reg/2)(1/B) Σ (‖e⁽⁰⁾_u‖² + ‖e⁽⁰⁾_i‖² + ‖e⁽⁰⁾_j‖²).
 * Backward: with G = ∂L/∂F (non-zero only on batch rows) and Â symmetric,
 *   ∂L/∂E⁽⁰⁾ = Mᵀ G + reg-term = (1/(K+1)) Σ_k Âᵏ G + reg-term,
 * i.e. the same K propagations run on the gradient. Both directions are exact full-graph passes,
 * so on a 2-core CPU the default batch is large (the paper: 2048 on GPU); Adam as in the paper.
 * Users unseen in training are folded in by averaging their history items' final embeddings. A
 * trained user whose history has changed since training is folded in by a few BPR passes on
 * their final embedding f_u alone, item embeddings fixed (the graph is not re-propagated: a new
 * edge reaches other nodes only at the next retrain).
 */
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport } from './recommender.ts';
import type { ModelEntry } from './registry.ts';
import { Rng } from '../nn/rng.ts';
import { binaryRows, type BinaryCsr } from './cf/common.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import { LazyAdam, normalFactors } from './cf/mf.ts';
import { gradientFoldInShape, distinctItems, FactorModel, rowFingerprint, type TableSpec } from './cf/factor.ts';
import { trainEpochs } from './cf/train.ts';
import { bprFoldIn, rowHas, sigmoid, softplus } from './bpr.ts';

/** Hyperparameters of {@link LightGcn}. */
export const LightGcnConfigSchema = z
  .object({
    dim: z.number().int().positive().default(64).describe('embedding dimension d'),
    layers: z.number().int().min(0).default(2).describe('propagation layers K'),
    epochs: z.number().int().positive().default(20),
    batchSize: z.number().int().positive().default(65536).describe('BPR triples per Adam step'),
    lr: z.number().positive().default(0.05).describe('Adam learning rate'),
    reg: z.number().min(0).default(1e-4).describe('L2 weight on the ego embeddings of a batch'),
    initStd: z.number().positive().default(0.1).describe('standard deviation of the initial ego embeddings'),
    ...gradientFoldInShape('passes over the history items', 0.05),
  })
  .strict();
export type LightGcnConfig = z.infer<typeof LightGcnConfigSchema>;

/** Defaults: K = 2, d = 64, Adam; large batches for CPU (see the file comment). */
export const LIGHTGCN_DEFAULTS: LightGcnConfig = LightGcnConfigSchema.parse({});

/** The normalised adjacency Â over nU + nI nodes (users first), CSR. */
export interface NormalizedGraph {
  nUsers: number;
  nItems: number;
  offsets: Int32Array;
  cols: Int32Array;
  vals: Float32Array;
}

/** Builds Â from the binary user×item matrix. */
export function normalizedGraph(x: BinaryCsr): NormalizedGraph {
  const nU = x.nRows;
  const nI = x.nCols;
  const N = nU + nI;
  const deg = new Float64Array(N);
  for (let u = 0; u < nU; u++) {
    deg[u] = x.offsets[u + 1] - x.offsets[u];
    for (let p = x.offsets[u]; p < x.offsets[u + 1]; p++) deg[nU + x.cols[p]]++;
  }
  const offsets = new Int32Array(N + 1);
  for (let r = 0; r < N; r++) offsets[r + 1] = offsets[r] + deg[r];
  const cols = new Int32Array(offsets[N]);
  const vals = new Float32Array(offsets[N]);
  const fill = offsets.slice(0, N);
  for (let u = 0; u < nU; u++) {
    for (let p = x.offsets[u]; p < x.offsets[u + 1]; p++) {
      const node = nU + x.cols[p];
      const w = 1 / Math.sqrt(deg[u] * deg[node]);
      cols[fill[u]] = node;
      vals[fill[u]++] = w;
      cols[fill[node]] = u;
      vals[fill[node]++] = w;
    }
  }
  return { nUsers: nU, nItems: nI, offsets, cols, vals };
}

/** out = Â·e (rows of d floats). */
function propagate(g: NormalizedGraph, e: Float64Array, out: Float64Array, d: number): void {
  const N = g.nUsers + g.nItems;
  out.fill(0);
  for (let r = 0; r < N; r++) {
    const o = r * d;
    for (let q = g.offsets[r]; q < g.offsets[r + 1]; q++) {
      const w = g.vals[q];
      const c = g.cols[q] * d;
      for (let k = 0; k < d; k++) out[o + k] += w * e[c + k];
    }
  }
}

/** F = (1/(K+1)) Σ_k Âᵏ E (also used for the backward pass, since M is symmetric). */
export function layerAverage(g: NormalizedGraph, e: ArrayLike<number>, layers: number, d: number): Float64Array {
  const N = g.nUsers + g.nItems;
  const acc = Float64Array.from(e as ArrayLike<number>);
  let cur = Float64Array.from(e as ArrayLike<number>);
  let next = new Float64Array(N * d);
  for (let k = 0; k < layers; k++) {
    propagate(g, cur, next, d);
    for (let t = 0; t < acc.length; t++) acc[t] += next[t];
    [cur, next] = [next, cur];
  }
  const s = 1 / (layers + 1);
  for (let t = 0; t < acc.length; t++) acc[t] *= s;
  return acc;
}

/** Loss and gradient w.r.t. the ego embeddings E⁽⁰⁾ for a batch of (u, i, j) triples (item ids are item-local). */
export function lightGcnLoss(
  g: NormalizedGraph,
  ego: ArrayLike<number>,
  triples: { u: Int32Array; i: Int32Array; j: Int32Array },
  layers: number,
  d: number,
  reg: number,
): { loss: number; grad: Float64Array } {
  const nU = g.nUsers;
  const f = layerAverage(g, ego, layers, d);
  const b = triples.u.length;
  const gf = new Float64Array(f.length);
  const grad = new Float64Array(f.length);
  let loss = 0;
  for (let t = 0; t < b; t++) {
    const u = triples.u[t] * d;
    const i = (nU + triples.i[t]) * d;
    const j = (nU + triples.j[t]) * d;
    let x = 0;
    let sq = 0;
    for (let k = 0; k < d; k++) {
      x += f[u + k] * (f[i + k] - f[j + k]);
      sq += ego[u + k] ** 2 + ego[i + k] ** 2 + ego[j + k] ** 2;
    }
    loss += softplus(-x) + 0.5 * reg * sq;
    const e = sigmoid(-x) / b;
    for (let k = 0; k < d; k++) {
      gf[u + k] -= e * (f[i + k] - f[j + k]);
      gf[i + k] -= e * f[u + k];
      gf[j + k] += e * f[u + k];
      grad[u + k] += (reg / b) * ego[u + k];
      grad[i + k] += (reg / b) * ego[i + k];
      grad[j + k] += (reg / b) * ego[j + k];
    }
  }
  const back = layerAverage(g, gf, layers, d);
  for (let t = 0; t < grad.length; t++) grad[t] += back[t];
  return { loss: loss / b, grad };
}

/** The LightGCN model. */
export class LightGcn extends FactorModel<LightGcnConfig> {
  readonly name = 'lightgcn';
  /**
   * Ego embeddings E⁽⁰⁾, users then items, (nU + nI) × d. The base's `users` and `items` hold
   * the final (layer-averaged) embeddings F used for scoring.
   */
  ego: Float32Array = new Float32Array(0);
  private graph: NormalizedGraph | null = null;

  constructor(config: Record<string, unknown> = {}) {
    super(parseConfig('lightgcn', LightGcnConfigSchema, config));
  }

  /** A few BPR passes on f_u from the trained final embedding (see the file comment). */
  protected foldInKnown(history: Interactions, u: number, vec: Float64Array): void {
    const { foldInSteps, foldInLr, reg } = this.config;
    bprFoldIn(vec, this.items, undefined, distinctItems(history, u), this.n, foldInSteps, foldInLr, reg, new Rng(rowFingerprint(history, u) ^ u));
  }

  protected override tables(): Record<string, TableSpec> {
    return { ego: { rows: 'nodes' }, ...super.tables() };
  }

  /** Mini-batch Adam on BPR triples with uniform negatives; one epoch = one sample per training pair. */
  protected async fitFactors(train: Interactions, options: FitOptions): Promise<FitReport> {
    const { dim: d, layers, epochs, batchSize, lr, reg, initStd } = this.config;
    const rng = new Rng(options.seed);
    const nU = train.nUsers;
    const nI = train.nItems;
    const x = binaryRows(train);
    const nPairs = x.cols.length;
    if (nPairs === 0) throw new Error('lightgcn: training data has no interactions');
    this.graph = normalizedGraph(x);
    this.begin(train);
    this.ego = normalFactors(rng, nU + nI, d, initStd);
    const owner = new Int32Array(nPairs);
    for (let u = 0; u < nU; u++) owner.fill(u, x.offsets[u], x.offsets[u + 1]);
    const opt = new LazyAdam(this.ego, d, lr);
    const report = await trainEpochs('lightgcn', epochs, options, (_e, tick) => {
      let lossSum = 0;
      let steps = 0;
      for (let start = 0; start < nPairs; start += batchSize) {
        const b = Math.min(batchSize, nPairs - start);
        const u = new Int32Array(b);
        const i = new Int32Array(b);
        const j = new Int32Array(b);
        for (let t = 0; t < b; t++) {
          const pos = rng.int(nPairs);
          u[t] = owner[pos];
          i[t] = x.cols[pos];
          if (x.offsets[u[t] + 1] - x.offsets[u[t]] >= nI) {
            j[t] = i[t]; // no negative exists: a zero-gradient triple
            continue;
          }
          let neg: number;
          do neg = rng.int(nI);
          while (rowHas(x, u[t], neg));
          j[t] = neg;
        }
        const r = lightGcnLoss(this.graph!, this.ego, { u, i, j }, layers, d, reg);
        opt.step();
        for (let row = 0; row < nU + nI; row++) opt.updateRow(row, r.grad, row * d);
        lossSum += r.loss;
        steps++;
        tick();
      }
      // Final embeddings after every epoch, so the runner's validation (onEpoch) scores this epoch.
      this.computeFinal();
      return lossSum / steps;
    }, Math.ceil(nPairs / batchSize));
    return report;
  }

  /** Caches F = M E⁽⁰⁾ split into user and item tables. */
  private computeFinal(): void {
    const g = this.graph!;
    const d = this.config.dim;
    const f = layerAverage(g, this.ego, this.config.layers, d);
    this.users = Float32Array.from(f.subarray(0, g.nUsers * d));
    this.items = Float32Array.from(f.subarray(g.nUsers * d));
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<LightGcn> {
    return FactorModel.loadInto(dir, (config) => new LightGcn(config));
  }
}

/** Registry entry. */
export const lightGcnEntry: ModelEntry = {
  name: 'lightgcn',
  description: 'LightGCN (He et al. 2020): symmetric-normalised propagation, layer averaging, BPR',
  configSchema: LightGcnConfigSchema,
  sequential: false,
  create: (config) => new LightGcn(config),
  load: (dir) => LightGcn.load(dir),
};
