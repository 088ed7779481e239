import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromSequences } from '../data/interactions.ts';
import type { Interactions } from '../data/types.ts';
import { Rng } from '../nn/rng.ts';
import { evaluate, rankRelevant, type TieRule } from './evaluate.ts';
import { catalogueStats, dpd, exposureMetric, reo } from './metrics.ts';
import { parseProtocol, protocolName, sampleCandidates, toCsr } from './protocol.ts';
import { TableModel } from './testutil.ts';

const close = (a: number, b: number, eps = 1e-9, what = ""): void => {
  if (Number.isNaN(b)) expect(a).toBeNaN();
  else expect(Math.abs(a - b), `${what}: got ${a}, expected ${b}`).toBeLessThan(eps);
};

/** One user, 6 items, given scores; history excluded; relevant items given. */
function single(scores: number[], history: number[], relevant: number[]) {
  const nItems = scores.length;
  const train = fromSequences([history], nItems);
  const test = fromSequences([relevant], nItems);
  return { model: new TableModel(Float32Array.from(scores), nItems), data: { history: train, exclude: [train], targets: test, train } };
}

describe('golden values worked out by hand', () => {
  it('target at rank 3 with k = 5: hr 1, ndcg 0.5, mrr 1/3', async () => {
    // Item 4 is the target; items 1 and 2 score higher; item 0 (higher still) is history and excluded.
    const { model, data } = single([9, 8, 7, 1, 5, 0.5], [0], [4]);
    const r = await evaluate(model, data, { metrics: ['hr@5', 'ndcg@5', 'mrr@5', 'hr@2', 'ndcg@2', 'recall@5', 'precision@5', 'map@5', 'auc'] });
    close(r.metrics['hr@5'], 1);
    close(r.metrics['ndcg@5'], 0.5);
    close(r.metrics['mrr@5'], 1 / 3);
    close(r.metrics['hr@2'], 0);
    close(r.metrics['ndcg@2'], 0);
    close(r.metrics['recall@5'], 1);
    close(r.metrics['precision@5'], 1 / 5);
    close(r.metrics['map@5'], 1 / 3);
    // Candidates: items 1..5 (5), negatives 4, of which 2 above the target: AUC = 1 − 2/4.
    close(r.metrics.auc, 0.5);
    expect(r.protocol).toMatchObject({ candidates: 'full', ties: 'pessimistic', nUsers: 1, nItems: 6 });
  });

  it('ties: pessimistic puts the target below equal scores, optimistic above', async () => {
    const { model, data } = single([3, 2, 2, 2, 1, 0], [], [2]);
    const pes = await evaluate(model, data, { metrics: ['mrr@10', 'hr@2'] });
    const opt = await evaluate(model, data, { metrics: ['mrr@10', 'hr@2'], ties: 'optimistic' });
    close(pes.metrics['mrr@10'], 1 / 4); // 3, 2, 2 above it
    close(opt.metrics['mrr@10'], 1 / 2); // only 3 above it
    close(pes.metrics['hr@2'], 0);
    close(opt.metrics['hr@2'], 1);
  });

  it('constant scores give the worst rank, not the best', async () => {
    const { model, data } = single([0, 0, 0, 0, 0, 0], [1], [5]);
    const r = await evaluate(model, data, { metrics: ['mrr@10'] });
    close(r.metrics['mrr@10'], 1 / 5); // 5 candidates, target last
  });

  it('several relevant items: recall, precision, ndcg, map by hand', async () => {
    // Ranking (history item 0 excluded): 1 (0.9), 3 (0.8, rel), 2 (0.7), 5 (0.6, rel), 4 (0.1), 6 (0.05, rel).
    const { model, data } = single([1, 0.9, 0.7, 0.8, 0.1, 0.6, 0.05], [0], [3, 5, 6]);
    const r = await evaluate(model, data, { metrics: ['hr@3', 'recall@4', 'precision@4', 'ndcg@4', 'map@4', 'mrr@4', 'auc', 'gauc'] });
    close(r.metrics['hr@3'], 1);
    close(r.metrics['recall@4'], 2 / 3);
    close(r.metrics['precision@4'], 2 / 4);
    // DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3) + 1/log2(4).
    close(r.metrics['ndcg@4'], (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3) + 0.5));
    // AP@4 = (1/2 + 2/4) / min(3, 4).
    close(r.metrics['map@4'], (0.5 + 0.5) / 3);
    close(r.metrics['mrr@4'], 0.5);
    // Pairs: relevant 3 below 1 neg; 5 below 2; 6 below 3 → 6 wrong of 3·3.
    close(r.metrics.auc, 1 - 6 / 9);
    close(r.metrics.gauc, 1 - 6 / 9);
  });

  it('a held-out item that is also in the history is still ranked', async () => {
    const { model, data } = single([5, 4, 3], [0, 1], [0]);
    const r = await evaluate(model, data, { metrics: ['mrr@3'] });
    close(r.metrics['mrr@3'], 1);
  });

  it('gauc weights users by their number of relevant items, auc does not', async () => {
    // User 0: one target, AUC 1. User 1: two targets with AUC 0.
    const nItems = 4;
    const table = Float32Array.from([4, 3, 2, 1, 1, 2, 3, 4]);
    const train = fromSequences([[], []], nItems);
    const test = fromSequences([[0], [0, 1]], nItems);
    const r = await evaluate(new TableModel(table, nItems), { history: train, exclude: [train], targets: test, train }, { metrics: ['auc', 'gauc'] });
    close(r.metrics.auc, 0.5);
    close(r.metrics.gauc, 1 / 3);
  });
});

