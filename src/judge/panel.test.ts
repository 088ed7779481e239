/**
 * Arena statistics that cannot mislead (issue 25, must-show 2), with values worked out by hand:
 * no τ with two systems, no winner for equals, binomial tests, bootstrap intervals on
 * Bradley–Terry ratings, and a panel of two judges with Fleiss' κ and a majority verdict.
 */
import { describe, expect, it } from 'vitest';
import { LLMClient, ScriptedProvider, createProvider, type ChatRequest } from '../llm/index.ts';
import { runArena, type ArenaItem, type ArenaMeta, type ArenaSystem, type ArenaUser, type JudgeReply } from './arena.ts';
import { combineJudges, majorityOutcome } from './panel.ts';
import { rankingText, summarize } from './summary.ts';
import { arenaMarkdown } from './report.ts';
import './scripts.ts';

const item = (id: number): ArenaItem => ({ id, title: `Film ${id}`, genres: ['Drama'] });
const mkUsers = (n: number): ArenaUser[] => Array.from({ length: n }, (_, u) => ({ user: u, label: `u${u}`, profile: `p${u}`, history: [{ ...item(100 + u), rating: 4 }] }));
const sys = (name: string, users: ArenaUser[], list: (u: number) => number[]): ArenaSystem => ({ name, lists: new Map(users.map((u) => [u.user, list(u.user).map(item)])) });
const sum = (l: readonly ArenaItem[]): number => l.reduce((s, it) => s + it.id, 0);

/** Position-free judge: every dimension by the larger sum of item ids; equal sums are a tie. */
function bySum(r: ChatRequest): JudgeReply {
  const m = r.meta as unknown as ArenaMeta;
  const v = sum(m.listA) > sum(m.listB) ? 'A' : sum(m.listA) < sum(m.listB) ? 'B' : 'tie';
  return { relevance: v, diversity: v, novelty: v, coverage: v, overall: v, explanation: 'sum' };
}

describe('Arena statistics', () => {
  it('two systems a judge rates as equals: equal ratings, no winner, no τ', async () => {
    const users = mkUsers(6);
    const run = await runArena([sys('ease', users, () => [1, 2]), sys('pop', users, () => [3, 4])], users, { client: new LLMClient(createProvider('scripted:always-a')), k: 2, progress: false });
    const s = summarize(run, { metric: 'ndcg@10', values: { ease: 0.2, pop: 0.1 } }, { reps: 200 });
    const r = s.ratings.overall;
    expect(r.rating).toEqual([1000, 1000]);
    expect(r.steps).toEqual(['=']);
    expect(rankingText(r)).toBe('no winner (equal ratings: a tie): ease = pop');
    expect(s.agreement?.kendallTauB).toBeNull();
    // 0 decisive matches: the sign test has nothing to reject.
    expect(s.pairs[0].dimensions.overall.binomial).toMatchObject({ n: 0, p: 1 });
    const md = arenaMarkdown(run, s, { setup: {}, usage: new LLMClient(createProvider('scripted:always-a')).ledger.total() });
    expect(md).not.toMatch(/Overall ranking: ease > pop/);
    expect(md).toContain('no winner');
    expect(md).toContain('not defined with 2 systems');
  });

  it('3 wins of 4 users do not separate: the bootstrap interval of the difference includes 0', async () => {
    // X wins users 0–2, Y user 3. A resample of 4 users holds k X-users with k ~ Bin(4, ¾):
    // P(k ≤ 1) = (1 + 12)/256 = 0.051 > 0.025, and with k = 1 X trails (1.5 : 3.5 with the prior),
    // so the 2.5 % quantile of rating(X) − rating(Y) is negative → "≈", no winner.
    const users = mkUsers(4);
    const X = sys('X', users, (u) => (u < 3 ? [50, 40] : [1, 2]));
    const Y = sys('Y', users, (u) => (u < 3 ? [1, 2] : [50, 40]));
    const run = await runArena([X, Y], users, { client: new LLMClient(new ScriptedProvider('sum', bySum)), k: 2, progress: false });
    const r = summarize(run, undefined, { reps: 2000, seed: 1 }).ratings.overall;
    expect(r.order).toEqual(['X', 'Y']);
    expect(r.steps).toEqual(['≈']);
    expect(rankingText(r)).toMatch(/^no winner \(no rating difference is outside its 95 % bootstrap interval\): X ≈ Y$/);
    // Every interval holds its point rating; the lowest resample (0 X-wins of 4: 0.5 : 4.5) bounds it below.
    for (let i = 0; i < 2; i++) {
      expect(r.interval[i].lo).toBeLessThanOrEqual(r.rating[i]);
      expect(r.interval[i].hi).toBeGreaterThanOrEqual(r.rating[i]);
    }
    expect(r.interval[0].lo).toBeGreaterThanOrEqual(1000 + 200 * Math.log10(0.5 / 4.5) - 1e-9);
  });

  it('30 wins of 40 users separate: X > Y, and the exact binomial p is tiny', async () => {
    const users = mkUsers(40);
    const X = sys('X', users, (u) => (u < 30 ? [50, 40] : [1, 2]));
    const Y = sys('Y', users, (u) => (u < 30 ? [1, 2] : [50, 40]));
    const run = await runArena([X, Y], users, { client: new LLMClient(new ScriptedProvider('sum', bySum)), k: 2, progress: false });
    const s = summarize(run, undefined, { reps: 1000 });
    expect(rankingText(s.ratings.overall)).toBe('X > Y');
    // P(X ≥ 30 | n = 40, ½) = Σ_{k=30}^{40} C(40,k)/2⁴⁰ = 1,101,716,330 / 2⁴⁰ … two-sided: 2·that = 0.0022.
    let tail = 0;
    let c = 1;
    for (let k = 40; k >= 30; k--) {
      tail += c;
      c = (c * k) / (41 - k);
    }
    expect(s.pairs[0].dimensions.overall.binomial.p).toBeCloseTo((2 * tail) / 2 ** 40, 12);
    expect(s.pairs[0].dimensions.overall.binomial.p).toBeCloseTo(0.002221, 5);
  });
});

