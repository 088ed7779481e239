/**
 * LLM as recommender: the model reads a user's history (and optionally an LLM-written profile)
 * and ranks a candidate list — the held-out target among sampled negatives, or a trained model's
 * top-20 to re-rank. It answers with titles; each is grounded back to a catalogue id, so the
 * outcome records exactly what was returned: the ranking of the candidates it named, the
 * outputs that match no catalogue item (hallucinations), the real items outside the candidate
 * list, the duplicates and the candidates it left out.
 */
import { z } from 'zod';
import type { LLMClient, PromptTemplate } from '../llm/index.ts';
import { loadPrompt, renderPrompt } from '../llm/index.ts';
import type { ItemCatalogue } from './catalogue.ts';
import type { Grounder } from './grounding.ts';
import { formatHistory, formatItems, itemEntry, type HistoryEntry, type ItemEntry } from './history.ts';

/** The structured reply: candidate titles, best first. */
export const RankReply = z.object({ ranking: z.array(z.string()) });
export type RankReply = z.infer<typeof RankReply>;

/** Where the history goes relative to the candidates in the prompt. */
export type PromptOrder = 'history-first' | 'candidates-first';

/** What `meta` carries to scripted rankers. */
export interface RankMeta {
  kind: 'rank';
  history: readonly HistoryEntry[];
  /** Candidates in the order shown. */
  candidates: readonly ItemEntry[];
  profile?: string;
}

/** One ranking request. */
export interface RankInput {
  history: readonly HistoryEntry[];
  /** Candidate item ids in the order they are shown. */
  candidates: readonly number[];
  profile?: string;
  order?: PromptOrder;
}

/** What came back, grounded. */
export interface RankOutcome {
  /** Candidate ids in the LLM's order (first mention of each). */
  ranking: number[];
  /** Number of titles returned. */
  outputs: number;
  /** Titles matching no catalogue item. */
  hallucinated: number;
  /** Titles of real catalogue items that were not candidates. */
  outOfCandidates: number;
  /** Repeated mentions of a candidate already ranked. */
  duplicates: number;
  /** Candidates never mentioned. */
  missing: number;
  /** How many titles each grounding step matched: exact, normalised, embedding. */
  matchedBy: { exact: number; normalised: number; embedding: number };
  /** False when the reply stayed invalid after repair (then nothing was ranked). */
  valid: boolean;
  template: string;
  hash: string;
}

/** Options of {@link rankCandidates}. */
export interface RankOptions {
  domain?: string;
  /** Templates by prompt order (defaults: latest `rank-history-first` / `rank-candidates-first`). */
  templates?: Partial<Record<PromptOrder, PromptTemplate>>;
}

const TEMPLATE_NAMES: Record<PromptOrder, string> = { 'history-first': 'rank-history-first', 'candidates-first': 'rank-candidates-first' };

/** Asks the LLM to rank `input.candidates` for the user and grounds its answer. */
export async function rankCandidates(client: LLMClient, grounder: Grounder, catalogue: ItemCatalogue, input: RankInput, options: RankOptions = {}): Promise<RankOutcome> {
  const order = input.order ?? 'history-first';
  const template = options.templates?.[order] ?? loadPrompt(TEMPLATE_NAMES[order]);
  const candidates = input.candidates.map((id) => itemEntry(catalogue, id));
  const messages = renderPrompt(template, {
    domain: options.domain ?? 'movies',
    profile_block: input.profile ? `The user's profile:\n${input.profile}\n\n` : '',
    history: formatHistory(input.history),
    candidates: formatItems(candidates),
    n_candidates: candidates.length,
  });
  const meta: RankMeta = { kind: 'rank', history: input.history, candidates, profile: input.profile };
  const r = await client.tryJson({ messages, tag: template.id, meta: meta as unknown as Record<string, unknown>, maxTokens: 40 * candidates.length + 64 }, RankReply, 'ranking');
  const outcome: RankOutcome = {
    ranking: [],
    outputs: 0,
    hallucinated: 0,
    outOfCandidates: 0,
    duplicates: 0,
    missing: candidates.length,
    matchedBy: { exact: 0, normalised: 0, embedding: 0 },
    valid: r.ok,
    template: template.id,
    hash: r.ok ? r.result.hash : '',
  };
  if (!r.ok) return outcome;
  const within = new Set(input.candidates);
  const seen = new Set<number>();
  for (const title of r.value.ranking) {
    outcome.outputs++;
    const g = await grounder.ground(title, within);
    if (g.item < 0) {
      outcome.hallucinated++;
      continue;
    }
    outcome.matchedBy[g.method as 'exact' | 'normalised' | 'embedding']++;
    if (!within.has(g.item)) outcome.outOfCandidates++;
    else if (seen.has(g.item)) outcome.duplicates++;
    else {
      seen.add(g.item);
      outcome.ranking.push(g.item);
    }
  }
  outcome.missing = candidates.length - outcome.ranking.length;
  return outcome;
}

/**
 * 0-based rank of `target` in an outcome over `nCandidates` candidates. A target the LLM did not
 * return takes the last place (pessimistic: an unranked item is never a hit unless k covers all).
 */
export function targetRank(outcome: RankOutcome, target: number, nCandidates: number): number {
  const r = outcome.ranking.indexOf(target);
  return r >= 0 ? r : nCandidates - 1;
}

/**
 * Re-ranks a model's top list with the LLM: the final list is the LLM's order of the candidates
 * it named, followed by those it left out in the model's order (so no item is lost).
 */
export async function rerankTopK(client: LLMClient, grounder: Grounder, catalogue: ItemCatalogue, history: readonly HistoryEntry[], topList: readonly number[], options: RankOptions & { profile?: string } = {}): Promise<{ list: number[]; outcome: RankOutcome }> {
  const outcome = await rankCandidates(client, grounder, catalogue, { history, candidates: topList, profile: options.profile }, options);
  const named = new Set(outcome.ranking);
  return { list: [...outcome.ranking, ...topList.filter((i) => !named.has(i))], outcome };
}
