/**
 * SynAlign's pieces against independent computations: MMD² against the brute-force triple sum,
 * the simplex projection against its KKT conditions, the weights on a hand-built case (the
 * synthetic set is half real-like, half far away: MMD² falls, the weight moves to the real-like
 * half, and the weights sum to 1), the GP variance against its closed form for one observation,
 * and the demonstration order on three clusters placed by hand.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.ts';
import { gpVariance, kMeans, medianBandwidth2, mmd2, mmdProblem, mmdWeights, projectSimplex, selectDemonstrations, type Samples } from './synalign.ts';

const rng = new Rng(11);
const gauss = (n: number, cx: number, cy: number): number[] => Array.from({ length: n }, () => [cx + rng.normal(), cy + rng.normal()]).flat();
const S = (xs: number[]): Samples => ({ data: Float64Array.from(xs), dims: 2 });

describe('MMD²', () => {
  it('equals the brute-force triple sum with any weights', () => {
    const R = S([0, 0, 1, 0, 0, 2]), Y = S([1, 1, 3, 0]);
    const w = [0.3, 0.7], s2 = 1.7;
    const k = (a: number[], b: number[]): number => Math.exp(-((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) / (2 * s2));
    const r = [[0, 0], [1, 0], [0, 2]], y = [[1, 1], [3, 0]];
    let want = 0;
    for (const a of r) for (const b of r) want += k(a, b) / 9;
    for (const a of r) y.forEach((b, j) => (want -= (2 / 3) * w[j] * k(a, b)));
    y.forEach((a, j) => y.forEach((b, l) => (want += w[j] * w[l] * k(a, b))));
    expect(mmd2(mmdProblem(R, Y, s2), w)).toBeCloseTo(want, 12);
  });

  it('median bandwidth of three points on a line', () => {
    // squared distances 1, 4, 9 → median 4
    expect(medianBandwidth2({ data: Float64Array.from([0, 1, 3]), dims: 1 })).toBe(4);
  });
});

describe('simplex projection', () => {
  it('satisfies the KKT conditions: w = max(0, v − θ), Σw = 1', () => {
    const v = [0.9, -0.4, 0.7, 0.1, 2.2];
    const w = projectSimplex(v);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const support = [...w.keys()].filter((j) => w[j] > 0);
    const theta = v[support[0]] - w[support[0]];
    for (let j = 0; j < v.length; j++) expect(w[j]).toBeCloseTo(Math.max(0, v[j] - theta), 12);
    expect(Array.from(projectSimplex([0.2, 0.3, 0.5]))).toEqual([0.2, 0.3, 0.5].map((x) => expect.closeTo(x, 12)));
  });
});

describe('MMD weights (hand-built case)', () => {
  it('MMD² falls, the far half loses its weight, weights sum to 1 and are the KKT optimum', () => {
    const real = S(gauss(60, 0, 0));
    const synth = S([...gauss(30, 0, 0), ...gauss(30, 6, 6)]); // first 30 like real, last 30 far
    const p = mmdProblem(real, synth);
    const { weights, before, after } = mmdWeights(p);
    expect(after).toBeLessThan(0.5 * before);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(Math.min(...weights)).toBeGreaterThanOrEqual(0);
    const farMass = weights.slice(30).reduce((a, b) => a + b, 0);
    expect(farMass).toBeLessThan(0.02);
    // optimality on the simplex: gradient equal on the support, not smaller off it
    const ms = 60;
    const grad = Array.from({ length: ms }, (_, j) => 2 * weights.reduce((a, wl, l) => a + p.kss[j * ms + l] * wl, 0) - 2 * p.m[j]);
    const onSupport = grad.filter((_, j) => weights[j] > 1e-6);
    const lambda = Math.min(...onSupport);
    expect(Math.max(...onSupport) - lambda).toBeLessThan(1e-3);
    for (let j = 0; j < ms; j++) if (weights[j] <= 1e-6) expect(grad[j]).toBeGreaterThan(lambda - 1e-3);
  });
});

describe('diversity-seeking demonstrations', () => {
  it('GP variance with one observation is 1 − k²/(1 + noise)', () => {
    const pts = S([0, 0, 1, 0, 3, 0]);
    const v = gpVariance(pts, [0], 2, 0.01);
    const k = (d2: number): number => Math.exp(-d2 / 4);
    expect(v[1]).toBeCloseTo(1 - k(1) ** 2 / 1.01, 12);
    expect(v[2]).toBeCloseTo(1 - k(9) ** 2 / 1.01, 12);
  });

  it('k-means finds three separated clusters; demonstrations cover them, the far one right after the first', () => {
    const real = S([...gauss(40, 0, 0), ...gauss(40, 10, 0), ...gauss(40, 40, 40)]);
    const { assign } = kMeans(real, 3, 1);
    for (const block of [0, 1, 2]) expect(new Set(assign.slice(block * 40, block * 40 + 40)).size).toBe(1);
    const { clusters, demos } = selectDemonstrations(real, 3, 3, 1);
    expect(new Set(clusters).size).toBe(3);
    const blockOf = (i: number): number => Math.floor(i / 40);
    const order = demos.map(blockOf);
    expect(new Set(order).size).toBe(3);
    // after the first pick, the most uncertain cluster is the one far from it
    if (order[0] !== 2) expect(order[1]).toBe(2);
    else expect([0, 1]).toContain(order[1]);
  });
});