describe('beyond-accuracy metrics by hand', () => {
  it('coverage, gini, entropy of exposure counts', () => {
    close(exposureMetric('coverage', [2, 0, 1, 1]), 3 / 4);
    // Sorted 0,1,1,2: Σ(2j−n−1)c = (−3)(0)+(−1)(1)+(1)(1)+(3)(2) = 6; G = 6 / (4·4).
    close(exposureMetric('gini', [2, 0, 1, 1]), 6 / 16);
    close(exposureMetric('gini', [1, 1, 1, 1]), 0);
    close(exposureMetric('gini', [0, 0, 0, 5]), 3 / 4);
    close(exposureMetric('entropy', [2, 0, 1, 1]), 1.5);
  });

  it('reo and dpd', () => {
    // Head recall 2/4, tail recall 1/4: mean 3/8, std 1/8.
    close(reo([2, 1], [4, 4]), 1 / 3);
    expect(reo([2, 0], [4, 0])).toBeNaN();
    // 20 users, 5 % active = 1 user (the most active, user 3 with ndcg 1); others mean 0.1.
    const nd = Array.from({ length: 20 }, (_, i) => (i === 3 ? 1 : 0.1));
    const act = Array.from({ length: 20 }, (_, i) => (i === 3 ? 100 : i));
    close(dpd(nd, act), 0.9);
  });

  it('list metrics through the evaluator: coverage, arp, aplt, aclt, novelty, serendipity, ild', async () => {
    // 3 users, 5 items. Train counts: item0 ×3, item1 ×2, item2 ×1 → total 6; head (20 % = 1.2) = {0}.
    const nItems = 5;
    const train = fromSequences([[0, 1], [0, 1], [0, 2]], nItems);
    const test = fromSequences([[3], [2], [4]], nItems);
    // Every user scores items 4 > 3 > 2 > 1 > 0; after excluding train items:
    // u0 top-2 = [4, 3]; u1 = [4, 3]; u2 = [4, 3].
    const table = Float32Array.from({ length: 15 }, (_, j) => j % 5);
    const features = { kind: 'sets' as const, offsets: Int32Array.from([0, 1, 2, 3, 4, 6]), values: Int32Array.from([0, 0, 1, 1, 1, 2]) };
    const r = await evaluate(new TableModel(table, nItems), { history: train, exclude: [train], targets: test, train }, {
      metrics: ['coverage@2', 'arp@2', 'aplt@2', 'aclt@2', 'novelty@2', 'serendipity@2', 'ild@2', 'gini@2', 'hr@2'],
      features,
    });
    close(r.metrics['coverage@2'], 2 / 5);
    close(r.metrics['arp@2'], 0); // items 3 and 4 have no train interactions
    close(r.metrics['aplt@2'], 1);
    close(r.metrics['aclt@2'], 2);
    // Unseen items get p = 1/nUsers → −log2(1/3).
    close(r.metrics['novelty@2'], Math.log2(3));
    // Primitive (pop) top-2 per user under the same exclusions: u0 {2, 3}, u1 {2, 3}, u2 {1, 3}.
    // u0: relevant 3 in list but also in PM → 0; u1: relevant 2 not in list → 0; u2: relevant 4, not in PM → 1/2.
    close(r.metrics['serendipity@2'], (0 + 0 + 0.5) / 3);
    // Items 3 {1} and 4 {1, 2}: Jaccard distance 1 − 1/2.
    close(r.metrics['ild@2'], 0.5);
    // Exposure: items 3 and 4 three times each, others 0: sorted 0,0,0,3,3 → (2·3 + 4·3)/(5·6).
    close(r.metrics['gini@2'], 18 / 30);
    close(r.metrics['hr@2'], 2 / 3);
  });

  it('catalogueStats: head is the most popular items covering 20 % of interactions', () => {
    const train = fromSequences([[0, 0, 0, 1], [0, 1, 2, 3, 4, 5]], 6);
    const s = catalogueStats(train);
    // 10 events: item0 ×4 alone covers ≥ 2.
    expect([...s.head]).toEqual([1, 0, 0, 0, 0, 0]);
    expect([...s.itemUsers]).toEqual([2, 2, 1, 1, 1, 1]);
    expect(s.byPopularity[0]).toBe(0);
  });
});

