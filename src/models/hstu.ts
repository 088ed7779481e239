/**
 * HSTU — Hierarchical Sequential Transduction Units (Zhai et al., ICML 2024, "Actions Speak
 * Louder than Words: Trillion-Parameter Sequential Transducers for Generative Recommendations")
 * as a SequentialRecommender: config, training loop, scoring, save/load and the registry entry.
 * The network (HSTUNet, re-exported here), with the paper in one page and how it runs on the
 * engine, is in ./seq/hstu-net.ts.
 */
import type { NamedTensor } from '../nn/safetensors.ts';
import { EngineSequentialModel } from './seq/engine-model.ts';
import { startTraining } from './seq/resume.ts';
import { runEpochs } from './seq/train-loop.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import type { Interactions } from '../data/types.ts';
import type { DotProductModel, FitOptions, FitReport, SequentialRecommender } from './recommender.ts';
import { scoreDot, type ItemPanels } from '../kernels/score.ts';
import { historyStates } from './seq/infer.ts';
import { constantLr, warmupCosine } from '../nn/optim.ts';
import { Rng } from '../nn/rng.ts';
import { BatchSampler } from './seq/batch.ts';
import { HSTUNet } from './seq/hstu-net.ts';
import type { ModelEntry } from './registry.ts';

export { HSTUNet, type HSTUSeeds } from './seq/hstu-net.ts';

/** Hyperparameters. Defaults: the repository's HSTU ML-1M config (hstu-sampled-softmax-n128-final.gin). */
export const HSTUConfigSchema = z.object({
  hidden: z.number().int().positive().default(50).describe('item embedding size d'),
  blocks: z.number().int().positive().default(2).describe('transformer blocks'),
  heads: z.number().int().positive().default(1).describe('attention heads'),
  dqk: z.number().int().positive().default(50).describe('per-head query/key width'),
  dv: z.number().int().positive().default(50).describe('per-head value width'),
  maxLen: z.number().int().positive().default(200).describe('longest history read (the latest events)'),
  dropout: z.number().min(0).max(0.95).default(0.2).describe('dropout on the input embeddings and on U ⊙ LN(A) before W_o ("linear dropout")'),
  batchSize: z.number().int().positive().default(128).describe('sequences per step'),
  epochs: z.number().int().nonnegative().default(101).describe('training epochs'),
  stepsPerEpoch: z.number().int().nonnegative().default(0).describe('steps per epoch; 0 = ⌈trainable users / batchSize⌉'),
  lr: z.number().positive().default(1e-3).describe('Adam learning rate'),
  beta1: z.number().min(0).max(1).default(0.9).describe('Adam β₁'),
  beta2: z.number().min(0).max(1).default(0.98).describe('Adam β₂'),
  weightDecay: z.number().min(0).default(0).describe('L2 weight decay'),
  warmupSteps: z.number().int().nonnegative().default(0).describe('linear learning-rate warm-up steps'),
  negatives: z.number().int().positive().default(128).describe('sampled negatives per position'),
  temperature: z.number().positive().default(0.05).describe('softmax temperature on cosine scores'),
  threads: z.number().int().nonnegative().default(0).describe('threads; 0 = the machine\'s cores. Same seed + same thread count ⇒ same weights'),
}).strict();

/** HSTU hyperparameters with defaults filled in. */
export type HSTUConfig = z.infer<typeof HSTUConfigSchema>;

/** Parses a partial config, with a clear error naming the bad key. */
export function parseHSTUConfig(config: Record<string, unknown>): HSTUConfig {
  return parseConfig('hstu', HSTUConfigSchema, config);
}

/** The last `maxLen` items of `seq` as internal ids (dataset id + 1). */
function window(seq: ArrayLike<number>, maxLen: number): Int32Array {
  const L = Math.min(maxLen, seq.length);
  const out = new Int32Array(L);
  for (let j = 0; j < L; j++) out[j] = seq[seq.length - L + j] + 1;
  return out;
}

/** model.json state fields of a saved HSTU (how the relative position bias is laid out). */
const HSTU_STATE = { relPosStorage: 'by offset: element k = bias of i - j = k' };