describe('a panel of two judges on three systems', () => {
  // X's list sums to 90 for every user, Y's and Z's to 3: the sum judge says X beats Y and Z and
  // Y ties Z; the always-a judge yields only ties.
  const users = mkUsers(4);
  const systems = [sys('X', users, () => [50, 40]), sys('Y', users, () => [1, 2]), sys('Z', users, () => [2, 1])];

  it('Fleiss κ, majority verdict and per-judge ratings by hand', async () => {
    const runs = [
      await runArena(systems, users, { client: new LLMClient(new ScriptedProvider('sum', bySum)), k: 2, progress: false }),
      await runArena(systems, users, { client: new LLMClient(createProvider('scripted:always-a')), k: 2, progress: false }),
    ];
    const panel = combineJudges(runs);
    // 12 matches (4 users × 3 pairs); categories (a, b, tie): X–Y and X–Z are (1, 0, 1), Y–Z (0, 0, 2).
    // P_i = 0, 0, 1 → P̄ = 4/12 = 1/3; p = (8/24, 0, 16/24) → P̄e = 1/9 + 4/9 = 5/9;
    // κ = (1/3 − 5/9) / (1 − 5/9) = −1/2.
    const k = panel.agreement.overall;
    expect(k.items).toBe(12);
    expect(k.observed).toBeCloseTo(1 / 3, 12);
    expect(k.expected).toBeCloseTo(5 / 9, 12);
    expect(k.kappa).toBeCloseTo(-0.5, 12);
    // Majority: "a" vs "tie" has no majority of 2 → tie; everything is a tie → no winner.
    const m = summarize(panel.majority, undefined, { reps: 100 });
    expect(panel.majority.matches.every((x) => x.outcome.overall === 'tie')).toBe(true);
    expect(rankingText(m.ratings.overall)).toMatch(/^no winner \(equal ratings: a tie\)/);
    // The sum judge alone: X 4.5 : 0.5 against each of Y, Z; Y–Z 2.5 : 2.5. MM fixed point p_X = 9 p_Y,
    // p_Y = p_Z; geometric mean 1 → p_Y = 9^(−1/3): ratings 1000 + 400·(2/3)·log10 9 and 1000 − 400·(1/3)·log10 9.
    const j1 = summarize(runs[0], { metric: 'ndcg@10', values: { X: 0.3, Y: 0.1, Z: 0.2 } }, { reps: 200 });
    const r = j1.ratings.overall;
    expect(r.rating[0]).toBeCloseTo(1000 + (800 / 3) * Math.log10(9), 6);
    expect(r.rating[1]).toBeCloseTo(1000 - (400 / 3) * Math.log10(9), 6);
    expect(r.rating[2]).toBeCloseTo(r.rating[1], 9);
    // Identical users: every resample is the data itself, so each interval is its point.
    expect(r.interval[0].lo).toBeCloseTo(r.rating[0], 6);
    expect(r.interval[0].hi).toBeCloseTo(r.rating[0], 6);
    expect(rankingText(r)).toBe('X > Y = Z');
    // Three systems: τ-b is defined. Arena (X, Y, Z) = (1254, 873, 873), offline (0.3, 0.1, 0.2):
    // pairs X–Y, X–Z concordant, Y–Z tied in the arena → τ-b = 2 / √((3 − 1)·3) = 0.8165.
    expect(j1.agreement?.kendallTauB).toBeCloseTo(2 / Math.sqrt(6), 12);
  });

  it('majorityOutcome', () => {
    expect(majorityOutcome(['a', 'a', 'b'])).toBe('a');
    expect(majorityOutcome(['a', 'b'])).toBe('tie');
    expect(majorityOutcome(['a', 'invalid'])).toBe('a');
    expect(majorityOutcome(['invalid', 'invalid'])).toBe('invalid');
  });

  it('refuses runs over different matches', async () => {
    const a = await runArena(systems, users, { client: new LLMClient(createProvider('scripted:always-a')), k: 2, progress: false });
    const b = await runArena(systems, users.slice(0, 2), { client: new LLMClient(createProvider('scripted:always-b')), k: 2, progress: false });
    expect(() => combineJudges([a, b])).toThrow(/did not judge the same/);
  });
});

describe('profile features in the judge prompt (arena-judge@2)', () => {
  it('shows the data\'s demographics when the user has them, nothing otherwise', async () => {
    const users: ArenaUser[] = [
      { ...mkUsers(1)[0], demographics: 'age 24, gender M, occupation technician' },
      { ...mkUsers(2)[1] },
    ];
    const provider = new ScriptedProvider('sum', bySum);
    await runArena([sys('X', users, () => [1]), sys('Y', users, () => [2])], users, { client: new LLMClient(provider), k: 1, progress: false });
    const prompts = provider.requests.map((r) => r.messages[1].content);
    expect(prompts.filter((p) => p.startsWith('About you: age 24, gender M, occupation technician.\n\nYour profile:\np0'))).toHaveLength(2);
    expect(prompts.filter((p) => p.startsWith('Your profile:\np1'))).toHaveLength(2);
  });
});
