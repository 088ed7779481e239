import { describe, expect, it } from 'vitest';
import { bootstrapCI, bootstrapDiffCI, meanStd, pairedTTest, quantile, twoSidedNormalP, wilcoxon } from './significance.ts';

// Expected values computed independently with SciPy 1.10 (scipy.stats.ttest_rel / wilcoxon).
describe('paired t-test', () => {
  it('matches scipy.stats.ttest_rel', () => {
    const a = [0.1, 0.4, 0.35, 0.8, 0.5, 0.2, 0.9, 0.3];
    const b = [0.2, 0.3, 0.35, 0.6, 0.45, 0.2, 0.5, 0.35];
    const r = pairedTTest(a, b);
    expect(r.statistic).toBeCloseTo(1.3228756555322954, 10);
    expect(r.p).toBeCloseTo(0.2274528180597631, 8);
    expect(r.n).toBe(8);
  });
  it('keeps tiny p-values exact (no 1 − cdf cancellation): scipy gives 5.970785126102012e-16', () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const shift = [1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.03];
    const r = pairedTTest(a, a.map((x, i) => x - shift[i]));
    expect(Math.abs(r.p / 5.970785126102012e-16 - 1)).toBeLessThan(1e-6);
  });
  it('handles identical and constant-shift inputs, and drops NaN pairs', () => {
    expect(pairedTTest([1, 2, 3], [1, 2, 3]).p).toBe(1);
    expect(pairedTTest([2, 3, 4], [1, 2, 3]).p).toBe(0);
    expect(pairedTTest([1, NaN, 3, 5], [0, 1, 1, NaN]).n).toBe(2);
  });
});

describe('Wilcoxon signed-rank', () => {
  it('matches scipy.stats.wilcoxon (wilcox zeros, no correction, normal approximation) with ties and a zero', () => {
    const d = [1, 2, 2, 3, 0, -1, 2, 4, -2, 3, 3, 1];
    const r = wilcoxon(d, new Array(d.length).fill(0));
    expect(r.p).toBeCloseTo(0.022157174357175312, 10);
    expect(r.n).toBe(11);
  });
  it('by hand: d = 1, 2, 3 (all positive) → W+ = 6, z = (6 − 3)/√3.5', () => {
    const r = wilcoxon([1, 2, 3], [0, 0, 0]);
    expect(r.statistic).toBeCloseTo(3 / Math.sqrt(3.5), 12);
  });
  it('small p-values: d = 1..40 all positive, scipy gives 3.569388204466033e-08', () => {
    const d = Array.from({ length: 40 }, (_, i) => i + 1);
    expect(Math.abs(wilcoxon(d, new Array(40).fill(0)).p / 3.569388204466033e-8 - 1)).toBeLessThan(1e-6);
  });
  it('two-sided normal p-values match scipy.special.erfc(|z|/√2) into the far tail', () => {
    for (const [z, p] of [[0.5, 0.6170750774519739], [3, 0.0026997960632601918], [10, 1.5239706048321166e-23], [20, 5.5072482372126244e-89], [37, 1.1451142445050454e-299]]) {
      expect(Math.abs(twoSidedNormalP(z) / p - 1), `z = ${z}`).toBeLessThan(1e-6);
      expect(twoSidedNormalP(-z)).toBe(twoSidedNormalP(z));
    }
  });
  it('gives p = 1 when nothing differs', () => {
    expect(wilcoxon([1, 2], [1, 2]).p).toBe(1);
  });
});

describe('bootstrap and seeds', () => {
  it('quantile uses linear interpolation (NumPy default)', () => {
    expect(quantile([1, 2, 3, 4, 10], 0.975)).toBeCloseTo(9.4, 12);
    expect(quantile([1, 2, 3, 4, 10], 0.5)).toBe(3);
  });
  it('CI contains the mean, is reproducible, narrows with more data', () => {
    const xs = Array.from({ length: 200 }, (_, i) => (i % 10) / 10);
    const a = bootstrapCI(xs, { seed: 1 });
    const b = bootstrapCI(xs, { seed: 1 });
    expect(a).toEqual(b);
    expect(a.low).toBeLessThan(a.estimate);
    expect(a.high).toBeGreaterThan(a.estimate);
    // Standard error of the mean = 0.2872/√200 ≈ 0.0203: 95 % half-width ≈ 0.040.
    expect(a.high - a.low).toBeGreaterThan(0.06);
    expect(a.high - a.low).toBeLessThan(0.1);
    const big = bootstrapCI([...xs, ...xs, ...xs, ...xs], { seed: 1 });
    expect(big.high - big.low).toBeLessThan(a.high - a.low);
    const diff = bootstrapDiffCI(xs.map((x) => x + 1), xs, { seed: 2 });
    expect(diff.low).toBeCloseTo(1, 12);
    expect(diff.high).toBeCloseTo(1, 12);
  });
  it('mean ± sample std over seeds', () => {
    const r = meanStd([1, 2, 3, 4]);
    expect(r.mean).toBe(2.5);
    expect(r.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(meanStd([7]).std).toBe(0);
  });
});
