/**
 * DeepFM (Guo et al. 2017): an FM component and a deep component that share the field
 * embeddings, summed before the sigmoid:
 *
 *   z = [b + Σ w + FM pairwise(X)] + MLP(flatten X),   MLP = Linear → ReLU → … → Linear(·, 1)
 *
 * The paper's deep part on Criteo is 400-400-400 with dropout 0.5; the default here is smaller
 * (`hidden`, 200-80 by default) for a 100K-event data set, without dropout.
 *
 * Serving with pre-stored knowledge (r̂_u, f̂_i, the last two fields): their share of the deep
 * part's first layer, W₁[:, r̂]·r̂_u and W₁[:, f̂]·f̂_i, is computed once per user and item (the
 * fold), and the FM term splits as FM(X ∪ {r̂, f̂}) = FM(X) + ⟨r̂ + f̂, Σ_f x_f⟩ + ⟨r̂, f̂⟩, so a
 * request costs about what it costs without knowledge (bench/ctr-knowledge.ts).
 */
import type { Buf } from '../../kernels/engine.ts';
import type { Rng } from '../../nn/rng.ts';
import type { CtrBatch } from './batch.ts';
import { FmInteraction } from './fm.ts';
import { Mlp } from './mlp.ts';
import type { CtrHead, HeadContext, PrestoredVectors } from './net.ts';

export class DeepFmHead implements CtrHead {
  readonly usesFirstOrder = true;
  readonly poolsHistory = true;
  private readonly fm: FmInteraction;
  private readonly deep: Mlp;
  private readonly dOut: Buf;
  /** The fold of the last pre-stored tables served: per user and per item first-layer shares [n × out₁]. */
  private fold: { aug: PrestoredVectors; user: Buf<Float32Array>; item: Buf<Float32Array> } | null = null;
  /** Per request: each row's user and item ids, and the sum of their first-layer shares [maxRows × out₁]. */
  private serving: { users: Buf<Int32Array>; items: Buf<Int32Array>; pre: Buf<Float32Array> } | null = null;

  constructor(private readonly ctx: HeadContext, hidden: number[]) {
    this.fm = new FmInteraction(ctx.slots, ctx.d);
    this.deep = new Mlp(ctx.params, 'deep', [ctx.slots * ctx.d, ...hidden, 1], ctx.maxRows);
    this.dOut = ctx.engine.f32(ctx.maxRows, this);
  }

  init(rng: Rng): void {
    this.deep.init(rng);
  }

  forward(b: CtrBatch, X: Buf, n: number): Float32Array {
    const z = this.fm.forward(X.a, n);
    const out = new Float32Array(this.ctx.engine.memory.buffer, this.deep.forward(X.ptr, n), n);
    for (let r = 0; r < n; r++) z[r] += out[r];
    return z;
  }

  /** Drops the fold (the weights changed). */
  weightsChanged(): void {
    this.fold = null;
  }

  /** W₁'s columns of slot `slot` times each row of `table` [rows × d] → [rows × out₁] (engine memory). */
  private firstLayerShare(table: Float32Array, rows: number, slot: number): Buf<Float32Array> {
    const { d, slots } = this.ctx;
    const first = this.deep.layers[0];
    const W = first.weight.data.a;
    const inF = slots * d;
    const h = first.outFeatures;
    const buf = this.ctx.engine.f32(rows * h, this);
    const out = buf.a;
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < h; o++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += W[o * inF + slot * d + j] * table[r * d + j];
        out[r * h + o] = s;
      }
    }
    return buf;
  }

  /**
   * Logits (without lin) of rows whose last two fields are the pre-stored r̂_u, f̂_i (X's other
   * fields filled; those two slots are not read).
   */
  forwardPrestored(b: CtrBatch, X: Buf, n: number, aug: PrestoredVectors): Float32Array {
    const { d, slots } = this.ctx;
    const s0 = slots - 2;
    if (this.fold?.aug !== aug) {
      this.fold = { aug, user: this.firstLayerShare(aug.user, aug.user.length / d, s0), item: this.firstLayerShare(aug.item, aug.item.length / d, s0 + 1) };
    }
    const { user: U, item: V } = this.fold;
    const h = this.deep.layers[0].outFeatures;
    const { engine, maxRows } = this.ctx;
    this.serving ??= { users: engine.i32(maxRows, this), items: engine.i32(maxRows, this), pre: engine.f32(maxRows * h, this) };
    const sv = this.serving;
    sv.users.a.set(b.user.subarray(0, n));
    sv.items.a.set(b.item.subarray(0, n));
    const z = this.fm.forwardWith(X.a, n, s0, aug.user, b.user, aug.item, b.item);
    // pre[r] = U[user_r] + V[item_r]: a row gather of both tables (the embedding kernel with V as the "positions")
    const y = this.deep.forwardFolded(X.ptr, slots * d, s0 * d, n, sv.pre.ptr,
      (prog) => prog.call('embed_fwd', sv.pre.ptr, U.ptr, sv.users.ptr, V.ptr, sv.items.ptr, n, h, 1));
    const out = new Float32Array(this.ctx.engine.memory.buffer, y, n);
    for (let r = 0; r < n; r++) z[r] += out[r];
    return z;
  }

  backward(b: CtrBatch, dZ: Float32Array, X: Buf, dX: Buf): void {
    this.fm.backward(X.a, dZ, dX.a, b.n);
    this.dOut.a.set(dZ.subarray(0, b.n));
    this.deep.backward(X.ptr, this.dOut.ptr, dX.ptr, b.n, true);
  }
}