/**
 * Checkpoints written before the fused attention kernel stored each block's relative bias
 * reversed (`blocks.{b}.rel_pos_rev[c]` = bias of offset maxLen−1−c); now `blocks.{b}.rel_pos[k]`
 * is the bias of offset k. Old checkpoints load unchanged in meaning.
 */
function migrateRelPos(tensors: Record<string, NamedTensor>): void {
  for (const name of Object.keys(tensors)) {
    const m = /^blocks\.(\d+)\.rel_pos_rev$/.exec(name);
    if (!m || tensors[`blocks.${m[1]}.rel_pos`]) continue;
    const t = tensors[name];
    tensors[`blocks.${m[1]}.rel_pos`] = { ...t, data: (t.data as Float32Array).slice().reverse() };
    delete tensors[name];
  }
}

/** HSTU as a {@link SequentialRecommender}. */
export class HSTU extends EngineSequentialModel<HSTUNet, HSTUConfig> implements SequentialRecommender, DotProductModel {
  readonly name = 'hstu';

  /** @param config hyperparameters; missing keys take their defaults */
  constructor(config: Record<string, unknown> = {}) {
    super(parseHSTUConfig(config));
  }

  protected createNetwork(nItems: number): HSTUNet {
    return new HSTUNet(this.config, nItems);
  }

  /** model.json state: the relative position bias layout. */
  protected override savedState(_net: HSTUNet): Record<string, unknown> {
    return HSTU_STATE;
  }

  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    const net = this.beginFit(train.nItems);
    const cfg = this.config;
    const rng = new Rng(options.seed);
    net.init(rng.fork());
    const sampler = new BatchSampler(train, cfg.maxLen);
    const steps = cfg.stepsPerEpoch || Math.ceil(sampler.users.length / cfg.batchSize);
    const lrAt = cfg.warmupSteps > 0 ? warmupCosine(cfg.lr, cfg.warmupSteps, Number.MAX_SAFE_INTEGER, 1) : constantLr(cfg.lr);
    const run = await startTraining({ model: this, net, rng, options, epochs: cfg.epochs, modelState: this.savedState(net) });
    const report = await runEpochs({
      name: 'hstu', run, options, epochs: cfg.epochs, steps,
      step: (t) => net.trainStep(sampler.sample(cfg.batchSize, cfg.negatives, rng), lrAt(t), rng),
    });
    this.endFit(report, options.seed, net.threads);
    return report;
  }

  /** The normalised item embeddings packed for the kernel core (scores are cosines with the last state). */
  itemPanels(): ItemPanels {
    return this.network.itemPanels();
  }

  /** The L2-normalised last state of each user's history window (zeros for an empty history: every item ties). */
  userVectors(users: Int32Array, history: Interactions, out: Float32Array): void {
    const net = this.network;
    historyStates('hstu', users, history, net.nItems, this.config.hidden, (items) => window(items, this.config.maxLen),
      (seqs, H) => net.lastHidden(seqs, H), out);
  }

  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    const n = this.network.nItems;
    if (out.length < users.length * n) throw new Error(`hstu: out holds ${out.length} scores, need ${users.length}×${n}`);
    const H = new Float32Array(users.length * this.config.hidden);
    this.userVectors(users, history, H);
    scoreDot(this.itemPanels(), H, users.length, out);
  }

  scoreSequence(sequence: Int32Array, out: Float32Array): void {
    const net = this.network;
    for (const item of sequence) {
      if (!(item >= 0 && item < net.nItems)) throw new RangeError(`hstu: item ${item} outside 0..${net.nItems - 1}`);
    }
    if (sequence.length === 0) {
      out.fill(0, 0, net.nItems);
      return;
    }
    const H = new Float32Array(this.config.hidden);
    net.lastHidden([window(sequence, this.config.maxLen)], H);
    net.scoreHidden(H, 1, out);
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<HSTU> {
    return EngineSequentialModel.loadModel(dir, 'hstu', (config) => new HSTU(config), migrateRelPos);
  }
}

/** Registry entry (see registry.ts). */
export const hstuEntry: ModelEntry = {
  name: 'hstu',
  description: 'HSTU (Zhai et al. 2024): pointwise SiLU attention with relative position bias, gated by U; sampled softmax on cosine scores',
  configSchema: HSTUConfigSchema,
  sequential: true,
  create: (config) => new HSTU(config),
  load: (dir) => HSTU.load(dir),
};
