/**
 * BERT4Rec — Sequential Recommendation with Bidirectional Encoder Representations from
 * Transformer (Sun et al., CIKM 2019) as a SequentialRecommender: config, the Cloze sampler
 * (training batches), the [MASK]-appended inference input, training loop, scoring, save/load and
 * the registry entry. The network (BERT4RecNet, re-exported here), with the paper in one page and
 * the engine notes, is in ./seq/bert4rec-net.ts.
 */
import { EngineSequentialModel } from './seq/engine-model.ts';
import { startTraining } from './seq/resume.ts';
import { runEpochs } from './seq/train-loop.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import type { Interactions } from '../data/types.ts';
import type { DotProductModel, FitOptions, FitReport, SequentialRecommender } from './recommender.ts';
import { scoreDot, type ItemPanels } from '../kernels/score.ts';
import { constantLr, warmupCosine } from '../nn/optim.ts';
import { Rng } from '../nn/rng.ts';
import { BERT4RecNet } from './seq/bert4rec-net.ts';
import type { ModelEntry } from './registry.ts';

export { BERT4RecNet, type BERTSeeds } from './seq/bert4rec-net.ts';

/** Hyperparameters. Defaults: the BERT4Rec ML-1M model (hidden 64, 2 layers, 2 heads, FFN 256, ρ 0.2). */
export const BERT4RecConfigSchema = z.object({
  hidden: z.number().int().positive().default(64).describe('hidden size d (item embedding width)'),
  blocks: z.number().int().positive().default(2).describe('transformer blocks'),
  heads: z.number().int().positive().default(2).describe('attention heads'),
  ffn: z.number().int().positive().default(256).describe('FFN inner size (BERT: 4 × hidden)'),
  maxLen: z.number().int().positive().default(200).describe('longest history read (the latest events)'),
  dropout: z.number().min(0).max(0.95).default(0.2).describe('hidden dropout (embeddings, attention output, FFN output); also attention weights unless `attentionDropout` is set'),
  /**
   * Attention-weight dropout; absent = `dropout`. FeiSun/BERT4Rec's Beauty config uses hidden 0.5
   * with attention 0.2.
   */
  attentionDropout: z.number().min(0).max(0.95).optional().describe('attention-weight dropout; absent = dropout'),
  maskProb: z.number().gt(0).max(1).default(0.2).describe('Cloze mask probability ρ (paper: 0.2 for ML-1M, 0.6 for Beauty)'),
  /**
   * Share of training sequences that mask only their last item, the inference-time input, instead
   * of Cloze masking; absent = 0. FeiSun/BERT4Rec's data generator writes one such instance beside
   * every 10 Cloze-masked copies (dupe_factor 10), i.e. 1/11.
   */
  lastMaskProb: z.number().min(0).max(1).optional().describe('share of training sequences that mask only their last item; absent = 0'),
  batchSize: z.number().int().positive().default(128).describe('sequences per step'),
  epochs: z.number().int().nonnegative().default(200).describe('training epochs'),
  stepsPerEpoch: z.number().int().nonnegative().default(0).describe('steps per epoch; 0 = ⌈trainable users / batchSize⌉'),
  lr: z.number().positive().default(1e-3).describe('Adam learning rate. The paper uses 1e-4 for 400k steps; 1e-3 (the Dross setting) gets there in far fewer'),
  beta1: z.number().min(0).max(1).default(0.9).describe('Adam β₁'),
  beta2: z.number().min(0).max(1).default(0.999).describe('Adam β₂'),
  weightDecay: z.number().min(0).default(0).describe('L2 weight decay'),
  warmupSteps: z.number().int().nonnegative().default(0).describe('linear learning-rate warm-up steps'),
  threads: z.number().int().nonnegative().default(0).describe('threads; 0 = the machine\'s cores (same seed and thread count give the same weights)'),
  lnEps: z.number().positive().default(1e-12).describe('layer-norm ε'),
}).strict();

