/**
 * Policies and the user model: top-k with bans by hand, bandits that must find the best arm of a
 * hand-built reward, the rating MF recovering a planted low-rank matrix, summaries by hand.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.ts';
import type { Interactions } from '../data/types.ts';
import { SimEnv, categoriesFromLists } from './env.ts';
import { EpsilonGreedyPolicy, LinUcbFeatures, LinUcbPolicy, PopularityPolicy, topKAllowed } from './policies.ts';
import { categoryDiversity, playEpisodes, summarize } from './rollout.ts';
import { fitRatingModel, type RewardMatrix } from './user-model.ts';

describe('topKAllowed', () => {
  it('returns the best scores in order, skipping banned items, ties to the lower id', () => {
    const s = [0.5, 2, 1, 2, -1];
    expect(Array.from(topKAllowed(s, 3, null))).toEqual([1, 3, 2]);
    expect(Array.from(topKAllowed(s, 2, Uint8Array.from([0, 1, 0, 0, 0])))).toEqual([3, 2]);
    expect(() => topKAllowed(s, 2, Uint8Array.from([1, 1, 1, 1, 0]))).toThrow(/only 1 items are left/);
  });
});

describe('bandits', () => {
  // 6 items: genre x for items 0–2, y for 3–5; every user rewards x with 4 and y with 1
  const cats = categoriesFromLists([['x'], ['x'], ['x'], ['y'], ['y'], ['y']]);
  const rewards: RewardMatrix = { nUsers: 3, nItems: 6, values: Float32Array.from({ length: 18 }, (_, c) => (c % 6 < 3 ? 4 : 1)) };
  const env = (seed: number): SimEnv => new SimEnv(rewards, cats, { mode: 'NX_X', maxTurns: 3 }, seed);

  it('ε-greedy converges on the rewarding items', () => {
    const policy = new EpsilonGreedyPolicy(6, 0.1, 5); // optimistic prior: every item tried
    const eps = playEpisodes(env(1), policy, 300, 2);
    const late = summarize(eps.slice(200), cats, [1, 1, 1, 1, 1, 1], 3);
    // greedy picks are all x (reward 4); ε = 0.1 random picks cost at most 3 per pick
    expect(late.turn_reward).toBeGreaterThan(3.4);
  });

  it('LinUCB learns that genre x pays', () => {
    const history: Interactions = { nUsers: 3, nItems: 6, offsets: Int32Array.from([0, 1, 2, 3]), items: Int32Array.from([0, 3, 1]), times: new Float64Array(3) };
    const policy = new LinUcbPolicy(new LinUcbFeatures(cats, [1, 1, 1, 1, 1, 1], history), 0.5);
    const eps = playEpisodes(env(3), policy, 100, 4);
    const late = summarize(eps.slice(50), cats, [1, 1, 1, 1, 1, 1], 3);
    expect(late.turn_reward).toBe(4);
  });

  it('popularity ranks by counts and respects the NX mask', () => {
    const p = new PopularityPolicy([3, 9, 1, 9, 0, 2]);
    const obs = { user: 0, turn: 0, items: [], rewards: [] };
    expect(Array.from(p.act(obs, 2, Uint8Array.from([0, 1, 0, 0, 0, 0])))).toEqual([3, 0]);
  });
});

describe('summaries', () => {
  it('diversity and novelty by hand', () => {
    const cats = categoriesFromLists([['a'], ['a', 'b'], ['c']]);
    // pairs: (0,1) 1 − 1/2, (0,2) 1, (1,2) 1 → mean 5/6
    expect(categoryDiversity([0, 1, 2], cats)).toBeCloseTo(5 / 6, 12);
    const s = summarize([{ user: 0, items: [0, 2], rewards: [1, 3], cumulativeReward: 4, length: 2, quit: true }, { user: 1, items: [1], rewards: [2], cumulativeReward: 2, length: 1, quit: false }], cats, [4, 2, 1], 4);
    expect(s.cumulative_reward).toBe(3);
    expect(s.length).toBe(1.5);
    expect(s.turn_reward).toBe(2);
    expect(s.quit_rate).toBe(0.5);
    expect(s.diversity).toBeCloseTo(0.5, 12); // episode 1: one pair (0,2) = 1; episode 2: 0
    expect(s.novelty).toBeCloseTo((-Math.log(1) - Math.log(1 / 4) - Math.log(2 / 4)) / 3, 12);
  });
});

describe('rating model', () => {
  it('recovers a planted rank-2 rating matrix on held-out cells far better than the mean', () => {
    const rng = new Rng(7);
    const U = 60, I = 50, d = 2;
    const P = Array.from({ length: U * d }, () => rng.normal());
    const Q = Array.from({ length: I * d }, () => rng.normal());
    const truth = (u: number, i: number): number => 3 + 0.6 * (P[u * d] * Q[i * d] + P[u * d + 1] * Q[i * d + 1]);
    const offsets = new Int32Array(U + 1), items: number[] = [], values: number[] = [];
    for (let u = 0; u < U; u++) {
      for (let i = 0; i < I; i++) {
        if (rng.next() < 0.5) {
          items.push(i);
          values.push(truth(u, i));
        }
      }
      offsets[u + 1] = items.length;
    }
    const data: Interactions = { nUsers: U, nItems: I, offsets, items: Int32Array.from(items), times: new Float64Array(items.length), values: Float32Array.from(values) };
    const holdout = Uint8Array.from(items, () => (rng.next() < 0.1 ? 1 : 0));
    const m = fitRatingModel(data, { dims: 4, epochs: 200, lr: 0.02, reg: 0.01, holdout, clip: [-100, 100] });
    let sq = 0, n = 0;
    for (let e = 0; e < items.length; e++) {
      if (!holdout[e]) continue;
      sq += (values[e] - m.mean) ** 2;
      n++;
    }
    const meanRmse = Math.sqrt(sq / n);
    expect(m.heldOutRmse).toBeLessThan(0.25 * meanRmse);
    expect(m.rewards.values.length).toBe(U * I);
    expect(() => fitRatingModel({ ...data, values: undefined })).toThrow(/no ratings/);
  });
});
