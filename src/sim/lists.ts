/**
 * List logs and re-ranking on them — the harness of RELIFE and the DIN-style re-ranker (those are
 * in rerank/; docs/sim.md): the logs, the training-free re-rankers and the list metrics.
 *
 * Logs: for each user, a ranker's top `pool` items; `history` past lists of `size` items drawn from
 * the pool without repeats, then one candidate list of `candidateSize` items the same way; each
 * list in the ranker's order. Every shown item gets a click
 * when the user model's reward reaches `clickAt` (shown and not clicked = a skip): the list-level
 * hybrid feedback of RELIFE.
 *
 * Re-rankers of the candidate list:
 * - `initial`: the ranker's order;
 * - `mmr`: maximal marginal relevance (Carbonell & Goldstein 1998) — repeatedly the item with the
 *   largest λ·s(i) − (1 − λ)·max_{j picked} sim(i, j), s = the ranker score min-max scaled within
 *   the list, sim = genre Jaccard;
 * - `feedback`: s(i) + α·aff⁺(i) − γ·aff⁻(i), aff± = the mean genre Jaccard of i to the clicked
 *   (resp. skipped) items of the past lists — a training-free use of the clicks and the skips;
 *   `feedback-pos` is the same with γ = 0 (positives only: the ablation of negative feedback).
 * Metrics of the re-ranked list (clicks by the user model): NDCG@k, MAP@k (AP normalised by
 * min(k, #clicks in the list)), clicks@k.
 */
import { Rng } from '../util/rng.ts';
import type { ItemCategories } from './env.ts';
import type { RewardMatrix } from './user-model.ts';

/** One user's log: past lists with their clicks, and the candidate list with its (hidden) clicks. */
export interface ListLog {
  user: number;
  past: { items: Int32Array; clicks: Uint8Array }[];
  candidates: Int32Array;
  /** Ranker score of each candidate. */
  scores: Float64Array;
  clicks: Uint8Array;
}

/** Settings of {@link generateListLogs}. */
export interface ListLogOptions {
  pool: number;
  /** Items per past list. */
  size: number;
  /** Items in the candidate list (longer than the cutoff, so clicks@k depends on the order). */
  candidateSize: number;
  history: number;
  clickAt: number;
  seed: number;
}

export const LIST_LOG_DEFAULTS: ListLogOptions = { pool: 100, size: 10, candidateSize: 20, history: 5, clickAt: 4, seed: 0 };

/** Logs for every user from ranker scores (row-major nUsers × nItems) and the user model. */
export function generateListLogs(rewards: RewardMatrix, ranker: Float32Array, options: Partial<ListLogOptions> = {}): ListLog[] {
  const o = { ...LIST_LOG_DEFAULTS, ...options };
  const n = rewards.nItems;
  const need = o.history * o.size + o.candidateSize;
  if (need > o.pool || o.pool > n) throw new Error(`list logs: ${o.history} lists of ${o.size} and a candidate list of ${o.candidateSize} need a pool of at least ${need} items (pool ${o.pool}, catalogue ${n})`);
  const rng = new Rng(o.seed);
  const logs: ListLog[] = [];
  for (let u = 0; u < rewards.nUsers; u++) {
    const row = ranker.subarray(u * n, (u + 1) * n);
    const pool = Array.from({ length: n }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b).slice(0, o.pool);
    rng.shuffle(pool);
    const list = (from: number, size: number): Int32Array => Int32Array.from(pool.slice(from, from + size)).sort((a, b) => row[b] - row[a] || a - b);
    const clicksOf = (items: Int32Array): Uint8Array => Uint8Array.from(items, (i) => (rewards.values[u * n + i] >= o.clickAt ? 1 : 0));
    const past = Array.from({ length: o.history }, (_, h) => {
      const items = list(h * o.size, o.size);
      return { items, clicks: clicksOf(items) };
    });
    const candidates = list(o.history * o.size, o.candidateSize);
    logs.push({ user: u, past, candidates, scores: Float64Array.from(candidates, (i) => row[i]), clicks: clicksOf(candidates) });
  }
  return logs;
}

/** Genre Jaccard similarity of two items (0 when both have no genre). */
export function genreSim(cats: ItemCategories, a: number, b: number): number {
  let inter = 0;
  for (let x = cats.offsets[a]; x < cats.offsets[a + 1]; x++) for (let y = cats.offsets[b]; y < cats.offsets[b + 1]; y++) if (cats.values[x] === cats.values[y]) inter++;
  const union = cats.offsets[a + 1] - cats.offsets[a] + cats.offsets[b + 1] - cats.offsets[b] - inter;
  return union === 0 ? 0 : inter / union;
}

