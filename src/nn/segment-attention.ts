/**
 * Single-head scaled dot-product attention between ragged segments: the query rows of segment s
 * attend over the key rows of the same segment only,
 *
 *   O_s = softmax(Q_s·K_sᵀ/√d)·V_s,   Q = Xq·Wqᵀ,  K = Xkv·Wkᵀ,  V = Xkv·Wvᵀ   (no biases),
 *
 * with queries and keys from different row sets and segments of different lengths. Target
 * attention (candidates as queries over a user's history) when Xq and Xkv differ; self-attention
 * within each segment when they are the same buffer with the same offsets. A segment with no keys
 * gives zero output rows (an empty history contributes nothing). The ragged `attn_fwd` kernel
 * needs queries and keys in the same sequence, so the scores here are one gemm per segment and a
 * row softmax over engine memory; projections are one Linear call for all rows.
 *
 * Parameters: `<name>.wq.weight`, `<name>.wk.weight`, `<name>.wv.weight`, each [d × d] as
 * torch.nn.Linear(d, d, bias=False). Gradients accumulate into thread 0.
 */
import type { Engine } from '../kernels/engine.ts';
import { linear, type Linear } from './layers.ts';
import { xavierNormal, type ParamSet } from './params.ts';
import type { Rng } from './rng.ts';
import { Scratch } from './scratch.ts';

/** Row offsets of each segment's queries (`q`) and keys (`k`), both of length nSegments + 1. */
export interface Segments {
  q: ArrayLike<number>;
  k: ArrayLike<number>;
}

export class SegmentAttention {
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  private readonly engine: Engine;
  private readonly s: Scratch;
  /** What the backward needs of the last forward. */
  private last: { xq: number; xkv: number; segs: Segments; tq: number; tk: number } | null = null;

  constructor(params: ParamSet, name: string, readonly d: number) {
    this.engine = params.engine;
    this.s = new Scratch(this.engine, this);
    this.wq = linear(params, `${name}.wq`, d, d, false, this);
    this.wk = linear(params, `${name}.wk`, d, d, false, this);
    this.wv = linear(params, `${name}.wv`, d, d, false, this);
  }

  /** Xavier-normal weights. */
  init(rng: Rng): void {
    for (const l of [this.wq, this.wk, this.wv]) xavierNormal(l.weight, rng);
  }

  private sizes(segs: Segments): { n: number; tq: number; tk: number; scores: number; maxK: number } {
    const n = segs.q.length - 1;
    if (segs.k.length !== n + 1) throw new Error(`SegmentAttention: ${n} query segments but ${segs.k.length - 1} key segments`);
    let scores = 0, maxK = 0;
    for (let s = 0; s < n; s++) {
      const m = segs.k[s + 1] - segs.k[s];
      scores += (segs.q[s + 1] - segs.q[s]) * m;
      maxK = Math.max(maxK, m);
    }
    return { n, tq: segs.q[n], tk: segs.k[n], scores, maxK };
  }

  /** Out [Tq × d] (byte pointer) from Xq [Tq × d] and Xkv [Tk × d]; both inputs must stay unchanged until {@link backward}. */
  forward(xq: number, xkv: number, segs: Segments, out: number): void {
    const d = this.d, e = this.engine, k = e.k;
    const { n, tq, tk, scores, maxK } = this.sizes(segs);
    const Q = this.s.get('Q', tq * d), K = this.s.get('K', tk * d), V = this.s.get('V', tk * d);
    const P = this.s.get('P', scores), Kt = this.s.get('T', d * maxK);
    const prog = e.program();
    for (const l of [this.wq, this.wk, this.wv]) l.prepare(prog);
    this.wq.forward(prog, { ptr: xq, ld: d }, { ptr: Q.ptr, ld: d }, tq);
    this.wk.forward(prog, { ptr: xkv, ld: d }, { ptr: K.ptr, ld: d }, tk);
    this.wv.forward(prog, { ptr: xkv, ld: d }, { ptr: V.ptr, ld: d }, tk);
    e.run(prog);
    const scale = 1 / Math.sqrt(d);
    let p = 0;
    for (let s = 0; s < n; s++) {
      const q0 = segs.q[s], nq = segs.q[s + 1] - q0, k0 = segs.k[s], m = segs.k[s + 1] - k0;
      const o = out + 4 * q0 * d;
      if (m === 0) {
        k.zero(o, nq * d);
        continue;
      }
      k.transpose(Kt.ptr, K.ptr + 4 * k0 * d, m, d, d, m);
      k.gemm(P.ptr + 4 * p, Q.ptr + 4 * q0 * d, Kt.ptr, nq, m, d, d, m, m, 0, 0, 0, scale);
      softmaxRows(P.a, p, nq, m);
      k.gemm(o, P.ptr + 4 * p, V.ptr + 4 * k0 * d, nq, d, m, m, d, d, 0, 0, 0, 1);
      p += nq * m;
    }
    this.last = { xq, xkv, segs, tq, tk };
  }

