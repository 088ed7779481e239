/**
 * The tape's ops: every backward against central finite differences of its forward (float64, so
 * the agreement is to ~1e-7), and forward values worked out by hand.
 */
import { describe, expect, it } from 'vitest';
import { maxRelError, numericGrad } from '../../nn/gradcheck.ts';
import { Rng } from '../../util/rng.ts';
import { Tape, V } from './tape.ts';
import { contractOnTape } from './testutil.ts';

/** Checks d(Σ R ⊙ f(inputs))/d(inputs) of the tape against finite differences. */
function check(shapes: [number, number][], f: (t: Tape, xs: V[]) => V, seed = 1, spread = 1): void {
  const rng = new Rng(seed);
  const xs = shapes.map(([r, c]) => Float64Array.from({ length: r * c }, () => spread * rng.normal()));
  const probe = f(new Tape(), xs.map((x, k) => new V(shapes[k][0], shapes[k][1], x)));
  const R = Float64Array.from({ length: probe.data.length }, () => rng.normal());
  const value = (): number => {
    const t = new Tape();
    return contractOnTape(t, f(t, xs.map((x, k) => new V(shapes[k][0], shapes[k][1], x))), R).data[0];
  };
  const t = new Tape();
  const leaves = xs.map((x, k) => new V(shapes[k][0], shapes[k][1], x));
  t.backward(contractOnTape(t, f(t, leaves), R));
  xs.forEach((x, k) => {
    const num = numericGrad(() => value(), x);
    expect(maxRelError(leaves[k].grad, num, 1e-6), `input ${k}`).toBeLessThan(1e-6);
  });
}

describe('tape ops: backward = finite differences', () => {
  it('matmul, matmulBT, broadcast add / sub / mul, scale', () => {
    check([[3, 4], [4, 2]], (t, [a, b]) => t.matmul(a, b));
    check([[3, 4], [5, 4]], (t, [a, b]) => t.matmulBT(a, b));
    check([[3, 4], [1, 4]], (t, [a, b]) => t.add(a, b));
    check([[3, 4], [3, 4]], (t, [a, b]) => t.sub(a, b));
    check([[3, 4], [1, 4]], (t, [a, b]) => t.mul(a, b));
    check([[2, 3]], (t, [a]) => t.scale(a, -1.7));
  });

  it('relu, softmaxRows, l2NormalizeRows, meanRows', () => {
    // relu away from its kink: inputs shifted off 0 by the seed's draws (none within 1e-3 of 0)
    check([[3, 5]], (t, [a]) => t.relu(a), 3);
    check([[3, 5]], (t, [a]) => t.softmaxRows(a));
    check([[3, 4]], (t, [a]) => t.l2NormalizeRows(a));
    check([[4, 3]], (t, [a]) => t.meanRows(a));
  });

  it('concatCols, gather with repeats, reshape, stackRows', () => {
    check([[3, 2], [3, 4]], (t, [a, b]) => t.concatCols([a, b, a]));
    check([[4, 3]], (t, [a]) => t.gather(a, [2, 0, 2, 3, 2]));
    check([[2, 6]], (t, [a]) => t.reshape(a, 4, 3));
    check([[2, 3], [1, 3]], (t, [a, b]) => t.stackRows([a, b, a]));
  });

  it('bceWithLogits and softmaxCrossEntropy', () => {
    check([[5, 1]], (t, [z]) => t.bceWithLogits(z, [1, 0, 0, 1, 1]), 1, 3);
    check([[3, 4]], (t, [z]) => t.softmaxCrossEntropy(z, [0, 3, 1]));
  });
});

describe('tape ops: values by hand', () => {
  it('BCE, cross-entropy, softmax, L2 normalisation, matmul', () => {
    const t = new Tape();
    // BCE(0, 1) = log 2; BCE(2, 0) = log(1 + e²)
    expect(t.bceWithLogits(t.constant(2, 1, [0, 2]), [1, 0]).data[0]).toBeCloseTo(Math.log(2) + Math.log(1 + Math.exp(2)), 12);
    // rows [0, ln 3]: p = [1/4, 3/4]; target 0 → −log 1/4
    expect(t.softmaxCrossEntropy(t.constant(1, 2, [0, Math.log(3)]), [0]).data[0]).toBeCloseTo(Math.log(4), 12);
    expect(Array.from(t.softmaxRows(t.constant(1, 2, [0, Math.log(3)])).data)).toEqual([0.25, 0.75].map((x) => expect.closeTo(x, 12)));
    expect(Array.from(t.l2NormalizeRows(t.constant(1, 2, [3, 4])).data)).toEqual([0.6, 0.8].map((x) => expect.closeTo(x, 12)));
    expect(Array.from(t.matmul(t.constant(1, 2, [1, 2]), t.constant(2, 2, [3, 4, 5, 6])).data)).toEqual([13, 16]);
    expect(Array.from(t.matmulBT(t.constant(1, 2, [1, 2]), t.constant(2, 2, [3, 4, 5, 6])).data)).toEqual([11, 17]);
  });

  it('shape errors name the op', () => {
    const t = new Tape();
    expect(() => t.matmul(t.constant(1, 2, [1, 2]), t.constant(3, 1, [1, 2, 3]))).toThrow(/tape.matmul: 1×2 · 3×1/);
    expect(() => t.add(t.constant(2, 2, [1, 2, 3, 4]), t.constant(2, 3, [1, 2, 3, 4, 5, 6]))).toThrow(/tape.add/);
    expect(() => t.gather(t.constant(2, 1, [1, 2]), [2])).toThrow(/row 2 outside 0..1/);
  });
});
