/**
 * A CTR model: a {@link CtrNet} with its config (zod schema per model), training loop (Adam on
 * shuffled mini-batches, one callback per epoch for early stopping), prediction, snapshots and
 * checkpoints (src/models/checkpoint.ts format; the schema and knowledge width in the state).
 */
import { z } from 'zod';
import type { CtrDataset } from '../../data/ctr.ts';
import { Rng } from '../../nn/rng.ts';
import { parseConfig } from '../../util/schema.ts';
import { progress } from '../../util/progress.ts';
import { readCheckpoint, writeCheckpoint } from '../checkpoint.ts';
import type { EpochReport } from '../recommender.ts';
import type { KnowledgeTables } from './adaptor.ts';
import { ctrSchema, makeBatch, type CtrBatch, type CtrSchema } from './batch.ts';
import { CtrNet, type CtrHead, type HeadContext } from './net.ts';

/** Keys every CTR model takes. */
export const ctrBaseSchema = z.object({
  dim: z.number().int().positive().default(16).describe('embedding width d of every field'),
  epochs: z.number().int().positive().default(8).describe('maximum epochs (early stopping on validation AUC)'),
  batchSize: z.number().int().positive().default(256).describe('impressions per Adam step'),
  lr: z.number().positive().default(1e-3).describe('Adam learning rate'),
  l2: z.number().nonnegative().default(1e-5).describe('L2 on the embedding rows a batch touches'),
  weightDecay: z.number().nonnegative().default(0).describe('L2 on dense weights (torch Adam semantics)'),
  embStd: z.number().positive().default(0.01).describe('std of the N(0, σ²) embedding init'),
  knowledge: z.boolean().default(false).describe('add the user / item knowledge vectors through the hybrid-expert adaptor'),
  experts: z.object({ shared: z.number().int().nonnegative().default(2), dedicated: z.number().int().positive().default(2), hidden: z.number().int().positive().default(64) }).strict().default({ shared: 2, dedicated: 2, hidden: 64 }).describe('adaptor: shared / dedicated experts per side, expert hidden width'),
  maxHistory: z.number().int().positive().default(30).describe('behaviours per impression the model reads (DIN)'),
});

export type CtrBaseConfig = z.infer<typeof ctrBaseSchema>;

/** What fit reports. */
export interface CtrFitOptions {
  seed: number;
  knowledge?: KnowledgeTables;
  progress?: boolean;
  /** After each epoch; return true to stop. */
  onEpoch?: (report: EpochReport) => boolean | void | Promise<boolean | void>;
}

/** A CTR model kind. */
export interface CtrModelEntry {
  name: string;
  description: string;
  configSchema: z.ZodObject;
  head(ctx: HeadContext, config: Record<string, unknown>): CtrHead;
}

export class CtrModel {
  net: CtrNet | null = null;
  schema: CtrSchema | null = null;
  readonly config: CtrBaseConfig & Record<string, unknown>;

  constructor(readonly entry: CtrModelEntry, config: Record<string, unknown>) {
    this.config = parseConfig(entry.name, entry.configSchema, config) as CtrBaseConfig & Record<string, unknown>;
  }

  get name(): string {
    return this.entry.name;
  }

  /** Builds the network for a schema (and knowledge width). */
  build(schema: CtrSchema, knowledgeDim = 0, seed = 0): CtrNet {
    const c = this.config;
    this.schema = schema;
    this.net = new CtrNet(schema, { dim: c.dim, batchSize: c.batchSize, lr: c.lr, l2: c.l2, weightDecay: c.weightDecay, embStd: c.embStd, knowledge: c.knowledge, adaptor: c.experts }, (ctx) => this.entry.head(ctx, c), c.knowledge ? knowledgeDim : 0);
    this.net.init(seed);
    return this.net;
  }

