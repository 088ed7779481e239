/**
 * GRU4Rec — session-based recommendation with recurrent networks (Hidasi et al., ICLR 2016;
 * Hidasi & Karatzoglou, CIKM 2018 for the sampled losses; the "best practices" of Hidasi &
 * Czapp, RecSys 2023 for the defaults).
 *
 * The paper in one page:
 *   One GRU layer over the item sequence: h_t = GRU(x_t, h_{t−1}), h₀ = 0, with x_t = E[s_t]
 *   (the input embedding is the output embedding — "constrained embedding", the 2023 default).
 *   Score of item i after t: r_{i,t} = Dropout(h_t)·E[i] + b_i.
 *   Session-parallel mini-batches: B lanes each hold one session (here: one user's training
 *   sequence) and step through it one event at a time; at each step the inputs are the lanes'
 *   current items and the targets their next items. When a lane's session ends it takes the next
 *   session and its hidden state is reset to zero. Gradients flow through one step (the hidden
 *   state is carried forward, not back-propagated through), as in the reference code.
 *   Negatives: the other lanes' targets (in-batch) plus S extra items drawn once per step with
 *   probability ∝ popularity^α, shared by all lanes.
 *   Losses over the B + S candidates: cross-entropy (softmax; the 2023 recommendation), or
 *   BPR-max: −log Σ_j s_j σ(r_i − r_j) + λ Σ_j s_j r_j², s = softmax over the negatives' scores.
 *
 * Differences from the reference, on purpose: Adam instead of Adagrad with momentum; negatives
 * never mask accidental hits (the reference does not either).
 */
import { EngineSequentialModel } from './seq/engine-model.ts';
import { startTraining } from './seq/resume.ts';
import { runEpochs } from './seq/train-loop.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import type { Interactions } from '../data/types.ts';
import type { DotProductModel, FitOptions, FitReport, SequentialRecommender } from './recommender.ts';
import { ItemPanels, scoreDot } from '../kernels/score.ts';
import { defaultEngine, type Buf, type Engine } from '../kernels/engine.ts';
import { ParamSet, uniformInit, type Param } from '../nn/params.ts';
import { GRUCell } from '../nn/layers.ts';
import { Adam } from '../nn/optim.ts';
import { Rng } from '../nn/rng.ts';
import type { ModelEntry } from './registry.ts';

/** Hyperparameters. Defaults: 1 layer of 64 units, dropout 0.1 (the Dross/HSTU comparison setting). */
export const GRU4RecConfigSchema = z.object({
  hidden: z.number().int().positive().default(64).describe('GRU hidden size (and item embedding width)'),
  dropoutEmbed: z.number().min(0).max(0.95).default(0).describe('dropout on the input embedding'),
  dropoutHidden: z.number().min(0).max(0.95).default(0.1).describe('dropout on the hidden state before scoring'),
  batchSize: z.number().int().positive().default(128).describe('parallel sessions (lanes)'),
  negatives: z.number().int().nonnegative().default(2048).describe('extra negatives per step, shared by all lanes'),
  sampleAlpha: z.number().min(0).max(1).default(0.5).describe('popularity exponent of the extra negatives (0 = uniform, 1 = popularity)'),
  loss: z.enum(['ce', 'bpr-max']).default('ce').describe('training loss'),
  bpreg: z.number().min(0).default(1).describe('λ of BPR-max\'s score regularisation'),
  epochs: z.number().int().nonnegative().default(10).describe('training epochs'),
  lr: z.number().positive().default(1e-3).describe('Adam learning rate'),
  maxLen: z.number().int().positive().default(200).describe('events of history read at inference (the latest ones)'),
  threads: z.number().int().nonnegative().default(1).describe('threads; 0 = the machine\'s cores (same seed and thread count give the same weights)'),
}).strict();

/** GRU4Rec hyperparameters with defaults filled in. */
export type GRU4RecConfig = z.infer<typeof GRU4RecConfigSchema>;

/** Parses a partial config, with a clear error naming the bad key. */
export function parseGRU4RecConfig(config: Record<string, unknown>): GRU4RecConfig {
  return parseConfig('gru4rec', GRU4RecConfigSchema, config);
}

