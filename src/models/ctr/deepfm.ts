/**
 * DeepFM (Guo et al. 2017): an FM component and a deep component that share the field
 * embeddings, summed before the sigmoid:
 *
 *   z = [b + Σ w + FM pairwise(X)] + MLP(flatten X),   MLP = Linear → ReLU → … → Linear(·, 1)
 *
 * The paper's deep part on Criteo is 400-400-400 with dropout 0.5; the default here is smaller
 * (`hidden`, 200-80 by default) for a 100K-event data set, without dropout.
 */
import type { Buf } from '../../kernels/engine.ts';
import type { Rng } from '../../nn/rng.ts';
import type { CtrBatch } from './batch.ts';
import { FmInteraction } from './fm.ts';
import { Mlp } from './mlp.ts';
import type { CtrHead, HeadContext } from './net.ts';

export class DeepFmHead implements CtrHead {
  readonly usesFirstOrder = true;
  readonly poolsHistory = true;
  private readonly fm: FmInteraction;
  private readonly deep: Mlp;
  private readonly dOut: Buf;

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

  backward(b: CtrBatch, dZ: Float32Array, X: Buf, dX: Buf): void {
    this.fm.backward(X.a, dZ, dX.a, b.n);
    this.dOut.a.set(dZ.subarray(0, b.n));
    this.deep.backward(X.ptr, this.dOut.ptr, dX.ptr, b.n, true);
  }
}
