/**
 * UserKNN — user-based collaborative filtering (Herlocker et al. 1999; Resnick et al. 1994),
 * for implicit feedback.
 *
 * Score for a user with history h: find the `k` training users v most similar to h
 * (cosine / asymmetric cosine / Jaccard of item sets, with shrinkage; see cf/similarity.ts),
 * then s_j = Σ_v sim(h, v) · x_vj. Similarities are computed at scoring time from the history
 * row passed in (through the item→users index), so the model stores only the sparse training
 * matrix and a user's newest events count immediately. The user never counts as their own
 * neighbour.
 */
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport, Recommender } from './recommender.ts';
import type { ModelEntry } from './registry.ts';
import { readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { binaryRows, checkScoreArgs, secondsSince, transposeBinary, type BinaryCsr } from './cf/common.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import { SIMILARITIES, similarity } from './cf/similarity.ts';
import { topK } from './topk.ts';

/** Hyperparameters of {@link UserKnn}. */
export const UserKnnConfigSchema = z
  .object({
    similarity: z.enum(SIMILARITIES).default('cosine').describe('similarity between item (user) vectors'),
    k: z.number().int().positive().default(100).describe('neighbours (training users) used per scored user'),
    shrink: z.number().min(0).default(0).describe('shrinkage added to the denominator'),
    alpha: z.number().min(0).max(1).default(0.5).describe('exponent of the asymmetric cosine |h|^α·|v|^(1−α) (similarity: asymmetric)'),
  })
  .strict();
export type UserKnnConfig = z.infer<typeof UserKnnConfigSchema>;

/** Defaults: cosine, 100 neighbours, no shrinkage. */
export const USERKNN_DEFAULTS: UserKnnConfig = UserKnnConfigSchema.parse({});

/** User-based k-nearest-neighbours. */
export class UserKnn implements Recommender {
  readonly name = 'userknn';
  readonly config: UserKnnConfig;
  private x: BinaryCsr | null = null;
  private xt: BinaryCsr | null = null;
  private counts = new Int32Array(0);
  private touched = new Int32Array(0);
  private sims = new Float32Array(0);
  private mark = new Int32Array(0);
  private stamp = 0;

  constructor(config: Record<string, unknown> = {}) {
    this.config = parseConfig('userknn', UserKnnConfigSchema, config);
  }

  get nItems(): number {
    return this.x?.nCols ?? 0;
  }

  /** Indexes the binary training matrix both ways (user → items, item → users). */
  async fit(train: Interactions, _options: FitOptions): Promise<FitReport> {
    const t0 = performance.now();
    this.setMatrix(binaryRows(train));
    return { epochs: 0, seconds: secondsSince(t0), history: [] };
  }

  private setMatrix(x: BinaryCsr): void {
    this.x = x;
    this.xt = transposeBinary(x);
    this.counts = new Int32Array(x.nRows);
    this.touched = new Int32Array(x.nRows);
    this.sims = new Float32Array(x.nRows);
    this.mark = new Int32Array(x.nCols);
    this.stamp = 0;
  }

  /** s_j = Σ_{v ∈ top-k similar users} sim(h, v) · x_vj. */
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    checkScoreArgs('userknn', this.nItems, users, history, out);
    const x = this.x!;
    const xt = this.xt!;
    const n = x.nCols;
    const { similarity: kind, k, shrink, alpha } = this.config;
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      const o = r * n;
      out.fill(0, o, o + n);
      // Overlap |h ∩ row_v| for every training user v sharing an item with h.
      const stamp = ++this.stamp;
      let size = 0;
      let nt = 0;
      for (let p = history.offsets[u]; p < history.offsets[u + 1]; p++) {
        const i = history.items[p];
        if (this.mark[i] === stamp) continue;
        this.mark[i] = stamp;
        size++;
        for (let q = xt.offsets[i]; q < xt.offsets[i + 1]; q++) {
          const v = xt.cols[q];
          if (this.counts[v]++ === 0) this.touched[nt++] = v;
        }
      }
      this.sims.fill(Number.NaN);
      for (let t = 0; t < nt; t++) {
        const v = this.touched[t];
        if (v !== u) this.sims[v] = similarity(kind, this.counts[v], size, x.offsets[v + 1] - x.offsets[v], shrink, alpha);
        this.counts[v] = 0;
      }
      const sims = this.sims;
      const best = topK(sims, k, (v) => !(sims[v] > 0));
      for (let t = 0; t < best.items.length; t++) {
        const v = best.items[t];
        const s = best.scores[t];
        for (let p = x.offsets[v]; p < x.offsets[v + 1]; p++) out[o + x.cols[p]] += s;
      }
    }
  }

  async save(dir: string): Promise<void> {
    const x = this.x;
    if (!x) throw new Error('userknn: save called before fit');
    await writeCheckpoint(dir, { name: this.name, config: this.config, nItems: x.nCols, state: { nUsers: x.nRows } }, {
      offsets: { data: x.offsets, shape: [x.nRows + 1] },
      items: { data: x.cols, shape: [x.cols.length] },
    });
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<UserKnn> {
    const { meta, tensors } = await readCheckpoint(dir);
    const model = new UserKnn(meta.config);
    const nUsers = Number(meta.state?.nUsers);
    const { offsets, items } = tensors;
    if (!(offsets?.data instanceof Int32Array) || offsets.data.length !== nUsers + 1 || !(items?.data instanceof Int32Array) || offsets.data[nUsers] !== items.data.length) {
      throw new Error(`${dir}: userknn checkpoint needs int32 "offsets" [nUsers+1] and "items" tensors and state.nUsers`);
    }
    model.setMatrix({ nRows: nUsers, nCols: meta.nItems, offsets: offsets.data, cols: items.data });
    return model;
  }
}

/** Registry entry. */
export const userKnnEntry: ModelEntry = {
  name: 'userknn',
  description: 'User-based kNN (cosine / asymmetric cosine / Jaccard, shrinkage, top-k users)',
  configSchema: UserKnnConfigSchema,
  sequential: false,
  create: (config) => new UserKnn(config),
  load: (dir) => UserKnn.load(dir),
};
