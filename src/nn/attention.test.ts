/**
 * Ragged attention (asm/attention.ts) against a float64 reference that pads nothing: each
 * sequence is attended on its own. Forward compared directly; backward (dQ, dK, dV) against
 * central finite differences of the reference, with and without dropout (the reference rebuilds
 * the engine's counter-based mask with gradcheck.keepMask).
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../kernels/engine.ts';
import { Rng } from './rng.ts';
import { contract, keepMask, maxRelError, numericGrad } from './gradcheck.ts';

const eng = new Engine({ threads: 1 });
const k = eng.k;
const rng = new Rng(11);

function randn(n: number, s = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * s;
  return a;
}

/** dh is the query/key width; dv (default dh) the value width; scale (default 1/√dh) multiplies q·k. */
interface Case { lens: number[]; heads: number; dh: number; dv?: number; scale?: number; causal: boolean; kind: 0 | 1; p: number; bias?: number; n?: number }

/** Float64 reference: O for packed Q, K (ld = heads·dh), V and O (ld = heads·dv), one sequence at a time. */
function reference(c: Case, Q: Float64Array, K: Float64Array, V: Float64Array, seed: number, B?: Float64Array): Float64Array {
  const d = c.heads * c.dh;
  const dv = c.dv ?? c.dh;
  const dV = c.heads * dv;
  const T = c.lens.reduce((a, b) => a + b, 0);
  const O = new Float64Array(T * dV);
  const scale = c.scale ?? 1 / Math.sqrt(c.dh);
  let t0 = 0;
  c.lens.forEach((L, s) => {
    for (let h = 0; h < c.heads; h++) {
      const hseed = (seed + Math.imul(h, 0x9e3779b9)) >>> 0;
      const sseed = (hseed ^ Math.imul(s, 0x01000193)) >>> 0;
      for (let i = 0; i < L; i++) {
        const n = c.causal ? i + 1 : L;
        const z: number[] = [];
        for (let j = 0; j < n; j++) {
          let dot = 0;
          for (let x = 0; x < c.dh; x++) dot += Q[(t0 + i) * d + h * c.dh + x] * K[(t0 + j) * d + h * c.dh + x];
          z.push(dot * scale);
        }
        let w: number[];
        if (c.kind === 0) {
          const m = Math.max(...z);
          const e = z.map((v) => Math.exp(v - m));
          const sum = e.reduce((a, b) => a + b, 0);
          w = e.map((v) => v / sum);
        } else {
          const nn = c.n ?? L;
          w = z.map((v0, j) => {
            const v = v0 + (B ? B[h * c.bias! + (i - j)] : 0);
            return v / (1 + Math.exp(-v)) / nn;
          });
        }
        if (c.p > 0) w = w.map((v, j) => (keepMask(sseed, i * L + j, c.p) ? v / (1 - c.p) : 0));
        for (let x = 0; x < dv; x++) {
          let o = 0;
          for (let j = 0; j < n; j++) o += w[j] * V[(t0 + j) * dV + h * dv + x];
          O[(t0 + i) * dV + h * dv + x] = o;
        }
      }
    }
    t0 += L;
  });
  return O;
}

const cases: Case[] = [
  { lens: [5, 1, 9], heads: 1, dh: 6, causal: true, kind: 0, p: 0 },
  { lens: [7, 3], heads: 2, dh: 4, causal: true, kind: 0, p: 0.25 },
  { lens: [6, 4], heads: 2, dh: 3, causal: false, kind: 0, p: 0 },
  { lens: [8, 2], heads: 1, dh: 5, causal: true, kind: 1, p: 0 },
  { lens: [7, 3], heads: 2, dh: 3, causal: true, kind: 1, p: 0.2, bias: 9, n: 12 },
  // HSTU's form: no 1/√d scale, value width ≠ query/key width, rows long enough for the vector paths
  { lens: [13, 6, 1], heads: 2, dh: 3, dv: 5, scale: 1, causal: true, kind: 1, p: 0.1, bias: 16, n: 16 },
  { lens: [11, 9], heads: 1, dh: 4, dv: 6, scale: 1, causal: true, kind: 1, p: 0, bias: 12, n: 12 },
];

