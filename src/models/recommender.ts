/**
 * The one interface every model implements (RecBole-style): fit on a train view, score users
 * given their known history, save to a directory. Evaluation, the experiment runner and the
 * server talk to models only through this file.
 */
import type { ItemPanels } from '../kernels/score.ts';
import type { Interactions } from '../data/types.ts';

/** What an iterative model reports after each epoch. */
export interface EpochReport {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss over the epoch. */
  loss: number;
  /** Wall time of the epoch in seconds (training only, no validation). */
  seconds: number;
}

/** Options for {@link Recommender.fit}. */
export interface FitOptions {
  /** Seed of every random choice the model makes (init, sampling, dropout). */
  seed: number;
  /**
   * Called by iterative models after each epoch. Return `true` to stop training (the runner
   * uses this for early stopping on a validation metric). Closed-form models never call it.
   */
  onEpoch?: (report: EpochReport) => boolean | void | Promise<boolean | void>;
  /** Show a progress bar with ETA on stderr (default: when stderr is a TTY). */
  progress?: boolean;
  /** Cancels training between steps. */
  signal?: AbortSignal;
  /**
   * Events that say "not this" (dislikes: Gorse's negative feedback), on the same user and item
   * ids as `train`. A model that can learn from them uses them (iALS fits them as zeros with their
   * own confidence); the others ignore them.
   */
  negatives?: Interactions;
  /**
   * Resumable training (the engine-trained sequential models: SASRec, BERT4Rec, HSTU, GRU4Rec;
   * other models ignore it). After every `every` epochs (default 1), and after the last one, the
   * model writes its whole training state to `dir` — weights, Adam moments and step count, the
   * random stream's position, the epoch reached and the epoch history — atomically, so a run
   * killed at any moment leaves the previous complete state. When `dir` already holds a state at
   * the start of fit, fit resumes from it: the continued run is bit-identical to one that was never
   * interrupted, and the returned history includes the earlier epochs. The checkpoint must come
   * from the same model, config (except `epochs`, which may be raised to train longer), catalogue
   * and seed; anything else is refused with an error naming the key. Note that a schedule whose
   * horizon is `epochs` (SASRec `schedule: cosine`) decays differently once `epochs` is raised.
   * See src/models/seq/resume.ts.
   */
  checkpoint?: { dir: string; every?: number };
}

/** What {@link Recommender.fit} returns. */
export interface FitReport {
  /** Epochs run (0 for closed-form models). */
  epochs: number;
  /** Wall time of fitting in seconds. */
  seconds: number;
  /** Per-epoch records, when iterative. */
  history: EpochReport[];
}

/** A trained or trainable recommender. */
export interface Recommender {
  /** Registry name, e.g. `ease`, `sasrec`. */
  readonly name: string;
  /** The hyperparameters in effect (defaults filled in), as plain JSON. */
  readonly config: Record<string, unknown>;
  /** Number of items the model scores (set by fit or load). */
  readonly nItems: number;

  /** Trains on `train`. May be called once per instance. */
  fit(train: Interactions, options: FitOptions): Promise<FitReport>;

  /**
   * Writes a score for every item for each user of `users` into `out` (row-major,
   * `users.length × nItems`; higher is better). `history` holds each user's known events in
   * time order — the train view when validating, train ∪ valid when testing — so models that
   * compute from history (EASE, ItemKNN, sequential models) see exactly what the protocol allows.
   * Scores of history items are not masked here: exclusion is the caller's job.
   */
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void;

  /** Saves weights (safetensors) and config + id-independent state (JSON) into `dir`. */
  save(dir: string): Promise<void>;

  /** Copies the trainable state (for restoring the best epoch after early stopping). */
  snapshot?(): unknown;
  /** Restores a state returned by {@link snapshot}. */
  restore?(state: unknown): void;
}

/**
 * A model whose scores are dot products of a user vector and an item vector (BPR, iALS, DirectAU,
 * LightGCN): the evaluator and the server score and rank it on the kernel core (SIMD GEMM, rank
 * counts with history exclusion) instead of asking for a score block.
 */
export interface DotProductModel {
  /** The item vectors packed in the engine (a model with item biases appends them as the last column). */
  itemPanels(): ItemPanels;
  /** The vectors of `users` given their `history` (fold-in where needed) into `out` [users.length × dims]. */
  userVectors(users: Int32Array, history: Interactions, out: Float32Array): void;
}

/** True when the model exposes its factors for scoring on the kernel core. */
export function isDotProduct(model: Recommender): model is Recommender & DotProductModel {
  const m = model as Partial<DotProductModel>;
  return typeof m.itemPanels === 'function' && typeof m.userVectors === 'function';
}

/** A model that can score an arbitrary item sequence (anonymous session, or a history updated in real time). */
export interface SequentialRecommender extends Recommender {
  /** Scores every item as the next event after `sequence` (item ids in time order) into `out` (length nItems). */
  scoreSequence(sequence: Int32Array, out: Float32Array): void;
}

/** True when the model can score raw sequences. */
export function isSequential(model: Recommender): model is SequentialRecommender {
  return typeof (model as Partial<SequentialRecommender>).scoreSequence === 'function';
}
