/**
 * ItemKNN — item-based collaborative filtering (Sarwar et al. 2001; Deshpande & Karypis 2004),
 * for implicit feedback.
 *
 * Fit: for every item i, count how many users share i with every other item j (co-occurrence
 * c_ij, from the sparse user rows — no dense item×item matrix), turn counts into a similarity
 * (cosine, asymmetric cosine or Jaccard, with shrinkage; see cf/similarity.ts), and keep only
 * i's `k` most similar items (top-k pruning): the model is a sparse k-per-row matrix S.
 * Score: s_j = Σ_{i ∈ distinct history items} S_ij — from the history row passed in, so new
 * events count immediately.
 */
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport, Recommender } from './recommender.ts';
import type { ModelEntry } from './registry.ts';
import { readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { binaryRows, checkScoreArgs, secondsSince, transposeBinary } from './cf/common.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import { SIMILARITIES, similarity } from './cf/similarity.ts';
import { topK } from './topk.ts';
import { progress } from '../util/progress.ts';

/** Hyperparameters of {@link ItemKnn}. */
export const ItemKnnConfigSchema = z
  .object({
    similarity: z.enum(SIMILARITIES).default('cosine').describe('similarity between item (user) vectors'),
    k: z.number().int().positive().default(100).describe('neighbours kept per item'),
    shrink: z.number().min(0).default(10).describe('shrinkage added to the denominator'),
    alpha: z.number().min(0).max(1).default(0.5).describe('exponent of the asymmetric cosine |h|^α·|v|^(1−α) (similarity: asymmetric)'),
  })
  .strict();
export type ItemKnnConfig = z.infer<typeof ItemKnnConfigSchema>;

/** Defaults: cosine, 100 neighbours, shrinkage 10. */
export const ITEMKNN_DEFAULTS: ItemKnnConfig = ItemKnnConfigSchema.parse({});

/** Item-based k-nearest-neighbours. */
export class ItemKnn implements Recommender {
  readonly name = 'itemknn';
  readonly config: ItemKnnConfig;
  /** Sparse S in CSR: item i's neighbours are nbrItems[nbrOffsets[i]..nbrOffsets[i+1]). */
  nbrOffsets: Int32Array = new Int32Array(1);
  nbrItems: Int32Array = new Int32Array(0);
  nbrSims: Float32Array = new Float32Array(0);
  private n = 0;
  private mark = new Int32Array(0);
  private stamp = 0;

  constructor(config: Record<string, unknown> = {}) {
    this.config = parseConfig('itemknn', ItemKnnConfigSchema, config);
  }

  get nItems(): number {
    return this.n;
  }

  /** Builds the pruned similarity matrix row by row. */
  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    const t0 = performance.now();
    const n = train.nItems;
    const x = binaryRows(train);
    const xt = transposeBinary(x);
    const { similarity: kind, k, shrink, alpha } = this.config;
    const size = new Int32Array(n);
    for (let i = 0; i < n; i++) size[i] = xt.offsets[i + 1] - xt.offsets[i];
    const counts = new Int32Array(n);
    const touched = new Int32Array(n);
    const sims = new Float32Array(n);
    const offsets = new Int32Array(n + 1);
    const items: Int32Array[] = [];
    const values: Float32Array[] = [];
    const bar = progress('itemknn', n, { enabled: options.progress, unit: 'items' });
    for (let i = 0; i < n; i++) {
      // Co-occurrence counts of i with every item, touching only the items that occur.
      let nt = 0;
      for (let q = xt.offsets[i]; q < xt.offsets[i + 1]; q++) {
        const u = xt.cols[q];
        for (let p = x.offsets[u]; p < x.offsets[u + 1]; p++) {
          const j = x.cols[p];
          if (counts[j]++ === 0) touched[nt++] = j;
        }
      }
      sims.fill(Number.NaN);
      for (let t = 0; t < nt; t++) {
        const j = touched[t];
        if (j !== i) sims[j] = similarity(kind, counts[j], size[i], size[j], shrink, alpha);
        counts[j] = 0;
      }
      const best = topK(sims, k, (j) => !(sims[j] > 0));
      items.push(best.items);
      values.push(best.scores);
      offsets[i + 1] = offsets[i] + best.items.length;
      if ((i & 255) === 255) {
        bar.tick(256);
        if (options.signal?.aborted) throw new Error('itemknn: fit aborted');
      }
    }
    bar.stop();
    const nbrItems = new Int32Array(offsets[n]);
    const nbrSims = new Float32Array(offsets[n]);
    for (let i = 0; i < n; i++) {
      nbrItems.set(items[i], offsets[i]);
      nbrSims.set(values[i], offsets[i]);
    }
    this.setNeighbours(n, offsets, nbrItems, nbrSims);
    return { epochs: 0, seconds: secondsSince(t0), history: [] };
  }

  private setNeighbours(n: number, offsets: Int32Array, items: Int32Array, sims: Float32Array): void {
    this.n = n;
    this.nbrOffsets = offsets;
    this.nbrItems = items;
    this.nbrSims = sims;
    this.mark = new Int32Array(n);
    this.stamp = 0;
  }

  /** s_j = Σ_{i ∈ distinct history} S_ij. */
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    checkScoreArgs('itemknn', this.n, users, history, out);
    const n = this.n;
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      const o = r * n;
      out.fill(0, o, o + n);
      const stamp = ++this.stamp;
      for (let p = history.offsets[u]; p < history.offsets[u + 1]; p++) {
        const i = history.items[p];
        if (this.mark[i] === stamp) continue;
        this.mark[i] = stamp;
        for (let q = this.nbrOffsets[i]; q < this.nbrOffsets[i + 1]; q++) out[o + this.nbrItems[q]] += this.nbrSims[q];
      }
    }
  }

  async save(dir: string): Promise<void> {
    await writeCheckpoint(dir, { name: this.name, config: this.config, nItems: this.n }, {
      offsets: { data: this.nbrOffsets, shape: [this.n + 1] },
      items: { data: this.nbrItems, shape: [this.nbrItems.length] },
      sims: { data: this.nbrSims, shape: [this.nbrSims.length] },
    });
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<ItemKnn> {
    const { meta, tensors } = await readCheckpoint(dir);
    const model = new ItemKnn(meta.config);
    const { offsets, items, sims } = tensors;
    const n = meta.nItems;
    if (!(offsets?.data instanceof Int32Array) || offsets.data.length !== n + 1 || !(items?.data instanceof Int32Array) || !(sims?.data instanceof Float32Array) || items.data.length !== sims.data.length || offsets.data[n] !== items.data.length) {
      throw new Error(`${dir}: itemknn checkpoint needs int32 "offsets" [${n + 1}], int32 "items" and float32 "sims" of equal length`);
    }
    model.setNeighbours(n, offsets.data, items.data, sims.data);
    return model;
  }
}

/** Registry entry. */
export const itemKnnEntry: ModelEntry = {
  name: 'itemknn',
  description: 'Item-based kNN (cosine / asymmetric cosine / Jaccard, shrinkage, top-k pruning)',
  configSchema: ItemKnnConfigSchema,
  sequential: false,
  create: (config) => new ItemKnn(config),
  load: (dir) => ItemKnn.load(dir),
};