/** One session-parallel step: lane b reads `inputs[b]` and predicts `targets[b]`; `extra` negatives are shared. */
export interface LaneStep {
  inputs: Int32Array;
  targets: Int32Array;
  extra: Int32Array;
}

/** The GRU4Rec network on the engine (single-threaded: one step is a few small products). */
export class GRU4RecNet {
  readonly engine: Engine;
  readonly params: ParamSet;
  readonly item: Param;
  readonly bias: Param;
  readonly gru: GRUCell;
  readonly adam: Adam;
  readonly h: number;
  /** Hidden state of the B lanes (carried between steps). */
  readonly state: Buf;
  private readonly bufs: Record<string, Buf> = {};

  constructor(readonly cfg: GRU4RecConfig, readonly nItems: number) {
    const e = (this.engine = defaultEngine());
    const h = (this.h = cfg.hidden);
    const P = (this.params = new ParamSet(e, 1, this));
    this.item = P.add('item.weight', [nItems + 1, h], { decay: false });
    this.bias = P.add('out.bias', [nItems + 1], { decay: false });
    this.gru = new GRUCell(P, 'gru', h, h, this);
    this.adam = new Adam(P, { lr: cfg.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, clipNorm: 0 });
    const B = cfg.batchSize, NC = B + cfg.negatives;
    this.state = e.f32(B * h, this);
    const sizes: Record<string, number> = {
      ids: B, tgt: B, cand: NC, X: B * h, Gi: 3 * B * h, Gh: 3 * B * h, saved: 4 * B * h, Hout: B * h, Hd: B * h,
      Ec: NC * h, EcT: NC * h, bc: NC, Z: B * NC, dbc: NC, dHd: B * h, dEc: NC * h, dHprev: B * h, dX: B * h,
      dGi: 3 * B * h, dGh: 3 * B * h, loss: 4,
    };
    for (const [k, n] of Object.entries(sizes)) this.bufs[k] = k === 'ids' || k === 'tgt' || k === 'cand' ? (e.i32(n, this) as unknown as Buf) : e.f32(n, this);
  }

  /** Call after changing parameter values from outside. */
  invalidate(): void {
    this.panels?.dispose();
    this.panels = null;
  }

  /**
   * The output layer as dot products for the kernel core: item j's vector is [E[j+1], b_{j+1}]
   * (the output bias as one more column); a hidden state h is scored as [h, 1].
   */
  itemPanels(): ItemPanels {
    if (!this.panels) {
      const h = this.h, n = this.nItems;
      const v = new Float32Array(n * (h + 1));
      const E = this.item.data.a, b = this.bias.data.a;
      for (let j = 0; j < n; j++) {
        v.set(E.subarray((j + 1) * h, (j + 2) * h), j * (h + 1));
        v[j * (h + 1) + h] = b[j + 1];
      }
      this.panels = new ItemPanels(v, n, h + 1);
    }
    return this.panels;
  }
  private panels: ItemPanels | null = null;

  /** Init as the reference: every weight U(±√(6/(fan_in + fan_out))), biases 0. */
  init(rng: Rng): void {
    uniformInit(this.item, Math.sqrt(6 / (this.nItems + 1 + this.h)), rng);
    this.item.data.a.fill(0, 0, this.h);
    this.gru.init(rng);
    this.bias.data.a.fill(0);
    this.invalidate();
  }

  /** One training step: {@link forwardBackward}, then Adam. Returns the mean loss over lanes. */
  trainStep(step: LaneStep, seed: number): number {
    const loss = this.forwardBackward(step, seed);
    this.adam.step(this.cfg.lr, 1, new Map());
    this.invalidate();
    return loss;
  }

