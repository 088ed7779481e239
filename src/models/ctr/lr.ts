/**
 * Logistic regression: p = σ(b + Σ_f w[id_f] + mean_g w[g]) over one-hot features (the first-order
 * term of src/models/ctr/embedding.ts), plus — with knowledge — a linear read-out v·[r̂_u; f̂_i] of
 * the two knowledge fields. No interactions: the floor every CTR model is measured against.
 */
import type { Buf } from '../../kernels/engine.ts';
import type { Param } from '../../nn/params.ts';
import type { CtrBatch } from './batch.ts';
import type { CtrHead, HeadContext } from './net.ts';

export class LrHead implements CtrHead {
  readonly usesFirstOrder = true;
  readonly poolsHistory = true;
  private readonly v: Param | null;
  private readonly first: number;
  private readonly width: number;

  constructor(private readonly ctx: HeadContext) {
    this.first = ctx.schema.nSingle + 2;
    this.width = (ctx.slots - this.first) * ctx.d;
    this.v = this.width > 0 ? ctx.params.add('knowledge_linear.weight', [this.width], { decay: false }) : null;
  }

  init(): void {}

  forward(b: CtrBatch, X: Buf, n: number): Float32Array {
    const z = new Float32Array(n);
    if (!this.v) return z;
    const { slots, d } = this.ctx;
    const v = this.v.data.a;
    for (let r = 0; r < n; r++) {
      const o = (r * slots + this.first) * d;
      let s = 0;
      for (let j = 0; j < this.width; j++) s += v[j] * X.a[o + j];
      z[r] = s;
    }
    return z;
  }

  backward(b: CtrBatch, dZ: Float32Array, X: Buf, dX: Buf): void {
    if (!this.v) return;
    const { slots, d } = this.ctx;
    const v = this.v.data.a;
    const g = this.v.grads[0].a;
    for (let r = 0; r < b.n; r++) {
      const o = (r * slots + this.first) * d;
      for (let j = 0; j < this.width; j++) {
        dX.a[o + j] += dZ[r] * v[j];
        g[j] += dZ[r] * X.a[o + j];
      }
    }
  }
}
