/**
 * The members every engine-trained sequential model (SASRec, BERT4Rec, HSTU, GRU4Rec) shares
 * around its network: the network slot, the fit-once guard, the training record, save / load via
 * ./network-state.ts, and snapshot / restore for the best epoch. A subclass supplies its name,
 * config, how to build its network, the model-specific model.json state, fit and scoring.
 */
import type { NamedTensor } from '../../nn/safetensors.ts';
import type { Interactions } from '../../data/types.ts';
import type { FitOptions, FitReport, SequentialRecommender } from '../recommender.ts';
import { loadNetwork, restoreNetwork, saveNetwork, snapshotNetwork, type EngineNetwork } from './network-state.ts';

/** Base of the engine-trained sequential models: `Net` is the network, `Cfg` the parsed config. */
export abstract class EngineSequentialModel<Net extends EngineNetwork, Cfg extends Record<string, unknown>>
implements SequentialRecommender {
  /** Registry name, e.g. `sasrec` (also the prefix of every error message). */
  abstract readonly name: string;
  /** The hyperparameters in effect (defaults filled in). */
  readonly config: Cfg;
  /** The network, once fit or load made it. */
  protected net: Net | null = null;
  /** Set by fit and load: a model is fitted at most once. */
  protected trained = false;
  /** Training summary written to model.json's `training` (set by fit, read back by load). */
  protected record: Record<string, unknown> = {};

  /** @param config the parsed config (defaults filled in) */
  protected constructor(config: Cfg) {
    this.config = config;
  }

  /** Builds an uninitialised network for `nItems` items from {@link config}. */
  protected abstract createNetwork(nItems: number): Net;

  /** Model-specific fields of model.json's `state` (default none); also given to resumable training. */
  protected savedState(_net: Net): Record<string, unknown> {
    return {};
  }

  /** Trains on `train`. May be called once per instance. */
  abstract fit(train: Interactions, options: FitOptions): Promise<FitReport>;

  /** Scores every item for each user of `users` from their `history` into `out` (see Recommender). */
  abstract scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void;

  /** Scores every item as the next event after `sequence` into `out` (see SequentialRecommender). */
  abstract scoreSequence(sequence: Int32Array, out: Float32Array): void;

  /** Number of items the model scores (0 before fit or load). */
  get nItems(): number {
    return this.net?.nItems ?? 0;
  }

  /** The network (after fit or load). */
  get network(): Net {
    if (!this.net) throw new Error(`${this.name}: model is not trained or loaded`);
    return this.net;
  }

  /**
   * Start of fit: refuses a second call, then makes and keeps the (uninitialised) network for
   * `nItems` items and returns it.
   */
  protected beginFit(nItems: number): Net {
    if (this.trained) throw new Error(`${this.name}: fit may be called once per instance`);
    this.trained = true;
    return (this.net = this.createNetwork(nItems));
  }

  /** End of fit: keeps the training summary that {@link save} writes (`threads` when the network has a thread count). */
  protected endFit(report: FitReport, seed: number, threads?: number): void {
    const finalLoss = report.history.at(-1)?.loss ?? null;
    this.record = threads === undefined
      ? { epochs: report.epochs, seconds: report.seconds, finalLoss, seed }
      : { epochs: report.epochs, seconds: report.seconds, finalLoss, threads, seed };
  }

  /** Saves weights (safetensors) and config + state (model.json) into `dir`. */
  async save(dir: string): Promise<void> {
    const net = this.network;
    await saveNetwork(dir, { name: this.name, config: this.config, record: this.record }, net, this.savedState(net));
  }

  /** Copies the trainable state (weights + Adam step) for restoring the best epoch. */
  snapshot(): unknown {
    return snapshotNetwork(this.network);
  }

  /** Restores a state returned by {@link snapshot}. */
  restore(state: unknown): void {
    restoreNetwork(this.network, state);
  }

  /**
   * Loads a model of registry name `name` written by {@link save}: `create` makes the model from
   * the saved config, whose {@link createNetwork} then receives the saved weights. For the
   * subclasses' `static load`.
   */
  protected static async loadModel<M extends EngineSequentialModel<EngineNetwork, Record<string, unknown>>>(
    dir: string,
    name: string,
    create: (config: Record<string, unknown>) => M,
    migrate?: (tensors: Record<string, NamedTensor>) => void,
  ): Promise<M> {
    let model: M | undefined;
    const { net, training } = await loadNetwork(dir, name, (config, nItems) => {
      model = create(config);
      return model.createNetwork(nItems);
    }, migrate);
    model!.net = net;
    model!.trained = true;
    model!.record = training;
    return model!;
  }
}
