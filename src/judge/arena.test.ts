import { describe, expect, it } from 'vitest';
import { LLMClient, ScriptedProvider, createProvider, type ChatRequest } from '../llm/index.ts';
import { combineOrders, runArena, type ArenaItem, type ArenaMeta, type ArenaSystem, type ArenaUser, type JudgeReply } from './arena.ts';
import { summarize } from './summary.ts';
import './scripts.ts';

const item = (id: number, genres: string[] = ['Drama']): ArenaItem => ({ id, title: `Film ${id}`, genres });
const users: ArenaUser[] = [0, 1, 2, 3].map((u) => ({ user: u, label: `u${u}`, profile: `profile of u${u}`, history: [{ ...item(100 + u), rating: 4 }] }));

// X beats Y (by sum of item ids) for users 0, 1, 2; Y beats X for user 3.
const X: ArenaSystem = { name: 'X', lists: new Map(users.map((u) => [u.user, u.user < 3 ? [item(50), item(40)] : [item(1), item(2)]])) };
const Y: ArenaSystem = { name: 'Y', lists: new Map(users.map((u) => [u.user, u.user < 3 ? [item(1), item(2)] : [item(50), item(40)]])) };
const sum = (l: readonly ArenaItem[]): number => l.reduce((s, it) => s + it.id, 0);

/** Overall by sum of ids (position-free); "A" on every other dimension (pure first-position bias). */
function halfBiased(r: ChatRequest): JudgeReply {
  const m = r.meta as unknown as ArenaMeta;
  const overall = sum(m.listA) > sum(m.listB) ? 'A' : 'B';
  return { relevance: 'A', diversity: 'A', novelty: 'A', coverage: 'A', overall, explanation: 'sum' };
}

describe('combineOrders', () => {
  it('wins only when both orders agree', () => {
    expect(combineOrders('A', 'B')).toBe('a');
    expect(combineOrders('B', 'A')).toBe('b');
    expect(combineOrders('A', 'A')).toBe('tie');
    expect(combineOrders('B', 'B')).toBe('tie');
    expect(combineOrders('tie', 'B')).toBe('tie');
    expect(combineOrders(undefined, 'B')).toBe('invalid');
  });
});