  /** Trains on the events `train` of `ds`. */
  async fit(ds: CtrDataset, train: Int32Array, options: CtrFitOptions): Promise<{ epochs: number; seconds: number; history: EpochReport[] }> {
    const t0 = performance.now();
    const net = this.build(ctrSchema(ds), options.knowledge?.dim ?? 0, options.seed);
    if (this.config.knowledge && !options.knowledge) throw new Error(`${this.name}: knowledge: true but no knowledge vectors were given`);
    const rng = new Rng(options.seed + 1);
    const order = Int32Array.from(train);
    const history: EpochReport[] = [];
    const B = this.config.batchSize;
    const steps = Math.ceil(order.length / B);
    for (let epoch = 1; epoch <= this.config.epochs; epoch++) {
      const te = performance.now();
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      const bar = progress(`${this.name} epoch ${epoch}/${this.config.epochs}`, steps, { enabled: options.progress, unit: 'steps' });
      let loss = 0;
      for (let s = 0; s < steps; s++) {
        const batch = makeBatch(ds, order.subarray(s * B, Math.min(order.length, (s + 1) * B)));
        loss += net.step(batch, options.knowledge) * batch.n;
        bar.tick();
      }
      bar.stop();
      const rep: EpochReport = { epoch, loss: loss / order.length, seconds: (performance.now() - te) / 1000 };
      history.push(rep);
      if (await options.onEpoch?.(rep)) break;
    }
    return { epochs: history.length, seconds: (performance.now() - t0) / 1000, history };
  }

  /** Click probabilities of events `events` of `ds`. */
  predict(ds: CtrDataset, events: Int32Array, knowledge?: KnowledgeTables): Float32Array {
    const net = this.requireNet();
    const out = new Float32Array(events.length);
    const B = this.config.batchSize;
    for (let s = 0; s < events.length; s += B) {
      const b = makeBatch(ds, events.subarray(s, Math.min(events.length, s + B)));
      out.set(net.predict(b, knowledge), s);
    }
    return out;
  }

  /** Probabilities of a prepared batch. */
  predictBatch(b: CtrBatch, knowledge?: KnowledgeTables): Float32Array {
    return this.requireNet().predict(b, knowledge);
  }

  private requireNet(): CtrNet {
    if (!this.net) throw new Error(`${this.name}: not trained or loaded`);
    return this.net;
  }

  snapshot(): Float32Array[] {
    return this.requireNet().params.snapshot();
  }

  restore(state: Float32Array[]): void {
    this.requireNet().params.restore(state);
  }

  /**
   * The adaptor's outputs r̂_u for every user and f̂_i for every item ([n × d]): stored next to the
   * model, they replace the LLM, the encoder and the adaptor at serving time.
   */
  augmentedVectors(k: KnowledgeTables): { user: Float32Array; item: Float32Array; dim: number } | null {
    const net = this.requireNet();
    if (!net.adaptor || !this.schema) return null;
    const d = this.config.dim;
    const B = this.config.batchSize;
    const nU = this.schema.nUsers;
    const nI = this.schema.nItems;
    const user = new Float32Array(nU * d);
    const item = new Float32Array(nI * d);
    const n = Math.max(nU, nI);
    for (let s = 0; s < n; s += B) {
      const m = Math.min(B, n - s);
      const us = Int32Array.from({ length: m }, (_, r) => Math.min(nU - 1, s + r));
      const is = Int32Array.from({ length: m }, (_, r) => Math.min(nI - 1, s + r));
      const o = net.adaptor.forward(us, is, m, { dim: k.dim, user: k.user, item: k.item });
      for (let r = 0; r < m; r++) {
        if (s + r < nU) user.set(o.user.subarray(r * d, r * d + d), (s + r) * d);
        if (s + r < nI) item.set(o.item.subarray(r * d, r * d + d), (s + r) * d);
      }
    }
    return { user, item, dim: d };
  }

  async save(dir: string): Promise<void> {
    const net = this.requireNet();
    await writeCheckpoint(dir, { name: `ctr:${this.name}`, config: this.config, nItems: this.schema!.nItems, state: { schema: this.schema, knowledgeDim: net.knowledgeDim } }, net.params.toTensors());
  }

  /** Loads a model saved by {@link save} (the entry must match the saved name). */
  static async load(entry: CtrModelEntry, dir: string): Promise<CtrModel> {
    const { meta, tensors } = await readCheckpoint(dir);
    if (meta.name !== `ctr:${entry.name}`) throw new Error(`${dir}: holds "${meta.name}", not ctr:${entry.name}`);
    const m = new CtrModel(entry, meta.config);
    const st = meta.state as { schema: CtrSchema; knowledgeDim: number };
    m.build(st.schema, st.knowledgeDim);
    m.net!.params.fromTensors(tensors, dir);
    return m;
  }
}
