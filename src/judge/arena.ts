/**
 * The Recommendation Arena (RecSys Arena, arXiv 2412.11068): an LLM role-plays a user — from a
 * profile written from the user's history, and the history itself — and compares the top-k lists
 * of two systems on several dimensions plus an overall verdict with an explanation.
 *
 * LLM judges prefer whatever they read first (or second). So every pair is judged twice, once in
 * each order, and a dimension counts as a win for a system only when both orders pick it; any
 * disagreement is a tie. A judge that always answers "A" therefore produces nothing but ties.
 *
 * The result holds one record per (user, pair) with both raw verdicts, so every aggregate —
 * win rates with Wilson intervals, Bradley–Terry ratings, the position-bias rate — can be
 * recomputed from it.
 */
import { z } from 'zod';
import type { LLMClient, PromptTemplate } from '../llm/index.ts';
import { loadPrompt, renderPrompt } from '../llm/index.ts';
import { progress } from '../util/progress.ts';
import { pairwise, type JudgeMethod } from './methods.ts';

/** The dimensions the judge answers, `overall` last. */
export const DIMENSIONS = ['relevance', 'diversity', 'novelty', 'coverage', 'overall'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** A verdict as the judge writes it: the list shown as "A", the one shown as "B", or a tie. */
export const Verdict = z.enum(['A', 'B', 'tie']);
export type Verdict = z.infer<typeof Verdict>;

/** The judge's structured reply. */
export const JudgeReply = z.object({
  relevance: Verdict,
  diversity: Verdict,
  novelty: Verdict,
  coverage: Verdict,
  overall: Verdict,
  explanation: z.string(),
});
export type JudgeReply = z.infer<typeof JudgeReply>;

/** An item as the judge sees it. */
export interface ArenaItem {
  id: number;
  title: string;
  genres?: readonly string[];
  /** Training interaction count (for novelty-aware scripted judges and reports). */
  popularity?: number;
}

/** A history event: an item and the user's rating when known. */
export interface HistoryItem extends ArenaItem {
  rating?: number;
}

/** One judged user. */
export interface ArenaUser {
  /** Dense user id (for joining with other results). */
  user: number;
  /** Raw user id, for reports. */
  label: string;
  /** LLM-written profile (llmrec/profile.ts). */
  profile: string;
  /** History shown to the judge, oldest first (already truncated to the last N). */
  history: readonly HistoryItem[];
  /**
   * Profile features of the user from the data (e.g. `age 24, gender M, occupation technician`),
   * shown to the judge as the RecSys Arena does; absent when the data has none.
   */
  demographics?: string;
}

/** A competing system: its top-k list for each user. */
export interface ArenaSystem {
  name: string;
  /** Top-k lists by dense user id, best first. */
  lists: ReadonlyMap<number, readonly ArenaItem[]>;
  /** Offline metrics of the system (e.g. `ndcg@10`), for the agreement analysis. */
  offline?: Record<string, number>;
}

/** What `meta` carries to scripted judges (never sent to a real model). */
export interface ArenaMeta {
  kind: 'arena';
  history: readonly HistoryItem[];
  listA: readonly ArenaItem[];
  listB: readonly ArenaItem[];
  demographics?: string;
}

/** The outcome of one dimension after both orders: system `a`, system `b`, a tie, or no valid verdict. */
export type Outcome = 'a' | 'b' | 'tie' | 'invalid';

/** One judged (user, pair). */
export interface MatchRecord {
  user: number;
  userLabel: string;
  a: string;
  b: string;
  /** Reply with `a` shown as list A (null when invalid after repair). */
  forward: JudgeReply | null;
  /** Reply with `b` shown as list A. */
  backward: JudgeReply | null;
  outcome: Record<Dimension, Outcome>;
  /** Request hashes of the two calls (to find them in the cache). */
  hashes: string[];
  /** What the judge method recorded in each order (RevisEval's reference and metrics, CCE's kept comparisons); absent for pairwise. */
  method?: { forward: Record<string, unknown>; backward: Record<string, unknown> };
}

/**
 * Combines the two orders into one outcome: `a` wins only if the forward reply says A (a was
 * first) and the backward reply says B (a was second); symmetrically for `b`; else a tie.
 */
export function combineOrders(forward: Verdict | undefined, backward: Verdict | undefined): Outcome {
  if (forward === undefined || backward === undefined) return 'invalid';
  if (forward === 'A' && backward === 'B') return 'a';
  if (forward === 'B' && backward === 'A') return 'b';
  return 'tie';
}

/** One line per item: `title | genres` (and `| rating` for history). */
export function formatItems(items: readonly (ArenaItem & { rating?: number })[], withRating: boolean): string {
  return items
    .map((it, i) => {
      const genres = it.genres?.length ? it.genres.join(', ') : '-';
      const rating = withRating ? ` | ${it.rating ?? '-'}` : '';
      return `${i + 1}. ${it.title} | ${genres}${rating}`;
    })
    .join('\n');
}

/** Options of {@link runArena}. */
export interface ArenaOptions {
  client: LLMClient;
  /** Length of the lists shown (default 10). */
  k?: number;
  /** Domain word used in the prompt (default `movies`). */
  domain?: string;
  /** Template (default: latest `arena-judge`). */
  template?: PromptTemplate;
  /** Pairs to judge as [i, j] indices into systems (default: all pairs i < j). */
  pairs?: readonly [number, number][];
  /** Show a progress bar (default: when stderr is a TTY). */
  progress?: boolean;
  /** Judge method (default pairwise: methods.ts). */
  method?: JudgeMethod;
}

/** Everything a run produced. */
export interface ArenaRun {
  template: string;
  /** Judge method and its templates (absent in runs from before methods existed: pairwise). */
  method?: { name: string; templates: string[] };
  judge: string;
  k: number;
  systems: string[];
  matches: MatchRecord[];
}

/**
 * The instruction the two lists answer, as text for a reviser or crowd models: the user's
 * profile and history and the request for k recommendations.
 */
export function arenaInstruction(user: ArenaUser, k: number, domain: string): string {
  return `Recommend ${k} ${domain} to this user, best first, one title per line.\n${user.demographics ? `About the user: ${user.demographics}.\n` : ''}Profile: ${user.profile}\nHistory, oldest first (title | genres | rating):\n${formatItems(user.history, true)}`;
}

/** Asks the judge about one user and one order, with the method's context. */
async function judgeOnce(client: LLMClient, template: PromptTemplate, user: ArenaUser, first: readonly ArenaItem[], second: readonly ArenaItem[], k: number, domain: string, method: JudgeMethod): Promise<{ reply: JudgeReply | null; hash: string; record: Record<string, unknown> }> {
  const vars: Record<string, string | number> = {
    domain,
    profile: user.profile,
    history: formatItems(user.history, true),
    k,
    list_a: formatItems(first.slice(0, k), false),
    list_b: formatItems(second.slice(0, k), false),
  };
  // Templates from version 2 on carry the data's profile features; version 1 has no slot for them.
  if (template.variables.includes('demographics_block')) vars.demographics_block = user.demographics ? `About you: ${user.demographics}.\n\n` : '';
  const messages = renderPrompt(template, vars);
  const ctx = await method.prepare({ instruction: arenaInstruction(user, k, domain), first: formatItems(first.slice(0, k), false), second: formatItems(second.slice(0, k), false) });
  messages[messages.length - 1].content += ctx.context;
  const meta: ArenaMeta = { kind: 'arena', history: user.history, listA: first.slice(0, k), listB: second.slice(0, k), demographics: user.demographics };
  const r = await client.tryJson({ messages, tag: template.id, meta: { ...meta, ...ctx.meta } as unknown as Record<string, unknown>, maxTokens: 400 }, JudgeReply, 'arena_verdict');
  // A method that decides the overall verdict itself (a metric against RevisEval's reference) overrides the judge's `overall` only.
  const reply = r.ok ? (ctx.verdict ? { ...r.value, overall: ctx.verdict } : r.value) : null;
  return { reply, hash: r.ok ? r.result.hash : '', record: ctx.record };
}

/**
 * Judges every pair of systems for every user, both orders, concurrently up to the client's
 * limit. A user missing from a system's lists is an error (the lists must cover the same users).
 */
export async function runArena(systems: readonly ArenaSystem[], users: readonly ArenaUser[], options: ArenaOptions): Promise<ArenaRun> {
  if (systems.length < 2) throw new Error('runArena: need at least two systems');
  const names = new Set(systems.map((s) => s.name));
  if (names.size !== systems.length) throw new Error(`runArena: system names must be distinct (${systems.map((s) => s.name).join(', ')})`);
  const k = options.k ?? 10;
  const domain = options.domain ?? 'movies';
  const template = options.template ?? loadPrompt('arena-judge');
  const method = options.method ?? pairwise;
  const pairs: [number, number][] = options.pairs ? options.pairs.map(([i, j]) => [i, j]) : [];
  if (!options.pairs) for (let i = 0; i < systems.length; i++) for (let j = i + 1; j < systems.length; j++) pairs.push([i, j]);
  for (const s of systems) {
    for (const u of users) if (!s.lists.has(u.user)) throw new Error(`runArena: system "${s.name}" has no list for user ${u.label}`);
  }
  const bar = progress('arena', pairs.length * users.length, { enabled: options.progress, unit: 'matches' });
  const jobs: Promise<MatchRecord>[] = [];
  for (const [i, j] of pairs) {
    const a = systems[i];
    const b = systems[j];
    for (const user of users) {
      const la = a.lists.get(user.user)!;
      const lb = b.lists.get(user.user)!;
      jobs.push(
        (async () => {
          const [fw, bw] = await Promise.all([
            judgeOnce(options.client, template, user, la, lb, k, domain, method),
            judgeOnce(options.client, template, user, lb, la, k, domain, method),
          ]);
          const outcome = {} as Record<Dimension, Outcome>;
          for (const d of DIMENSIONS) outcome[d] = combineOrders(fw.reply?.[d], bw.reply?.[d]);
          bar.tick(1, `${a.name} vs ${b.name}`);
          const record: MatchRecord = { user: user.user, userLabel: user.label, a: a.name, b: b.name, forward: fw.reply, backward: bw.reply, outcome, hashes: [fw.hash, bw.hash] };
          if (method !== pairwise) record.method = { forward: fw.record, backward: bw.record };
          return record;
        })(),
      );
    }
  }
  try {
    const matches = await Promise.all(jobs);
    return { template: template.id, judge: options.client.provider.id, k, systems: systems.map((s) => s.name), matches, ...(method !== pairwise ? { method: { name: method.name, templates: method.templates } } : {}) };
  } finally {
    bar.stop();
  }
}