describe('Arena with scripted judges', () => {
  it('a judge that always answers "A" yields only ties after order swapping', async () => {
    const client = new LLMClient(createProvider('scripted:always-a'));
    const run = await runArena([X, Y], users, { client, k: 2, progress: false });
    expect(run.template).toBe('arena-judge@2');
    expect(run.matches).toHaveLength(4);
    for (const m of run.matches) for (const o of Object.values(m.outcome)) expect(o).toBe('tie');
    const s = summarize(run);
    const overall = s.pairs[0].dimensions.overall;
    expect(overall).toMatchObject({ n: 4, winsA: 0, winsB: 0, ties: 4 });
    expect(s.judge.firstShownShare.estimate).toBe(1);
    expect(s.judge.orderConsistency.estimate).toBe(0);
    // All ties → equal strengths → both rated 1000.
    expect(s.ratings.overall.rating[0]).toBeCloseTo(1000, 9);
    expect(s.ratings.overall.rating[1]).toBeCloseTo(1000, 9);
    expect(client.ledger.total().calls).toBe(8); // 4 users × 2 orders
  });

  it('aggregates match hand-computed values for a half-biased judge', async () => {
    const provider = new ScriptedProvider('half', halfBiased);
    const run = await runArena([X, Y], users, { client: new LLMClient(provider), k: 2, progress: false });
    // Forward prompt shows X as list A, backward shows Y as list A.
    const fw = provider.requests.find((r) => r.messages[1].content.includes('List A:\n1. Film 50') && r.messages[1].content.includes('profile of u0'));
    expect(fw).toBeDefined();
    const s = summarize(run, { metric: 'ndcg@10', values: { X: 0.3, Y: 0.1 } });
    const p = s.pairs[0];
    expect([p.a, p.b]).toEqual(['X', 'Y']);
    // overall: X wins u0..u2, Y wins u3.
    expect(p.dimensions.overall).toMatchObject({ n: 4, winsA: 3, winsB: 1, ties: 0, invalid: 0 });
    // Wilson 3/4: centre (0.75 + 0.48015)/1.96036 = 0.62752, half (1.95996/1.96036)·√(0.046875 + 0.060024) = 0.32684.
    expect(p.dimensions.overall.winRateA.lo).toBeCloseTo(0.30064, 4);
    expect(p.dimensions.overall.winRateA.hi).toBeCloseTo(0.95437, 4);
    // every other dimension: "A" in both orders → tie.
    expect(p.dimensions.relevance).toMatchObject({ winsA: 0, winsB: 0, ties: 4 });
    // Per match: 8 first-shown "A"s on the biased dimensions + 1 of 2 on overall → 9/10.
    expect(s.judge.firstShownShare.estimate).toBeCloseTo(0.9, 12);
    // Per match: overall consistent, 4 dimensions not → 1/5.
    expect(s.judge.orderConsistency.estimate).toBeCloseTo(0.2, 12);
    // Bradley–Terry with one virtual tie: X 3.5 vs Y 1.5 → rating gap 400·log10(7/3).
    const r = s.ratings.overall;
    expect(r.rating[0] - r.rating[1]).toBeCloseTo(400 * Math.log10(7 / 3), 6);
    expect(r.order).toEqual(['X', 'Y']);
    // Two systems: τ-b would be ±1 by construction, so it is not reported.
    expect(s.agreement?.kendallTauB).toBeNull();
    expect(s.agreement?.note).toMatch(/not defined with 2 systems/);
    // Sign test of 3 wins to 1: 2·(C(4,3) + C(4,4))/2⁴ = 10/16.
    expect(p.dimensions.overall.binomial.p).toBeCloseTo(10 / 16, 12);
  });

  it('counts a reply that stays invalid after repair as invalid, not as a tie', async () => {
    const provider = new ScriptedProvider('flaky', (r) => {
      const m = r.meta as unknown as ArenaMeta;
      // For user 3 (whose history item is Film 103) the judge never produces valid JSON.
      if (m.history[0].id === 103) return 'I cannot decide.';
      return halfBiased(r);
    });
    const client = new LLMClient(provider);
    const run = await runArena([X, Y], users, { client, k: 2, progress: false });
    const o = summarize(run).pairs[0].dimensions.overall;
    expect(o).toMatchObject({ n: 3, winsA: 3, winsB: 0, invalid: 1 });
    // Two calls for user 3 each failed after one repair.
    expect(client.ledger.total()).toMatchObject({ repairs: 2, failures: 2 });
  });

  it('the genre-overlap judge is position-free and prefers lists matching the history', async () => {
    const fans: ArenaUser[] = [{ user: 0, label: 'fan', profile: 'likes comedy', history: [item(1, ['Comedy']), item(2, ['Comedy', 'Romance'])] }];
    const comedy: ArenaSystem = { name: 'comedy', lists: new Map([[0, [item(10, ['Comedy']), item(11, ['Comedy'])]]]) };
    const war: ArenaSystem = { name: 'war', lists: new Map([[0, [item(20, ['War']), item(21, ['War', 'Drama'])]]]) };
    const run = await runArena([war, comedy], fans, { client: new LLMClient(createProvider('scripted:genre-overlap')), k: 2, progress: false });
    const m = run.matches[0];
    expect(m.outcome.overall).toBe('b');
    expect(m.outcome.relevance).toBe('b');
    // war touches 2 genres vs comedy's 1 → war is more diverse.
    expect(m.outcome.diversity).toBe('a');
    // no popularity given → novelty tie; coverage: comedy covers 1 of the user's genres, war 0.
    expect(m.outcome.novelty).toBe('tie');
    expect(m.outcome.coverage).toBe('b');
  });

  it('rejects systems without a list for a judged user', async () => {
    const partial: ArenaSystem = { name: 'P', lists: new Map([[0, [item(1)]]]) };
    await expect(runArena([X, partial], users, { client: new LLMClient(createProvider('scripted:always-a')), progress: false })).rejects.toThrow(/"P" has no list for user u1/);
  });
});
