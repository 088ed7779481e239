/**
 * The factor-model base (LensKit's `ALSBase` idea): everything BPR-MF, iALS, DirectAU and
 * LightGCN share once they are trained — a user table and an item table of d-dimensional
 * factors (plus an optional item bias), scoring by dot products, fold-in of users unseen in
 * training, snapshot/restore for early stopping, and save/load. A subclass adds only its paper:
 * its config, its `fit`, and (when it has one) its own fold-in.
 *
 * Scoring: x̂_uj = p_u · q_j (+ b_j). The user vector p_u is
 *   - for a user without training events: {@link FactorModel.foldInUnseen} of the history given
 *     (by default the mean of the history items' factors);
 *   - for a trained user whose history differs from what the model trained on (feedback posted
 *     since, or the valid event at test time) and `foldIn: changed` (the default):
 *     {@link FactorModel.foldInKnown}, which starts from the trained row and re-fits it to the
 *     history given with the item side fixed — iALS by its closed-form least squares, the
 *     gradient models by a few steps of their own loss. So a served model follows new feedback at
 *     once, without a retrain;
 *   - otherwise the trained row.
 * To know whether a history differs, the model keeps a fingerprint of each user's training row
 * (event count and an order-free hash of the items, two int32 per user, saved with the model).
 * A checkpoint saved before fingerprints existed loads with none: its known users keep their
 * trained rows, as they did then.
 */
import { z } from 'zod';
import type { Interactions } from '../../data/types.ts';
import type { DotProductModel, FitOptions, FitReport, Recommender } from '../recommender.ts';
import { ItemPanels, scoreDot } from '../../kernels/score.ts';
import type { NamedTensor } from '../../nn/safetensors.ts';
import { readCheckpoint, writeCheckpoint } from '../checkpoint.ts';
import { checkScoreArgs } from './common.ts';
import { byteTensor, floatTensor, meanFoldIn, trainedUsers } from './mf.ts';

/** The config keys every factor model has. */
/** The `foldIn` key every factor model's config has (see {@link FactorModel}). */
export const foldInModeSchema = z
  .enum(['changed', 'unseen'])
  .default('changed')
  .describe('changed: users unseen in training and trained users whose history changed get a vector from their history at scoring time; unseen: only the former (trained rows kept until a retrain)');

/**
 * The fold-in keys of the factor models that fold a known user in by gradient steps (BPR,
 * LightGCN, DirectAU): the mode, the number of steps and their size. `what` names the steps in
 * the model's own terms.
 */
export function gradientFoldInShape(what: string, lr: number) {
  return {
    foldIn: foldInModeSchema,
    foldInSteps: z.number().int().min(0).default(10).describe(`${what} when folding in a trained user with new events`),
    foldInLr: z.number().positive().default(lr).describe('step size of that fold-in'),
  };
}

export interface FactorConfig {
  /** Factor dimension d. */
  dim: number;
  /**
   * Which users get a vector from their history at scoring time: `changed` — users unseen in
   * training and trained users whose history differs from their training row (default);
   * `unseen` — only users unseen in training (trained users keep their trained rows until a
   * retrain; the behaviour before issue 17, for reproducing older results).
   */
  foldIn: 'changed' | 'unseen';
}