  /**
   * Forward through one GRU step for every lane, loss over the in-batch and extra candidates,
   * backward into the gradients (no update). The lanes' new hidden states replace `state`.
   * Returns the mean loss over lanes.
   */
  forwardBackward(step: LaneStep, seed: number): number {
    const { cfg, h } = this;
    const B = step.inputs.length;
    if (B !== cfg.batchSize) throw new Error(`gru4rec: a step has ${B} lanes, expected ${cfg.batchSize}`);
    const S = step.extra.length;
    const NC = B + S;
    const b = this.bufs;
    const ptr = (k: string): number => b[k].ptr;
    (b.ids.a as unknown as Int32Array).set(step.inputs);
    const cand = b.cand.a as unknown as Int32Array;
    cand.set(step.targets);
    cand.set(step.extra, B);
    const tgt = b.tgt.a as unknown as Int32Array;
    for (let i = 0; i < B; i++) tgt[i] = i; // lane i's target is candidate i
    const pe = cfg.dropoutEmbed, ph = cfg.dropoutHidden;
    const fwd = this.engine.program();
    this.gru.prepare(fwd);
    fwd.call('embed_fwd', ptr('X'), this.item.data.ptr, ptr('ids'), 0, 0, B, h, 1);
    if (pe > 0) fwd.call('dropout', ptr('X'), ptr('X'), B * h, pe, seed, 0);
    this.gru.forward(fwd, { ptr: ptr('X'), ld: h }, this.state.ptr, ptr('Hout'), { Gi: ptr('Gi'), Gh: ptr('Gh'), saved: ptr('saved') }, B);
    if (ph > 0) fwd.call('dropout', ptr('Hd'), ptr('Hout'), B * h, ph, seed ^ 0x5bd1e995, 0);
    else fwd.call('copy', ptr('Hd'), ptr('Hout'), B * h);
    fwd.call('embed_fwd', ptr('Ec'), this.item.data.ptr, ptr('cand'), 0, 0, NC, h, 1);
    fwd.call('transpose', ptr('EcT'), ptr('Ec'), NC, h, h, NC);
    fwd.call('gemm', ptr('Z'), ptr('Hd'), ptr('EcT'), B, NC, h, h, NC, NC, 0, 0, 0, 1);
    fwd.call('embed_fwd', ptr('bc'), this.bias.data.ptr, ptr('cand'), 0, 0, NC, 1, 1);
    fwd.call('add_bias', ptr('Z'), ptr('bc'), B, NC, NC);
    const lossView = new Float64Array(this.engine.memory.buffer, ptr('loss'), 1);
    lossView[0] = 0;
    if (cfg.loss === 'ce') fwd.call('softmax_ce', ptr('Z'), ptr('tgt'), B, NC, NC, 1 / B, ptr('loss'));
    this.engine.run(fwd);
    let loss: number;
    if (cfg.loss === 'ce') loss = lossView[0];
    else loss = bprMax(b.Z.a, B, NC, cfg.bpreg);
    // backward: Z now holds dL/dZ
    const bwd = this.engine.program();
    bwd.call('zero', ptr('dbc'), NC);
    bwd.call('col_sum', ptr('dbc'), ptr('Z'), B, NC, NC);
    bwd.call('embed_bwd', this.bias.grads[0].ptr, 0, ptr('dbc'), ptr('cand'), 0, NC, 1, 1);
    bwd.call('gemm', ptr('dHd'), ptr('Z'), ptr('Ec'), B, h, NC, NC, h, h, 0, 0, 0, 1);
    bwd.call('gemm', ptr('dEc'), ptr('Z'), ptr('Hd'), NC, h, B, NC, h, h, 1, 0, 0, 1);
    bwd.call('embed_bwd', this.item.grads[0].ptr, 0, ptr('dEc'), ptr('cand'), 0, NC, h, 1);
    if (ph > 0) bwd.call('dropout', ptr('dHd'), ptr('dHd'), B * h, ph, seed ^ 0x5bd1e995, 0);
    bwd.call('zero', ptr('dHprev'), B * h); // truncated after one step: dh_{t−1} is dropped
    this.gru.backward(bwd, 0, { ptr: ptr('X'), ld: h }, this.state.ptr, ptr('dHd'), ptr('dHprev'), { ptr: ptr('dX'), ld: h },
      { dGi: ptr('dGi'), dGh: ptr('dGh'), saved: ptr('saved') }, B, false);
    if (pe > 0) bwd.call('dropout', ptr('dX'), ptr('dX'), B * h, pe, seed, 0);
    bwd.call('embed_bwd', this.item.grads[0].ptr, 0, ptr('dX'), ptr('ids'), 0, B, h, 1);
    bwd.call('copy', this.state.ptr, ptr('Hout'), B * h); // carry the new hidden states forward
    this.engine.run(bwd);
    return loss;
  }

