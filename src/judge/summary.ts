/**
 * Aggregates of an Arena run: per-pair win/tie counts, win rates with Wilson intervals and an
 * exact binomial test of each pair's win rate against ½, the judge's position bias and order
 * consistency, Bradley–Terry ratings across systems (ties split half-half) with bootstrap
 * intervals, a ranking that only orders systems whose ratings separate, and agreement with an
 * offline metric (Kendall τ-b, defined only with at least three systems).
 *
 * The statistics are written so they cannot say more than the data: with two systems τ-b is ±1
 * by construction, so it is not reported; a ranking step is printed as ">" only when the
 * bootstrap interval of the rating difference excludes 0, as "≈" otherwise and "=" for equal
 * ratings.
 */
import { binomialTest, type BinomialTest } from '../eval/hypothesis.ts';
import { quantile } from '../eval/significance.ts';
import { Rng } from '../util/rng.ts';
import { DIMENSIONS, type ArenaRun, type Dimension, type JudgeReply, type MatchRecord } from './arena.ts';
import { bradleyTerry, kendallTauB, wilson, type Interval } from './stats.ts';

/** Results of one pair on one dimension. */
export interface PairDimension {
  /** Matches with a valid verdict in both orders. */
  n: number;
  winsA: number;
  winsB: number;
  ties: number;
  invalid: number;
  /** Share of valid matches won by a / by b / tied, with 95 % Wilson intervals. */
  winRateA: Interval;
  winRateB: Interval;
  tieRate: Interval;
  /**
   * Exact two-sided binomial test of a's share of the decisive matches (ties and invalid left
   * out — the sign test) against ½: does the judge prefer one system more often than chance?
   */
  binomial: BinomialTest;
}

/** One pair's results. */
export interface PairSummary {
  a: string;
  b: string;
  dimensions: Record<Dimension, PairDimension>;
}

/** How the judge behaves, independent of the systems. */
export interface JudgeBehaviour {
  /** Non-tie verdicts (both orders, all dimensions) that chose the list shown first. */
  firstShownShare: Interval;
  /** Matches×dimensions whose two orders pointed to the same system or both said tie. */
  orderConsistency: Interval;
}

/** Ratings of all systems on one dimension. */
export interface Ratings {
  dimension: Dimension;
  systems: string[];
  /** Bradley–Terry Elo-scale rating per system (prior: one virtual tie per pair that met). */
  rating: number[];
  strength: number[];
  /** Systems best first (by point rating; equal ratings keep the systems' order). */
  order: string[];
  /** Percentile bootstrap interval of each system's rating (resampling users), by `systems` index. */
  interval: { lo: number; hi: number }[];
  /**
   * Between `order[i]` and `order[i + 1]`: `>` when the bootstrap interval of their rating
   * difference excludes 0, `=` when the point ratings are equal, `≈` otherwise (no evidence).
   */
  steps: ('>' | '≈' | '=')[];
  /** Bootstrap settings. */
  bootstrap: { reps: number; level: number; seed: number };
}

/** Agreement between the Arena ranking and an offline metric's ranking. */
export interface Agreement {
  metric: string;
  dimension: Dimension;
  systems: string[];
  /** Arena ratings (for display; τ uses the separated tiers of the ranking, see summarize). */
  arena: number[];
  offline: number[];
  /** τ-b between the two rankings; null when not defined (fewer than 3 systems, or a constant ranking). */
  kendallTauB: number | null;
  /** Why τ-b is null, when it is. */
  note?: string;
}

/** The full summary written to the report. */
export interface ArenaSummary {
  pairs: PairSummary[];
  judge: JudgeBehaviour;
  ratings: Record<Dimension, Ratings>;
  agreement?: Agreement;
}

function pairDimension(matches: readonly MatchRecord[], d: Dimension): PairDimension {
  let winsA = 0;
  let winsB = 0;
  let ties = 0;
  let invalid = 0;
  for (const m of matches) {
    const o = m.outcome[d];
    if (o === 'a') winsA++;
    else if (o === 'b') winsB++;
    else if (o === 'tie') ties++;
    else invalid++;
  }
  const n = winsA + winsB + ties;
  return { n, winsA, winsB, ties, invalid, winRateA: wilson(winsA, n), winRateB: wilson(winsB, n), tieRate: wilson(ties, n), binomial: binomialTest(winsA, winsA + winsB) };
}

