import { describe, expect, it } from 'vitest';
import { fromSequences } from '../data/interactions.ts';
import { LLMClient, ScriptedProvider, createProvider, type ChatRequest } from '../llm/index.ts';
import type { ItemCatalogue } from './catalogue.ts';
import { Grounder, normaliseTitle } from './grounding.ts';
import { buildProbeUsers, orderTau, probeConditions, runProbes } from './probes.ts';
import { rankCandidates, rerankTopK } from './rank.ts';
import { generateProfile } from './profile.ts';
import { userHistory } from './history.ts';
import './scripts.ts';

// A synthetic catalogue of 60 films: titles "Film <i> (19xx)", genres cycling through four.
const GENRES = ['Comedy', 'Drama', 'Horror', 'Western'];
const catalogue: ItemCatalogue = {
  n: 60,
  titles: Array.from({ length: 60 }, (_, i) => (i === 0 ? 'Matrix, The (1999)' : `Film ${i} (19${String(i).padStart(2, '0')})`)),
  genres: Array.from({ length: 60 }, (_, i) => [GENRES[i % 4]]),
  source: 'test',
};
// Three users, 25 events each (items 1..25 shifted per user), held-out target afterwards.
const seqs = [0, 1, 2].map((u) => Array.from({ length: 25 }, (_, j) => 1 + ((j + 7 * u) % 40)));
const train = fromSequences(seqs, 60);
const test = fromSequences([[45], [46], [47]], 60);
const users = buildProbeUsers(train, test, catalogue, [0, 1, 2], 19, 7);

describe('grounding', () => {
  it('matches exact, normalised and near-miss titles, and rejects inventions', async () => {
    const g = new Grounder(catalogue);
    expect(normaliseTitle('Matrix, The (1999)')).toBe('matrix');
    expect(normaliseTitle('The Matrix')).toBe('matrix');
    expect(normaliseTitle('2. Amélie (2001)')).toBe('amelie');
    expect(await g.ground('Film 12 (1912)')).toEqual({ item: 12, method: 'exact', score: 1 });
    expect(await g.ground('The Matrix')).toMatchObject({ item: 0, method: 'normalised' });
    expect(await g.ground('  film 12 ')).toMatchObject({ item: 12, method: 'normalised' });
    const typo = await g.ground('Matirx, The (1999)');
    expect(typo).toMatchObject({ item: 0, method: 'embedding' });
    expect(typo.score).toBeGreaterThan(0.6);
    expect(await g.ground('Zyxqv Imaginary Picture No. 3 (2031)')).toMatchObject({ item: -1, method: 'none' });
  });
});

describe('probe users', () => {
  it('draw distinct unseen negatives, deterministically', () => {
    for (const pu of users) {
      expect(pu.negatives).toHaveLength(19);
      expect(new Set(pu.negatives).size).toBe(19);
      const seen = new Set([...pu.history.map((h) => h.id), pu.target]);
      for (const n of pu.negatives) expect(seen.has(n)).toBe(false);
    }
    expect(buildProbeUsers(train, test, catalogue, [0, 1, 2], 19, 7)).toEqual(users);
    expect(users[1].history).toEqual(userHistory(train, 1, catalogue));
  });

  it('orderTau is 1 for the shown order, −1 reversed, hand value otherwise', () => {
    expect(orderTau([0, 1, 2, 3])).toBe(1);
    expect(orderTau([3, 2, 1, 0])).toBe(-1);
    // (0,2,1): pairs (0,2)+ (0,1)+ (2,1)− → (2 − 1)/3.
    expect(orderTau([0, 2, 1])).toBeCloseTo(1 / 3, 12);
  });
});