  /** Zeroes lane `lane`'s hidden state (its session ended; a new one starts). */
  resetLane(lane: number): void {
    this.state.a.fill(0, lane * this.h, (lane + 1) * this.h);
  }

  /**
   * Final hidden state of each sequence (internal ids, non-empty) into `out` [nSeq × h]. Sequences
   * run side by side, longest first, so the lanes still running at step t are a prefix.
   */
  lastHidden(seqs: Int32Array[], out: Float32Array): void {
    const h = this.h, e = this.engine;
    const order = seqs.map((s, i) => i).sort((a, c) => seqs[c].length - seqs[a].length || a - c);
    const m = seqs.length;
    if (m === 0) return;
    const maxL = seqs[order[0]].length;
    const active = new Int32Array(maxL + 1);
    for (let t = 0; t <= maxL; t++) {
      let k = 0;
      while (k < m && seqs[order[k]].length > t) k++;
      active[t] = k;
    }
    const ids = e.i32(maxL * m);
    const X = e.f32(m * h), H0 = e.f32(m * h), H1 = e.f32(m * h), Hf = e.f32(m * h);
    const Gi = e.f32(3 * m * h), Gh = e.f32(3 * m * h), saved = e.f32(4 * m * h);
    try {
      for (let t = 0; t < maxL; t++) for (let k = 0; k < active[t]; k++) ids.a[t * m + k] = seqs[order[k]][t];
      const prog = e.program();
      this.gru.prepare(prog);
      let cur = H0, nxt = H1;
      for (let t = 0; t < maxL; t++) {
        const a = active[t];
        prog.call('embed_fwd', X.ptr, this.item.data.ptr, ids.ptr + 4 * t * m, 0, 0, a, h, 1);
        this.gru.forward(prog, { ptr: X.ptr, ld: h }, cur.ptr, nxt.ptr, { Gi: Gi.ptr, Gh: Gh.ptr, saved: saved.ptr }, a);
        // sequences of length t + 1 end here: rows active[t+1] .. a − 1
        const done = a - active[t + 1];
        if (done > 0) prog.call('copy', Hf.ptr + 4 * active[t + 1] * h, nxt.ptr + 4 * active[t + 1] * h, done * h);
        const tmp = cur;
        cur = nxt;
        nxt = tmp;
      }
      e.run(prog);
      order.forEach((orig, k) => out.set(Hf.a.subarray(k * h, (k + 1) * h), orig * h));
    } finally {
      for (const buf of [X, H0, H1, Hf, Gi, Gh, saved]) e.freeBuf(buf);
      e.freeBuf(ids as unknown as Buf);
    }
  }

  /** Scores of items (dataset ids 0..n−1) for each hidden row: out[i·n + j] = H_i·E[j+1] + b_{j+1}. */
  scoreHidden(H: Float32Array, rows: number, out: Float32Array, outOffset = 0): void {
    const h = this.h;
    const G = new Float32Array(rows * (h + 1));
    for (let r = 0; r < rows; r++) {
      G.set(H.subarray(r * h, r * h + h), r * (h + 1));
      G[r * (h + 1) + h] = 1;
    }
    scoreDot(this.itemPanels(), G, rows, out.subarray(outOffset, outOffset + rows * this.nItems));
  }

}

/**
 * BPR-max over a row-major score block Z [B × NC] whose target of row i is column i: returns the
 * mean loss and overwrites Z with dL/dZ (already divided by B). For row i with negatives j ≠ i:
 * s_j = softmax_j(r_j), L = −log Σ_j s_j σ(r_i − r_j) + λ Σ_j s_j r_j².
 */
