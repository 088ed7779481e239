/**
 * DIN, Deep Interest Network (Zhou et al. 2018). The user's behaviours are pooled with weights
 * that depend on the candidate: for behaviour j with embedding h_j (item + rating embedding) and
 * the target item's embedding q,
 *
 *   a_j = ActivationUnit([h_j, q, h_j − q, h_j ⊙ q])     (MLP 4d → 36 → 1; the paper's out-product
 *                                                          is the element-wise product here)
 *   v_U = Σ_j a_j h_j                                     (no softmax: the paper keeps the
 *                                                          intensity of interest)
 *   z   = MLP([fields…, v_U, knowledge…])                 (200 → 80 → 1)
 *
 * The paper uses Dice / PReLU activations; ReLU here. No first-order term (as the paper).
 */
import type { Buf } from '../../kernels/engine.ts';
import type { Rng } from '../../nn/rng.ts';
import type { CtrBatch } from './batch.ts';
import { Mlp } from './mlp.ts';
import type { CtrHead, HeadContext } from './net.ts';

export class DinHead implements CtrHead {
  readonly usesFirstOrder = false;
  readonly poolsHistory = false;
  readonly att: Mlp;
  private readonly top: Mlp;
  /** Attention inputs [tokens × 4d], their gradients, the weights' gradients. */
  private readonly A: Buf;
  private readonly dA: Buf;
  private readonly dw: Buf;
  private readonly dOut: Buf;
  /** Per token: h_j (saved for the backward) and weight a_j. */
  private H = new Float32Array(0);
  private w = new Float32Array(0);

  constructor(private readonly ctx: HeadContext, hidden: number[], attHidden: number, readonly maxHistory: number) {
    const { d, maxRows, engine } = ctx;
    const maxTokens = maxRows * maxHistory;
    this.att = new Mlp(ctx.params, 'attention', [4 * d, attHidden, 1], maxTokens);
    this.top = new Mlp(ctx.params, 'deep', [ctx.slots * d, ...hidden, 1], maxRows);
    this.A = engine.f32(maxTokens * 4 * d, this);
    this.dA = engine.f32(maxTokens * 4 * d, this);
    this.dw = engine.f32(maxTokens, this);
    this.dOut = engine.f32(maxRows, this);
  }

  init(rng: Rng): void {
    this.att.init(rng);
    this.top.init(rng);
  }

  /** The behaviour sequence cut to each row's last `maxHistory` behaviours (kept for the backward). */
  private hb: { off: Int32Array; item: Int32Array; rating: Int32Array } = { off: new Int32Array(1), item: new Int32Array(0), rating: new Int32Array(0) };

  private cut(b: CtrBatch, n: number): void {
    const m = this.maxHistory;
    let fits = true;
    for (let r = 0; r < n && fits; r++) fits = b.histOff[r + 1] - b.histOff[r] <= m;
    if (fits) {
      this.hb = { off: b.histOff, item: b.histItem, rating: b.histRating };
      return;
    }
    const off = new Int32Array(n + 1);
    const item: number[] = [];
    const rating: number[] = [];
    for (let r = 0; r < n; r++) {
      for (let k = Math.max(b.histOff[r], b.histOff[r + 1] - m); k < b.histOff[r + 1]; k++) {
        item.push(b.histItem[k]);
        rating.push(b.histRating[k]);
      }
      off[r + 1] = item.length;
    }
    this.hb = { off, item: Int32Array.from(item), rating: Int32Array.from(rating) };
  }

  private get histSlot(): number {
    return this.ctx.schema.nSingle + 1;
  }

  forward(b: CtrBatch, X: Buf, n: number): Float32Array {
    const { d, slots, schema } = this.ctx;
    const E = this.ctx.emb.table.data.a;
    this.cut(b, n);
    const hb = this.hb;
    const T = hb.off[n];
        this.H = new Float32Array(T * d);
    const A = this.A.a;
    for (let r = 0; r < n; r++) {
      const q = (r * slots + schema.itemField) * d;
      for (let k = hb.off[r]; k < hb.off[r + 1]; k++) {
        const it = hb.item[k] * d;
        const rt = hb.rating[k] * d;
        for (let j = 0; j < d; j++) {
          const h = E[it + j] + E[rt + j];
          const qj = X.a[q + j];
          this.H[k * d + j] = h;
          A[k * 4 * d + j] = h;
          A[k * 4 * d + d + j] = qj;
          A[k * 4 * d + 2 * d + j] = h - qj;
          A[k * 4 * d + 3 * d + j] = h * qj;
        }
      }
    }
    this.w = T > 0 ? new Float32Array(this.ctx.engine.memory.buffer, this.att.forward(this.A.ptr, T), T).slice() : new Float32Array(0);
    for (let r = 0; r < n; r++) {
      const v = (r * slots + this.histSlot) * d;
      X.a.fill(0, v, v + d);
      for (let k = hb.off[r]; k < hb.off[r + 1]; k++) for (let j = 0; j < d; j++) X.a[v + j] += this.w[k] * this.H[k * d + j];
    }
    return new Float32Array(this.ctx.engine.memory.buffer, this.top.forward(X.ptr, n), n).slice();
  }

  backward(b: CtrBatch, dZ: Float32Array, X: Buf, dX: Buf): void {
    const n = b.n;
    const { d, slots, schema, emb } = this.ctx;
    this.dOut.a.set(dZ.subarray(0, n));
    this.top.backward(X.ptr, this.dOut.ptr, dX.ptr, n, true);
    const hb = this.hb;
    const T = hb.off[n];
    if (T === 0) return;
    // ∂L/∂a_j = ⟨∂L/∂v, h_j⟩;  ∂L/∂h_j = a_j ∂L/∂v (+ the attention unit's part below)
    const dH = new Float32Array(T * d);
    for (let r = 0; r < n; r++) {
      const v = (r * slots + this.histSlot) * d;
      for (let k = hb.off[r]; k < hb.off[r + 1]; k++) {
        let s = 0;
        for (let j = 0; j < d; j++) {
          s += dX.a[v + j] * this.H[k * d + j];
          dH[k * d + j] = this.w[k] * dX.a[v + j];
        }
        this.dw.a[k] = s;
      }
    }
    this.att.backward(this.A.ptr, this.dw.ptr, this.dA.ptr, T, false);
    const dA = this.dA.a;
    for (let r = 0; r < n; r++) {
      const q = (r * slots + schema.itemField) * d;
      for (let k = hb.off[r]; k < hb.off[r + 1]; k++) {
        const o = k * 4 * d;
        for (let j = 0; j < d; j++) {
          const qj = X.a[q + j];
          const h = this.H[k * d + j];
          dH[k * d + j] += dA[o + j] + dA[o + 2 * d + j] + dA[o + 3 * d + j] * qj;
          dX.a[q + j] += dA[o + d + j] - dA[o + 2 * d + j] + dA[o + 3 * d + j] * h;
        }
        emb.addRowGrad(hb.item[k], dH, k * d, 1);
        emb.addRowGrad(hb.rating[k], dH, k * d, 1);
      }
    }
  }
}