describe('ragged attention', () => {
  for (const c of cases) {
    const label = `lens ${c.lens} heads ${c.heads} dh ${c.dh}${c.dv ? ' dv ' + c.dv : ''}${c.scale ? ' scale ' + c.scale : ''} ${c.causal ? 'causal' : 'bidirectional'} ${c.kind ? 'silu' : 'softmax'} p=${c.p}${c.bias ? ' rel-bias n=' + c.n : ''}`;
    it(`${label}: forward and backward`, () => {
      const d = c.heads * c.dh;
      const dv = c.dv ?? c.dh;
      const dV = c.heads * dv;
      const T = c.lens.reduce((a, b) => a + b, 0);
      const maxL = Math.max(...c.lens);
      const seqOff = [0];
      const pOff = [0];
      for (const L of c.lens) {
        seqOff.push(seqOff[seqOff.length - 1] + L);
        pOff.push(pOff[pOff.length - 1] + L * L);
      }
      const seed = 4242;
      const Q = randn(T * d), K = randn(T * d), V = randn(T * dV), R = randn(T * dV);
      const buf = (x: ArrayLike<number>): ReturnType<typeof eng.f32> => {
        const b = eng.f32(x.length);
        b.a.set(x);
        return b;
      };
      const Bv = c.bias ? randn(c.heads * c.bias, 0.5) : undefined;
      const bias = Bv ? buf(Bv) : null;
      const dbias = Bv ? eng.f32(Bv.length) : null;
      const invN = c.n ? 1 / c.n : 0;
      const q = buf(Q), kk = buf(K), v = buf(V), o = eng.f32(T * dV);
      const so = eng.i32(seqOff.length), po = eng.i32(pOff.length);
      so.a.set(seqOff);
      po.a.set(pOff);
      const P = eng.f32(pOff[pOff.length - 1] * c.heads), P2 = eng.f32(pOff[pOff.length - 1] * c.heads);
      const scratch = eng.f32(Math.max(c.dh, dv) * maxL + maxL * maxL);
      // Workspaces are reused across steps: stale values must never be read. NaN would propagate.
      P.a.fill(NaN);
      P2.a.fill(NaN);
      scratch.a.fill(NaN);
      // kind 1 keeps pre-activations in P and weights in P2; softmax without dropout needs P only
      const P2ptr = c.p > 0 || c.kind === 1 ? P2.ptr : P.ptr;
      k.attn_fwd(q.ptr, kk.ptr, v.ptr, o.ptr, d, d, dV, dV, P.ptr, P2ptr, so.ptr, po.ptr, 0, c.lens.length, c.heads, c.dh, dv,
        c.causal ? 1 : 0, c.kind, c.p, seed, 0, scratch.ptr, bias?.ptr ?? 0, c.bias ?? 0, invN, c.scale ?? 0);
      expect(maxRelError(o.a, reference(c, Q, K, V, seed, Bv))).toBeLessThan(1e-4);

      const dq = eng.f32(T * d), dk = eng.f32(T * d), dvb = eng.f32(T * dV);
      k.attn_bwd(q.ptr, kk.ptr, v.ptr, buf(R).ptr, dq.ptr, dk.ptr, dvb.ptr, d, d, dV, dV, P.ptr, P2ptr, so.ptr, po.ptr, 0,
        c.lens.length, c.heads, c.dh, dv, c.causal ? 1 : 0, c.kind, c.p, seed, 0, scratch.ptr, maxL, c.bias ?? 0, invN,
        dbias?.ptr ?? 0, c.scale ?? 0);
      const f = (which: 0 | 1 | 2) => (z: Float64Array): number =>
        contract(R, reference(c, which === 0 ? z : Q, which === 1 ? z : K, which === 2 ? z : V, seed, Bv));
      if (Bv) expect(maxRelError(dbias!.a, numericGrad((z) => contract(R, reference(c, Q, K, V, seed, z)), Bv.slice()))).toBeLessThan(1e-3);
      expect(maxRelError(dq.a, numericGrad(f(0), Q.slice()))).toBeLessThan(1e-3);
      expect(maxRelError(dk.a, numericGrad(f(1), K.slice()))).toBeLessThan(1e-3);
      expect(maxRelError(dvb.a, numericGrad(f(2), V.slice()))).toBeLessThan(1e-3);
    });
  }

  it('a sequence attends only to itself: changing another sequence leaves its output unchanged', () => {
    const c = cases[0];
    const d = c.dh, T = 15;
    const Q = randn(T * d), K = randn(T * d), V = randn(T * d);
    const a = reference(c, Q, K, V, 1);
    for (let i = 5 * d; i < 6 * d; i++) K[i] += 10; // sequence 1 (one token)
    const b = reference(c, Q, K, V, 1);
    expect(Array.from(a.subarray(0, 5 * d))).toEqual(Array.from(b.subarray(0, 5 * d)));
  });
});
