import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { topK } from './topk.ts';

/** Obviously-correct reference: full sort by (score desc, index asc). */
function referenceTopK(scores: number[], k: number, exclude: Set<number>): number[] {
  return scores
    .map((s, i) => ({ s, i }))
    .filter(({ s, i }) => !Number.isNaN(s) && !exclude.has(i))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .slice(0, k)
    .map(({ i }) => i);
}

describe('topK', () => {
  it('selects the best k, best first, ties by lower index', () => {
    const r = topK([0.1, 0.9, 0.5, 0.9, 0.3], 3);
    expect(Array.from(r.items)).toEqual([1, 3, 2]);
    expect(Array.from(r.scores)).toEqual([Math.fround(0.9), Math.fround(0.9), Math.fround(0.5)]);
  });

  it('skips excluded indices and NaN, returns fewer when the pool is small', () => {
    const r = topK([NaN, 2, 3, 1], 5, (i) => i === 2);
    expect(Array.from(r.items)).toEqual([1, 3]);
  });

  it('matches a full sort on random data', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 70 }),
        fc.array(fc.nat(60), { maxLength: 10 }),
        (scores, k, ex) => {
          const exclude = new Set(ex);
          expect(Array.from(topK(scores, k, (i) => exclude.has(i)).items)).toEqual(referenceTopK(scores, k, exclude));
        },
      ),
    );
  });
});
