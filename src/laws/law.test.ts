import { describe, expect, it } from 'vitest';
import { lawGradient, lawTerm, lawValue, termOptimum, type LawParams } from './law.ts';

const P: LawParams = { w1: 1, w2: 0.6, w3: -0.35, w4: -0.3, w5: -0.1, D: 2, b: 1.5 };

describe('performance law', () => {
  it('f(x; a) = −1/(2x^a) − a ln x, by hand', () => {
    // x = 4, a = −0.5: −4^0.5/2 + 0.5·ln 4 = −1 + ln 2.
    expect(lawTerm(4, -0.5)).toBeCloseTo(-1 + Math.log(2), 14);
    expect(lawTerm(1, 0.7)).toBeCloseTo(-0.5, 14);
  });

  it('y sums the three terms and b', () => {
    const y = lawValue(P, 8, 50);
    const byHand = 1 * (-0.5 * 8 ** 0.35 + 0.35 * Math.log(8)) + 0.6 * (-0.5 * 50 ** 0.3 + 0.3 * Math.log(50)) + (-0.5 * 2 ** 0.1 + 0.1 * Math.log(2)) + 1.5;
    expect(y).toBeCloseTo(byHand, 12);
  });

  it('gradient matches central finite differences (w1 w2 w3 w4 w5 lnD b)', () => {
    const g = lawGradient(P, 12, 75);
    const keys = ['w1', 'w2', 'w3', 'w4', 'w5', 'D', 'b'] as const;
    keys.forEach((k, j) => {
      const eps = 1e-6;
      const plus = { ...P };
      const minus = { ...P };
      if (k === 'D') {
        plus.D = P.D * Math.exp(eps);
        minus.D = P.D * Math.exp(-eps);
      } else {
        plus[k] += eps;
        minus[k] -= eps;
      }
      const fd = (lawValue(plus, 12, 75) - lawValue(minus, 12, 75)) / (2 * eps);
      expect(g[j]).toBeCloseTo(fd, 7);
    });
  });

  it('optimum x* = 2^(−1/a) is where the term stops rising', () => {
    const a = -0.35;
    const opt = termOptimum(1, a);
    expect(opt.kind).toBe('max');
    expect(opt.x).toBeCloseTo(2 ** (1 / 0.35), 12);
    const h = 1e-4 * opt.x;
    // Left derivative > 0 > right derivative, and the value there beats its neighbours.
    expect(lawTerm(opt.x, a) - lawTerm(opt.x - h, a)).toBeGreaterThan(0);
    expect(lawTerm(opt.x + h, a) - lawTerm(opt.x, a)).toBeLessThan(0);
    // At the optimum f = −1 + ln 2 for any a (x*^(−a) = 2 and a·ln x* = −ln 2).
    expect(lawTerm(opt.x, a)).toBeCloseTo(-1 + Math.log(2), 12);
  });

  it('classifies monotone and minimum terms', () => {
    expect(termOptimum(-1, -0.5).kind).toBe('min');
    expect(termOptimum(1, 0.5)).toEqual({ kind: 'decreasing', x: NaN });
    expect(termOptimum(-1, 0.5).kind).toBe('increasing');
  });
});
