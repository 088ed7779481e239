/**
 * Scripted judges with known behaviour, registered as `scripted:<name>` providers. They read the
 * structured `meta` of arena requests (never the prompt), so they are exact and instant:
 *
 * - `always-a`: answers "A" on every dimension — pure first-position bias. After order swapping
 *   it must produce only ties.
 * - `always-b`: the mirror image (second-position bias).
 * - `coin`: a pseudo-random verdict per dimension from the request hash — a judge with no
 *   signal; deterministic across runs.
 * - `genre-overlap`: a position-free heuristic user — relevance = how much the list's genres
 *   match the genre shares of the history; diversity = distinct genres in the list; novelty =
 *   lower mean training popularity; coverage = how many of the user's five favourite genres the
 *   list touches; overall = relevance. Useful to dry-run the whole Arena pipeline.
 */
import { createHash } from 'node:crypto';
import { registerScript } from '../llm/index.ts';
import type { ChatRequest } from '../llm/index.ts';
import { DIMENSIONS, type ArenaItem, type ArenaMeta, type JudgeReply, type Verdict } from './arena.ts';

/**
 * What a scripted Arena judge answers to the judge methods' side requests, so every scripted judge
 * works under `--judge-method reviseval|cce`: the reviser returns the response unchanged (RevisEval's
 * "already good" case), a crowd model answers with the history's last title, and a crowd comparison
 * finds no weakness (nothing kept). Null for anything else.
 */
export function methodStandIn(request: ChatRequest): Record<string, unknown> | null {
  const m = request.meta as { kind?: string; response?: string; instruction?: string } | undefined;
  if (m?.kind === 'revise') return { revised: m.response ?? '' };
  if (m?.kind === 'crowd') return { response: 'A list like the ones the user liked before.' };
  if (m?.kind === 'cce-compare') return { judgment: 'Both responses are plausible for this user.', criticises_candidate: false, verdict: 'tie' };
  return null;
}

function arenaMeta(request: ChatRequest): ArenaMeta {
  const meta = request.meta as ArenaMeta | undefined;
  if (meta?.kind !== 'arena') throw new Error(`scripted judge: request ${request.tag ?? ''} carries no arena meta (scripted judges only answer arena-judge prompts)`);
  return meta;
}

/** A reply with the same verdict on every dimension. */
function uniform(v: Verdict, explanation: string): JudgeReply {
  const r = { explanation } as JudgeReply;
  for (const d of DIMENSIONS) r[d] = v;
  return r;
}

/** Compares two scores with a relative tolerance: larger → that list, equal → tie. */
export function prefer(a: number, b: number, higherIsBetter = true): Verdict {
  if (!Number.isFinite(a) || !Number.isFinite(b) || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))) return 'tie';
  return (a > b) === higherIsBetter ? 'A' : 'B';
}

/** Genre shares of a history: genre → fraction of all genre mentions. */
export function genreShares(items: readonly ArenaItem[]): Map<string, number> {
  const counts = new Map<string, number>();
  let total = 0;
  for (const it of items) for (const g of it.genres ?? []) {
    counts.set(g, (counts.get(g) ?? 0) + 1);
    total++;
  }
  for (const [g, c] of counts) counts.set(g, c / total);
  return counts;
}

/** The genre-overlap judge's verdict (exported for tests). */
export function genreOverlapVerdict(meta: ArenaMeta): JudgeReply {
  const shares = genreShares(meta.history);
  const top5 = new Set([...shares.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).slice(0, 5).map(([g]) => g));
  const relevance = (list: readonly ArenaItem[]): number => list.reduce((s, it) => s + (it.genres ?? []).reduce((t, g) => t + (shares.get(g) ?? 0), 0), 0);
  const distinct = (list: readonly ArenaItem[]): number => new Set(list.flatMap((it) => it.genres ?? [])).size;
  const meanPop = (list: readonly ArenaItem[]): number => (list.every((it) => it.popularity !== undefined) && list.length ? list.reduce((s, it) => s + it.popularity!, 0) / list.length : NaN);
  const covered = (list: readonly ArenaItem[]): number => new Set(list.flatMap((it) => it.genres ?? []).filter((g) => top5.has(g))).size;
  const rel = prefer(relevance(meta.listA), relevance(meta.listB));
  return {
    relevance: rel,
    diversity: prefer(distinct(meta.listA), distinct(meta.listB)),
    novelty: prefer(meanPop(meta.listA), meanPop(meta.listB), false),
    coverage: prefer(covered(meta.listA), covered(meta.listB)),
    overall: rel,
    explanation: `Genre match with my history: A ${relevance(meta.listA).toFixed(3)}, B ${relevance(meta.listB).toFixed(3)}.`,
  };
}

registerScript('always-a', 'arena judge that always answers "A" (first-position bias)', (r) => methodStandIn(r) ?? (arenaMeta(r), uniform('A', 'The first list is better.')));
registerScript('always-b', 'arena judge that always answers "B" (second-position bias)', (r) => methodStandIn(r) ?? (arenaMeta(r), uniform('B', 'The second list is better.')));
registerScript('coin', 'arena judge with pseudo-random verdicts from the request hash (no signal)', (r) => {
  const side = methodStandIn(r);
  if (side) return side;
  arenaMeta(r);
  const h = createHash('sha256').update(JSON.stringify(r.messages)).digest();
  const reply = { explanation: 'coin flip' } as JudgeReply;
  DIMENSIONS.forEach((d, i) => (reply[d] = (['A', 'B', 'tie'] as const)[h[i] % 3]));
  return reply;
});
registerScript('genre-overlap', 'arena judge preferring the list whose genres match the history (position-free heuristic)', (r) => methodStandIn(r) ?? genreOverlapVerdict(arenaMeta(r)));