/**
 * The slow, obviously-correct reference: sort every candidate by score (NaN = −∞), putting
 * relevant items after non-relevant ones of equal score under the pessimistic rule (before them
 * under the optimistic rule) and relevant ones among themselves by id; then read the metrics off
 * the sorted list with their textbook definitions.
 */
function reference(scores: Float32Array, nItems: number, users: number[], excluded: Set<number>[], relevant: Set<number>[], k: number, ties: TieRule, candidates?: number[][]) {
  const out = { hr: 0, recall: 0, precision: 0, ndcg: 0, mrr: 0, map: 0, auc: 0, aucUsers: 0, n: 0 };
  users.forEach((u, j) => {
    const rel = relevant[j];
    if (rel.size === 0) return;
    const cand = candidates ? [...new Set(candidates[j])] : Array.from({ length: nItems }, (_, i) => i).filter((i) => !excluded[j].has(i) || rel.has(i));
    const s = (i: number): number => (Number.isNaN(scores[u * nItems + i]) ? -Infinity : scores[u * nItems + i]);
    const sorted = [...cand].sort((a, b) => {
      if (s(a) !== s(b)) return s(b) - s(a);
      const ra = rel.has(a) ? 1 : 0;
      const rb = rel.has(b) ? 1 : 0;
      if (ra !== rb) return ties === 'pessimistic' ? ra - rb : rb - ra;
      return ra && rb ? a - b : 0;
    });
    const missing = [...rel].filter((t) => !cand.includes(t)).length;
    const top = sorted.slice(0, k);
    const hits = top.filter((i) => rel.has(i)).length;
    out.hr += hits > 0 ? 1 : 0;
    out.recall += hits / rel.size;
    out.precision += hits / k;
    let dcg = 0;
    let idcg = 0;
    let ap = 0;
    let h = 0;
    top.forEach((i, pos) => {
      if (rel.has(i)) {
        dcg += 1 / Math.log2(pos + 2);
        h++;
        ap += h / (pos + 1);
      }
    });
    for (let p = 0; p < Math.min(rel.size, k); p++) idcg += 1 / Math.log2(p + 2);
    out.ndcg += dcg / idcg;
    out.map += ap / Math.min(rel.size, k);
    const first = top.findIndex((i) => rel.has(i));
    out.mrr += first >= 0 ? 1 / (first + 1) : 0;
    // AUC by counting pairs; missing relevant items sit below every candidate.
    const negs = sorted.filter((i) => !rel.has(i));
    if (negs.length > 0) {
      let good = 0;
      sorted.forEach((i, pos) => {
        if (!rel.has(i)) return;
        const negAbove = sorted.slice(0, pos).filter((x) => !rel.has(x)).length;
        good += negs.length - negAbove;
      });
      out.auc += good / (rel.size * negs.length);
      out.aucUsers++;
    }
    out.n++;
    void missing;
  });
  return {
    [`hr@${k}`]: out.hr / out.n,
    [`recall@${k}`]: out.recall / out.n,
    [`precision@${k}`]: out.precision / out.n,
    [`ndcg@${k}`]: out.ndcg / out.n,
    [`mrr@${k}`]: out.mrr / out.n,
    [`map@${k}`]: out.map / out.n,
    auc: out.aucUsers ? out.auc / out.aucUsers : NaN,
  };
}

