/**
 * The network of the deep RL policies, on the engine: a GRU state tracker (EasyRL4Rec's GRU
 * tracker) over the user's last L consumed items, each input the item's embedding plus an
 * embedding of the reward it got, then linear heads on the last hidden state:
 *
 *   x_t = E[item_t] + R[bucket(reward_t)],  h_t = GRU(x_t, h_{t−1}),  h_0 = 0,
 *   out = W_o h_L + b_o  (one score per item: Q-values for DQN, policy logits for the actor),
 *   v   = w_v·h_L + b_v  (the critic's state value; only with `value`).
 *
 * Item id 0 and reward bucket 0 are padding (windows shorter than L are left-padded); real items
 * are 1…nItems. Tokens are laid out time-major (row t·B + b) so each GRU step reads B contiguous
 * rows. Forward and backward are recorded into engine programs; the caller fills the output
 * gradients between the two.
 */
import { defaultEngine, type Buf, type Engine } from '../../kernels/engine.ts';
import { GRUCell, linear, type Linear } from '../../nn/layers.ts';
import { Adam, ADAM_DEFAULTS } from '../../nn/optim.ts';
import { ParamSet, xavierNormal, type Param } from '../../nn/params.ts';
import { Rng } from '../../nn/rng.ts';

/** Shape of a {@link TrackerNet}. */
export interface TrackerNetConfig {
  nItems: number;
  /** Embedding width d. */
  dims: number;
  /** GRU hidden width H. */
  hidden: number;
  /** Window L of past items the tracker reads. */
  window: number;
  /** Number of reward buckets, padding (0) included. */
  rewardBuckets: number;
  /** Add the state-value head. */
  value: boolean;
  /** Largest batch B. */
  maxBatch: number;
  lr: number;
  seed: number;
}

/** The state tracker and its heads, with its own Adam. */
export class TrackerNet {
  readonly engine: Engine;
  readonly params: ParamSet;
  readonly itemEmb: Param;
  readonly rewardEmb: Param;
  readonly gru: GRUCell;
  readonly head: Linear;
  readonly valueHead: Linear | null;
  private readonly adam: Adam;
  private readonly ids: Buf<Int32Array>;
  private readonly buckets: Buf<Int32Array>;
  private readonly X: Buf;
  private readonly Hs: Buf;
  private readonly Gi: Buf;
  private readonly Gh: Buf;
  private readonly saved: Buf;
  private readonly out: Buf;
  private readonly vout: Buf;
  readonly dOut: Buf;
  readonly dV: Buf;
  private readonly dHs: Buf;
  private readonly dX: Buf;
  private batch = 0;

  constructor(readonly config: TrackerNetConfig) {
    const { nItems, dims: d, hidden: H, window: L, rewardBuckets, maxBatch: B } = config;
    const e = (this.engine = defaultEngine());
    const P = (this.params = new ParamSet(e, 1, this));
    this.itemEmb = P.add('item_emb.weight', [nItems + 1, d]);
    this.rewardEmb = P.add('reward_emb.weight', [rewardBuckets, d]);
    this.gru = new GRUCell(P, 'gru', d, H, this);
    this.head = linear(P, 'head', H, nItems, true, this);
    this.valueHead = config.value ? linear(P, 'value', H, 1, true, this) : null;
    this.adam = new Adam(P, { ...ADAM_DEFAULTS, lr: config.lr, beta2: 0.999, clipNorm: 5 });
    const f = (n: number): Buf => e.f32(n, this);
    this.ids = e.i32(L * B, this);
    this.buckets = e.i32(L * B, this);
    this.X = f(L * B * d);
    this.Hs = f((L + 1) * B * H);
    this.Gi = f(B * 3 * H);
    this.Gh = f(B * 3 * H);
    this.saved = f(L * B * 4 * H);
    this.out = f(B * nItems);
    this.vout = f(B);
    this.dOut = f(B * nItems);
    this.dV = f(B);
    this.dHs = f((L + 1) * B * H);
    this.dX = f(L * B * d);
    const rng = new Rng(config.seed);
    for (const p of [this.itemEmb, this.rewardEmb]) for (let i = 0; i < p.size; i++) p.data.a[i] = 0.1 * rng.normal();
    this.itemEmb.data.a.fill(0, 0, d);
    this.rewardEmb.data.a.fill(0, 0, d);
    this.gru.init(rng);
    for (const lin of [this.head, this.valueHead]) {
      if (!lin) continue;
      xavierNormal(lin.weight, rng);
      lin.initBias(rng);
    }
  }