describe('probes with scripted LLM recommenders', () => {
  it('a recommender that echoes the candidate order shows maximal position bias', async () => {
    const provider = createProvider('scripted:identity-ranker') as ScriptedProvider;
    const r = await runProbes(users, { client: new LLMClient(provider), grounder: new Grounder(catalogue), catalogue, probes: ['position'], progress: false });
    const by = (n: string) => r.conditions.find((c) => c.condition.name === n)!;
    expect(by('target-first').metrics).toMatchObject({ 'hr@1': 1, 'ndcg@10': 1 });
    expect(by('target-last').metrics).toMatchObject({ 'hr@1': 0, 'hr@10': 0, 'ndcg@10': 0 });
    expect(by('target-last').meanTargetRank).toBe(19);
    expect(r.summary.positionGap).toBe(1);
    for (const c of r.conditions) expect(c.inputOrderTau).toBe(1);
    // Random position: metrics equal the hand formula on the positions the target was shown at.
    const pos = r.records.filter((x) => x.condition === 'target-random').map((x) => x.candidates.indexOf(x.target));
    const hand = pos.reduce((s, p) => s + (p < 10 ? 1 / Math.log2(p + 2) : 0), 0) / pos.length;
    expect(by('target-random').metrics['ndcg@10']).toBeCloseTo(hand, 12);
    expect(by('target-random').metrics['hr@5']).toBeCloseTo(pos.filter((p) => p < 5).length / pos.length, 12);
    // Same candidates and order → the candidates-first prompt changes nothing for this ranker.
    expect(r.summary.promptOrderEffect).toBe(0);
    expect(by('candidates-first').templates).toEqual(['rank-candidates-first@1']);
    const cf = provider.requests.find((q) => q.tag === 'rank-candidates-first@1')!;
    const text = cf.messages[1].content;
    expect(text.indexOf('Candidates (20)')).toBeLessThan(text.indexOf("The user's history"));
    expect(r.summary.hallucinationRate).toBe(0);
  });

  it('a recommender that invents titles has hallucination rate 1.0', async () => {
    const r = await runProbes(users, { client: new LLMClient(createProvider('scripted:hallucinator')), grounder: new Grounder(catalogue), catalogue, probes: ['hallucination'], progress: false });
    expect(r.summary.hallucinationRate).toBe(1);
    const c = r.conditions[0];
    expect(c.hallucinationRate).toBe(1);
    expect(c.missingRate).toBe(1);
    expect(c.metrics['hr@10']).toBe(0);
    expect(c.n).toBe(3);
  });

  it('history-length and profile probes send what they claim', async () => {
    const provider = createProvider('scripted:genre-ranker') as ScriptedProvider;
    const r = await runProbes(users, { client: new LLMClient(provider), grounder: new Grounder(catalogue), catalogue, probes: ['length', 'profile'], progress: false });
    // Conditions: len=5,10,15,20 (= no-profile), len=20-shuffled, with-profile, profile-only → 7 rank calls + 1 profile call per user.
    expect(r.conditions.map((c) => c.condition.name)).toEqual(['len=5', 'len=10', 'len=15', 'len=20', 'len=20-shuffled', 'with-profile', 'profile-only']);
    expect(r.conditions[3].condition.aliases).toEqual(['no-profile']);
    expect(provider.requests.filter((q) => q.tag === 'profile@1')).toHaveLength(3);
    expect(provider.requests.filter((q) => q.tag === 'rank-history-first@1')).toHaveLength(21);
    const histories = provider.requests.filter((q) => q.tag === 'rank-history-first@1').map((q) => (q.meta as { history: { id: number }[] }).history.map((h) => h.id));
    // Profile without history: the prompt carries no history at all (length 0, not the whole history).
    expect(new Set(histories.map((h) => h.length))).toEqual(new Set([0, 5, 10, 15, 20]));
    const withProfile = provider.requests.filter((q) => (q.meta as { profile?: string }).profile);
    expect(withProfile).toHaveLength(6);
    expect(withProfile.filter((q) => (q.meta as { history: unknown[] }).history.length === 0)).toHaveLength(3);
    expect(withProfile[0].messages[1].content).toContain("The user's profile:\nWatches mostly");
    expect(Object.keys(r.summary.length!)).toEqual(['len=5', 'len=10', 'len=15', 'len=20', 'len=20-shuffled']);
    expect(Number.isFinite(r.summary.profileEffect)).toBe(true);
    expect(Number.isFinite(r.summary.profileOnlyEffect)).toBe(true);
    expect(probeConditions(['length', 'position', 'profile', 'hallucination'], [5, 10, 15, 20])).toHaveLength(10);
  });
});

describe('ranking and re-ranking', () => {
  it('counts hallucinations, out-of-candidate items and duplicates, and keeps every item when re-ranking', async () => {
    const script = (r: ChatRequest) => {
      const names = (r.meta as { candidates: { title: string }[] }).candidates.map((c) => c.title);
      // candidate 3, a duplicate of it, a real non-candidate, an invention, candidate 1.
      return { ranking: [names[2], names[2].toUpperCase(), 'Film 59 (1959)', 'Nothing Like This Exists', names[0]] };
    };
    const client = new LLMClient(new ScriptedProvider('mixed', script));
    const g = new Grounder(catalogue);
    const top = [5, 6, 7, 8];
    const o = await rankCandidates(client, g, catalogue, { history: users[0].history.slice(-5), candidates: top });
    expect(o).toMatchObject({ ranking: [7, 5], outputs: 5, hallucinated: 1, outOfCandidates: 1, duplicates: 1, missing: 2, valid: true });
    expect(o.matchedBy).toEqual({ exact: 3, normalised: 1, embedding: 0 });
    const rr = await rerankTopK(client, g, catalogue, users[0].history.slice(-5), top);
    expect(rr.list).toEqual([7, 5, 6, 8]);
  });

  it('profiles fall back to top genres when the reply stays invalid', async () => {
    const p = await generateProfile(new LLMClient(new ScriptedProvider('mute', () => '...')), 0, 'u0', users[0].history);
    expect(p.error).toMatch(/not JSON/);
    expect(p.profile).toMatch(/^Watches mostly /);
    const ok = await generateProfile(new LLMClient(createProvider('scripted:genre-profiler')), 0, 'u0', users[0].history);
    expect(ok.template).toBe('profile@1');
    expect(ok.error).toBeUndefined();
  });
});
