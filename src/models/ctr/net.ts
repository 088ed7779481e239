/**
 * The CTR network shared by every model: feature embedding → (knowledge adaptor) → the model's
 * head → logit, trained with binary cross-entropy, mean over the batch:
 *
 *   p = σ(z),  z = [lin if the head uses the first-order term] + head(X),
 *   L = −(1/n) Σ [y log p + (1 − y) log(1 − p)],  ∂L/∂z = (p − y)/n.
 *
 * X [n × slots × d] holds the field embeddings (src/models/ctr/embedding.ts) and, with knowledge,
 * two more fields: the adaptor's r̂_u and f̂_i (src/models/ctr/adaptor.ts). Everything runs on one
 * engine thread; dense layers are engine programs, the sparse parts (bags, attention pooling,
 * interactions) plain loops over engine memory.
 */
import { defaultEngine, type Buf, type Engine } from '../../kernels/engine.ts';
import { meanBceWithLogits } from '../../nn/bce.ts';
import { ParamSet } from '../../nn/params.ts';
import { Adam, type AdamConfig } from '../../nn/optim.ts';
import { Rng } from '../../nn/rng.ts';
import { HybridExpertAdaptor, type AdaptorConfig, type KnowledgeTables } from './adaptor.ts';
import type { CtrBatch, CtrSchema } from './batch.ts';
import { FieldEmbedding } from './embedding.ts';

/** What a head sees when it is built. */
export interface HeadContext {
  params: ParamSet;
  engine: Engine;
  schema: CtrSchema;
  emb: FieldEmbedding;
  /** Embedding width d. */
  d: number;
  /** Field slots of X (nSingle + 2, + 2 with knowledge). */
  slots: number;
  maxRows: number;
}

/** A model's part on top of the field matrix. */
export interface CtrHead {
  /** Adds the first-order term lin (LR, FM, DeepFM, AutoInt). */
  readonly usesFirstOrder: boolean;
  /** False when the head fills the history slot itself (DIN). */
  readonly poolsHistory: boolean;
  init(rng: Rng): void;
  /** Logits [n] (without lin) from X (engine buffer). */
  forward(b: CtrBatch, X: Buf, n: number): Float32Array;
  /** Adds ∂L/∂X into dX (zeroed by the caller) given ∂L/∂z and the forward's X; parameter gradients into thread 0. */
  backward(b: CtrBatch, dZ: Float32Array, X: Buf, dX: Buf): void;
  /**
   * Optional serving path with pre-stored knowledge: logits (without lin) when the last two fields
   * are r̂_u and f̂_i from `aug`, which the head reads itself (X's two knowledge slots are not filled).
   * A head folds what it can compute once per user and item; {@link weightsChanged} drops that.
   */
  forwardPrestored?(b: CtrBatch, X: Buf, n: number, aug: PrestoredVectors): Float32Array;
  /** Called after every optimizer step (heads that cache anything derived from the weights drop it). */
  weightsChanged?(): void;
}

/** Pre-stored adaptor outputs r̂_u [nUsers × d] and f̂_i [nItems × d] (KnowledgeTables.augmented). */
export type PrestoredVectors = NonNullable<KnowledgeTables['augmented']>;

/** Sizes and training settings the network needs. */
export interface NetConfig {
  dim: number;
  batchSize: number;
  lr: number;
  l2: number;
  weightDecay: number;
  embStd: number;
  knowledge: boolean;
  adaptor: AdaptorConfig;
}

export class CtrNet {
  readonly engine: Engine;
  readonly params: ParamSet;
  readonly emb: FieldEmbedding;
  readonly head: CtrHead;
  readonly adaptor: HybridExpertAdaptor | null;
  readonly slots: number;
  readonly opt: Adam;
  private readonly X: Buf;
  private readonly dX: Buf;
  private readonly lin: Float32Array;

  constructor(readonly schema: CtrSchema, readonly cfg: NetConfig, makeHead: (ctx: HeadContext) => CtrHead, readonly knowledgeDim = 0) {
    this.engine = defaultEngine();
    this.params = new ParamSet(this.engine, 1, this);
    const d = cfg.dim;
    if (cfg.knowledge && !(knowledgeDim > 0)) throw new Error('ctr model: knowledge: true needs knowledge vectors (run `reclab knowledge build` or set knowledge: false)');
    this.slots = schema.nSingle + 2 + (cfg.knowledge ? 2 : 0);
    this.emb = new FieldEmbedding(this.params, schema, d, this.slots, cfg.l2);
    this.adaptor = cfg.knowledge ? new HybridExpertAdaptor(this.params, knowledgeDim, d, cfg.adaptor, cfg.batchSize) : null;
    this.head = makeHead({ params: this.params, engine: this.engine, schema, emb: this.emb, d, slots: this.slots, maxRows: cfg.batchSize });
    this.X = this.engine.f32(cfg.batchSize * this.slots * d, this);
    this.dX = this.engine.f32(cfg.batchSize * this.slots * d, this);
    this.lin = new Float32Array(cfg.batchSize);
    const adam: AdamConfig = { lr: cfg.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: cfg.weightDecay, decoupled: false, clipNorm: 0 };
    this.opt = new Adam(this.params, adam);
  }

