import { describe, expect, it } from 'vitest';
import { apen, datasetApen } from './apen.ts';
import { fromSequences } from './interactions.ts';

describe('apen (Pincus, self-matches counted)', () => {
  it('matches the issue test vectors', () => {
    expect(apen([1, 2, 1, 2, 1, 2, 1, 2], 2, 0)).toBeCloseTo(0.010239, 6);
    expect(apen([5, 3, 9, 1, 7, 2, 8, 4], 2, 0)).toBeCloseTo(0.154151, 6);
    expect(apen([1, 2, 1, 2, 3], 2, 0.2)).toBeCloseTo(0.058892, 6);
  });

  it('defaults to m=2, r=0 and agrees between the exact and tolerance paths on integers', () => {
    const x = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6];
    expect(apen(x)).toBeCloseTo(apen(x, 2, 0.5), 12);
    expect(apen(x, 1)).toBeCloseTo(apen(x, 1, 0.1), 12);
    expect(apen(x, 3)).toBeCloseTo(apen(x, 3, 0.1), 12);
  });

  it('is NaN when the sequence is shorter than m+1; constant sequences give 0', () => {
    expect(apen([1, 2], 2)).toBeNaN();
    expect(apen([7, 7, 7, 7, 7, 7])).toBeCloseTo(0, 12);
  });

  it('datasetApen averages over users with enough events', () => {
    const data = fromSequences([[1, 2, 1, 2, 1, 2, 1, 2], [5, 3, 9, 1, 7, 2, 8, 4], [1]], 10);
    const { mean, perUser } = datasetApen(data);
    expect(perUser[0]).toBeCloseTo(0.010239, 6);
    expect(perUser[1]).toBeCloseTo(0.154151, 6);
    expect(perUser[2]).toBeNaN();
    expect(mean).toBeCloseTo((0.010239 + 0.154151) / 2, 5);
    // maxLen keeps the last events only
    const tail = datasetApen(data, { maxLen: 3 });
    expect(tail.perUser[0]).toBeCloseTo(apen([2, 1, 2]), 12);
  });
});