/** Random problem: scores quantised so ties happen, some NaN; random histories and targets. */
function randomProblem(seed: number, nUsers: number, nItems: number, maxTargets: number) {
  const rng = new Rng(seed);
  const table = Float32Array.from({ length: nUsers * nItems }, () => (rng.next() < 0.02 ? NaN : Math.floor(rng.next() * 8) / 8));
  const hist: number[][] = [];
  const tgt: number[][] = [];
  for (let u = 0; u < nUsers; u++) {
    const perm = rng.shuffle(Int32Array.from({ length: nItems }, (_, i) => i));
    const h = rng.int(Math.floor(nItems / 2));
    const t = rng.int(maxTargets + 1); // some users get no target (skipped)
    hist.push([...perm.subarray(0, h)]);
    tgt.push([...perm.subarray(h, h + t)]);
    if (t > 0 && rng.next() < 0.1) tgt[u].push(hist[u][0] ?? tgt[u][0]); // repeat consumption
  }
  return { table, train: fromSequences(hist, nItems), test: fromSequences(tgt, nItems), hist, tgt };
}

describe('fast evaluator matches the slow reference on random data', () => {
  for (const [seed, nItems, maxTargets, ties, block] of [
    [1, 37, 1, 'pessimistic', 7],
    [2, 50, 1, 'optimistic', 256],
    [3, 23, 4, 'pessimistic', 5],
    [4, 64, 6, 'optimistic', 3],
  ] as const) {
    it(`seed ${seed}: ${nItems} items, ≤ ${maxTargets} targets, ${ties} ties, blocks of ${block}`, async () => {
      const nUsers = 40;
      const { table, train, test, hist, tgt } = randomProblem(seed, nUsers, nItems, maxTargets);
      const k = 5;
      const metrics = ['hr', 'recall', 'precision', 'ndcg', 'mrr', 'map'].map((m) => `${m}@${k}`).concat('auc');
      const r = await evaluate(new TableModel(table, nItems), { history: train, exclude: [train], targets: test, train }, { metrics, ties, blockSize: block });
      const users = [...r.users];
      expect(users).toEqual(tgt.map((t, u) => (t.length ? u : -1)).filter((u) => u >= 0));
      const ref = reference(table, nItems, users, users.map((u) => new Set(hist[u])), users.map((u) => new Set(tgt[u])), k, ties);
      for (const m of metrics) close(r.metrics[m], ref[m], 1e-9, m);
    });
  }

  it('sampled protocol: same candidates ranked as the reference does', async () => {
    const nItems = 60;
    const { table, train, test, hist, tgt } = randomProblem(9, 30, nItems, 2);
    const r = await evaluate(new TableModel(table, nItems), { history: train, exclude: [train], targets: test, train }, { metrics: ['hr@5', 'ndcg@5', 'mrr@5', 'auc'], protocol: 'uni10', seed: 3 });
    expect(r.protocol.candidates).toBe('uni10');
    const users = [...r.users];
    const cands = users.map((u) => [...r.candidates!.items.subarray(r.candidates!.offsets[u], r.candidates!.offsets[u + 1])]);
    const ref = reference(table, nItems, users, users.map((u) => new Set(hist[u])), users.map((u) => new Set(tgt[u])), 5, 'pessimistic', cands);
    for (const m of ['hr@5', 'ndcg@5', 'mrr@5', 'auc']) close(r.metrics[m], ref[m], 1e-9);
  });

  it('rerank protocol: given lists, missing relevant items are misses, users without a list are skipped', async () => {
    const nItems = 40;
    const { table, train, test, hist, tgt } = randomProblem(21, 30, nItems, 3);
    const rng = new Rng(4);
    const withList = tgt.map((t, u) => (t.length && u % 5 !== 0 ? u : -1)).filter((u) => u >= 0);
    const lists = withList.map(() => [...rng.shuffle(Int32Array.from({ length: nItems }, (_, i) => i)).subarray(0, 12)]);
    const candidates = toCsr(Int32Array.from(withList), lists, 30);
    const metrics = ['hr@5', 'recall@5', 'ndcg@5', 'mrr@5', 'map@5', 'auc'];
    const r = await evaluate(new TableModel(table, nItems), { history: train, exclude: [train], targets: test, train }, { metrics, protocol: { kind: 'rerank', candidates } });
    expect([...r.users]).toEqual(withList);
    const ref = reference(table, nItems, withList, withList.map((u) => new Set(hist[u])), withList.map((u) => new Set(tgt[u])), 5, 'pessimistic', lists);
    for (const m of metrics) close(r.metrics[m], ref[m], 1e-9, m);
  });

  it('rerank by hand: a relevant item missing from the list is a miss with AUC 0', async () => {
    const nItems = 5;
    const table = Float32Array.from([5, 4, 3, 2, 1, 5, 4, 3, 2, 1]);
    const train = fromSequences([[], []], nItems);
    const test = fromSequences([[2], [4]], nItems);
    const candidates = toCsr(Int32Array.of(0, 1), [[0, 2, 3], [0, 1]], 2);
    const r = await evaluate(new TableModel(table, nItems), { history: train, exclude: [train], targets: test, train }, { metrics: ['hr@2', 'auc'], protocol: { kind: 'rerank', candidates } });
    // User 0: list 0 (5), 2 (3), 3 (2) → target second: hr@2 = 1, AUC = 1/2. User 1: target absent.
    expect([...r.perUser['hr@2']]).toEqual([1, 0]);
    expect([...r.perUser.auc]).toEqual([0.5, 0]);
  });

  it('the vectorised one-target path agrees with the general path (rankRelevant)', () => {
    const rng = new Rng(5);
    const row = Float32Array.from({ length: 101 }, () => Math.round(rng.normal() * 3));
    for (const ties of ['pessimistic', 'optimistic'] as const) {
      for (let t = 0; t < 101; t += 10) {
        let gt = 0;
        let eq = 0;
        for (const s of row) {
          if (s > row[t]) gt++;
          else if (s === row[t]) eq++;
        }
        const { ranks } = rankRelevant(row, Int32Array.of(t), null, () => false, ties);
        expect(ranks[0]).toBe(gt + (ties === 'pessimistic' ? eq - 1 : 0));
      }
    }
  });
});

