/**
 * Layers (forward + backward recorded into programs) against float64 references with central
 * finite differences: Linear, LayerNorm, MultiheadAttention (causal and bidirectional, 2 heads,
 * separate query and key/value inputs), GRUCell. Every parameter and every input gradient.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../kernels/engine.ts';
import { ParamSet, type Param } from './params.ts';
import { GRUCell, LayerNorm, MultiheadAttention, linear } from './layers.ts';
import { Rng } from './rng.ts';
import { contract, maxRelError, numericGrad, parameterGradients } from './gradcheck.ts';

const eng = new Engine({ threads: 1 });
const rng = new Rng(21);
const randn = (n: number, s = 1): Float64Array => Float64Array.from({ length: n }, () => rng.normal() * s);

function buf(x: ArrayLike<number>): number {
  const b = eng.f32(x.length);
  b.a.set(x);
  return b.ptr;
}
function view(ptr: number, n: number): Float32Array {
  return new Float32Array(eng.memory.buffer, ptr, n);
}
function randomize(params: ParamSet): Map<string, Float64Array> {
  const m = new Map<string, Float64Array>();
  for (const p of params.list) {
    const v = randn(p.size, 0.5);
    p.data.a.set(v);
    m.set(p.name, Float64Array.from(p.data.a));
  }
  return m;
}
/** Checks the gradient of every parameter against FD of `ref(weights)`. */
function checkParams(params: ParamSet, W: Map<string, Float64Array>, ref: (w: Map<string, Float64Array>) => number, tol = 1e-3): void {
  for (const { name, analytic, numeric } of parameterGradients(params.list as Param[], 1, W, ref, 1e-6)) {
    expect(maxRelError(analytic, numeric, 1e-4), name).toBeLessThan(tol);
  }
}
const matvec = (W: Float64Array, b: Float64Array | null, x: ArrayLike<number>, inF: number, outF: number, r0 = 0): number[] =>
  Array.from({ length: outF }, (_, o) => {
    let s = b ? b[r0 + o] : 0;
    for (let i = 0; i < inF; i++) s += W[(r0 + o) * inF + i] * x[i];
    return s;
  });

describe('Linear and LayerNorm', () => {
  it('y = LN(x)·Wᵀ + b: forward, input and parameter gradients', () => {
    const owner = {};
    const params = new ParamSet(eng, 1, owner);
    const T = 5, inF = 7, outF = 6;
    const norm = new LayerNorm(params, 'ln', inF, 1e-5);
    const lin = linear(params, 'fc', inF, outF, true, owner);
    const W = randomize(params);
    const X = randn(T * inF, 2), R = randn(T * outF);
    const ref = (w: Map<string, Float64Array>, x: Float64Array): number[] => {
      const out: number[] = [];
      for (let t = 0; t < T; t++) {
        const row = Array.from(x.subarray(t * inF, (t + 1) * inF));
        const mu = row.reduce((a, v) => a + v, 0) / inF;
        const va = row.reduce((a, v) => a + (v - mu) ** 2, 0) / inF;
        const h = row.map((v, j) => ((v - mu) / Math.sqrt(va + 1e-5)) * w.get('ln.weight')![j] + w.get('ln.bias')![j]);
        out.push(...matvec(w.get('fc.weight')!, w.get('fc.bias')!, h, inF, outF));
      }
      return out;
    };
    const x = buf(X), h = buf(new Float64Array(T * inF)), y = buf(new Float64Array(T * outF));
    const mean = buf(new Float64Array(T)), rstd = buf(new Float64Array(T));
    const dy = buf(R), dh = buf(new Float64Array(T * inF)), dx = buf(new Float64Array(T * inF));
    const prog = eng.program();
    lin.prepare(prog);
    norm.forward(prog, x, h, mean, rstd, T);
    lin.forward(prog, { ptr: h, ld: inF }, { ptr: y, ld: outF }, T);
    lin.backward(prog, 0, { ptr: dy, ld: outF }, { ptr: h, ld: inF }, { ptr: dh, ld: inF }, T, false);
    norm.backward(prog, 0, dh, x, mean, rstd, dx, T, false);
    eng.run(prog);
    expect(maxRelError(view(y, T * outF), ref(W, X))).toBeLessThan(1e-4);
    expect(maxRelError(view(dx, T * inF), numericGrad((z) => contract(R, ref(W, z)), X.slice()), 1e-4)).toBeLessThan(1e-3);
    checkParams(params, W, (w) => contract(R, ref(w, X)));
  });
});

