/**
 * SegmentAttention (target attention and per-segment self-attention) against a float64 reference
 * written out here: forward values, and every gradient (inputs and weights) against central finite
 * differences of the reference.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../kernels/engine.ts';
import { contract, maxRelError, numericGrad } from './gradcheck.ts';
import { ParamSet } from './params.ts';
import { Rng } from './rng.ts';
import { SegmentAttention } from './segment-attention.ts';

const eng = new Engine({ threads: 1 });
const rng = new Rng(3);
const randn = (n: number): Float64Array => Float64Array.from({ length: n }, () => rng.normal());

/** y = x·Wᵀ for row-major x [T × d], W [d × d]. */
function proj(x: Float64Array, W: Float64Array, T: number, d: number): Float64Array {
  const y = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let o = 0; o < d; o++) for (let i = 0; i < d; i++) y[t * d + o] += x[t * d + i] * W[o * d + i];
  return y;
}

/** Float64 reference of segment attention. */
function reference(xq: Float64Array, xkv: Float64Array, qOff: number[], kOff: number[], W: Float64Array[], d: number): Float64Array {
  const Tq = qOff[qOff.length - 1], Tk = kOff[kOff.length - 1];
  const Q = proj(xq, W[0], Tq, d), K = proj(xkv, W[1], Tk, d), V = proj(xkv, W[2], Tk, d);
  const O = new Float64Array(Tq * d);
  for (let s = 0; s + 1 < qOff.length; s++) {
    for (let i = qOff[s]; i < qOff[s + 1]; i++) {
      const z: number[] = [];
      for (let j = kOff[s]; j < kOff[s + 1]; j++) {
        let dot = 0;
        for (let x = 0; x < d; x++) dot += Q[i * d + x] * K[j * d + x];
        z.push(dot / Math.sqrt(d));
      }
      if (z.length === 0) continue;
      const mx = Math.max(...z), ex = z.map((v) => Math.exp(v - mx)), sum = ex.reduce((a, b) => a + b, 0);
      ex.forEach((w, jj) => {
        for (let x = 0; x < d; x++) O[i * d + x] += (w / sum) * V[(kOff[s] + jj) * d + x];
      });
    }
  }
  return O;
}

function check(self: boolean): void {
  const d = 4;
  // segment 1 has no keys (zero output); segment 2 a single key
  const qOff = self ? [0, 3, 3, 4, 9] : [0, 2, 5, 6, 9];
  const kOff = self ? qOff : [0, 4, 4, 5, 8];
  const Tq = qOff[qOff.length - 1], Tk = kOff[kOff.length - 1];
  const params = new ParamSet(eng, 1, {});
  const att = new SegmentAttention(params, 'att', d);
  att.init(rng);
  const W = [att.wq, att.wk, att.wv].map((l) => Float64Array.from(l.weight.data.a));
  const xq = randn(Tq * d), xkv = self ? xq : randn(Tk * d), R = randn(Tq * d);
  const Xq = eng.f32(Tq * d), Xkv = self ? Xq : eng.f32(Tk * d), Out = eng.f32(Tq * d), dOut = eng.f32(Tq * d);
  const dXq = eng.f32(Tq * d), dXkv = self ? dXq : eng.f32(Tk * d);
  Xq.a.set(xq);
  Xkv.a.set(xkv);
  att.forward(Xq.ptr, Xkv.ptr, { q: qOff, k: kOff }, Out.ptr);
  expect(maxRelError(Out.a, reference(xq, xkv, qOff, kOff, W, d))).toBeLessThan(1e-5);
  if (!self) expect(Array.from(Out.a.subarray(2 * d, 5 * d)).every((v) => v === 0)).toBe(true);
  dOut.a.set(R);
  dXq.a.fill(0.5); // the backward adds into what is there
  if (!self) dXkv.a.fill(0);
  att.backward(dOut.ptr, dXq.ptr, dXkv.ptr);
  const loss = (a: Float64Array, b: Float64Array, w: Float64Array[]): number => contract(R, reference(a, self ? a : b, qOff, kOff, w, d));
  const gq = numericGrad((z) => loss(z, xkv, W), xq.slice());
  expect(maxRelError(Array.from(dXq.a, (v) => v - 0.5), gq)).toBeLessThan(1e-3);
  if (!self) expect(maxRelError(dXkv.a, numericGrad((z) => loss(xq, z, W), xkv.slice()))).toBeLessThan(1e-3);
  [att.wq, att.wk, att.wv].forEach((l, i) => {
    const num = numericGrad((z) => loss(xq, xkv, W.map((w, j) => (j === i ? z : w))), W[i].slice());
    expect(maxRelError(l.weight.grads[0].a, num), l.weight.name).toBeLessThan(1e-3);
    expect(num.some((g) => Math.abs(g) > 1e-3)).toBe(true);
  });
}

describe('SegmentAttention', () => {
  it('target attention (queries and keys from different rows, an empty and a one-key segment)', () => check(false));
  it('self-attention within segments (one buffer for queries and keys)', () => check(true));
});
