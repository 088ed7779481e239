/**
 * LLM vs traditional recommenders on identical candidates (issue 25, must-show 1), with values
 * worked out by hand on a small synthetic catalogue, and the K-S check of candidate sampling.
 */
import { describe, expect, it } from 'vitest';
import { fromSequences } from '../data/interactions.ts';
import type { Interactions } from '../data/types.ts';
import { LLMClient, createProvider } from '../llm/index.ts';
import type { Recommender } from '../models/recommender.ts';
import type { ItemCatalogue } from './catalogue.ts';
import { checkCandidates, sampleCandidates } from './candidates.ts';
import { runCompare } from './compare.ts';
import { Grounder } from './grounding.ts';
import type { ProbeUser } from './probes.ts';
import { Rng } from '../util/rng.ts';
import './scripts.ts';

const GENRES = ['Comedy', 'Drama', 'Horror', 'Western'];
const N_ITEMS = 400;
const catalogue: ItemCatalogue = {
  n: N_ITEMS,
  titles: Array.from({ length: N_ITEMS }, (_, i) => `Film ${i} (${1900 + (i % 100)})`),
  genres: Array.from({ length: N_ITEMS }, (_, i) => [GENRES[i % 4]]),
  source: 'test',
};

/** A model whose score of item i is −i for every user: it ranks lower ids first. */
function byIdModel(nItems: number): Recommender {
  return {
    nItems,
    scoreUsers(users: Int32Array, _history: Interactions, out: Float32Array): void {
      for (let r = 0; r < users.length; r++) for (let i = 0; i < nItems; i++) out[r * nItems + i] = -i;
    },
  } as unknown as Recommender;
}

describe('sampleCandidates + checkCandidates (K-S)', () => {
  // 40 users with 10 events each among items 0..199; popularity rises steeply towards item 0.
  const seqs = Array.from({ length: 40 }, (_, u) => Array.from({ length: 10 }, (_, j) => (u * 7 + j * 13) % 200));
  const history = fromSequences(seqs, N_ITEMS);
  const targets = fromSequences(Array.from({ length: 40 }, (_, u) => [200 + u]), N_ITEMS);
  const popularity = Float64Array.from({ length: N_ITEMS }, (_, i) => Math.round(1000 / (1 + i)));
  const users = Array.from({ length: 40 }, (_, u) => u);
  const seenOf = (u: ProbeUser): Set<number> => new Set([...u.history.map((h) => h.id), u.target]);

  it('draws distinct unseen negatives, the target first, deterministically', () => {
    const c = sampleCandidates(history, targets, catalogue, users, { n: 20, popularity, seed: 3 });
    for (const u of c) {
      expect(u.negatives).toHaveLength(19);
      expect(new Set(u.negatives).size).toBe(19);
      const seen = seenOf(u);
      for (const i of u.negatives) expect(seen.has(i)).toBe(false);
    }
    expect(sampleCandidates(history, targets, catalogue, users, { n: 20, popularity, seed: 3 })).toEqual(c);
    expect(() => sampleCandidates(history, targets, catalogue, users, { n: 1, popularity })).toThrow(/n must be an integer ≥ 2/);
  });

  it('passes when the sampler does what it claims and fails when it does not', () => {
    const uni = sampleCandidates(history, targets, catalogue, users, { n: 20, popularity, seed: 1 });
    const pop = sampleCandidates(history, targets, catalogue, users, { n: 20, sampling: 'popularity', popularity, seed: 1 });
    expect(checkCandidates(uni, 'uniform', popularity, seenOf).p).toBeGreaterThan(0.01);
    expect(checkCandidates(pop, 'popularity', popularity, seenOf).p).toBeGreaterThan(0.01);
    // Popularity-sampled negatives crowd the head: against uniform they are far off.
    const wrong = checkCandidates(pop, 'uniform', popularity, seenOf);
    expect(wrong.p).toBeLessThan(1e-6);
    expect(wrong.n).toBe(760);
  });

  it('the transform by hand: one user, 4 items, one seen', () => {
    // Popularity (3, 2, 1, 0) → popularity order = ids. Item 1 is the target (seen). Uniform over
    // {0, 2, 3}: the first draw, item 3, covers F from 2/3 to 1; the second, item 0, drawn from
    // {0, 2}, covers 0 to ½. With V the seeded uniforms v1, v2: U = (2/3 + v1/3, v2/2).
    const u: ProbeUser = { user: 0, label: 'u', history: [], target: 1, negatives: [3, 0] };
    const r = checkCandidates([u], 'uniform', [3, 2, 1, 0], () => new Set([1]), 5);
    const rng = new Rng(5);
    const us = [2 / 3 + rng.next() / 3, rng.next() / 2].sort((a, b) => a - b);
    // D of two points against U(0, 1): max over i of (i/2 − u_(i), u_(i) − (i−1)/2).
    const d = Math.max(0.5 - us[0], us[0], 1 - us[1], us[1] - 0.5);
    expect(r.statistic).toBeCloseTo(d, 12);
    expect(r.n).toBe(2);
  });
});

