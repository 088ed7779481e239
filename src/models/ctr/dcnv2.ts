/**
 * DCN-V2 (Wang et al. 2021, "DCN V2: Improved Deep & Cross Network"), parallel structure:
 *
 *   x_0 = flatten X ∈ ℝ^D,   x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l     (full-rank cross layers)
 *   h   = MLP(x_0)                                                       (deep network)
 *   z   = w_c·x_L + w_h·h + b                                            (logit on [x_L; h])
 *
 * Backward of one cross layer, with g = ∂L/∂x_{l+1} and u = W_l x_l + b_l:
 *   ∂L/∂u = g ⊙ x_0,   ∂L/∂x_0 += g ⊙ u,   ∂L/∂x_l = g + W_lᵀ (g ⊙ x_0).
 */
import type { Buf } from '../../kernels/engine.ts';
import { linear, type Linear } from '../../nn/layers.ts';
import { xavierNormal } from '../../nn/params.ts';
import type { Rng } from '../../nn/rng.ts';
import type { CtrBatch } from './batch.ts';
import { Mlp } from './mlp.ts';
import type { CtrHead, HeadContext } from './net.ts';

export class DcnV2Head implements CtrHead {
  readonly usesFirstOrder = false;
  readonly poolsHistory = true;
  private readonly cross: Linear[];
  private readonly deep: Mlp;
  private readonly outCross: Linear;
  private readonly outDeep: Linear;
  private readonly D: number;
  /** x_1 … x_L and u_0 … u_{L−1} [maxRows × D] each; gradient scratch; logits. */
  private readonly xs: Buf[];
  private readonly us: Buf[];
  private readonly g: Buf;
  private readonly g2: Buf;
  private readonly du: Buf;
  private readonly z: Buf;
  private readonly dz: Buf;
  private readonly dh: Buf;

  constructor(private readonly ctx: HeadContext, layers: number, hidden: number[]) {
    const D = (this.D = ctx.slots * ctx.d);
    const e = ctx.engine;
    const m = ctx.maxRows;
    this.cross = Array.from({ length: layers }, (_, l) => linear(ctx.params, `cross.${l}`, D, D, true, this));
    this.deep = new Mlp(ctx.params, 'deep', [D, ...hidden], m, true);
    this.outCross = linear(ctx.params, 'out.cross', D, 1, true, this);
    this.outDeep = linear(ctx.params, 'out.deep', hidden[hidden.length - 1], 1, false, this);
    this.xs = Array.from({ length: layers }, () => e.f32(m * D, this));
    this.us = Array.from({ length: layers }, () => e.f32(m * D, this));
    this.g = e.f32(m * D, this);
    this.g2 = e.f32(m * D, this);
    this.du = e.f32(m * D, this);
    this.z = e.f32(m, this);
    this.dz = e.f32(m, this);
    this.dh = e.f32(m * hidden[hidden.length - 1], this);
  }

  init(rng: Rng): void {
    for (const l of [...this.cross, this.outCross, this.outDeep]) {
      xavierNormal(l.weight, rng);
      l.initBias(rng);
    }
    this.deep.init(rng);
  }

  private xIn(l: number, X: Buf): number {
    return l === 0 ? X.ptr : this.xs[l - 1].ptr;
  }

  forward(b: CtrBatch, X: Buf, n: number): Float32Array {
    const D = this.D;
    const prog = this.ctx.engine.program();
    this.cross.forEach((layer, l) => {
      layer.prepare(prog);
      layer.forward(prog, { ptr: this.xIn(l, X), ld: D }, { ptr: this.us[l].ptr, ld: D }, n);
      prog.call('mul', this.xs[l].ptr, X.ptr, this.us[l].ptr, n * D, 0);
      prog.call('axpy', this.xs[l].ptr, this.xIn(l, X), n * D, 1);
    });
    this.ctx.engine.run(prog);
    const h = this.deep.forward(X.ptr, n);
    const p2 = this.ctx.engine.program();
    this.outCross.prepare(p2);
    this.outDeep.prepare(p2);
    this.outCross.forward(p2, { ptr: this.xs[this.cross.length - 1].ptr, ld: D }, { ptr: this.z.ptr, ld: 1 }, n);
    const hw = this.outDeep.inFeatures;
    this.outDeep.forward(p2, { ptr: h, ld: hw }, { ptr: this.dz.ptr, ld: 1 }, n);
    p2.call('axpy', this.z.ptr, this.dz.ptr, n, 1);
    this.ctx.engine.run(p2);
    this.hPtr = h;
    return this.z.a.slice(0, n);
  }

  private hPtr = 0;

  backward(b: CtrBatch, dZ: Float32Array, X: Buf, dX: Buf): void {
    const n = b.n;
    const D = this.D;
    const L = this.cross.length;
    this.dz.a.set(dZ.subarray(0, n));
    const prog = this.ctx.engine.program();
    const hw = this.outDeep.inFeatures;
    this.outDeep.backward(prog, 0, { ptr: this.dz.ptr, ld: 1 }, { ptr: this.hPtr, ld: hw }, { ptr: this.dh.ptr, ld: hw }, n, false);
    // g = ∂L/∂x_L
    this.outCross.backward(prog, 0, { ptr: this.dz.ptr, ld: 1 }, { ptr: this.xs[L - 1].ptr, ld: D }, { ptr: this.g.ptr, ld: D }, n, false);
    let g = this.g;
    let g2 = this.g2;
    for (let l = L - 1; l >= 0; l--) {
      prog.call('mul', this.du.ptr, g.ptr, X.ptr, n * D, 0); // ∂L/∂u = g ⊙ x_0
      prog.call('mul', dX.ptr, g.ptr, this.us[l].ptr, n * D, 1); // ∂L/∂x_0 += g ⊙ u
      if (l > 0) {
        prog.call('copy', g2.ptr, g.ptr, n * D); // ∂L/∂x_l = g + Wᵀ du
        this.cross[l].backward(prog, 0, { ptr: this.du.ptr, ld: D }, { ptr: this.xIn(l, X), ld: D }, { ptr: g2.ptr, ld: D }, n, true);
        [g, g2] = [g2, g];
      } else {
        prog.call('axpy', dX.ptr, g.ptr, n * D, 1);
        this.cross[0].backward(prog, 0, { ptr: this.du.ptr, ld: D }, { ptr: X.ptr, ld: D }, { ptr: dX.ptr, ld: D }, n, true);
      }
    }
    this.ctx.engine.run(prog);
    this.deep.backward(X.ptr, this.dh.ptr, dX.ptr, n, true);
  }
}
