/**
 * MACRec's tasks on a leave-one-out split (METHODS.md §11), each with its answer schema, its
 * validator, the fallback used when an agent never answers validly, and its metrics:
 *
 * | task | the agent answers | valid when | metrics |
 * |---|---|---|---|
 * | `rerank` | the candidate ids, best first | a permutation of exactly the n candidates | HR@k, NDCG@k of the held-out item |
 * | `rating` | the user's rating of the held-out item | a number in [min, max] of the data's scale | RMSE, MAE (and MSE) |
 * | `explain` | why the user would like the held-out item | a non-empty text | none (MACRec reports none): length and validity |
 *
 * Fallbacks: the candidates in the order shown (re-ranking), the user's mean training rating
 * (rating), and an empty explanation; a forced answer is counted apart in every report.
 */
import { z } from 'zod';
import type { Interactions } from '../data/types.ts';
import { DataRng } from '../data/random.ts';
import type { ProbeUser } from '../llmrec/probes.ts';
import type { AgentTask } from './runtime.ts';
import type { AgentData } from './reclab-tools.ts';
import { RawId } from './tools.ts';

/** The task names. */
export const TASKS = ['rerank', 'rating', 'explain'] as const;
export type TaskName = (typeof TASKS)[number];

/** A task instance with what its metrics need. */
export interface TaskInstance<A = unknown> extends AgentTask<A> {
  /** Dense user id. */
  user: number;
  /** Dense id of the held-out item. */
  target: number;
  /** Re-ranking: candidate raw ids in the order shown. */
  candidates?: string[];
  /** Rating: the true rating. */
  truth?: number;
}

/** Checks that `answer` is a permutation of exactly `candidates`: an error text, or null. */
export function permutationProblem(answer: readonly string[], candidates: readonly string[]): string | null {
  const want = new Set(candidates);
  const seen = new Set<string>();
  for (const a of answer) {
    if (!want.has(a)) return `"${a}" is not one of the candidates`;
    if (seen.has(a)) return `"${a}" appears twice`;
    seen.add(a);
  }
  if (seen.size !== want.size) return `${want.size - seen.size} candidate(s) missing: the answer must order all ${want.size} candidates`;
  return null;
}

/** A re-ranking instance: the user's target and negatives, shuffled with a seeded stream. */
export function rerankTask(data: AgentData, probe: ProbeUser, seed: number): TaskInstance<string[]> {
  const { dataset } = data;
  const ids = [probe.target, ...probe.negatives];
  const rng = new DataRng(seed * 1_000_003 + probe.user);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = rng.uint32() % (i + 1);
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const candidates = ids.map((i) => dataset.itemIds.toRaw(i));
  const user = dataset.userIds.toRaw(probe.user);
  const lines = ids.map((i, n) => `${n + 1}. item ${candidates[n]}: ${data.catalogue.titles[i]}`).join('\n');
  return {
    name: 'rerank',
    instance: `user ${user}`,
    user: probe.user,
    target: probe.target,
    candidates,
    statement: `Rank the following ${ids.length} candidate items for user ${user}, most likely next interaction first. Answer with the list of all ${ids.length} item ids, each exactly once.\nCandidates:\n${lines}`,
    answer: z.array(RawId),
    validate: (a) => permutationProblem(a, candidates),
    fallback: () => candidates.slice(),
    meta: { user, candidates },
  };
}

/** Rating scale of the data (min and max of the values), [1, 5] for MovieLens. */
export function ratingScale(h: Interactions): [number, number] {
  if (!h.values?.length) throw new Error('the rating task needs explicit ratings (the data has no values)');
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of h.values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return [lo, hi];
}

/** A rating-prediction instance: the user's held-out (test) event. */
export function ratingTask(data: AgentData, user: number, target: number, truth: number, scale: [number, number]): TaskInstance<number> {
  const { dataset, history: h } = data;
  const raw = dataset.userIds.toRaw(user);
  const item = dataset.itemIds.toRaw(target);
  let s = 0;
  for (let p = h.offsets[user]; p < h.offsets[user + 1]; p++) s += h.values![p];
  const n = h.offsets[user + 1] - h.offsets[user];
  const userMean = n ? s / n : (scale[0] + scale[1]) / 2;
  return {
    name: 'rating',
    instance: `user ${raw} item ${item}`,
    user,
    target,
    truth,
    statement: `Predict the rating user ${raw} gives to item ${item} (${data.catalogue.titles[target]}), a number from ${scale[0]} to ${scale[1]}.`,
    answer: z.number().min(scale[0]).max(scale[1]),
    fallback: () => userMean,
    meta: { user: raw, item },
  };
}

/** An explanation instance: why the user would enjoy the held-out item. */
export function explainTask(data: AgentData, user: number, target: number): TaskInstance<string> {
  const raw = data.dataset.userIds.toRaw(user);
  const item = data.dataset.itemIds.toRaw(target);
  return {
    name: 'explain',
    instance: `user ${raw} item ${item}`,
    user,
    target,
    statement: `Explain in two or three sentences why user ${raw} would enjoy item ${item} (${data.catalogue.titles[target]}), based on their history.`,
    answer: z.string().trim().min(1),
    fallback: () => '',
    meta: { user: raw, item },
  };
}

/** Rank (0-based) of the target in a re-ranking answer. */
export function targetRank(answer: readonly string[], targetRaw: string): number {
  const r = answer.indexOf(targetRaw);
  if (r < 0) throw new Error(`targetRank: ${targetRaw} not in the answer`);
  return r;
}

/** HR@k and NDCG@k of re-ranking answers (target ranks, 0-based), averaged over instances. */
export function rerankMetrics(ranks: readonly number[], ks: readonly number[] = [1, 5, 10]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ks) {
    let hr = 0;
    let ndcg = 0;
    for (const r of ranks) if (r < k) [hr, ndcg] = [hr + 1, ndcg + 1 / Math.log2(r + 2)];
    out[`hr@${k}`] = ranks.length ? hr / ranks.length : NaN;
    out[`ndcg@${k}`] = ranks.length ? ndcg / ranks.length : NaN;
  }
  return out;
}

/** RMSE, MSE and MAE of predicted against true ratings. */
export function ratingMetrics(pred: readonly number[], truth: readonly number[]): { rmse: number; mse: number; mae: number } {
  if (pred.length !== truth.length) throw new Error(`ratingMetrics: ${pred.length} predictions for ${truth.length} ratings`);
  let se = 0;
  let ae = 0;
  for (let i = 0; i < pred.length; i++) [se, ae] = [se + (pred[i] - truth[i]) ** 2, ae + Math.abs(pred[i] - truth[i])];
  const n = pred.length;
  return { rmse: Math.sqrt(se / n), mse: se / n, mae: ae / n };
}
