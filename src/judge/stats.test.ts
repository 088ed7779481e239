import { describe, expect, it } from 'vitest';
import { bradleyTerry, cohenKappa, kendallTauB, wilson } from './stats.ts';

describe('wilson', () => {
  it('matches hand-computed intervals', () => {
    // 8/10, z = 1.96: centre (0.8 + 0.19208)/1.38416 = 0.71676, half 1.416·√(0.016 + 0.0096040)/ … → [0.4902, 0.9433].
    const r = wilson(8, 10);
    expect(r.estimate).toBe(0.8);
    expect(r.lo).toBeCloseTo(0.4902, 4);
    expect(r.hi).toBeCloseTo(0.9433, 4);
    // 0/20: lo = 0, hi = z²/n / (1 + z²/n) = 0.19208/1.19208 = 0.16113.
    const z = wilson(0, 20);
    expect(z.lo).toBe(0);
    expect(z.hi).toBeCloseTo(0.16113, 4);
    expect(wilson(0, 0)).toMatchObject({ lo: 0, hi: 1 });
  });
});

describe('bradleyTerry (MM, Hunter 2004)', () => {
  it('two players: strength ratio equals the win ratio', () => {
    const bt = bradleyTerry([
      [0, 3],
      [1, 0],
    ]);
    expect(bt.converged).toBe(true);
    expect(bt.strength[0] / bt.strength[1]).toBeCloseTo(3, 8);
    // Geometric mean 1: p = (√3, 1/√3); ratings 1000 ± 200·log10 3.
    expect(bt.strength[0]).toBeCloseTo(Math.sqrt(3), 8);
    expect(bt.rating[0] - bt.rating[1]).toBeCloseTo(400 * Math.log10(3), 6);
  });

  it('three players: recovers the hand-solved fixed point p ∝ (4, 2, 1)', () => {
    // Wins set to their expectations under p = (4,2,1): A–B 3 games (2:1), B–C 3 games (2:1), A–C 5 games (4:1).
    // Check for A: W_A = 6, Σ n/(p_A+p_j) = 3/6 + 5/5 = 1.5, 6/1.5 = 4 ✓.
    const bt = bradleyTerry([
      [0, 2, 4],
      [1, 0, 2],
      [1, 1, 0],
    ]);
    const g = Math.cbrt(8);
    expect(bt.strength[0]).toBeCloseTo(4 / g, 8);
    expect(bt.strength[1]).toBeCloseTo(2 / g, 8);
    expect(bt.strength[2]).toBeCloseTo(1 / g, 8);
  });

  it('prior keeps a winless player finite: 2–0 plus one virtual tie gives odds 2.5 : 0.5', () => {
    const bt = bradleyTerry(
      [
        [0, 2],
        [0, 0],
      ],
      { prior: 1 },
    );
    expect(bt.strength[0] / bt.strength[1]).toBeCloseTo(5, 8);
  });
});

describe('kendallTauB', () => {
  it('matches the SciPy documentation example with ties', () => {
    // scipy.stats.kendalltau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]) → -0.47140452079103173
    expect(kendallTauB([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])).toBeCloseTo(-0.47140452079103173, 12);
  });

  it('matches a hand count without ties', () => {
    // x = 1..5, y = (3,4,1,2,5): discordant pairs (1,3)(1,4)(2,3)(2,4) = 4 of 10 → (6 − 4)/10 = 0.2.
    expect(kendallTauB([1, 2, 3, 4, 5], [3, 4, 1, 2, 5])).toBeCloseTo(0.2, 12);
    expect(kendallTauB([1, 2, 3], [3, 2, 1])).toBe(-1);
    expect(kendallTauB([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});

describe('cohenKappa', () => {
  it('matches a hand computation', () => {
    // 10 items: rater 1 says a a a a a b b b tie tie, rater 2 says a a a b b b b tie tie a.
    // Agreements: items 1-3 (a), 6-7 (b), 9 (tie) → p_o = 6/10.
    // Shares: rater 1 a .5 b .3 tie .2; rater 2 a .4 b .4 tie .2 → p_e = .20 + .12 + .04 = .36.
    // κ = (.6 − .36) / (1 − .36) = .24 / .64 = .375.
    const r = cohenKappa(['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'tie', 'tie'], ['a', 'a', 'a', 'b', 'b', 'b', 'b', 'tie', 'tie', 'a']);
    expect(r.n).toBe(10);
    expect(r.observed).toBeCloseTo(0.6, 12);
    expect(r.expected).toBeCloseTo(0.36, 12);
    expect(r.kappa).toBeCloseTo(0.375, 12);
  });

  it('is 1 for perfect agreement, NaN when chance agreement is certain or there are no items', () => {
    expect(cohenKappa(['a', 'b', 'a'], ['a', 'b', 'a']).kappa).toBeCloseTo(1, 12);
    expect(cohenKappa(['a', 'a'], ['a', 'a']).kappa).toBeNaN();
    expect(cohenKappa([], []).kappa).toBeNaN();
    expect(() => cohenKappa(['a'], [])).toThrow(/lengths differ/);
  });
});