  /**
   * Runs the net on B states: `ids[t·B + b]`, `buckets[t·B + b]` = item (1-based, 0 = pad) and
   * reward bucket of step t of state b. Returns views of the outputs [B × nItems] and values [B]
   * (valid until the next forward).
   */
  forward(B: number, ids: Int32Array, buckets: Int32Array): { out: Float32Array; value: Float32Array } {
    const { dims: d, hidden: H, window: L, nItems, maxBatch } = this.config;
    if (B < 1 || B > maxBatch) throw new Error(`TrackerNet.forward: batch ${B} outside 1..${maxBatch}`);
    if (ids.length !== L * B || buckets.length !== L * B) throw new Error(`TrackerNet.forward: expected ${L * B} ids and buckets, got ${ids.length} and ${buckets.length}`);
    this.batch = B;
    this.ids.a.set(ids);
    this.buckets.a.set(buckets);
    const prog = this.engine.program();
    this.gru.prepare(prog);
    this.head.prepare(prog);
    this.valueHead?.prepare(prog);
    prog.call('embed_fwd', this.X.ptr, this.itemEmb.data.ptr, this.ids.ptr, this.rewardEmb.data.ptr, this.buckets.ptr, L * B, d, 1);
    prog.call('zero', this.Hs.ptr, B * H);
    for (let t = 0; t < L; t++) {
      this.gru.forward(prog, { ptr: this.X.ptr + 4 * t * B * d, ld: d }, this.Hs.ptr + 4 * t * B * H, this.Hs.ptr + 4 * (t + 1) * B * H,
        { Gi: this.Gi.ptr, Gh: this.Gh.ptr, saved: this.saved.ptr + 4 * t * B * 4 * H }, B);
    }
    const hL = { ptr: this.Hs.ptr + 4 * L * B * H, ld: H };
    this.head.forward(prog, hL, { ptr: this.out.ptr, ld: nItems }, B);
    this.valueHead?.forward(prog, hL, { ptr: this.vout.ptr, ld: 1 }, B);
    this.engine.run(prog);
    return { out: this.out.a.subarray(0, B * nItems), value: this.vout.a.subarray(0, B) };
  }

  /** Views of the output gradients of the last forward's batch, zeroed, for the caller to fill. */
  gradients(): { dOut: Float32Array; dValue: Float32Array } {
    const B = this.batch, n = this.config.nItems;
    const dOut = this.dOut.a.subarray(0, B * n), dValue = this.dV.a.subarray(0, B);
    dOut.fill(0);
    dValue.fill(0);
    return { dOut, dValue };
  }

  /** Accumulates the parameter gradients of the last forward from the filled output gradients. */
  backward(): void {
    const { dims: d, hidden: H, window: L, nItems } = this.config;
    const B = this.batch;
    const prog = this.engine.program();
    prog.call('zero', this.dHs.ptr, (L + 1) * B * H);
    const hL = { ptr: this.Hs.ptr + 4 * L * B * H, ld: H };
    const dhL = { ptr: this.dHs.ptr + 4 * L * B * H, ld: H };
    this.head.backward(prog, 0, { ptr: this.dOut.ptr, ld: nItems }, hL, dhL, B, true);
    this.valueHead?.backward(prog, 0, { ptr: this.dV.ptr, ld: 1 }, hL, dhL, B, true);
    for (let t = L - 1; t >= 0; t--) {
      this.gru.backward(prog, 0, { ptr: this.X.ptr + 4 * t * B * d, ld: d }, this.Hs.ptr + 4 * t * B * H, this.dHs.ptr + 4 * (t + 1) * B * H,
        this.dHs.ptr + 4 * t * B * H, { ptr: this.dX.ptr + 4 * t * B * d, ld: d },
        { dGi: this.Gi.ptr, dGh: this.Gh.ptr, saved: this.saved.ptr + 4 * t * B * 4 * H }, B, false);
    }
    prog.call('embed_bwd', this.itemEmb.grads[0].ptr, this.rewardEmb.grads[0].ptr, this.dX.ptr, this.ids.ptr, this.buckets.ptr, L * B, d, 1);
    this.engine.run(prog);
  }

  /** One Adam step on the accumulated gradients (which it zeroes). Returns the gradient norm. */
  step(): number {
    return this.adam.step(this.config.lr, 1, new Map());
  }

  /** Copies every parameter value from `other` (same config): the DQN target network. */
  copyFrom(other: TrackerNet): void {
    this.params.list.forEach((p, i) => p.data.a.set(other.params.list[i].data.a));
  }

  /** Zeroes the accumulated gradients without a step. */
  zeroGrad(): void {
    for (const p of this.params.list) p.grads[0].a.fill(0);
  }
}
