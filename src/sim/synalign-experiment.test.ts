/** The SynAlign experiment's helpers by hand: triples to CSR, and the sample embedding φ. */
import { describe, expect, it } from 'vitest';
import { categoriesFromLists } from './env.ts';
import { embedSamples, fromTriples } from './synalign-experiment.ts';

describe('SynAlign experiment helpers', () => {
  it('fromTriples groups by user and keeps input order within a user', () => {
    const x = fromTriples(3, 4, [2, 0, 2, 0], [1, 3, 0, 2], [5, 4, 3, 2]);
    expect(Array.from(x.offsets)).toEqual([0, 2, 2, 4]);
    expect(Array.from(x.items)).toEqual([3, 2, 1, 0]);
    expect(Array.from(x.values!)).toEqual([4, 2, 5, 3]);
  });

  it('φ = [genre flags, log-popularity, rating / 5]', () => {
    const cats = categoriesFromLists([['a', 'b'], ['b']]);
    const s = embedSamples([0, 1], [4, 2.5], cats, Float64Array.from([0.7, 0.1]));
    expect(s.dims).toBe(4);
    expect(Array.from(s.data)).toEqual([1, 1, 0.7, 0.8, 0, 1, 0.1, 0.5]);
  });
});
