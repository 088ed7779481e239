/**
 * List logs and re-rankers by hand: metrics of a known order, MMR's trade-off, the feedback
 * re-ranker with and without the skipped items, and the logs' shape and clicks.
 */
import { describe, expect, it } from 'vitest';
import { categoriesFromLists } from './env.ts';
import { generateListLogs, listMetrics, rerankFeedback, rerankMmr, runRerankExperiment, type ListLog } from './lists.ts';
import type { RewardMatrix } from './user-model.ts';

describe('list metrics', () => {
  it('NDCG@k, AP@k, clicks@k of a known order', () => {
    const clicks = Uint8Array.from([0, 1, 0, 1]);
    // order [1, 0, 3, 2]: clicks at ranks 1 and 3
    const m = listMetrics([1, 0, 3, 2], clicks, 3);
    expect(m.ndcg).toBeCloseTo((1 + 1 / 2) / (1 + 1 / Math.log2(3)), 12);
    expect(m.map).toBeCloseTo((1 / 1 + 2 / 3) / 2, 12);
    expect(m.clicks).toBe(2);
    expect(listMetrics([0, 2, 1, 3], clicks, 2)).toEqual({ ndcg: 0, map: 0, clicks: 0 });
  });
});

describe('re-rankers', () => {
  const cats = categoriesFromLists([['a'], ['a'], ['b'], ['c']]);
  const log: ListLog = {
    user: 0,
    past: [{ items: Int32Array.from([0, 2]), clicks: Uint8Array.from([0, 1]) }],
    candidates: Int32Array.from([0, 1, 2, 3]),
    scores: Float64Array.from([1, 0.9, 0.5, 0]),
    clicks: Uint8Array.from([0, 0, 1, 0]),
  };

  it('MMR: λ = 1 keeps the ranker order; λ = 0.5 pushes the second a-item down', () => {
    expect(rerankMmr(log, cats, 1)).toEqual([0, 1, 2, 3]);
    // scaled scores 1, 0.9, 0.5, 0; after item 0: item 1 → 0.45 − 0.5 = −0.05, item 2 → 0.25, item 3 → 0
    expect(rerankMmr(log, cats, 0.5)).toEqual([0, 2, 3, 1]);
  });

  it('feedback: the clicked genre (b) rises; the skipped genre (a) falls only with γ > 0', () => {
    // aff⁺ = sim to item 2 (b); aff⁻ = sim to item 0 (a)
    // γ = 0, α = 1: values 1, 0.9, 1.5, 0 → [2, 0, 1, 3]
    expect(rerankFeedback(log, cats, 1, 0)).toEqual([2, 0, 1, 3]);
    // γ = 1: values 0, −0.1, 1.5, 0 → [2, 0, 3, 1] (ties by position)
    expect(rerankFeedback(log, cats, 1, 1)).toEqual([2, 0, 3, 1]);
  });
});

describe('list logs', () => {
  it('past lists and candidates are disjoint, in ranker order, clicked by the reward threshold', () => {
    const n = 40;
    const rewards: RewardMatrix = { nUsers: 2, nItems: n, values: Float32Array.from({ length: 2 * n }, (_, c) => 1 + (c % 5)) };
    const ranker = Float32Array.from({ length: 2 * n }, (_, c) => -(c % n)); // item 0 best
    const logs = generateListLogs(rewards, ranker, { pool: 30, size: 4, candidateSize: 6, history: 3, seed: 1 });
    expect(logs).toHaveLength(2);
    for (const l of logs) {
      const all = [...l.past.flatMap((p) => Array.from(p.items)), ...l.candidates];
      expect(new Set(all).size).toBe(3 * 4 + 6);
      expect(all.every((i) => i < 30)).toBe(true);
      expect(Array.from(l.candidates)).toEqual(Array.from(l.candidates).sort((a, b) => a - b));
      l.candidates.forEach((i, p) => expect(l.clicks[p]).toBe(1 + (i % 5) >= 4 ? 1 : 0));
    }
    expect(() => generateListLogs(rewards, ranker, { pool: 10, size: 4, candidateSize: 6, history: 3 })).toThrow(/pool of at least 18/);
    const res = runRerankExperiment(rewards, ranker, categoriesFromLists(Array.from({ length: n }, (_, i) => [`g${i % 3}`])), 2, 3, { pool: 30, size: 4, candidateSize: 6, history: 3 });
    expect(res).toHaveLength(2);
    expect(res[0].figures.initial.clicks).toBeLessThanOrEqual(3);
  });
});
