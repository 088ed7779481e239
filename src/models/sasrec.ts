/**
 * SASRec — Self-Attentive Sequential Recommendation (Kang & McAuley, ICDM 2018) as a
 * SequentialRecommender: config (losses bce, gbce, sampled-softmax, ce), training loop, scoring,
 * save/load and the registry entry. The network (SASRecNet and gbceBeta, re-exported here), with
 * the paper in one page and the engine notes, is in ./seq/sasrec-net.ts.
 */
import { EngineSequentialModel } from './seq/engine-model.ts';
import { startTraining } from './seq/resume.ts';
import { runEpochs } from './seq/train-loop.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import type { Interactions } from '../data/types.ts';
import type { DotProductModel, FitOptions, FitReport, SequentialRecommender } from './recommender.ts';
import { scoreDot, type ItemPanels } from '../kernels/score.ts';
import { historyStates } from './seq/infer.ts';
import { warmupCosine, constantLr } from '../nn/optim.ts';
import { Rng } from '../nn/rng.ts';
import { BatchSampler, lastWindow } from './seq/batch.ts';
import { SASRecNet } from './seq/sasrec-net.ts';
import type { ModelEntry } from './registry.ts';

export { SASRecNet, gbceBeta, type Seeds } from './seq/sasrec-net.ts';

/** Hyperparameters (defaults: the paper's ML-1M setting). */
export const SASRecConfigSchema = z.object({
  hidden: z.number().int().positive().default(50).describe('hidden size d (item embedding width)'),
  blocks: z.number().int().positive().default(2).describe('transformer blocks'),
  heads: z.number().int().positive().default(1).describe('attention heads'),
  maxLen: z.number().int().positive().default(200).describe('longest history read (the latest events)'),
  dropout: z.number().min(0).max(0.95).default(0.2).describe('dropout'),
  batchSize: z.number().int().positive().default(128).describe('sequences per step'),
  epochs: z.number().int().nonnegative().default(200).describe('training epochs'),
  stepsPerEpoch: z.number().int().nonnegative().default(0).describe('steps per epoch; 0 = ⌈trainable users / batchSize⌉ as in the reference code'),
  lr: z.number().positive().default(1e-3).describe('Adam learning rate'),
  beta1: z.number().min(0).max(1).default(0.9).describe('Adam β₁'),
  beta2: z.number().min(0).max(1).default(0.98).describe('Adam β₂'),
  weightDecay: z.number().min(0).default(0).describe('L2 weight decay'),
  decoupledDecay: z.boolean().default(false).describe('adamW-style decoupled decay instead of L2 in the gradient'),
  clipNorm: z.number().min(0).default(0).describe('gradient-norm clipping (0 = off)'),
  warmupSteps: z.number().int().nonnegative().default(0).describe('linear learning-rate warm-up steps'),
  schedule: z.enum(['constant', 'cosine']).default('constant').describe('learning-rate schedule after warm-up'),
  loss: z.enum(['bce', 'gbce', 'sampled-softmax', 'ce']).default('bce').describe('training loss'),
  negatives: z.number().int().positive().default(1).describe('negatives per position (bce, gbce, sampled-softmax)'),
  temperature: z.number().positive().default(1).describe('softmax temperature (sampled-softmax, ce)'),
  gbceT: z.number().min(0).max(1).default(0.75).describe('gBCE calibration t ∈ [0, 1] (1 = fully calibrated)'),
  threads: z.number().int().nonnegative().default(0).describe('threads; 0 = the machine\'s cores. Results are bit-identical for a given seed and thread count'),
  lnEps: z.number().positive().default(1e-8).describe('layer-norm ε'),
  init: z.enum(['xavier', 'normal']).default('xavier').describe('weight init: xavier = the SASRec reference (Xavier-normal matrices, Linear biases U(±1/√d)); normal = N(0, initStd²) for embeddings, feed-forward and attention-output weights with zero biases, attention input projection Xavier (the Dross code: HF-style _init_weights over PyTorch MultiheadAttention)'),
  initStd: z.number().positive().default(0.02).describe('standard deviation of init: normal'),
  positions: z.enum(['end', 'start']).default('end').describe('which position embedding each item of a window shorter than maxLen gets: end = counted back from the newest item, which always has position maxLen − 1 (the SASRec reference, left-padded); start = counted from the window\'s oldest item, position 0 (right-padded code such as Dross\'s). Full windows are the same either way'),
  knowledgeDim: z.number().int().nonnegative().default(0).describe('item knowledge vectors\' width (0 = none); the vectors are given with setItemKnowledge and enter through a hybrid-expert adaptor added to the item embedding (src/models/seq/item-knowledge.ts)'),
  knowledgeExperts: z.number().int().positive().default(3).describe('experts of the item knowledge adaptor'),
  knowledgeHidden: z.number().int().positive().default(32).describe('hidden width of each knowledge expert MLP'),
}).strict();

/** SASRec hyperparameters with defaults filled in. */
export type SASRecConfig = z.infer<typeof SASRecConfigSchema>;

/** Parses a partial config, with a clear error naming the bad key. */
export function parseSASRecConfig(config: Record<string, unknown>): SASRecConfig {
  return parseConfig('sasrec', SASRecConfigSchema, config);
}