export function bprMax(Z: Float32Array, B: number, NC: number, lambda: number): number {
  let total = 0;
  const s = new Float64Array(NC), sig = new Float64Array(NC);
  for (let i = 0; i < B; i++) {
    const row = i * NC;
    const ri = Z[row + i];
    let m = -Infinity;
    for (let j = 0; j < NC; j++) if (j !== i) m = Math.max(m, Z[row + j]);
    let zs = 0;
    for (let j = 0; j < NC; j++) {
      s[j] = j === i ? 0 : Math.exp(Z[row + j] - m);
      zs += s[j];
    }
    let P = 0, R = 0;
    for (let j = 0; j < NC; j++) {
      s[j] /= zs;
      sig[j] = j === i ? 0 : 1 / (1 + Math.exp(-(ri - Z[row + j])));
      P += s[j] * sig[j];
      R += s[j] * Z[row + j] * Z[row + j];
    }
    total += -Math.log(P + 1e-24) + lambda * R;
    // dL/dr_i = −(1/P) Σ_j s_j σ_j(1 − σ_j)
    // dL/dr_j = −(1/P)[s_j(σ_j − P) − s_j σ_j(1 − σ_j)] + λ[s_j(r_j² − R) + 2 s_j r_j]
    let gi = 0;
    for (let j = 0; j < NC; j++) {
      if (j === i) continue;
      const rj = Z[row + j];
      const d = s[j] * sig[j] * (1 - sig[j]);
      gi += d;
      Z[row + j] = (-(s[j] * (sig[j] - P) - d) / P + lambda * (s[j] * (rj * rj - R) + 2 * s[j] * rj)) / B;
    }
    Z[row + i] = -gi / P / B;
  }
  return total / B;
}

/** Items drawn ∝ popularity^α (internal ids), by inverse-CDF lookup. */
export class PopSampler {
  private readonly cdf: Float64Array;
  constructor(train: Interactions, alpha: number) {
    const counts = new Float64Array(train.nItems);
    for (let k = 0; k < train.items.length; k++) counts[train.items[k]]++;
    this.cdf = new Float64Array(train.nItems);
    let acc = 0;
    for (let i = 0; i < train.nItems; i++) {
      acc += counts[i] > 0 ? counts[i] ** alpha : 0;
      this.cdf[i] = acc;
    }
  }

  /** Fills `out` with draws. */
  sample(out: Int32Array, rng: Rng): void {
    const total = this.cdf[this.cdf.length - 1];
    for (let k = 0; k < out.length; k++) {
      const u = rng.next() * total;
      let lo = 0, hi = this.cdf.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.cdf[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      out[k] = lo + 1;
    }
  }
}

/** GRU4Rec as a {@link SequentialRecommender}. */
export class GRU4Rec extends EngineSequentialModel<GRU4RecNet, GRU4RecConfig> implements SequentialRecommender, DotProductModel {
  readonly name = 'gru4rec';

  /** @param config hyperparameters; missing keys take their defaults */
  constructor(config: Record<string, unknown> = {}) {
    super(parseGRU4RecConfig(config));
  }

  protected createNetwork(nItems: number): GRU4RecNet {
    return new GRU4RecNet(this.config, nItems);
  }

  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    const net = this.beginFit(train.nItems);
    const cfg = this.config;
    const rng = new Rng(options.seed);
    net.init(rng.fork());
    const pop = new PopSampler(train, cfg.sampleAlpha);
    const sessions: number[] = [];
    for (let u = 0; u < train.nUsers; u++) if (train.offsets[u + 1] - train.offsets[u] >= 2) sessions.push(u);
    if (sessions.length < cfg.batchSize) throw new Error(`gru4rec: ${sessions.length} sessions, fewer than ${cfg.batchSize} lanes`);
    const B = cfg.batchSize;
    const events = sessions.reduce((a, u) => a + train.offsets[u + 1] - train.offsets[u] - 1, 0);
    // no sampler state crosses epochs (each starts with a fresh shuffle and zeroed lanes), so the
    // weights, optimizer and Rng position that startTraining restores are the whole state
    const run = await startTraining({ model: this, net, rng, options, epochs: cfg.epochs, modelState: this.savedState(net) });
    const step: LaneStep = { inputs: new Int32Array(B), targets: new Int32Array(B), extra: new Int32Array(cfg.negatives) };
    const laneUser = new Int32Array(B), lanePos = new Int32Array(B);
    let order = new Int32Array(0), next = 0;
    const report = await runEpochs({
      name: 'gru4rec', run, options, epochs: cfg.epochs, estimatedSteps: Math.ceil(events / B),
      startEpoch: () => {
        order = rng.shuffle(Int32Array.from(sessions));
        next = 0;
        for (let l = 0; l < B; l++) {
          laneUser[l] = order[next++];
          lanePos[l] = train.offsets[laneUser[l]];
          net.resetLane(l);
        }
      },
      step: () => {
        for (let l = 0; l < B; l++) {
          step.inputs[l] = train.items[lanePos[l]] + 1;
          step.targets[l] = train.items[lanePos[l] + 1] + 1;
        }
        pop.sample(step.extra, rng);
        return net.trainStep(step, rng.nextUint32());
      },
      // advance lanes; a finished session hands its lane to the next one (the epoch ends when none is left)
      endOfEpoch: () => {
        for (let l = 0; l < B; l++) {
          lanePos[l]++;
          if (lanePos[l] + 1 >= train.offsets[laneUser[l] + 1]) {
            if (next >= order.length) return true;
            laneUser[l] = order[next++];
            lanePos[l] = train.offsets[laneUser[l]];
            net.resetLane(l);
          }
        }
        return false;
      },
    });
    this.endFit(report, options.seed);
    return report;
  }

