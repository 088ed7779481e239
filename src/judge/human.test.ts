import { describe, expect, it } from 'vitest';
import type { MatchRecord, Outcome } from './arena.ts';
import { DIMENSIONS } from './arena.ts';
import { arenaPool, pairKey, poolPairs, summarizeHuman, votesJsonl, type HumanChoice, type HumanVote } from './human.ts';

const vote = (user: number, choice: HumanChoice, voter = 'v1'): HumanVote => ({ voter, user, a: 'ease', b: 'pop', choice, left: 'ease', time: 0 });
const llm = (user: number, o: Outcome): MatchRecord => {
  const outcome = {} as Record<(typeof DIMENSIONS)[number], Outcome>;
  for (const d of DIMENSIONS) outcome[d] = o;
  return { user, userLabel: String(user), a: 'ease', b: 'pop', forward: null, backward: null, outcome, hashes: [] };
};

describe('human Arena', () => {
  it('rates human votes by hand: two systems, prior one virtual tie', () => {
    // 12 wins for ease, 6 for pop, 2 ties, 1 skip (not counted). With the prior's tie split ½/½ and
    // the 2 ties likewise: W_ease = 12 + 1 + ½ = 13.5, W_pop = 6 + 1 + ½ = 7.5, so the strength ratio
    // is 13.5 / 7.5 = 1.8 and the ratings are 1000 ± 200·log10 1.8 (geometric mean 1).
    const choices: HumanChoice[] = [...Array<HumanChoice>(12).fill('a'), ...Array<HumanChoice>(6).fill('b'), 'tie', 'tie', 'skip'];
    const votes = choices.map((c, u) => vote(u, c));
    const s = summarizeHuman(['ease', 'pop'], votes, undefined, { reps: 0 });
    expect(s.votes).toBe(20);
    expect(s.voters).toBe(1);
    expect(s.human.rating[0]).toBeCloseTo(1000 + 200 * Math.log10(1.8), 6);
    expect(s.human.rating[1]).toBeCloseTo(1000 - 200 * Math.log10(1.8), 6);
    expect(s.llm).toBeUndefined();
  });

  it('κ and percent agreement against the LLM verdicts on shared pairs, and combined ratings', () => {
    // Human on users 0..5: a a b tie a b; LLM on users 0..4 (user 5 not judged): a b b tie tie.
    // Shared 5: agree on 0, 2, 3 → p_o = 3/5. Human shares on them (a a b tie a): a 3/5, b 1/5, tie 1/5;
    // LLM a 1/5, b 2/5, tie 2/5 → p_e = 3/25 + 2/25 + 2/25 = 7/25; κ = (15/25 − 7/25)/(18/25) = 8/18.
    const votes = (['a', 'a', 'b', 'tie', 'a', 'b'] as HumanChoice[]).map((c, u) => vote(u, c));
    const matches = (['a', 'b', 'b', 'tie', 'tie'] as Outcome[]).map((o, u) => llm(u, o));
    const s = summarizeHuman(['ease', 'pop'], votes, { matches }, { reps: 0 });
    expect(s.agreement!.n).toBe(5);
    expect(s.agreement!.percent).toBeCloseTo(0.6, 12);
    expect(s.agreement!.kappa).toBeCloseTo(8 / 18, 12);
    // LLM alone: W_ease = 1 + 1 (ties) + ½ = 2.5, W_pop = 2 + 1 + ½ = 3.5.
    expect(s.llm!.rating[0] - s.llm!.rating[1]).toBeCloseTo(400 * Math.log10(2.5 / 3.5), 6);
    // Combined: human 3 a, 2 b, 1 tie + LLM → W_ease = 3 + ½ + 2.5 = 6, W_pop = 2 + ½ + 3.5 = 6 → equal.
    expect(s.combined!.rating[0] - s.combined!.rating[1]).toBeCloseTo(0, 6);
  });

  it('builds a pool with every pair, and exports votes as JSON lines', () => {
    const users = [0, 1].map((u) => ({ user: u, label: `u${u}`, profile: '', history: [] }));
    const item = (id: number) => ({ id, title: `t${id}` });
    const systems = ['x', 'y', 'z'].map((name) => ({ name, lists: new Map([0, 1].map((u) => [u, [item(u), item(u + 10), item(u + 20)]])) }));
    const pool = arenaPool(users, systems, 2);
    expect(pool.lists.y['1'].map((i) => i.id)).toEqual([1, 11]);
    expect(poolPairs(pool)).toHaveLength(6);
    expect(pairKey(1, 'x', 'y')).not.toBe(pairKey(1, 'x', 'z'));
    const text = votesJsonl([vote(3, 'a'), vote(4, 'skip')]);
    expect(text.trim().split('\n').map((l) => JSON.parse(l) as HumanVote).map((v) => v.choice)).toEqual(['a', 'skip']);
  });
});
