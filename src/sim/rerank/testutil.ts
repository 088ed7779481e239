/** Test helpers of the tape re-rankers: the contraction a gradient check differentiates, and a parameter-wise check. */
import { expect } from 'vitest';
import { maxRelError, numericGrad } from '../../nn/gradcheck.ts';
import type { ParamStore } from './params.ts';
import type { Tape, V } from './tape.ts';
import { Tape as TapeClass } from './tape.ts';

/** Σ R ⊙ out on the tape, R fixed: the scalar a gradient check differentiates. */
export function contractOnTape(t: Tape, out: V, R: Float64Array): V {
  return t.matmul(t.reshape(out, 1, out.data.length), t.constant(out.data.length, 1, R));
}

/**
 * Every parameter's tape gradient of the scalar `loss(t)` against central finite differences
 * (float64); returns how many parameters had a non-zero gradient.
 */
export function checkParamGrads(ps: ParamStore, loss: (t: Tape) => V, tol = 1e-6): number {
  ps.zeroGrad();
  const t = new TapeClass();
  t.backward(loss(t));
  const grads = ps.list.map((p) => p.grad.slice());
  ps.zeroGrad();
  let checked = 0;
  ps.list.forEach((p, k) => {
    const num = numericGrad(() => loss(new TapeClass()).data[0], p.data);
    expect(maxRelError(grads[k], num, 1e-6), p.name).toBeLessThan(tol);
    if (num.some((g) => g !== 0)) checked++;
  });
  return checked;
}
