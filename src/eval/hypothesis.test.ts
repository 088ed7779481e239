import { describe, expect, it } from 'vitest';
import { binomialTest, fleissKappa, kolmogorovQ, ksTest } from './hypothesis.ts';

describe('binomialTest (exact, two-sided)', () => {
  it('p0 = ½: 9 of 10 → 2·(C(10,9) + C(10,10))/2¹⁰ = 22/1024', () => {
    expect(binomialTest(9, 10).p).toBeCloseTo(22 / 1024, 14);
    expect(binomialTest(1, 10).p).toBeCloseTo(22 / 1024, 14);
    expect(binomialTest(5, 10).p).toBe(1);
    // 10 of 10: 2/1024.
    expect(binomialTest(10, 10).p).toBeCloseTo(2 / 1024, 14);
    expect(binomialTest(0, 0).p).toBe(1);
  });

  it('p0 = 0.2: sums the outcomes no likelier than the observed one (R binom.test / SciPy binomtest)', () => {
    // pmf(3) = 120·0.2³·0.8⁷ = 0.201326592; likelier are k = 1 (0.268435456) and k = 2 (0.301989888),
    // so p = 1 − 0.268435456 − 0.301989888 = 0.429574656 (scipy.stats.binomtest(3, 10, 0.2) → 0.429574656).
    expect(binomialTest(3, 10, 0.2).p).toBeCloseTo(0.429574656, 9);
  });

  it('rejects impossible input with the field', () => {
    expect(() => binomialTest(11, 10)).toThrow(/successes/);
    expect(() => binomialTest(1, 10, 1.5)).toThrow(/p0/);
  });
});

describe('fleissKappa', () => {
  it('the worked example of Fleiss (1971) as on Wikipedia: P̄ = 0.378, P̄e = 0.213, κ = 0.210', () => {
    const counts = [
      [0, 0, 0, 0, 14],
      [0, 2, 6, 4, 2],
      [0, 0, 3, 5, 6],
      [0, 3, 9, 2, 0],
      [2, 2, 8, 1, 1],
      [7, 7, 0, 0, 0],
      [3, 2, 6, 3, 0],
      [2, 5, 3, 2, 2],
      [6, 5, 2, 1, 0],
      [0, 2, 2, 3, 7],
    ];
    const k = fleissKappa(counts);
    expect(k.observed).toBeCloseTo(0.378, 3);
    expect(k.expected).toBeCloseTo(0.213, 3);
    expect(k.kappa).toBeCloseTo(0.21, 3);
    expect(k).toMatchObject({ items: 10, raters: 14 });
  });

  it('two raters, three items by hand: P = (1, 1, 0), p = (½, ½) → κ = (⅔ − ½)/(1 − ½) = ⅓', () => {
    expect(fleissKappa([[2, 0], [0, 2], [1, 1]]).kappa).toBeCloseTo(1 / 3, 14);
    // Perfect agreement across categories → 1; every rating in one category → undefined.
    expect(fleissKappa([[2, 0], [0, 2]]).kappa).toBe(1);
    expect(fleissKappa([[2, 0], [2, 0]]).kappa).toBeNaN();
    expect(() => fleissKappa([[2, 0], [1, 0]])).toThrow(/item 1 has 1 ratings/);
  });
});

describe('ksTest', () => {
  it('a hand-worked sample against U(0, 1)', () => {
    // Sorted 0.1, 0.4, 0.7: gaps 1/3−0.1, 2/3−0.4, 1−0.7 → D = 0.3.
    // λ = (√3 + 0.12 + 0.11/√3)·0.3 = 0.574668; Q(λ) = 0.895945 (series summed separately).
    const r = ksTest([0.7, 0.1, 0.4], (x) => x);
    expect(r.statistic).toBeCloseTo(0.3, 12);
    expect(r.p).toBeCloseTo(0.8959447, 6);
  });

  it('discrete: a fair die thrown 600 times as 100 of each face fits; all sixes do not', () => {
    const F = (x: number): number => Math.min(1, Math.max(0, Math.floor(x) / 6));
    const before = (x: number): number => F(x - 1);
    const fair = Array.from({ length: 600 }, (_, i) => (i % 6) + 1);
    expect(ksTest(fair, F, before).statistic).toBeCloseTo(0, 12);
    const sixes = new Array<number>(600).fill(6);
    const r = ksTest(sixes, F, before);
    // Just below 6 the empirical CDF is 0 and F is 5/6.
    expect(r.statistic).toBeCloseTo(5 / 6, 12);
    expect(r.p).toBeLessThan(1e-12);
  });

  it('kolmogorovQ: Q(1.3581) ≈ 0.05, the classic 5 % critical value', () => {
    expect(kolmogorovQ(1.3581)).toBeCloseTo(0.05, 4);
    expect(kolmogorovQ(0.1)).toBe(1);
  });
});