describe('property tests', () => {
  const problem = fc.record({
    seed: fc.integer({ min: 0, max: 1e6 }),
    nItems: fc.integer({ min: 2, max: 30 }),
    maxTargets: fc.integer({ min: 1, max: 5 }),
  });
  it('every metric lies in its range and hr@k, recall@k, ndcg@k (one target) never decrease with k', async () => {
    await fc.assert(
      fc.asyncProperty(problem, async ({ seed, nItems, maxTargets }) => {
        const { table, train, test } = randomProblem(seed, 12, nItems, maxTargets);
        if (test.items.length === 0) return;
        const ks = [1, 2, 3, 5, 10, 40];
        const names = ['hr', 'recall', 'precision', 'ndcg', 'mrr', 'map', 'coverage', 'gini', 'aplt', 'serendipity'];
        const metrics = ks.flatMap((k) => names.map((n) => `${n}@${k}`)).concat('auc', 'gauc');
        const r = await evaluate(new TableModel(table, nItems), { history: train, exclude: [train], targets: test, train }, { metrics });
        for (const [name, v] of Object.entries(r.metrics)) {
          if (Number.isNaN(v)) continue;
          expect(v, name).toBeGreaterThanOrEqual(0);
          expect(v, name).toBeLessThanOrEqual(1 + 1e-12);
        }
        for (let j = 1; j < ks.length; j++) {
          for (const n of ['hr', 'recall', 'mrr', 'coverage']) {
            expect(r.metrics[`${n}@${ks[j]}`] + 1e-12, `${n}@${ks[j]}`).toBeGreaterThanOrEqual(r.metrics[`${n}@${ks[j - 1]}`]);
          }
          // Per user: hr@k ≥ ndcg@k ≥ 0 for a single target, ndcg@k ≤ 1.
          const hr = r.perUser[`hr@${ks[j]}`];
          const nd = r.perUser[`ndcg@${ks[j]}`];
          for (let i = 0; i < hr.length; i++) if (r.perUser[`recall@${ks[j]}`][i] === hr[i]) expect(nd[i]).toBeLessThanOrEqual(hr[i] + 1e-12);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('sampled candidates', () => {
  const nItems = 200;
  const { train, test, hist, tgt } = randomProblem(11, 50, nItems, 2);
  const users = Int32Array.from(tgt.map((t, u) => (t.length ? u : -1)).filter((u) => u >= 0));
  it('are the relevant items plus n distinct negatives the user never interacted with', () => {
    const c = sampleCandidates({ kind: 'sampled', sampler: 'uniform', n: 20, seed: 1 }, users, test, [train, test], train);
    for (const u of users) {
      const list = [...c.items.subarray(c.offsets[u], c.offsets[u + 1])];
      const rel = [...new Set(tgt[u])];
      expect(list.slice(0, rel.length)).toEqual(rel);
      const negs = list.slice(rel.length);
      expect(negs).toHaveLength(20);
      expect(new Set(negs).size).toBe(20);
      for (const i of negs) {
        expect(hist[u]).not.toContain(i);
        expect(tgt[u]).not.toContain(i);
      }
    }
  });
  it('are fixed by the seed and independent of which other users are evaluated', () => {
    const p = { kind: 'sampled' as const, sampler: 'popularity' as const, n: 10, seed: 7 };
    const all = sampleCandidates(p, users, test, [train, test], train);
    const some = sampleCandidates(p, users.subarray(3, 6), test, [train, test], train);
    for (const u of users.subarray(3, 6)) {
      expect([...some.items.subarray(some.offsets[u], some.offsets[u + 1])]).toEqual([...all.items.subarray(all.offsets[u], all.offsets[u + 1])]);
    }
    const other = sampleCandidates({ ...p, seed: 8 }, users, test, [train, test], train);
    expect([...other.items]).not.toEqual([...all.items]);
  });
  it('a user with fewer eligible negatives than asked gets all of them', () => {
    const tr = fromSequences([[0, 1, 2, 3, 4, 5, 6]], 10);
    const te = fromSequences([[9]], 10);
    const c = sampleCandidates({ kind: 'sampled', sampler: 'uniform', n: 5, seed: 0 }, Int32Array.of(0), te, [tr, te], tr);
    expect([...c.items]).toEqual([9, 7, 8]);
  });
  it('popularity negatives follow train popularity and never pick unseen items', () => {
    // Train: item 1 seen 3×, item 2 once, others never. Target item 0; no history.
    const tr = fromSequences([[1, 1, 1, 2], []], 10);
    const te = fromSequences([[], [0]], 10);
    let ones = 0;
    for (let s = 0; s < 400; s++) {
      const c = sampleCandidates({ kind: 'sampled', sampler: 'popularity', n: 1, seed: s }, Int32Array.of(1), te, [te] as Interactions[], tr);
      const neg = c.items[c.offsets[1] + 1];
      expect([1, 2]).toContain(neg);
      if (neg === 1) ones++;
    }
    // P(item 1) = 3/4: 300 of 400 expected, ± 4σ (σ ≈ 8.7).
    expect(Math.abs(ones - 300)).toBeLessThan(35);
  });
  it('popN:all counts popularity on every view in `seen`, held-out items included', () => {
    // Train: item 1 once. Test: item 2 three times (users 0, 2, 3) and item 1 for user 1, whose
    // target it is. Counted on train only, user 4's only drawable negative is item 1; counted on
    // all events, item 1 has 2 of 5 counts and item 2 has 3.
    const tr = fromSequences([[1], [], [], [], []], 10);
    const te = fromSequences([[2], [1], [2], [2], [0]], 10);
    const pAll = parseProtocol('pop1:all', 0);
    expect(pAll).toEqual({ kind: 'sampled', sampler: 'popularity', n: 1, seed: 0, countOn: 'all' });
    expect(protocolName(pAll)).toBe('pop1:all');
    if (pAll.kind !== 'sampled') throw new Error('pop1:all must parse as a sampled protocol');
    expect(protocolName(parseProtocol('pop1:train'))).toBe('pop1');
    expect(() => parseProtocol('uni100:all')).toThrow(/popularity sampling \(popN\) only/);
    let twos = 0;
    for (let s = 0; s < 500; s++) {
      const train = sampleCandidates({ kind: 'sampled', sampler: 'popularity', n: 1, seed: s }, Int32Array.of(4), te, [tr, te], tr);
      expect(train.items[train.offsets[4] + 1]).toBe(1);
      const all = sampleCandidates({ ...pAll, seed: s }, Int32Array.of(4), te, [tr, te], tr);
      const neg = all.items[all.offsets[4] + 1];
      expect([1, 2]).toContain(neg);
      if (neg === 2) twos++;
    }
    // P(item 2) = 3/5: 300 of 500 expected, ± 4σ (σ ≈ 11).
    expect(Math.abs(twos - 300)).toBeLessThan(44);
  });
});

describe('dot-product models on the kernel core', () => {
  it('rank counts from the factors give the same metrics as ranking the score block (ties, both tie rules, several blocks)', async () => {
    const { ItemPanels, scoreDot } = await import('../kernels/score.ts');
    const rng = new Rng(17);
    const nUsers = 90, nItems = 41, dims = 5;
    // integer factors: many exact ties between items
    const U = Float32Array.from({ length: nUsers * dims }, () => rng.int(3) - 1);
    const V = Float32Array.from({ length: nItems * dims }, () => rng.int(3) - 1);
    const panels = new ItemPanels(V, nItems, dims);
    const scoreUsers = (users: Int32Array, _h: Interactions, out: Float32Array): void => {
      const v = new Float32Array(users.length * dims);
      for (let r = 0; r < users.length; r++) v.set(U.subarray(users[r] * dims, users[r] * dims + dims), r * dims);
      scoreDot(panels, v, users.length, out);
    };
    const dot = {
      name: 'dot', config: {}, nItems, fit: async () => { throw new Error('no'); }, save: async () => {},
      scoreUsers,
      itemPanels: () => panels,
      userVectors: (users: Int32Array, _h: Interactions, out: Float32Array) => {
        vectorCalls++;
        for (let r = 0; r < users.length; r++) out.set(U.subarray(users[r] * dims, users[r] * dims + dims), r * dims);
      },
    };
    let vectorCalls = 0;
    const plain = { name: 'plain', config: {}, nItems, fit: dot.fit, save: dot.save, scoreUsers };
    const seqs = Array.from({ length: nUsers }, () => Array.from({ length: 2 + rng.int(8) }, () => rng.int(nItems)));
    const train = fromSequences(seqs.map((s) => s.slice(0, -1)), nItems);
    const test = fromSequences(seqs.map((s) => [s[s.length - 1]]).map((t, u) => (seqs[u].slice(0, -1).includes(t[0]) ? [] : t)), nItems);
    const data = { history: train, exclude: [train], targets: test, train };
    for (const ties of ['optimistic', 'pessimistic'] as const) {
      const metrics = ['hr@5', 'ndcg@5', 'mrr@10', 'auc'];
      const a = await evaluate(dot, data, { metrics, ties, blockSize: 32 });
      const b = await evaluate(plain, data, { metrics, ties, blockSize: 32 });
      for (const m of metrics) expect(a.perUser[m]).toEqual(b.perUser[m]);
    }
    expect(vectorCalls).toBeGreaterThanOrEqual(2 * 3); // the factor path ran, block by block
  });
});