describe('runCompare on identical candidates', () => {
  // Two users; hand-placed candidates. User 0: target 4 among negatives 8, 2, 6 (4 candidates).
  // User 1: target 9 among 1, 3, 5.
  const users: ProbeUser[] = [
    { user: 0, label: 'a', history: [{ id: 20, title: catalogue.titles[20], genres: ['Comedy'] }], target: 4, negatives: [8, 2, 6] },
    { user: 1, label: 'b', history: [{ id: 21, title: catalogue.titles[21], genres: ['Drama'] }], target: 9, negatives: [1, 3, 5] },
  ];
  const train = fromSequences([[20, 1, 1, 2], [21, 1]], N_ITEMS);

  it('model and LLM rows by hand, and the identity ranker\'s maximal position bias', async () => {
    const r = await runCompare(users, {
      llms: [{ name: 'identity', client: new LLMClient(createProvider('scripted:identity-ranker')) }],
      models: [{ name: 'byid', model: byIdModel(N_ITEMS) }],
      grounder: new Grounder(catalogue),
      catalogue,
      train,
      history: train,
      k: 2,
      lengths: [1],
      progress: false,
    });
    const byid = r.rows.find((x) => x.system === 'byid')!;
    // Lower ids first. User 0: 2, 4, 6, 8 → target rank 1: hr@2 1, ndcg@2 1/log2(3), rr ½.
    // User 1: 1, 3, 5, 9 → rank 3: hr@2 0, ndcg@2 0, rr ¼.
    expect(byid.metrics['hr@2']).toBeCloseTo(0.5, 12);
    expect(byid.metrics['ndcg@2']).toBeCloseTo(0.5 / Math.log2(3), 12);
    expect(byid.metrics.mrr).toBeCloseTo((0.5 + 0.25) / 2, 12);
    // Top-2 lists {2, 4} and {1, 3}: 4 of 400 items exposed once → coverage 0.01.
    expect(byid.metrics['coverage@2']).toBeCloseTo(4 / N_ITEMS, 12);
    // Genres: 2 Horror, 4 Comedy (distance 1); 1 Drama, 3 Western (1) → ild@2 = 1.
    expect(byid.metrics['ild@2']).toBe(1);
    // arp@2 with train counts (item 1: 3, item 2: 1, others 0): user 0 (1 + 0)/2, user 1 (3 + 0)/2 → 1.
    expect(byid.metrics['arp@2']).toBeCloseTo(1, 12);
    const id = r.rows.find((x) => x.system === 'identity')!;
    expect(id.kind).toBe('llm');
    expect(id.metrics.hallucination).toBe(0);
    // The identity ranker's ndcg equals the target's shown position; first vs last is the maximal gap.
    const pb = r.positionBias[0];
    expect(pb.gap).toBe(1);
    expect(pb.sign).toEqual({ wins: 2, n: 2, p: 0.5 });
    const first = r.conditions.find((c) => c.condition === 'target-first')!;
    const last = r.conditions.find((c) => c.condition === 'target-last')!;
    expect(first.metrics['ndcg@2']).toBe(1);
    expect(last.metrics['ndcg@2']).toBe(0);
    // The LLM saw exactly the candidates the model ranked.
    for (const rec of r.records.identity) {
      const u = users.find((x) => x.user === rec.user)!;
      expect([...rec.candidates].sort((a, b) => a - b)).toEqual([u.target, ...u.negatives].sort((a, b) => a - b));
    }
    expect(r.baseline).toBe('byid');
    expect(byid.vsBaseline).toBeUndefined();
    expect(id.vsBaseline).toBeDefined();
  });

  it('rejects an unknown baseline', async () => {
    await expect(
      runCompare(users, { llms: [], models: [{ name: 'byid', model: byIdModel(N_ITEMS) }], grounder: new Grounder(catalogue), catalogue, train, history: train, baseline: 'nope', progress: false }),
    ).rejects.toThrow(/--baseline: "nope" is not one of the compared systems \(byid\)/);
  });
});