/** murmur3's 32-bit finaliser: a well-mixed hash of one item id. */
function mix32(x: number): number {
  let h = (x + 1) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * Order-free fingerprint of user u's events in `data`: the wrapping sum of the items' hashes
 * (repeats counted). Two different rows collide with probability about 2⁻³² when counts match.
 */
export function rowFingerprint(data: Interactions, u: number): number {
  let h = 0;
  for (let p = data.offsets[u]; p < data.offsets[u + 1]; p++) h = (h + mix32(data.items[p])) | 0;
  return h;
}

/** User u's distinct history items, ascending. */
export function distinctItems(history: Interactions, u: number): Int32Array {
  return Int32Array.from(new Set(history.items.subarray(history.offsets[u], history.offsets[u + 1]))).sort();
}

/** True when sorted `set` contains `item` (binary search). */
export function sortedHas(set: Int32Array, item: number): boolean {
  let lo = 0;
  let hi = set.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (set[mid] === item) return true;
    if (set[mid] < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Rows of a saved table: one per user, per item, or per graph node (users then items). */
export type TableRows = 'users' | 'items' | 'nodes';

/** How a named parameter table is shaped: `rows × dim` or, with `vector`, `rows`. */
export interface TableSpec {
  rows: TableRows;
  vector?: boolean;
}

/** A trained factor model; subclasses implement {@link FactorModel.fitFactors} (which must call {@link FactorModel.begin}). */
export abstract class FactorModel<C extends FactorConfig & Record<string, unknown>> implements Recommender, DotProductModel {
  abstract readonly name: string;
  readonly config: C;
  /** User factors P, nUsers × d (row-major). */
  users: Float32Array = new Float32Array(0);
  /** Item factors Q, nItems × d. */
  items: Float32Array = new Float32Array(0);
  /** 1 for users with training events (they have a learned row in {@link users}). */
  seen: Uint8Array = new Uint8Array(0);
  /** Number of items (set by fit or load). */
  protected n = 0;
  /** Per user: number of training events (−1 for none recorded: an old checkpoint). */
  trainCount: Int32Array = new Int32Array(0);
  /** Per user: {@link rowFingerprint} of the training row. */
  trainHash: Int32Array = new Int32Array(0);

  /** The packed item vectors of the current weights (see {@link itemPanels}). */
  private panels: { packed: ItemPanels; items: Float32Array } | null = null;
  /** True while fit runs: the weights change between calls, so nothing packed is reused. */
  private fitting = false;

  constructor(config: C) {
    this.config = config;
  }

  get nItems(): number {
    return this.n;
  }

  /**
   * The trainable tables by name, as saved and snapshotted (besides `seen`). The default is
   * `users` and `items`; a model with more (BPR's bias, LightGCN's ego embeddings) extends it.
   */
  protected tables(): Record<string, TableSpec> {
    return { users: { rows: 'users' }, items: { rows: 'items' } };
  }

  /** The item bias added to every score, if the model has one. */
  protected itemBias(): Float32Array | undefined {
    return undefined;
  }

  /** Records the catalogue and which users are trained; called first by every `fit`. */
  protected begin(train: Interactions): void {
    this.n = train.nItems;
    this.seen = trainedUsers(train);
    this.trainCount = new Int32Array(train.nUsers);
    this.trainHash = new Int32Array(train.nUsers);
    for (let u = 0; u < train.nUsers; u++) {
      this.trainCount[u] = train.offsets[u + 1] - train.offsets[u];
      this.trainHash[u] = rowFingerprint(train, u);
    }
  }

  /** Trains on `train` (the model's paper); called by {@link fit}. */
  protected abstract fitFactors(train: Interactions, options: FitOptions): Promise<FitReport>;

  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    this.fitting = true;
    try {
      return await this.fitFactors(train, options);
    } finally {
      this.fitting = false;
      this.dropPanels();
    }
  }

  /** Scoring width: d, plus one column for the item bias if the model has one. */
  private get dims(): number {
    return this.config.dim + (this.itemBias() ? 1 : 0);
  }

  /**
   * The item vectors [q_j, b_j] packed in the engine. Packed once per set of weights: again on
   * every call while training (validation sees each epoch's weights), reused afterwards.
   */
  itemPanels(): ItemPanels {
    if (this.panels && !this.fitting && this.panels.items === this.items) return this.panels.packed;
    this.dropPanels();
    const d = this.config.dim, dims = this.dims, n = this.n;
    const bias = this.itemBias();
    let vectors = this.items;
    if (bias) {
      vectors = new Float32Array(n * dims);
      for (let j = 0; j < n; j++) {
        vectors.set(this.items.subarray(j * d, j * d + d), j * dims);
        vectors[j * dims + d] = bias[j];
      }
    }
    this.panels = { packed: new ItemPanels(vectors, n, dims), items: this.items };
    return this.panels.packed;
  }

  private dropPanels(): void {
    this.panels?.packed.dispose();
    this.panels = null;
  }

  /** [p_u, 1] for each user of `users` (fold-in for users without a row or whose history changed). */
  userVectors(users: Int32Array, history: Interactions, out: Float32Array): void {
    const d = this.config.dim, dims = this.dims;
    const vec = new Float64Array(d);
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      if (this.isTrained(u)) {
        for (let k = 0; k < d; k++) vec[k] = this.users[u * d + k];
        if (this.historyChanged(history, u)) this.foldInKnown(history, u, vec);
      } else this.foldInUnseen(history, u, vec);
      for (let k = 0; k < d; k++) out[r * dims + k] = vec[k];
      if (dims > d) out[r * dims + d] = 1;
    }
  }

  /** True when user `u` has a trained row. */
  protected isTrained(u: number): boolean {
    return u < this.seen.length && this.seen[u] === 1;
  }

  /**
   * The vector of a user without a trained row, from their events in `history`, into `vec`.
   * Default: the mean of their distinct history items' factors (a documented approximation).
   */
  protected foldInUnseen(history: Interactions, u: number, vec: Float64Array): void {
    meanFoldIn(history, u, this.items, this.config.dim, vec);
  }

  /**
   * Re-fits trained user u's vector `vec` (holding the trained row on entry) to their events in
   * `history`, with the item side fixed. Each model implements its own paper's version.
   */
  protected abstract foldInKnown(history: Interactions, u: number, vec: Float64Array): void;

  /** True when trained user u's row in `history` differs from the one they were trained on. */
  protected historyChanged(history: Interactions, u: number): boolean {
    if (this.config.foldIn !== 'changed' || u >= this.trainCount.length || this.trainCount[u] < 0) return false;
    const count = history.offsets[u + 1] - history.offsets[u];
    return count !== this.trainCount[u] || rowFingerprint(history, u) !== this.trainHash[u];
  }

  /** x̂_uj = p_u · q_j (+ b_j) for every item j, per user of `users`: one GEMM on the kernel core. */
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    checkScoreArgs(this.name, this.n, users, history, out);
    const vectors = new Float32Array(users.length * this.dims);
    this.userVectors(users, history, vectors);
    scoreDot(this.itemPanels(), vectors, users.length, out);
  }

  /** The table called `name` (a field of the subclass). */
  private table(name: string): Float32Array {
    return (this as unknown as Record<string, Float32Array>)[name];
  }

  /** Copies of every trainable table. */
  snapshot(): unknown {
    const s: Record<string, Float32Array> = {};
    for (const name of Object.keys(this.tables())) s[name] = this.table(name).slice();
    return s;
  }

  /** Writes a {@link snapshot} back, in place (an optimiser may hold the arrays). */
  restore(state: unknown): void {
    const s = state as Record<string, Float32Array>;
    for (const name of Object.keys(this.tables())) this.table(name).set(s[name]);
    this.dropPanels();
    this.restored();
  }

  /** Called after {@link restore}, for caches derived from the tables. */
  protected restored(): void {}

  /** Number of rows of a table kind. */
  private rowCount(rows: TableRows, nUsers: number): number {
    return rows === 'users' ? nUsers : rows === 'items' ? this.n : nUsers + this.n;
  }

  async save(dir: string): Promise<void> {
    const d = this.config.dim;
    const nU = this.seen.length;
    const tensors: Record<string, NamedTensor> = {};
    for (const [name, spec] of Object.entries(this.tables())) {
      const rows = this.rowCount(spec.rows, nU);
      tensors[name] = { data: this.table(name), shape: spec.vector ? [rows] : [rows, d] };
    }
    tensors.seen = { data: this.seen, shape: [nU] };
    tensors.trainCount = { data: this.trainCount, shape: [nU] };
    tensors.trainHash = { data: this.trainHash, shape: [nU] };
    await writeCheckpoint(dir, { name: this.name, config: this.config, nItems: this.n, state: { nUsers: nU } }, tensors);
  }

  /** Fills a model created from a checkpoint's config with the checkpoint's tables. */
  static async loadInto<M extends FactorModel<FactorConfig & Record<string, unknown>>>(dir: string, create: (config: Record<string, unknown>) => M): Promise<M> {
    const { meta, tensors } = await readCheckpoint(dir);
    const m = create(meta.config);
    const nU = Number(meta.state?.nUsers);
    const d = m.config.dim;
    m.n = meta.nItems;
    const self = m as unknown as Record<string, Float32Array>;
    for (const [name, spec] of Object.entries(m.tables())) {
      const rows = m.rowCount(spec.rows, nU);
      self[name] = floatTensor(dir, tensors, name, spec.vector ? rows : rows * d);
    }
    m.seen = byteTensor(dir, tensors, 'seen', nU);
    if (tensors.trainCount && tensors.trainHash) {
      m.trainCount = intTensor(dir, tensors, 'trainCount', nU);
      m.trainHash = intTensor(dir, tensors, 'trainHash', nU);
    } else {
      m.trainCount = new Int32Array(nU).fill(-1); // saved before fingerprints: never refold known users
      m.trainHash = new Int32Array(nU);
    }
    return m;
  }
}

/** Returns tensor `name` as Int32Array of `length`, or throws naming the checkpoint. */
function intTensor(dir: string, tensors: Record<string, NamedTensor>, name: string, length: number): Int32Array {
  const t = tensors[name];
  if (!t || !(t.data instanceof Int32Array) || t.data.length !== length) {
    throw new Error(`${dir}: checkpoint lacks an int32 "${name}" tensor of ${length} values`);
  }
  return t.data;
}