/** BERT4Rec hyperparameters with defaults filled in. */
export type BERT4RecConfig = z.infer<typeof BERT4RecConfigSchema>;

/** Parses a partial config, with a clear error naming the bad key. */
export function parseBERT4RecConfig(config: Record<string, unknown>): BERT4RecConfig {
  return parseConfig('bert4rec', BERT4RecConfigSchema, config);
}

/** A Cloze batch: sequence i has tokens [off[i], off[i+1]); `masked` lists batch-global token indices, `labels` their items. */
export interface ClozeBatch {
  off: Int32Array;
  /** Input ids (internal: item + 1, [MASK] = n + 1). */
  inputs: Int32Array;
  /** Masked token indices, ascending. */
  masked: Int32Array;
  /** Internal id of the original item at each masked token. */
  labels: Int32Array;
}

/**
 * Cloze batches: `size` users drawn uniformly with replacement (users with ≥ 2 events); the input
 * is the last maxLen items; each position is masked with probability ρ, and if none was, one
 * position drawn uniformly is. With `lastMaskProb` > 0, that share of sequences instead masks
 * only the last item (as FeiSun/BERT4Rec's extra "mask last" training instances).
 */
export class ClozeSampler {
  readonly users: Int32Array;
  constructor(private readonly data: Interactions, private readonly maxLen: number, private readonly maskProb: number,
    private readonly lastMaskProb = 0) {
    const us: number[] = [];
    for (let u = 0; u < data.nUsers; u++) if (data.offsets[u + 1] - data.offsets[u] >= 2) us.push(u);
    this.users = Int32Array.from(us);
  }

  /** Draws one batch. */
  sample(size: number, rng: Rng): ClozeBatch {
    if (this.users.length === 0) throw new Error('bert4rec: no user has two or more events to train on');
    const { data, maxLen } = this;
    const maskId = data.nItems + 1;
    const users = Int32Array.from({ length: size }, () => this.users[rng.int(this.users.length)]);
    const off = new Int32Array(size + 1);
    users.forEach((u, b) => (off[b + 1] = off[b] + Math.min(maxLen, data.offsets[u + 1] - data.offsets[u])));
    const inputs = new Int32Array(off[size]);
    const masked: number[] = [];
    const labels: number[] = [];
    users.forEach((u, b) => {
      const end = data.offsets[u + 1];
      const L = off[b + 1] - off[b];
      const first = masked.length;
      // the draw is skipped when lastMaskProb is 0, so such runs consume the same random stream as before
      if (this.lastMaskProb > 0 && rng.next() < this.lastMaskProb) {
        for (let j = 0; j < L; j++) inputs[off[b] + j] = data.items[end - L + j] + 1;
        const t = off[b + 1] - 1;
        labels.push(inputs[t]);
        inputs[t] = maskId;
        masked.push(t);
        return;
      }
      for (let j = 0; j < L; j++) {
        const item = data.items[end - L + j] + 1;
        const t = off[b] + j;
        if (rng.next() < this.maskProb) {
          inputs[t] = maskId;
          masked.push(t);
          labels.push(item);
        } else inputs[t] = item;
      }
      if (masked.length === first) {
        const j = rng.int(L);
        const t = off[b] + j;
        labels.push(inputs[t]);
        inputs[t] = maskId;
        masked.push(t);
      }
    });
    return { off, inputs, masked: Int32Array.from(masked), labels: Int32Array.from(labels) };
  }
}

/** The last maxLen − 1 items of `seq` as internal ids, followed by [MASK]. */
function withMask(seq: ArrayLike<number>, maxLen: number, maskId: number): Int32Array {
  const L = Math.min(maxLen - 1, seq.length);
  const out = new Int32Array(L + 1);
  for (let j = 0; j < L; j++) out[j] = seq[seq.length - L + j] + 1;
  out[L] = maskId;
  return out;
}

/** BERT4Rec as a {@link SequentialRecommender}. */
export class BERT4Rec extends EngineSequentialModel<BERT4RecNet, BERT4RecConfig> implements SequentialRecommender, DotProductModel {
  readonly name = 'bert4rec';