/** Position preference and order consistency of the judge over all matches. */
export function judgeBehaviour(matches: readonly MatchRecord[]): JudgeBehaviour {
  let first = 0;
  let decisive = 0;
  let consistent = 0;
  let both = 0;
  const count = (r: JudgeReply | null): void => {
    if (!r) return;
    for (const d of DIMENSIONS) {
      if (r[d] === 'tie') continue;
      decisive++;
      if (r[d] === 'A') first++;
    }
  };
  for (const m of matches) {
    count(m.forward);
    count(m.backward);
    if (!m.forward || !m.backward) continue;
    for (const d of DIMENSIONS) {
      both++;
      const f = m.forward[d];
      const b = m.backward[d];
      // Same system chosen in both orders means the letters differ; both ties also agree.
      if ((f === 'tie' && b === 'tie') || (f === 'A' && b === 'B') || (f === 'B' && b === 'A')) consistent++;
    }
  }
  return { firstShownShare: wilson(first, decisive), orderConsistency: wilson(consistent, both) };
}

/** Win matrix of `matches` on one dimension: a win counts 1, a tie ½ to each side. */
function winMatrix(idx: ReadonlyMap<string, number>, matches: readonly MatchRecord[], d: Dimension): number[][] {
  const n = idx.size;
  const wins = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const m of matches) {
    const i = idx.get(m.a)!;
    const j = idx.get(m.b)!;
    const o = m.outcome[d];
    if (o === 'a') wins[i][j] += 1;
    else if (o === 'b') wins[j][i] += 1;
    else if (o === 'tie') {
      wins[i][j] += 0.5;
      wins[j][i] += 0.5;
    }
  }
  return wins;
}

/** Options of {@link ratings}. */
export interface RatingOptions {
  /** Virtual ties per pair that met (default 1). */
  prior?: number;
  /** Bootstrap resamples of the users (default 1000; 0 = no intervals). */
  reps?: number;
  /** Interval level (default 0.95). */
  level?: number;
  /** Seed of the resampling (default 0): the same run gives the same intervals. */
  seed?: number;
}

/**
 * Bradley–Terry ratings on one dimension with bootstrap intervals. The resampling unit is the
 * user: all matches of a user (every pair, both orders) are drawn together, since one user's
 * verdicts are not independent of each other. Each resample is refitted with the same prior.
 */
export function ratings(run: Pick<ArenaRun, 'systems' | 'matches'>, d: Dimension, options: RatingOptions = {}): Ratings {
  const prior = options.prior ?? 1;
  const reps = options.reps ?? 1000;
  const level = options.level ?? 0.95;
  const seed = options.seed ?? 0;
  const idx = new Map(run.systems.map((s, i) => [s, i]));
  const n = run.systems.length;
  const bt = bradleyTerry(winMatrix(idx, run.matches, d), { prior });
  const order = run.systems.map((_, i) => i).sort((x, y) => bt.rating[y] - bt.rating[x] || x - y);
  const byUser = new Map<number, MatchRecord[]>();
  for (const m of run.matches) {
    let g = byUser.get(m.user);
    if (!g) byUser.set(m.user, (g = []));
    g.push(m);
  }
  const groups = [...byUser.values()];
  const samples = Array.from({ length: n }, () => new Float64Array(reps));
  const rng = new Rng(seed);
  for (let r = 0; r < reps; r++) {
    const drawn: MatchRecord[] = [];
    for (let u = 0; u < groups.length; u++) drawn.push(...groups[rng.int(groups.length)]);
    const b = bradleyTerry(winMatrix(idx, drawn, d), { prior });
    for (let i = 0; i < n; i++) samples[i][r] = b.rating[i];
  }
  const alpha = (1 - level) / 2;
  const interval = run.systems.map((_, i) => {
    if (reps === 0) return { lo: NaN, hi: NaN };
    const xs = Float64Array.from(samples[i]).sort();
    return { lo: quantile(xs, alpha), hi: quantile(xs, 1 - alpha) };
  });
  const steps = order.slice(0, -1).map((x, s): '>' | '≈' | '=' => {
    const y = order[s + 1];
    if (Math.abs(bt.rating[x] - bt.rating[y]) < 1e-9) return '=';
    if (reps === 0) return '≈';
    const diff = Float64Array.from({ length: reps }, (_, r) => samples[x][r] - samples[y][r]).sort();
    return quantile(diff, alpha) > 0 ? '>' : '≈';
  });
  return { dimension: d, systems: [...run.systems], rating: bt.rating, strength: bt.strength, order: order.map((i) => run.systems[i]), interval, steps, bootstrap: { reps, level, seed } };
}