describe('MultiheadAttention over ragged sequences', () => {
  for (const causal of [true, false]) {
    it(`${causal ? 'causal' : 'bidirectional'}, 2 heads, query ≠ key/value input`, () => {
      const owner = {};
      const params = new ParamSet(eng, 1, owner);
      const d = 6, heads = 2, dh = 3, lens = [4, 1, 3];
      const T = 8;
      const att = new MultiheadAttention(params, 'att', d, { heads, causal }, owner);
      const W = randomize(params);
      const XQ = randn(T * d), XKV = randn(T * d), R = randn(T * d);
      const ref = (w: Map<string, Float64Array>, xq: Float64Array, xkv: Float64Array): number[] => {
        const Wi = w.get('att.in_proj_weight')!, bi = w.get('att.in_proj_bias')!;
        const out = new Array<number>(T * d).fill(0);
        let t0 = 0;
        for (const L of lens) {
          const rows = (x: Float64Array, r0: number): number[][] =>
            Array.from({ length: L }, (_, i) => matvec(Wi, bi, x.subarray((t0 + i) * d, (t0 + i + 1) * d), d, d, r0));
          const Q = rows(xq, 0), K = rows(xkv, d), V = rows(xkv, 2 * d);
          for (let i = 0; i < L; i++) {
            const A = new Array<number>(d).fill(0);
            for (let h = 0; h < heads; h++) {
              const n = causal ? i + 1 : L;
              const z = Array.from({ length: n }, (_, j) => {
                let s = 0;
                for (let c = h * dh; c < (h + 1) * dh; c++) s += Q[i][c] * K[j][c];
                return s / Math.sqrt(dh);
              });
              const m = Math.max(...z);
              const e = z.map((v) => Math.exp(v - m));
              const sum = e.reduce((a, v) => a + v, 0);
              for (let c = h * dh; c < (h + 1) * dh; c++) for (let j = 0; j < n; j++) A[c] += (e[j] / sum) * V[j][c];
            }
            matvec(w.get('att.out_proj.weight')!, w.get('att.out_proj.bias')!, A, d, d).forEach((v, c) => (out[(t0 + i) * d + c] = v));
          }
          t0 += L;
        }
        return out;
      };
      const seqOff = eng.i32(4), pOff = eng.i32(4);
      seqOff.a.set([0, 4, 5, 8]);
      pOff.a.set([0, 16, 17, 26]);
      const lay = { seqOff: seqOff.ptr, pOff: pOff.ptr, nSeq: 3, maxL: 4, seqBase: 0 };
      const f = (n: number): number => buf(new Float64Array(n));
      const bufs = { Q: f(T * d), KV: f(2 * T * d), A: f(T * d), P: f(26 * heads), P2: f(26 * heads), Y: f(T * d), scratch: f(dh * 4 + 16) };
      const xq = buf(XQ), xkv = buf(XKV), dxq = f(T * d), dxkv = f(T * d);
      const prog = eng.program();
      att.prepare(prog);
      att.forward(prog, lay, T, xq, xkv, bufs, 0, 0);
      att.backward(prog, 0, lay, T, xq, xkv, bufs, buf(R), { dA: f(T * d), dQ: f(T * d), dKV: f(2 * T * d) }, dxq, dxkv, false, 0, 0);
      eng.run(prog);
      expect(maxRelError(view(bufs.Y, T * d), ref(W, XQ, XKV))).toBeLessThan(1e-4);
      expect(maxRelError(view(dxq, T * d), numericGrad((z) => contract(R, ref(W, z, XKV)), XQ.slice()))).toBeLessThan(1e-3);
      expect(maxRelError(view(dxkv, T * d), numericGrad((z) => contract(R, ref(W, XQ, z)), XKV.slice()))).toBeLessThan(1e-3);
      checkParams(params, W, (w) => contract(R, ref(w, XQ, XKV)));
    });
  }
});

describe('GRUCell', () => {
  it('matches torch.nn.GRUCell equations; gradients of x, h and all parameters', () => {
    const owner = {};
    const params = new ParamSet(eng, 1, owner);
    const B = 3, inF = 4, H = 5;
    const cell = new GRUCell(params, 'gru', inF, H, owner);
    const W = randomize(params);
    const X = randn(B * inF), Hp = randn(B * H), R = randn(B * H);
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    const ref = (w: Map<string, Float64Array>, x: Float64Array, hp: Float64Array): number[] => {
      const out: number[] = [];
      for (let b = 0; b < B; b++) {
        const gi = matvec(w.get('gru.weight_ih')!, w.get('gru.bias_ih')!, x.subarray(b * inF, (b + 1) * inF), inF, 3 * H);
        const gh = matvec(w.get('gru.weight_hh')!, w.get('gru.bias_hh')!, hp.subarray(b * H, (b + 1) * H), H, 3 * H);
        for (let j = 0; j < H; j++) {
          const r = sig(gi[j] + gh[j]), z = sig(gi[H + j] + gh[H + j]);
          const n = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
          out.push((1 - z) * n + z * hp[b * H + j]);
        }
      }
      return out;
    };
    const f = (n: number): number => buf(new Float64Array(n));
    const x = buf(X), hp = buf(Hp), ho = f(B * H), dh = f(B * H), dx = f(B * inF);
    const saved = f(B * 4 * H);
    const prog = eng.program();
    cell.prepare(prog);
    cell.forward(prog, { ptr: x, ld: inF }, hp, ho, { Gi: f(B * 3 * H), Gh: f(B * 3 * H), saved }, B);
    cell.backward(prog, 0, { ptr: x, ld: inF }, hp, buf(R), dh, { ptr: dx, ld: inF }, { dGi: f(B * 3 * H), dGh: f(B * 3 * H), saved }, B, false);
    eng.run(prog);
    expect(maxRelError(view(ho, B * H), ref(W, X, Hp))).toBeLessThan(1e-5);
    expect(maxRelError(view(dx, B * inF), numericGrad((z) => contract(R, ref(W, z, Hp)), X.slice()))).toBeLessThan(1e-4);
    expect(maxRelError(view(dh, B * H), numericGrad((z) => contract(R, ref(W, X, z)), Hp.slice()))).toBeLessThan(1e-4);
    checkParams(params, W, (w) => contract(R, ref(w, X, Hp)), 1e-4);
  });
});