  /**
   * From dOut [Tq × d]: adds ∂L/∂Xq into dXq and ∂L/∂Xkv into dXkv (for self-attention pass the
   * same buffer twice), and the weight gradients into thread 0.
   */
  backward(dOut: number, dXq: number, dXkv: number): void {
    if (!this.last) throw new Error('SegmentAttention.backward: no forward to go back through');
    const { xq, xkv, segs, tq, tk } = this.last;
    const d = this.d, e = this.engine, k = e.k;
    const { n, scores, maxK } = this.sizes(segs);
    const Q = this.s.get('Q', 0), K = this.s.get('K', 0), V = this.s.get('V', 0), P = this.s.get('P', 0), Vt = this.s.get('T', d * maxK);
    const dQ = this.s.get('dQ', tq * d), dK = this.s.get('dK', tk * d), dV = this.s.get('dV', tk * d), dP = this.s.get('dP', scores);
    k.zero(dQ.ptr, tq * d);
    k.zero(dK.ptr, tk * d);
    k.zero(dV.ptr, tk * d);
    const scale = 1 / Math.sqrt(d);
    let p = 0;
    for (let s = 0; s < n; s++) {
      const q0 = segs.q[s], nq = segs.q[s + 1] - q0, k0 = segs.k[s], m = segs.k[s + 1] - k0;
      if (m === 0) continue;
      const dO = dOut + 4 * q0 * d, Ps = P.ptr + 4 * p, dPs = dP.ptr + 4 * p;
      // dP = dO·Vᵀ,  dV += Pᵀ·dO
      k.transpose(Vt.ptr, V.ptr + 4 * k0 * d, m, d, d, m);
      k.gemm(dPs, dO, Vt.ptr, nq, m, d, d, m, m, 0, 0, 0, 1);
      k.gemm(dV.ptr + 4 * k0 * d, Ps, dO, m, d, nq, m, d, d, 1, 1, 0, 1);
      // softmax: dS = P ⊙ (dP − Σ_j dP·P), times the score scale
      softmaxBackward(P.a, dP.a, p, nq, m, scale);
      // dQ = dS·K,  dK += dSᵀ·Q
      k.gemm(dQ.ptr + 4 * q0 * d, dPs, K.ptr + 4 * k0 * d, nq, d, m, m, d, d, 0, 0, 0, 1);
      k.gemm(dK.ptr + 4 * k0 * d, dPs, Q.ptr + 4 * q0 * d, m, d, nq, m, d, d, 1, 1, 0, 1);
      p += nq * m;
    }
    const prog = e.program();
    this.wq.backward(prog, 0, { ptr: dQ.ptr, ld: d }, { ptr: xq, ld: d }, { ptr: dXq, ld: d }, tq, true);
    this.wk.backward(prog, 0, { ptr: dK.ptr, ld: d }, { ptr: xkv, ld: d }, { ptr: dXkv, ld: d }, tk, true);
    this.wv.backward(prog, 0, { ptr: dV.ptr, ld: d }, { ptr: xkv, ld: d }, { ptr: dXkv, ld: d }, tk, true);
    e.run(prog);
  }
}

/** In place: each of `rows` rows of width m starting at element `at` becomes its softmax (max-shifted). */
function softmaxRows(a: Float32Array, at: number, rows: number, m: number): void {
  for (let r = 0; r < rows; r++) {
    const o = at + r * m;
    let mx = -Infinity;
    for (let j = 0; j < m; j++) mx = Math.max(mx, a[o + j]);
    let sum = 0;
    for (let j = 0; j < m; j++) sum += a[o + j] = Math.exp(a[o + j] - mx);
    for (let j = 0; j < m; j++) a[o + j] /= sum;
  }
}

/** In place on dP: dS = scale·P ⊙ (dP − rowsum(dP ⊙ P)). */
function softmaxBackward(P: Float32Array, dP: Float32Array, at: number, rows: number, m: number, scale: number): void {
  for (let r = 0; r < rows; r++) {
    const o = at + r * m;
    let dot = 0;
    for (let j = 0; j < m; j++) dot += dP[o + j] * P[o + j];
    for (let j = 0; j < m; j++) dP[o + j] = scale * P[o + j] * (dP[o + j] - dot);
  }
}