  /** @param config hyperparameters; missing keys take their defaults */
  constructor(config: Record<string, unknown> = {}) {
    super(parseBERT4RecConfig(config));
  }

  protected createNetwork(nItems: number): BERT4RecNet {
    return new BERT4RecNet(this.config, nItems);
  }

  /** model.json state: the embedding row of [MASK]. */
  protected override savedState(net: BERT4RecNet): Record<string, unknown> {
    return { maskRow: net.maskId };
  }

  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    const net = this.beginFit(train.nItems);
    const cfg = this.config;
    const rng = new Rng(options.seed);
    net.init(rng.fork());
    const sampler = new ClozeSampler(train, cfg.maxLen, cfg.maskProb, cfg.lastMaskProb ?? 0);
    const steps = cfg.stepsPerEpoch || Math.ceil(sampler.users.length / cfg.batchSize);
    const lrAt = cfg.warmupSteps > 0 ? warmupCosine(cfg.lr, cfg.warmupSteps, Number.MAX_SAFE_INTEGER, 1) : constantLr(cfg.lr);
    const run = await startTraining({ model: this, net, rng, options, epochs: cfg.epochs, modelState: this.savedState(net) });
    const report = await runEpochs({
      name: 'bert4rec', run, options, epochs: cfg.epochs, steps,
      step: (t) => net.trainStep(sampler.sample(cfg.batchSize, rng), lrAt(t), rng),
    });
    this.endFit(report, options.seed, net.threads);
    return report;
  }

  /** The output layer packed for the kernel core: [E[j+1], b_j] per item (see BERT4RecNet.itemPanels). */
  itemPanels(): ItemPanels {
    return this.network.itemPanels();
  }

  /** [g, 1] per user: g = the head's output at the [MASK] appended after the user's last items. */
  userVectors(users: Int32Array, history: Interactions, out: Float32Array): void {
    const net = this.network;
    const n = net.nItems, d = this.config.hidden;
    if (history.nItems !== n) throw new Error(`bert4rec: history has ${history.nItems} items, the model ${n}`);
    const seqs = Array.from(users, (u) => withMask(history.items.subarray(history.offsets[u], history.offsets[u + 1]), this.config.maxLen, net.maskId));
    const H = new Float32Array(users.length * d);
    net.lastHidden(seqs, H);
    for (let r = 0; r < users.length; r++) {
      out.set(H.subarray(r * d, r * d + d), r * (d + 1));
      out[r * (d + 1) + d] = 1;
    }
  }

  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    const n = this.network.nItems;
    if (out.length < users.length * n) throw new Error(`bert4rec: out holds ${out.length} scores, need ${users.length}×${n}`);
    const G = new Float32Array(users.length * (this.config.hidden + 1));
    this.userVectors(users, history, G);
    scoreDot(this.itemPanels(), G, users.length, out);
  }

  scoreSequence(sequence: Int32Array, out: Float32Array): void {
    const net = this.network;
    for (const item of sequence) {
      if (!(item >= 0 && item < net.nItems)) throw new RangeError(`bert4rec: item ${item} outside 0..${net.nItems - 1}`);
    }
    const H = new Float32Array(this.config.hidden);
    net.lastHidden([withMask(sequence, this.config.maxLen, net.maskId)], H);
    net.scoreHidden(H, 1, out);
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<BERT4Rec> {
    return EngineSequentialModel.loadModel(dir, 'bert4rec', (config) => new BERT4Rec(config));
  }
}

/** Registry entry (see registry.ts). */
export const bert4recEntry: ModelEntry = {
  name: 'bert4rec',
  description: 'BERT4Rec (Sun et al. 2019): bidirectional Transformer trained by Cloze masking; full softmax over items',
  configSchema: BERT4RecConfigSchema,
  sequential: true,
  create: (config) => new BERT4Rec(config),
  load: (dir) => BERT4Rec.load(dir),
};
