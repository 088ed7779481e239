/**
 * AutoInt (Song et al. 2019, "Automatic Feature Interaction Learning via Self-Attentive Neural
 * Networks"): every field embedding e_m is a token; interacting layers apply multi-head
 * self-attention across the fields of one impression, with a residual connection,
 *
 *   ẽ_m = ⊕_h Σ_k softmax_k(⟨W_Q^h e_m, W_K^h e_k⟩ / √d_h) · W_V^h e_k,   e_m^res = ReLU(ẽ_m + W_res e_m),
 *
 * stacked `layers` times, then z = w·(e_1^res ⊕ … ⊕ e_M^res) + b. The attention is the engine's
 * MultiheadAttention over ragged sequences (one sequence of `slots` tokens per impression,
 * bidirectional), which also applies an output projection to the concatenated heads — one linear
 * map more than the paper, which does not change what the layer can express.
 */
import type { Buf } from '../../kernels/engine.ts';
import { linear, MultiheadAttention, type Linear, type RaggedLayout } from '../../nn/layers.ts';
import { xavierNormal } from '../../nn/params.ts';
import type { Rng } from '../../nn/rng.ts';
import type { CtrBatch } from './batch.ts';
import type { CtrHead, HeadContext } from './net.ts';

interface LayerBufs {
  Q: Buf;
  KV: Buf;
  A: Buf;
  P: Buf;
  R: Buf;
  Y: Buf;
  O: Buf;
  dIn: Buf;
}

export class AutoIntHead implements CtrHead {
  readonly usesFirstOrder = false;
  readonly poolsHistory = true;
  private readonly att: MultiheadAttention[];
  private readonly res: Linear[];
  private readonly out: Linear;
  private readonly bufs: LayerBufs[];
  private readonly seqOff: Buf<Int32Array>;
  private readonly pOff: Buf<Int32Array>;
  private readonly scratch: Buf;
  private readonly g: { dA: Buf; dQ: Buf; dKV: Buf; dY: Buf; dO: Buf };
  private readonly z: Buf;
  private readonly dz: Buf;

  constructor(private readonly ctx: HeadContext, layers: number, readonly heads: number) {
    const { d, slots, maxRows, engine: e, params } = ctx;
    const T = maxRows * slots;
    this.att = Array.from({ length: layers }, (_, l) => new MultiheadAttention(params, `interacting.${l}.att`, d, { heads, causal: false }, this));
    this.res = Array.from({ length: layers }, (_, l) => linear(params, `interacting.${l}.res`, d, d, false, this));
    this.out = linear(params, 'out', slots * d, 1, true, this);
    const f = (k: number): Buf => e.f32(k, this);
    this.bufs = Array.from({ length: layers }, () => ({ Q: f(T * d), KV: f(T * 2 * d), A: f(T * d), P: f(maxRows * slots * slots * heads), R: f(T * d), Y: f(T * d), O: f(T * d), dIn: f(T * d) }));
    this.seqOff = e.i32(maxRows + 1, this);
    this.pOff = e.i32(maxRows + 1, this);
    this.scratch = f((d / heads) * slots + slots * slots + 64);
    this.g = { dA: f(T * d), dQ: f(T * d), dKV: f(T * 2 * d), dY: f(T * d), dO: f(T * d) };
    this.z = f(maxRows);
    this.dz = f(maxRows);
  }

  init(rng: Rng): void {
    for (const a of this.att) a.init(rng);
    for (const r of this.res) xavierNormal(r.weight, rng);
    xavierNormal(this.out.weight, rng);
    this.out.initBias(rng);
  }

  private layout(n: number): RaggedLayout {
    const s = this.ctx.slots;
    for (let r = 0; r <= n; r++) {
      this.seqOff.a[r] = r * s;
      this.pOff.a[r] = r * s * s;
    }
    return { seqOff: this.seqOff.ptr, pOff: this.pOff.ptr, nSeq: n, maxL: s, seqBase: 0 };
  }

  private input(l: number, X: Buf): Buf {
    return l === 0 ? X : this.bufs[l - 1].O;
  }

  forward(b: CtrBatch, X: Buf, n: number): Float32Array {
    const { d, slots } = this.ctx;
    const T = n * slots;
    const lay = this.layout(n);
    const prog = this.ctx.engine.program();
    this.att.forEach((att, l) => {
      const B = this.bufs[l];
      const x = this.input(l, X).ptr;
      att.prepare(prog);
      this.res[l].prepare(prog);
      this.res[l].forward(prog, { ptr: x, ld: d }, { ptr: B.R.ptr, ld: d }, T);
      att.forward(prog, lay, T, x, x, { Q: B.Q.ptr, KV: B.KV.ptr, A: B.A.ptr, P: B.P.ptr, P2: B.P.ptr, Y: B.Y.ptr, scratch: this.scratch.ptr }, 0, 0, B.R.ptr);
      prog.call('relu_fwd', B.O.ptr, B.Y.ptr, T * d);
    });
    this.out.prepare(prog);
    this.out.forward(prog, { ptr: this.bufs[this.att.length - 1].O.ptr, ld: slots * d }, { ptr: this.z.ptr, ld: 1 }, n);
    this.ctx.engine.run(prog);
    return this.z.a.slice(0, n);
  }

  backward(b: CtrBatch, dZ: Float32Array, X: Buf, dX: Buf): void {
    const n = b.n;
    const { d, slots } = this.ctx;
    const T = n * slots;
    const lay = this.layout(n);
    const L = this.att.length;
    this.dz.a.set(dZ.subarray(0, n));
    const prog = this.ctx.engine.program();
    this.out.backward(prog, 0, { ptr: this.dz.ptr, ld: 1 }, { ptr: this.bufs[L - 1].O.ptr, ld: slots * d }, { ptr: this.g.dO.ptr, ld: slots * d }, n, false);
    let dO = this.g.dO.ptr;
    for (let l = L - 1; l >= 0; l--) {
      const B = this.bufs[l];
      const x = this.input(l, X).ptr;
      const dIn = l === 0 ? dX.ptr : B.dIn.ptr;
      prog.call('relu_bwd', this.g.dY.ptr, dO, B.Y.ptr, T * d, 0);
      this.att[l].backward(prog, 0, lay, T, x, x, { Q: B.Q.ptr, KV: B.KV.ptr, A: B.A.ptr, P: B.P.ptr, P2: B.P.ptr, scratch: this.scratch.ptr },
        this.g.dY.ptr, { dA: this.g.dA.ptr, dQ: this.g.dQ.ptr, dKV: this.g.dKV.ptr }, dIn, dIn, l === 0, 0, 0);
      this.res[l].backward(prog, 0, { ptr: this.g.dY.ptr, ld: d }, { ptr: x, ld: d }, { ptr: dIn, ld: d }, T, true);
      dO = dIn;
    }
    this.ctx.engine.run(prog);
  }
}
