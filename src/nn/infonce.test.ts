/**
 * InfoNce against a float64 reference written out here: a value by hand, the loss, and both input
 * gradients against central finite differences of the reference.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../kernels/engine.ts';
import { maxRelError, numericGrad } from './gradcheck.ts';
import { InfoNce } from './infonce.ts';
import { Rng } from './rng.ts';

const eng = new Engine({ threads: 1 });
const rng = new Rng(5);
const randn = (n: number): Float64Array => Float64Array.from({ length: n }, () => rng.normal());

describe('InfoNce', () => {
  const ref = (P: Float64Array, U: Float64Array, B: number, d: number, tau: number): number => {
    const nrm = (X: Float64Array, b: number): number[] => {
      const r = Array.from(X.subarray(b * d, b * d + d));
      const n = Math.sqrt(r.reduce((a, v) => a + v * v, 0));
      return r.map((v) => v / n);
    };
    let L = 0;
    for (let b = 0; b < B; b++) {
      const z = Array.from({ length: B }, (_, c) => nrm(P, b).reduce((a, v, j) => a + v * nrm(U, c)[j], 0) / tau);
      const mx = Math.max(...z);
      L -= z[b] - mx - Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0));
    }
    return L / B;
  };

  it('by hand: P = U = I₂, τ = 1 gives log(1 + e⁻¹)', () => {
    const P = eng.f32(4), dP = eng.f32(4), dU = eng.f32(4);
    P.a.set([1, 0, 0, 1]);
    expect(new InfoNce(eng).lossAndGrad(P.ptr, P.ptr, 2, 2, 1, dP.ptr, dU.ptr)).toBeCloseTo(Math.log(1 + Math.exp(-1)), 6);
  });

  it('loss and both gradients against finite differences of a float64 reference', () => {
    const B = 3, d = 4, tau = 0.3;
    const p = randn(B * d), u = randn(B * d);
    const P = eng.f32(B * d), U = eng.f32(B * d), dP = eng.f32(B * d), dU = eng.f32(B * d);
    P.a.set(p);
    U.a.set(u);
    const L = new InfoNce(eng).lossAndGrad(P.ptr, U.ptr, B, d, tau, dP.ptr, dU.ptr);
    expect(L).toBeCloseTo(ref(p, u, B, d, tau), 4);
    expect(maxRelError(dP.a, numericGrad((z) => ref(z, u, B, d, tau), p.slice()))).toBeLessThan(1e-3);
    expect(maxRelError(dU.a, numericGrad((z) => ref(p, z, B, d, tau), u.slice()))).toBeLessThan(1e-3);
  });
});
