/**
 * The human side of the Arena: what a person needs to vote (the users' histories and every
 * system's list, a "pool" saved with the LLM-judged report), what a vote is, and the statistics
 * over votes — Bradley–Terry ratings from human votes, from LLM verdicts and from both combined,
 * and how well people and the LLM judge agree (Cohen's κ and percent agreement) on the pairs
 * both judged.
 *
 * A pair is one (user, system a, system b) with a before b in the pool's system order; a person
 * sees the two lists in random order and unlabelled, and the vote is stored against a and b.
 */
import type { ArenaItem, ArenaRun, ArenaSystem, ArenaUser, MatchRecord, Outcome } from './arena.ts';
import { DIMENSIONS } from './arena.ts';
import { ratings, type RatingOptions, type Ratings } from './summary.ts';
import { cohenKappa, type CohenKappa } from './stats.ts';
import { z } from 'zod';

/** What people vote on: the users as the judge saw them and each system's list per user. */
export interface ArenaPool {
  /** Length of the lists shown. */
  k: number;
  /** Systems in their order (a pair's `a` comes before its `b` here). */
  systems: string[];
  users: ArenaUser[];
  /** lists[system][user id as a string] = top-k items, best first. */
  lists: Record<string, Record<string, ArenaItem[]>>;
}

/** A person's choice between the two lists (`skip` is stored, so the pair is not shown again, but never counted). */
export type HumanChoice = 'a' | 'b' | 'tie' | 'skip';

/** One stored human vote. */
export interface HumanVote {
  /** Who voted (a name or a random id the browser keeps). */
  voter: string;
  /** Dense user id of the pair. */
  user: number;
  a: string;
  b: string;
  choice: HumanChoice;
  /** Which system was shown on the left (so position bias can be checked). */
  left: string;
  /** Seconds since the Unix epoch. */
  time: number;
}

/** The key of a pair: one vote per voter and key. */
export function pairKey(user: number, a: string, b: string): string {
  return `${user}\u0000${a}\u0000${b}`;
}

/** The pool of an Arena run, for saving with its report (the systems' lists as plain JSON). */
export function arenaPool(users: readonly ArenaUser[], systems: readonly ArenaSystem[], k: number): ArenaPool {
  const lists: Record<string, Record<string, ArenaItem[]>> = {};
  for (const s of systems) {
    const byUser: Record<string, ArenaItem[]> = {};
    for (const u of users) byUser[String(u.user)] = [...(s.lists.get(u.user) ?? [])].slice(0, k);
    lists[s.name] = byUser;
  }
  return { k, systems: systems.map((s) => s.name), users: [...users], lists };
}

/** Every pair of the pool: each user with each pair of systems i < j. */
export function poolPairs(pool: ArenaPool): { user: number; a: string; b: string }[] {
  const out: { user: number; a: string; b: string }[] = [];
  for (const u of pool.users)
    for (let i = 0; i < pool.systems.length; i++)
      for (let j = i + 1; j < pool.systems.length; j++) out.push({ user: u.user, a: pool.systems[i], b: pool.systems[j] });
  return out;
}

/** Votes as match records (skips left out), so the Arena's own rating code rates them. */
export function voteMatches(votes: readonly HumanVote[]): MatchRecord[] {
  const out: MatchRecord[] = [];
  for (const v of votes) {
    if (v.choice === 'skip') continue;
    const outcome = {} as Record<(typeof DIMENSIONS)[number], Outcome>;
    // A person gives one overall verdict; the other dimensions are not asked.
    for (const d of DIMENSIONS) outcome[d] = d === 'overall' ? v.choice : 'invalid';
    out.push({ user: v.user, userLabel: String(v.user), a: v.a, b: v.b, forward: null, backward: null, outcome, hashes: [] });
  }
  return out;
}

/** Human, LLM and combined ratings with their agreement. */
export interface HumanArenaSummary {
  systems: string[];
  /** Counted human votes (skips excluded) and voters. */
  votes: number;
  voters: number;
  human: Ratings;
  /** Absent when there is no LLM run. */
  llm?: Ratings;
  combined?: Ratings;
  /** Over every (human vote, LLM verdict) on the same pair, both decisive-or-tie (invalid and skip left out). */
  agreement?: CohenKappa & { percent: number };
}

/**
 * Ratings from human votes, from the LLM run's overall verdicts, and from both together (each
 * human vote and each LLM verdict one match), with the same Bradley–Terry code, prior and
 * user-resampling bootstrap as the LLM report; and Cohen's κ between each human vote and the
 * LLM verdict on the same pair.
 */
export function summarizeHuman(systems: readonly string[], votes: readonly HumanVote[], llm?: Pick<ArenaRun, 'matches'>, options: RatingOptions = {}): HumanArenaSummary {
  const known = new Set(systems);
  const counted = votes.filter((v) => v.choice !== 'skip' && known.has(v.a) && known.has(v.b));
  const human = ratings({ systems: [...systems], matches: voteMatches(counted) }, 'overall', options);
  const summary: HumanArenaSummary = { systems: [...systems], votes: counted.length, voters: new Set(counted.map((v) => v.voter)).size, human };
  if (!llm) return summary;
  const llmMatches = llm.matches.filter((m) => known.has(m.a) && known.has(m.b));
  summary.llm = ratings({ systems: [...systems], matches: llmMatches }, 'overall', options);
  summary.combined = ratings({ systems: [...systems], matches: [...voteMatches(counted), ...llmMatches] }, 'overall', options);
  const verdict = new Map<string, Outcome>();
  for (const m of llmMatches) verdict.set(pairKey(m.user, m.a, m.b), m.outcome.overall);
  const h: string[] = [];
  const l: string[] = [];
  for (const v of counted) {
    const o = verdict.get(pairKey(v.user, v.a, v.b));
    if (o === undefined || o === 'invalid') continue;
    h.push(v.choice);
    l.push(o);
  }
  const k = cohenKappa(h, l);
  summary.agreement = { ...k, percent: k.observed };
  return summary;
}

/** Votes as JSON lines (one object per vote), for export. */
export function votesJsonl(votes: readonly HumanVote[]): string {
  return votes.map((v) => JSON.stringify(v)).join('\n') + (votes.length ? '\n' : '');
}

const HumanVoteSchema = z.strictObject({
  voter: z.string().min(1),
  user: z.number().int().nonnegative(),
  a: z.string().min(1),
  b: z.string().min(1),
  choice: z.enum(['a', 'b', 'tie', 'skip']),
  left: z.string().min(1),
  time: z.number().nonnegative(),
});

/**
 * Reads votes exported by {@link votesJsonl} (the dashboard's export), so an Arena run can be
 * compared with people's verdicts on the same pairs. Throws on the first bad line, naming the
 * file, the line and the field.
 */
export function parseVotesJsonl(text: string, file: string): HumanVote[] {
  const votes: HumanVote[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch (error) {
      throw new Error(`${file}:${i + 1}: not JSON (${(error as Error).message})`);
    }
    const parsed = HumanVoteSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`${file}:${i + 1}: field "${issue.path.join('.') || '(line)'}": ${issue.message}`);
    }
    votes.push(parsed.data);
  }
  return votes;
}
