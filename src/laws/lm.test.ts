import { describe, expect, it } from 'vitest';
import { levenbergMarquardt, solveDense, type LmProblem } from './lm.ts';

/** Rosenbrock as least squares: r = (10(x2 − x1²), 1 − x1), written as y − model with y = 0. */
function rosenbrock(lower: number[], upper: number[]): LmProblem {
  return {
    nResiduals: 2,
    nParams: 2,
    lower,
    upper,
    residuals(t, out) {
      out[0] = 10 * (t[1] - t[0] * t[0]);
      out[1] = 1 - t[0];
    },
    jacobian(t, out) {
      // model = −r, so ∂model/∂θ = −∂r/∂θ.
      out[0] = 20 * t[0];
      out[1] = -10;
      out[2] = 1;
      out[3] = 0;
    },
  };
}

describe('bounded Levenberg–Marquardt', () => {
  it('finds the Rosenbrock minimum (1, 1) from (−1.2, 1)', () => {
    const res = levenbergMarquardt(rosenbrock([-Infinity, -Infinity], [Infinity, Infinity]), [-1.2, 1]);
    expect(res.converged).toBe(true);
    expect(res.theta[0]).toBeCloseTo(1, 6);
    expect(res.theta[1]).toBeCloseTo(1, 6);
    expect(res.sse).toBeLessThan(1e-12);
  });

  it('respects bounds: with x1 ≤ 0.5 the constrained minimum is (0.5, 0.25)', () => {
    // On x1 = 0.5 the cost 100(x2 − 0.25)² + 0.25 is smallest at x2 = 0.25; for x1 < 0.5, (1 − x1)² > 0.25.
    const res = levenbergMarquardt(rosenbrock([-2, -2], [0.5, 2]), [-1.2, 1]);
    expect(res.theta[0]).toBeCloseTo(0.5, 8);
    expect(res.theta[1]).toBeCloseTo(0.25, 6);
    expect(res.sse).toBeCloseTo(0.25, 8);
  });

  it('leaves a parameter that does not matter where it started', () => {
    const problem: LmProblem = {
      nResiduals: 3,
      nParams: 2,
      lower: [-10, -10],
      upper: [10, 10],
      residuals(t, out) {
        [1, 2, 3].forEach((x, i) => (out[i] = 2 * x - t[0] * x));
      },
      jacobian(_t, out) {
        [1, 2, 3].forEach((x, i) => {
          out[i * 2] = x;
          out[i * 2 + 1] = 0;
        });
      },
    };
    const res = levenbergMarquardt(problem, [0, 3]);
    expect(res.theta[0]).toBeCloseTo(2, 10);
    expect(res.theta[1]).toBe(3);
  });

  it('solveDense solves a 3×3 system and reports a singular one', () => {
    const x = solveDense(Float64Array.from([4, 1, 0, 1, 3, 1, 0, 1, 2]), Float64Array.from([1, 2, 3]), 3)!;
    // Check A x = v.
    expect(4 * x[0] + x[1]).toBeCloseTo(1, 12);
    expect(x[0] + 3 * x[1] + x[2]).toBeCloseTo(2, 12);
    expect(x[1] + 2 * x[2]).toBeCloseTo(3, 12);
    expect(solveDense(Float64Array.from([1, 2, 2, 4]), Float64Array.from([1, 1]), 2)).toBeNull();
  });
});
