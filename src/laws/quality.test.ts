import { describe, expect, it } from 'vitest';
import { fromSequences } from '../data/interactions.ts';
import { dataQuality, popularityEntropy, quantileSorted } from './quality.ts';

describe('popularityEntropy', () => {
  it('matches the hand computation for counts (2, 1, 1)', () => {
    // p = (1/2, 1/4, 1/4): H = 1.5 bits = 1.5·ln 2 nats; normalised by ln 3.
    const data = fromSequences([[0, 1], [0, 2]], 4);
    const h = popularityEntropy(data);
    expect(h.bits).toBeCloseTo(1.5, 12);
    expect(h.nats).toBeCloseTo(1.5 * Math.LN2, 12);
    expect(h.normalized).toBeCloseTo((1.5 * Math.LN2) / Math.log(3), 12);
  });

  it('is 0 for a single item and ln n for uniform popularity', () => {
    expect(popularityEntropy(fromSequences([[1, 1, 1]], 3)).nats).toBe(0);
    expect(popularityEntropy(fromSequences([[0, 1, 2, 3]], 4)).normalized).toBeCloseTo(1, 12);
  });
});

describe('dataQuality', () => {
  it('reports per-user ApEn from the published test vectors, their mean and D′', () => {
    // ApEn(m=2, r=0): [1,2,1,2,1,2,1,2] → 0.010239, [5,3,9,1,7,2,8,4] → 0.154151; a 2-long user is too short.
    const data = fromSequences([[1, 2, 1, 2, 1, 2, 1, 2], [5, 3, 9, 1, 7, 2, 8, 4], [0, 1]], 10);
    const q = dataQuality(data);
    expect(q.perUserApen[0]).toBeCloseTo(0.010239, 6);
    expect(q.perUserApen[1]).toBeCloseTo(0.154151, 6);
    expect(q.perUserApen[2]).toBeNaN();
    expect(q.apen.usersCounted).toBe(2);
    expect(q.apen.mean).toBeCloseTo((0.010239 + 0.154151) / 2, 6);
    expect(q.apen.perUser.min).toBeCloseTo(0.010239, 6);
    expect(q.apen.perUser.max).toBeCloseTo(0.154151, 6);
    expect(q.interactions).toBe(18);
    expect(q.D).toBeCloseTo((18 / 1e6) * q.apen.mean, 15);
  });

  it('truncation keeps only the last maxLen events', () => {
    // Last 4 of [9,9,9,9,5,3,9,1]: [5,3,9,1], all distinct → ApEn = ln(3/2) (Φ² = ln(1/3), Φ³ = ln(1/2)).
    const q = dataQuality(fromSequences([[9, 9, 9, 9, 5, 3, 9, 1]], 10), { maxLen: 4 });
    expect(q.perUserApen[0]).toBeCloseTo(Math.log(3 / 2), 12);
  });

  it('quantiles interpolate like NumPy', () => {
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0.1)).toBeCloseTo(1.3, 12);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });
});
