/**
 * The Arena page's data: LLM-judged reports (`arena.json`: win rates with Wilson intervals,
 * Bradley–Terry ratings with bootstrap intervals, Kendall τ against offline metrics, as the
 * report computed them), and human voting over the report's pool — a ballot shows a sampled
 * user's history and the two systems' lists, anonymised and in random order; a vote is stored
 * against the systems in the vote store (one per voter and pair), and the human, LLM and combined
 * ratings with the human–LLM agreement are computed by `summarizeHuman` from `src/judge`.
 */
import { randomUUID } from 'node:crypto';
import { pairKey, poolPairs, summarizeHuman, type ArenaPool, type HumanArenaSummary, type HumanChoice, type HumanVote } from '../../judge/human.ts';
import type { ArenaRun, ArenaItem, HistoryItem } from '../../judge/arena.ts';
import type { ArenaSummary } from '../../judge/summary.ts';
import type { VoteStore } from '../store.ts';
import { Rng } from '../../util/rng.ts';
import { readJson, type CatalogEntry } from './catalog.ts';

/** An `arena.json` as `writeArenaReport` writes it (the parts the page reads). */
export interface ArenaDoc {
  format: 'reclab-arena';
  createdAt?: string;
  setup?: Record<string, unknown>;
  run: ArenaRun;
  summary: ArenaSummary;
  pool?: ArenaPool;
}

/** Reads and checks an Arena report. */
export function readArena(e: CatalogEntry): ArenaDoc {
  const doc = readJson(e) as Partial<ArenaDoc> | null;
  if (!doc || doc.format !== 'reclab-arena' || !doc.run || !doc.summary) throw new Error(`${e.root}/${e.path}: not a reclab Arena report (format "reclab-arena" with run and summary)`);
  return doc as ArenaDoc;
}

/** The report as the page shows it (no raw judge replies: they can be large). */
export function arenaView(e: CatalogEntry, doc: ArenaDoc) {
  return {
    id: e.id,
    path: e.path,
    createdAt: doc.createdAt,
    judge: doc.run.judge,
    template: doc.run.template,
    systems: doc.run.systems,
    matches: doc.run.matches.length,
    pairs: doc.summary.pairs.map((p) => ({ a: p.a, b: p.b, overall: p.dimensions.overall })),
    ratings: doc.summary.ratings.overall,
    agreement: doc.summary.agreement,
    voting: doc.pool ? { users: doc.pool.users.length, pairs: poolPairs(doc.pool).length } : undefined,
  };
}

/** What a voter is shown: no system names, the lists in random order. */
export interface BallotView {
  ballot: string;
  history: HistoryItem[];
  demographics?: string;
  left: ArenaItem[];
  right: ArenaItem[];
  /** Pairs of this report the voter has not voted on yet (this one included). */
  remaining: number;
}

interface Ballot {
  report: string;
  voter: string;
  user: number;
  a: string;
  b: string;
  left: string;
}

/** Outcome of a vote. */
export type VoteResult = { ok: true; vote: HumanVote } | { ok: false; status: 400 | 404 | 409; message: string };

/** Most ballots kept (oldest forgotten first); a forgotten ballot is simply asked for again. */
const MAX_BALLOTS = 10_000;

/** Issues ballots and turns answers into stored votes. */
export class Voting {
  private readonly ballots = new Map<string, Ballot>();
  private readonly rng: Rng;

  constructor(
    private readonly store: VoteStore,
    seed = Date.now(),
  ) {
    this.rng = new Rng(seed >>> 0);
  }

  /** Votes on `pool`'s pairs (systems and users of the pool). */
  async votesOf(pool: ArenaPool): Promise<HumanVote[]> {
    const systems = new Set(pool.systems);
    const users = new Set(pool.users.map((u) => u.user));
    return (await this.store.listVotes()).filter((v) => systems.has(v.a) && systems.has(v.b) && users.has(v.user));
  }

  /** A random pair of `report` the voter has not voted on, or undefined when none is left. */
  async ballot(report: string, pool: ArenaPool, voter: string): Promise<BallotView | undefined> {
    const done = new Set((await this.votesOf(pool)).filter((v) => v.voter === voter).map((v) => pairKey(v.user, v.a, v.b)));
    const open = poolPairs(pool).filter((p) => !done.has(pairKey(p.user, p.a, p.b)));
    if (open.length === 0) return undefined;
    const p = open[this.rng.int(open.length)];
    const flip = this.rng.int(2) === 1;
    const left = flip ? p.b : p.a;
    const right = flip ? p.a : p.b;
    const id = randomUUID();
    if (this.ballots.size >= MAX_BALLOTS) this.ballots.delete(this.ballots.keys().next().value!);
    this.ballots.set(id, { report, voter, user: p.user, a: p.a, b: p.b, left });
    const user = pool.users.find((u) => u.user === p.user)!;
    const list = (s: string): ArenaItem[] => pool.lists[s]?.[String(p.user)] ?? [];
    return { ballot: id, history: [...user.history], demographics: user.demographics, left: list(left), right: list(right), remaining: open.length };
  }

  /**
   * Records the voter's answer to a ballot: `left`, `right`, `tie` or `skip`. A ballot belongs to
   * the voter it was issued to; a second vote of the voter on the pair is refused (409) by the
   * store's unique key, whichever ballot it comes through.
   */
  async vote(ballotId: string, voter: string, answer: string): Promise<VoteResult> {
    const b = this.ballots.get(ballotId);
    if (!b) return { ok: false, status: 404, message: `ballot "${ballotId}" is unknown or expired: ask for a new pair` };
    if (b.voter !== voter) return { ok: false, status: 400, message: `ballot "${ballotId}" was issued to another voter` };
    const choice = choiceOf(answer, b);
    if (!choice) return { ok: false, status: 400, message: `choice: expected left, right, tie or skip, got "${answer}"` };
    const vote: HumanVote = { voter, user: b.user, a: b.a, b: b.b, choice, left: b.left, time: Date.now() / 1000 };
    if (!(await this.store.insertVote(vote))) return { ok: false, status: 409, message: `voter "${voter}" already voted on this pair; one vote per voter and pair` };
    return { ok: true, vote };
  }

  /** Human, LLM and combined ratings and agreement for a report. */
  async summary(doc: ArenaDoc): Promise<HumanArenaSummary & { pool: boolean }> {
    if (!doc.pool) return { ...summarizeHuman(doc.run.systems, [], doc.run, { reps: 200, seed: 0 }), pool: false };
    return { ...summarizeHuman(doc.pool.systems, await this.votesOf(doc.pool), doc.run, { reps: 200, seed: 0 }), pool: true };
  }
}

/** The stored choice for a side the voter picked. */
function choiceOf(answer: string, b: Ballot): HumanChoice | undefined {
  if (answer === 'tie' || answer === 'skip') return answer;
  if (answer === 'left') return b.left === b.a ? 'a' : 'b';
  if (answer === 'right') return b.left === b.a ? 'b' : 'a';
  return undefined;
}