/**
 * The ranking as text: `ease > pop`, `ease ≈ pop` or `ease = pop`, and what it means when no
 * step separates (no winner).
 */
export function rankingText(r: Ratings): string {
  let text = r.order[0];
  r.steps.forEach((s, i) => (text += ` ${s} ${r.order[i + 1]}`));
  if (r.steps.every((s) => s !== '>')) {
    const why = r.steps.every((s) => s === '=') ? 'equal ratings: a tie' : `no rating difference is outside its ${Math.round(100 * r.bootstrap.level)} % bootstrap interval`;
    return `no winner (${why}): ${text}`;
  }
  return text;
}

/**
 * Summarises a run. `offline` maps system name → offline metric value (e.g. ndcg@10); with two or
 * more systems carrying it, the agreement of the `overall` ranking with it is recorded, and with
 * three or more Kendall τ-b between the Arena's separated tiers and the offline values.
 */
export function summarize(run: ArenaRun, offline?: { metric: string; values: Record<string, number> }, options: RatingOptions = {}): ArenaSummary {
  const groups = new Map<string, MatchRecord[]>();
  for (const m of run.matches) {
    const key = `${m.a}\u0000${m.b}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(m);
  }
  const pairs: PairSummary[] = [...groups.values()].map((ms) => {
    const dimensions = {} as Record<Dimension, PairDimension>;
    for (const d of DIMENSIONS) dimensions[d] = pairDimension(ms, d);
    return { a: ms[0].a, b: ms[0].b, dimensions };
  });
  const rs = {} as Record<Dimension, Ratings>;
  for (const d of DIMENSIONS) rs[d] = ratings(run, d, options);
  const summary: ArenaSummary = { pairs, judge: judgeBehaviour(run.matches), ratings: rs };
  if (offline) {
    const systems = run.systems.filter((s) => Number.isFinite(offline.values[s]));
    if (systems.length >= 2) {
      const overall = rs.overall;
      const arena = systems.map((s) => overall.rating[overall.systems.indexOf(s)]);
      // τ compares the *separated* Arena ranking with the offline one: systems joined by "≈" or
      // "=" share a tier, so a judge whose ratings separate nothing cannot earn τ = 1 by noise.
      const tierOf = new Map<string, number>();
      let tier = 0;
      overall.order.forEach((name, i) => {
        if (i > 0 && overall.steps[i - 1] === '>') tier++;
        tierOf.set(name, -tier);
      });
      const tiers = systems.map((s) => tierOf.get(s)!);
      const off = systems.map((s) => offline.values[s]);
      // With two systems τ-b can only be +1 or −1 (or undefined on a tie): it says nothing the two
      // numbers do not, so it is not reported.
      const tau = systems.length >= 3 ? kendallTauB(tiers, off) : NaN;
      const note = systems.length < 3 ? `not defined with ${systems.length} systems (needs at least 3)` : Number.isFinite(tau) ? undefined : 'not defined: the Arena ranking separates no two systems (or the offline metric is constant)';
      summary.agreement = { metric: offline.metric, dimension: 'overall', systems, arena, offline: off, kendallTauB: Number.isFinite(tau) ? tau : null, ...(note ? { note } : {}) };
    }
  }
  return summary;
}
