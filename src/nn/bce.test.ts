import { describe, expect, it } from 'vitest';
import { meanBceWithLogits } from './bce.ts';
import { maxRelError, numericGrad } from './gradcheck.ts';

describe('meanBceWithLogits', () => {
  it('is −mean(y log σ(z) + (1 − y) log(1 − σ(z))) with its gradient, and finite for large |z|', () => {
    const z = Float64Array.of(-3, -0.5, 0, 0.7, 2.5);
    const y = [0, 1, 1, 0, 1];
    const dZ = new Float32Array(z.length);
    const sig = (x: number): number => 1 / (1 + Math.exp(-x));
    const direct = (w: Float64Array): number => -w.reduce((s, x, i) => s + y[i] * Math.log(sig(x)) + (1 - y[i]) * Math.log(1 - sig(x)), 0) / w.length;
    expect(meanBceWithLogits(z, y, dZ)).toBeCloseTo(direct(z), 12);
    expect(maxRelError(dZ, numericGrad(direct, z.slice()), 1e-6)).toBeLessThan(1e-4);
    // log(1 + e^800) would overflow: the stable form gives 800 for y = 0
    expect(meanBceWithLogits([800], [0], new Float32Array(1))).toBeCloseTo(800, 9);
  });
});
