/**
 * Scripted LLM recommenders and profilers with known behaviour, registered as `scripted:<name>`
 * providers. They read the structured `meta` of requests, never the prompt:
 *
 * - `identity-ranker`: returns the candidates in the order shown — maximal position bias.
 * - `hallucinator`: returns titles that exist nowhere — hallucination rate 1.0.
 * - `genre-ranker`: ranks candidates by how well their genres match the history's genre shares
 *   (ties keep the shown order) — a position-light heuristic for dry runs.
 * - `genre-profiler`: writes a profile from the history's most frequent genres.
 *
 * Every ranker also answers profile requests like `genre-profiler`, so one scripted client can
 * drive a whole probe run.
 */
import { registerScript, type ChatRequest, type ScriptReply } from '../llm/index.ts';
import type { ProfileMeta, ProfileReply } from './profile.ts';
import { topGenres } from './profile.ts';
import type { RankMeta } from './rank.ts';

/** The genre profiler's reply for a history. */
export function genreProfile(meta: ProfileMeta): ProfileReply {
  const liked = topGenres(meta.history, 3);
  const all = new Set(meta.history.flatMap((h) => h.genres));
  const common = ['Action', 'Comedy', 'Drama', 'Horror', 'Romance', 'Documentary', 'Western', 'Musical'];
  return {
    profile: `Watches mostly ${liked.join(', ') || 'a bit of everything'}; ${meta.history.length} titles in the history.`,
    liked_genres: liked,
    avoided_genres: common.filter((g) => !all.has(g)).slice(0, 3),
  };
}

/** Wraps a ranking script so it also answers profile requests. */
function ranker(rank: (meta: RankMeta) => string[]): (r: ChatRequest) => ScriptReply {
  return (r) => {
    const meta = r.meta as { kind?: string } | undefined;
    if (meta?.kind === 'profile') return genreProfile(meta as unknown as ProfileMeta);
    if (meta?.kind !== 'rank') throw new Error(`scripted ranker: request ${r.tag ?? ''} carries no rank or profile meta`);
    return { ranking: rank(meta as unknown as RankMeta) };
  };
}

/** Genre-match score of each candidate against the history's genre shares. */
export function genreRanking(meta: RankMeta): string[] {
  const counts = new Map<string, number>();
  let total = 0;
  for (const h of meta.history) for (const g of h.genres) {
    counts.set(g, (counts.get(g) ?? 0) + 1);
    total++;
  }
  const score = (genres: readonly string[]): number => genres.reduce((s, g) => s + (counts.get(g) ?? 0) / Math.max(1, total), 0);
  return meta.candidates
    .map((c, i) => ({ c, i, s: score(c.genres) }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.c.title);
}

registerScript('identity-ranker', 'LLM recommender that returns the candidates in the order shown (maximal position bias)', ranker((m) => m.candidates.map((c) => c.title)));
registerScript('hallucinator', 'LLM recommender that invents titles not in any catalogue (hallucination rate 1.0)', ranker((m) => m.candidates.map((_, i) => `Zyxqv Imaginary Picture No. ${i + 1} (2031)`)));
registerScript('genre-ranker', 'LLM recommender that ranks candidates by genre match with the history', ranker(genreRanking));
registerScript('genre-profiler', 'profiler that describes a user by their most frequent genres', (r) => {
  const meta = r.meta as { kind?: string } | undefined;
  if (meta?.kind !== 'profile') throw new Error(`scripted:genre-profiler only answers profile requests (got ${r.tag ?? 'untagged'})`);
  return genreProfile(meta as unknown as ProfileMeta);
});
