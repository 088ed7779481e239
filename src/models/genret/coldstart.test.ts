import { describe, expect, it } from 'vitest';
import { coldRecall, pickColdItems, withoutItems } from './coldstart.ts';
import { fromSequences } from '../../data/interactions.ts';
import type { Recommender } from '../recommender.ts';

/** A model whose scores are one fixed vector for every user. */
function fixed(scores: number[]): Recommender {
  return {
    name: 'fixed', config: {}, nItems: scores.length,
    fit: async () => ({ epochs: 0, seconds: 0, history: [] }),
    scoreUsers: (users, _h, out) => users.forEach((_, r) => out.set(scores, r * scores.length)),
    save: async () => {},
  };
}

describe('cold-start experiment', () => {
  it('removes every event of the cold items and keeps the rest in order', () => {
    const d = fromSequences([[0, 1, 2, 1], [2, 3]], 4);
    const cold = Uint8Array.from([0, 1, 0, 0]);
    const w = withoutItems(d, cold);
    expect(Array.from(w.items)).toEqual([0, 2, 2, 3]);
    expect(Array.from(w.offsets)).toEqual([0, 2, 4]);
  });

  it('draws round(fraction·n) items', () => {
    const test = fromSequences([[0], [1]], 40);
    expect(pickColdItems(test, 0.05, 1).reduce((a, c) => a + c, 0)).toBe(2);
  });

  it('counts hits at K with history excluded and pessimistic ties, split by cold targets (by hand)', () => {
    // scores: item 4 best, then 3, 2 = 1 tie, 0 last
    const model = fixed([0, 1, 1, 2, 3]);
    const history = fromSequences([[4], [0], [3]], 5);
    const test = fromSequences([[3], [2], [1]], 5);
    const cold = Uint8Array.from([0, 0, 1, 0, 0]);
    // user 0: 4 excluded → target 3 ranks first → hit at K = 1
    // user 1 (cold target 2): items 4, 3 and the tie 1 rank before it → rank 4 → miss at K = 2, hit at K = 4
    // user 2: 3 excluded; 4 and the tie 2 before target 1 → rank 3 → miss at K = 2
    const r2 = coldRecall(model, history, test, cold, 2);
    expect(r2).toEqual({ k: 2, coldEvents: 1, coldRecall: 0, warmEvents: 2, warmRecall: 0.5 });
    const r4 = coldRecall(model, history, test, cold, 4);
    expect(r4.coldRecall).toBe(1);
    expect(r4.warmRecall).toBe(1);
    // maxWarm 1: the cold user and one of the two warm ones; at K = 2 user 0 hits, user 2 misses
    for (const seed of [0, 1, 2, 3, 4, 5]) {
      const r = coldRecall(model, history, test, cold, 2, undefined, { maxWarm: 1, seed });
      expect(r.coldEvents).toBe(1);
      expect(r.warmEvents).toBe(1);
      expect([0, 1]).toContain(r.warmRecall);
    }
    const seen = new Set([0, 1, 2, 3, 4, 5, 6, 7].map((seed) => coldRecall(model, history, test, cold, 2, undefined, { maxWarm: 1, seed }).warmRecall));
    expect(seen).toEqual(new Set([0, 1])); // both warm users get drawn across seeds
    expect(coldRecall(model, history, test, cold, 2, undefined, { maxWarm: 5 })).toEqual(r2);
  });
});