/** SASRec as a {@link SequentialRecommender}. */
export class SASRec extends EngineSequentialModel<SASRecNet, SASRecConfig> implements SequentialRecommender, DotProductModel {
  readonly name = 'sasrec';

  /** @param config hyperparameters; missing keys take their defaults */
  constructor(config: Record<string, unknown> = {}) {
    super(parseSASRecConfig(config));
  }

  protected createNetwork(nItems: number): SASRecNet {
    return new SASRecNet(this.config, nItems);
  }

  /** Item knowledge vectors [nItems × knowledgeDim] in dataset item order, for fit (needs config knowledgeDim > 0). */
  private itemKnowledge: Float32Array | null = null;

  /**
   * Gives the item knowledge vectors (one row of `knowledgeDim` floats per dataset item id, e.g.
   * from a `.rkv` file through knowledgeTables) that fit copies into the network. They are saved
   * with the weights, so a loaded model needs them no more.
   */
  setItemKnowledge(vectors: Float32Array): void {
    const dim = this.config.knowledgeDim;
    if (dim === 0) throw new Error('sasrec: setItemKnowledge needs config knowledgeDim > 0 (the vectors\' width)');
    if (vectors.length % dim !== 0) throw new Error(`sasrec: ${vectors.length} knowledge values are not rows of knowledgeDim ${dim}`);
    this.itemKnowledge = vectors;
  }

  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    const net = this.beginFit(train.nItems);
    const cfg = this.config;
    const rng = new Rng(options.seed);
    net.init(rng.fork());
    if (net.knowledge) {
      if (!this.itemKnowledge) throw new Error(`sasrec: config knowledgeDim is ${cfg.knowledgeDim} but no item knowledge was given (call setItemKnowledge before fit)`);
      net.knowledge.setTable(this.itemKnowledge);
      net.invalidate();
    }
    const sampler = new BatchSampler(train, cfg.maxLen);
    const steps = cfg.stepsPerEpoch || Math.ceil(sampler.users.length / cfg.batchSize);
    const total = steps * cfg.epochs;
    const lrAt = cfg.schedule === 'cosine' ? warmupCosine(cfg.lr, cfg.warmupSteps, total) : cfg.warmupSteps > 0
      ? warmupCosine(cfg.lr, cfg.warmupSteps, Number.MAX_SAFE_INTEGER, 1)
      : constantLr(cfg.lr);
    const nNeg = cfg.loss === 'ce' ? 0 : cfg.negatives;
    const run = await startTraining({ model: this, net, rng, options, epochs: cfg.epochs, modelState: this.savedState(net), defaults: parseSASRecConfig({}) });
    const report = await runEpochs({
      name: 'sasrec', run, options, epochs: cfg.epochs, steps,
      yieldEachStep: true, // so a server stays responsive and an AbortSignal fired by an event can stop training
      lossHint: 'lower lr or enable clipNorm',
      step: (t) => net.trainStep(sampler.sample(cfg.batchSize, nNeg, rng), lrAt(t), rng),
    });
    this.endFit(report, options.seed, net.threads);
    return report;
  }

  /** The item embeddings packed for the kernel core (scores are dot products with the last hidden state). */
  itemPanels(): ItemPanels {
    return this.network.itemPanels();
  }

  /** The last hidden state of each user's history window (zeros for an empty history: every item ties). */
  userVectors(users: Int32Array, history: Interactions, out: Float32Array): void {
    const net = this.network;
    historyStates('sasrec', users, history, net.nItems, this.config.hidden, (items) => lastWindow(items, this.config.maxLen),
      (seqs, H) => net.lastHidden(seqs, H), out);
  }

  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    const n = this.network.nItems;
    if (out.length < users.length * n) throw new Error(`sasrec: out holds ${out.length} scores, need ${users.length}×${n}`);
    const H = new Float32Array(users.length * this.config.hidden);
    this.userVectors(users, history, H);
    scoreDot(this.itemPanels(), H, users.length, out);
  }

  scoreSequence(sequence: Int32Array, out: Float32Array): void {
    const net = this.network;
    for (const item of sequence) {
      if (!(item >= 0 && item < net.nItems)) throw new RangeError(`sasrec: item ${item} outside 0..${net.nItems - 1}`);
    }
    if (sequence.length === 0) {
      out.fill(0, 0, net.nItems);
      return;
    }
    const H = new Float32Array(this.config.hidden);
    net.lastHidden([lastWindow(sequence, this.config.maxLen)], H);
    net.scoreHidden(H, 1, out);
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<SASRec> {
    return EngineSequentialModel.loadModel(dir, 'sasrec', (config) => new SASRec(config));
  }
}

/** Registry entry (see registry.ts). */
export const sasrecEntry: ModelEntry = {
  name: 'sasrec',
  description: 'SASRec (Kang & McAuley 2018): causal self-attention over the item sequence; BCE/gBCE/sampled-softmax/CE losses',
  configSchema: SASRecConfigSchema,
  sequential: true,
  create: (config) => new SASRec(config),
  load: (dir) => SASRec.load(dir),
};