  init(seed: number): void {
    const rng = new Rng(seed);
    this.emb.init(rng, this.cfg.embStd);
    this.adaptor?.init(rng);
    this.head.init(rng);
  }

  /** Logits of a batch (n ≤ batchSize). */
  logits(b: CtrBatch, k?: KnowledgeTables): Float32Array {
    if (b.n > this.cfg.batchSize) throw new Error(`ctr model: batch of ${b.n} rows exceeds batchSize ${this.cfg.batchSize}`);
    const X = this.X.a.subarray(0, b.n * this.slots * this.cfg.dim);
    this.emb.forward(b, X, this.lin, this.head.poolsHistory);
    if (this.adaptor) {
      if (!k) throw new Error('ctr model: trained with knowledge, but no knowledge vectors were given');
      const d = this.cfg.dim;
      const s0 = this.slots - 2;
      const aug = k.augmented;
      if (aug && aug.dim !== d) throw new Error(`ctr model: pre-stored vectors have width ${aug.dim}, the model's fields ${d}`);
      if (aug && this.head.forwardPrestored) {
        const z = this.head.forwardPrestored(b, this.X, b.n, aug);
        if (this.head.usesFirstOrder) for (let r = 0; r < b.n; r++) z[r] += this.lin[r];
        return z;
      }
      // serving from pre-stored adaptor outputs: two row copies, no encoder, no adaptor
      const out = aug ? null : this.adaptor.forward(b.user, b.item, b.n, k, b.event);
      for (let r = 0; r < b.n; r++) {
        const u = aug ? aug.user.subarray(b.user[r] * d, b.user[r] * d + d) : out!.user.subarray(r * d, r * d + d);
        const i = aug ? aug.item.subarray(b.item[r] * d, b.item[r] * d + d) : out!.item.subarray(r * d, r * d + d);
        X.set(u, (r * this.slots + s0) * d);
        X.set(i, (r * this.slots + s0 + 1) * d);
      }
    }
    const z = this.head.forward(b, this.X, b.n);
    if (this.head.usesFirstOrder) for (let r = 0; r < b.n; r++) z[r] += this.lin[r];
    return z;
  }

  /** Forward, then back-propagates ∂L/∂z = dZ into the gradients (thread 0). */
  backward(b: CtrBatch, dZ: Float32Array): void {
    const n = b.n;
    const d = this.cfg.dim;
    const dX = this.dX.a.subarray(0, n * this.slots * d);
    dX.fill(0);
    this.head.backward(b, dZ, this.X, this.dX);
    const dLin = this.head.usesFirstOrder ? dZ : new Float32Array(n);
    this.emb.backward(b, dX, dLin, this.head.poolsHistory);
    if (this.adaptor) {
      const s0 = this.slots - 2;
      const dU = new Float32Array(n * d);
      const dI = new Float32Array(n * d);
      for (let r = 0; r < n; r++) {
        dU.set(dX.subarray((r * this.slots + s0) * d, (r * this.slots + s0 + 1) * d), r * d);
        dI.set(dX.subarray((r * this.slots + s0 + 1) * d, (r * this.slots + s0 + 2) * d), r * d);
      }
      this.adaptor.backward(dU, dI);
    }
  }

  /** One Adam step on a batch; returns the mean BCE. */
  step(b: CtrBatch, k?: KnowledgeTables): number {
    const z = this.logits(b, k);
    const dZ = new Float32Array(b.n);
    const loss = meanBceWithLogits(z, b.label.subarray(0, b.n), dZ);
    this.backward(b, dZ);
    this.opt.step(this.cfg.lr, 1, this.emb.touchedRows());
    this.head.weightsChanged?.();
    return loss;
  }

  /** Probabilities of a batch. */
  predict(b: CtrBatch, k?: KnowledgeTables): Float32Array {
    const z = this.logits(b, k);
    for (let r = 0; r < b.n; r++) z[r] = 1 / (1 + Math.exp(-z[r]));
    return z;
  }
}