function scaled(scores: Float64Array): Float64Array {
  let lo = Infinity, hi = -Infinity;
  for (const s of scores) {
    lo = Math.min(lo, s);
    hi = Math.max(hi, s);
  }
  return scores.map((s) => (hi > lo ? (s - lo) / (hi - lo) : 0));
}

/** Positions of the candidates in the re-ranked order (a permutation of 0 … size − 1). */
export function rerankMmr(log: ListLog, cats: ItemCategories, lambda: number): number[] {
  const s = scaled(log.scores);
  const left = Array.from(log.candidates.keys()), out: number[] = [];
  while (left.length > 0) {
    let best = 0, bestV = -Infinity;
    left.forEach((p, idx) => {
      let maxSim = 0;
      for (const q of out) maxSim = Math.max(maxSim, genreSim(cats, log.candidates[p], log.candidates[q]));
      const v = lambda * s[p] - (1 - lambda) * maxSim;
      if (v > bestV) {
        bestV = v;
        best = idx;
      }
    });
    out.push(left.splice(best, 1)[0]);
  }
  return out;
}

/** The feedback re-ranker: s + α·aff⁺ − γ·aff⁻ (see the file comment). */
export function rerankFeedback(log: ListLog, cats: ItemCategories, alpha: number, gamma: number): number[] {
  const s = scaled(log.scores);
  const pos: number[] = [], neg: number[] = [];
  for (const l of log.past) l.items.forEach((i, k) => (l.clicks[k] ? pos : neg).push(i));
  const aff = (i: number, set: number[]): number => (set.length === 0 ? 0 : set.reduce((a, j) => a + genreSim(cats, i, j), 0) / set.length);
  const v = Array.from(log.candidates, (i, p) => s[p] + alpha * aff(i, pos) - gamma * aff(i, neg));
  return Array.from(log.candidates.keys()).sort((a, b) => v[b] - v[a] || a - b);
}

/** NDCG@k, AP@k and clicks@k of an order over a list with binary clicks. */
export function listMetrics(order: readonly number[], clicks: Uint8Array, k: number): { ndcg: number; map: number; clicks: number } {
  const total = clicks.reduce((a, c) => a + c, 0);
  let dcg = 0, idcg = 0, hits = 0, ap = 0;
  for (let r = 0; r < Math.min(k, order.length); r++) {
    if (clicks[order[r]]) {
      dcg += 1 / Math.log2(r + 2);
      hits++;
      ap += hits / (r + 1);
    }
    if (r < total) idcg += 1 / Math.log2(r + 2);
  }
  return { ndcg: idcg > 0 ? dcg / idcg : 0, map: total > 0 ? ap / Math.min(k, total) : 0, clicks: hits };
}

/** Re-rankers compared by {@link runRerankExperiment}. */
export const RERANKERS = ['initial', 'mmr', 'feedback', 'feedback-pos'] as const;
export type RerankerName = (typeof RERANKERS)[number];

/** Per re-ranker and seed: mean NDCG@k, MAP@k, clicks@k over users. */
export interface RerankSeed {
  seed: number;
  figures: Record<RerankerName, { ndcg: number; map: number; clicks: number }>;
}

/** Every re-ranker on the logs of each seed (seed = the list sampling); λ = 0.7, α = γ = 0.5. */
export function runRerankExperiment(rewards: RewardMatrix, ranker: Float32Array, cats: ItemCategories, seeds: number, k = 10, options: Partial<ListLogOptions> = {}): RerankSeed[] {
  const out: RerankSeed[] = [];
  for (let s = 0; s < seeds; s++) {
    const logs = generateListLogs(rewards, ranker, { ...options, seed: s });
    const orders: Record<RerankerName, (l: ListLog) => number[]> = {
      initial: (l) => Array.from(l.candidates.keys()),
      mmr: (l) => rerankMmr(l, cats, 0.7),
      feedback: (l) => rerankFeedback(l, cats, 0.5, 0.5),
      'feedback-pos': (l) => rerankFeedback(l, cats, 0.5, 0),
    };
    const figures = {} as RerankSeed['figures'];
    for (const name of RERANKERS) {
      let ndcg = 0, map = 0, clicks = 0;
      for (const l of logs) {
        const m = listMetrics(orders[name](l), l.clicks, k);
        ndcg += m.ndcg;
        map += m.map;
        clicks += m.clicks;
      }
      figures[name] = { ndcg: ndcg / logs.length, map: map / logs.length, clicks: clicks / logs.length };
    }
    out.push({ seed: s, figures });
  }
  return out;
}