  /** The output layer packed for the kernel core: [E[j+1], b_{j+1}] per item (see GRU4RecNet.itemPanels). */
  itemPanels(): ItemPanels {
    return this.network.itemPanels();
  }

  /** [h, 1] per user: h = the GRU state after the user's last maxLen items (0 without history: bias-only scores). */
  userVectors(users: Int32Array, history: Interactions, out: Float32Array): void {
    const net = this.network;
    const n = net.nItems, h = this.config.hidden;
    if (history.nItems !== n) throw new Error(`gru4rec: history has ${history.nItems} items, the model ${n}`);
    const seqs: Int32Array[] = [];
    const rowOf: number[] = [];
    users.forEach((u, i) => {
      const s = history.items.subarray(Math.max(history.offsets[u], history.offsets[u + 1] - this.config.maxLen), history.offsets[u + 1]);
      if (s.length > 0) {
        seqs.push(Int32Array.from(s, (x) => x + 1));
        rowOf.push(i);
      }
    });
    const H = new Float32Array(seqs.length * h);
    net.lastHidden(seqs, H);
    out.fill(0, 0, users.length * (h + 1));
    rowOf.forEach((r, k) => out.set(H.subarray(k * h, (k + 1) * h), r * (h + 1)));
    for (let r = 0; r < users.length; r++) out[r * (h + 1) + h] = 1;
  }

  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    const n = this.network.nItems;
    if (out.length < users.length * n) throw new Error(`gru4rec: out holds ${out.length} scores, need ${users.length}×${n}`);
    const G = new Float32Array(users.length * (this.config.hidden + 1));
    this.userVectors(users, history, G);
    scoreDot(this.itemPanels(), G, users.length, out);
  }

  scoreSequence(sequence: Int32Array, out: Float32Array): void {
    const net = this.network;
    for (const item of sequence) {
      if (!(item >= 0 && item < net.nItems)) throw new RangeError(`gru4rec: item ${item} outside 0..${net.nItems - 1}`);
    }
    const H = new Float32Array(this.config.hidden);
    const s = sequence.subarray(Math.max(0, sequence.length - this.config.maxLen));
    if (s.length > 0) net.lastHidden([Int32Array.from(s, (x) => x + 1)], H);
    net.scoreHidden(H, 1, out);
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<GRU4Rec> {
    return EngineSequentialModel.loadModel(dir, 'gru4rec', (config) => new GRU4Rec(config));
  }
}

/** Registry entry (see registry.ts). */
export const gru4recEntry: ModelEntry = {
  name: 'gru4rec',
  description: 'GRU4Rec (Hidasi et al.; 2023 best practices): session-parallel GRU, CE or BPR-max over in-batch + popularity-sampled negatives',
  configSchema: GRU4RecConfigSchema,
  sequential: true,
  create: (config) => new GRU4Rec(config),
  load: (dir) => GRU4Rec.load(dir),
};
