/**
 * The learned re-rank experiment end to end on a small made-up world: every re-ranker has figures
 * per seed, λ comes from the grid by validation, the initial ranking's figures equal lists.ts's
 * metrics of the candidate lists, and the summary carries paired tests against initial and DIN.
 */
import { describe, expect, it } from 'vitest';
import { categoriesFromLists } from '../env.ts';
import { generateListLogs, listMetrics } from '../lists.ts';
import type { RewardMatrix } from '../user-model.ts';
import { runLearnedRerank, summarizeLearned } from './experiment.ts';

describe('runLearnedRerank', () => {
  it('trains, selects λ on validation, evaluates on the candidate lists', () => {
    const nU = 12, n = 30;
    const rewards: RewardMatrix = { nUsers: nU, nItems: n, values: Float32Array.from({ length: nU * n }, (_, c) => ((c % n) % 3 === 0 ? 5 : 2)) };
    const ranker = Float32Array.from({ length: nU * n }, (_, c) => -((c * 7) % n));
    const cats = categoriesFromLists(Array.from({ length: n }, (_, i) => [`g${i % 3}`]));
    const logs = { pool: 26, size: 4, candidateSize: 6, history: 5 };
    const res = runLearnedRerank(rewards, ranker, cats, { seeds: 2, k: 3, lambdas: [0, 0.3], net: { dims: 4, hidden: 4 }, train: { epochs: 2, patience: 2, batch: 4 }, logs });
    expect(res).toHaveLength(2);
    for (const r of res) {
      expect(Object.keys(r.figures).sort()).toEqual(['din', 'initial', 'mmr', 'relife', 'relife-nodis']);
      expect([0, 0.3]).toContain(r.training.relife.lambda);
      expect(r.training.din.grid).toHaveLength(1);
      const want = generateListLogs(rewards, ranker, { ...logs, seed: r.seed }).reduce((a, l) => a + listMetrics(Array.from(l.candidates.keys()), l.clicks, 3).ndcg, 0) / nU;
      expect(r.figures.initial.ndcg).toBeCloseTo(want, 12);
    }
    const rows = summarizeLearned(res);
    const relife = rows.find((x) => x.reranker === 'relife')!;
    expect(relife).toHaveProperty('vs_initial.ndcg.p');
    expect(relife).toHaveProperty('vs_din.clicks.mean_diff');
    expect(relife).toHaveProperty('vs_relife-nodis.ndcg.p');
    expect(rows.find((x) => x.reranker === 'din')).not.toHaveProperty('vs_din');
    // resume: a seed already run is kept as it is, not retrained
    const again = runLearnedRerank(rewards, ranker, cats, { seeds: 1, done: [res[0]], logs });
    expect(again[0]).toBe(res[0]);
  });
});
