import { describe, expect, it } from 'vitest';
import { fitLaw, type LawPoint } from './fit.ts';
import { lawValue } from './law.ts';
import { predictWithInterval, rangeCheck, rangeWarning } from './predict.ts';

const truth = { w1: 1, w2: 4, w3: -0.35, w4: -0.18, w5: -0.1, D: 1, b: 2.5 };

describe('rangeCheck / rangeWarning', () => {
  it('says by how much a size lies outside the swept range', () => {
    const above = rangeCheck('layers', 4, [1, 2, 3, 2]);
    expect(above).toMatchObject({ min: 1, max: 3, outsideBy: 1 });
    expect(above.factor).toBeCloseTo(4 / 3, 12);
    expect(rangeWarning(above)).toBe('extrapolation: N = 4 lies outside the fitted range 1–3, 1 above the largest (1.333× it)');
    const below = rangeCheck('hidden', 8, [16, 32, 128]);
    expect(below).toMatchObject({ outsideBy: -8, factor: 2 });
    expect(rangeWarning(below)).toBe('extrapolation: h = 8 lies outside the fitted range 16–128, 8 below the smallest (1/2 of it)');
    expect(rangeCheck('hidden', 64, [16, 128])).toMatchObject({ outsideBy: 0, factor: 1 });
  });
});

describe('predictWithInterval', () => {
  // Exact law data on a 4 × 4 grid: every refit recovers the law, every residual is 0.
  const points: LawPoint[] = [];
  for (const N of [2, 4, 8, 16]) for (const h of [16, 32, 64, 128]) points.push({ layers: N, hidden: h, y: lawValue(truth, N, h) });
  const fit = fitLaw(points);

  it('exact data: the residual bootstrap interval collapses onto the law itself', () => {
    const [p] = predictWithInterval(fit, points, [{ layers: 6, hidden: 48 }], { reps: 20, method: 'residuals' });
    expect(p.value).toBeCloseTo(lawValue(truth, 6, 48), 6);
    expect(p.interval.lo).toBeCloseTo(p.value, 5);
    expect(p.interval.hi).toBeCloseTo(p.value, 5);
    expect(p.warnings).toEqual([]);
  });

  it('outside the grid: warns with the distance, and flags a value beyond every observation', () => {
    const [p] = predictWithInterval(fit, points, [{ layers: 32, hidden: 256 }], { reps: 10, method: 'residuals' });
    expect(p.outside.map((c) => c.dimension)).toEqual(['layers', 'hidden']);
    expect(p.warnings[0]).toBe('extrapolation: N = 32 lies outside the fitted range 2–16, 16 above the largest (2× it)');
    expect(p.warnings[1]).toBe('extrapolation: h = 256 lies outside the fitted range 16–128, 128 above the largest (2× it)');
    const yMax = Math.max(...points.map((q) => q.y));
    if (p.value > yMax) expect(p.warnings[2]).toMatch(/exceeds every observed value/);
  });

  it('noisy small sweep: case resampling is seeded, covers the point, and reports unfittable resamples', () => {
    // 2 % deterministic "noise" on a 3 × 3 grid.
    const noisy: LawPoint[] = [];
    let s = 0;
    for (const N of [1, 2, 3]) for (const h of [16, 32, 64]) noisy.push({ layers: N, hidden: h, y: lawValue(truth, N, h) * (1 + 0.02 * Math.sin(++s * 2.3)) });
    const f = fitLaw(noisy);
    const a = predictWithInterval(f, noisy, [{ layers: 4, hidden: 32 }], { reps: 40, seed: 3 })[0];
    const b = predictWithInterval(f, noisy, [{ layers: 4, hidden: 32 }], { reps: 40, seed: 3 })[0];
    expect(a.interval).toEqual(b.interval);
    expect(a.interval.lo).toBeLessThan(a.interval.hi);
    expect(a.warnings[0]).toMatch(/^extrapolation: N = 4 lies outside the fitted range 1–3/);
    if (a.interval.failed > 0) expect(a.warnings.some((w) => w.startsWith(`the interval rests on ${40 - a.interval.failed} of 40 resamples`))).toBe(true);
  });
});
