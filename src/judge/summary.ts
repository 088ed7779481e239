/**
 * Aggregates of an Arena run: per-pair win/tie counts and win rates with Wilson intervals, the
 * judge's position bias and order consistency, Bradley–Terry ratings across systems (ties split
 * half-half), and agreement with an offline metric (Kendall τ-b between the two rankings).
 */
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
  /** Systems best first. */
  order: string[];
}

/** Agreement between the Arena ranking and an offline metric's ranking. */
export interface Agreement {
  metric: string;
  dimension: Dimension;
  systems: string[];
  arena: number[];
  offline: number[];
  kendallTauB: number;
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
  return { n, winsA, winsB, ties, invalid, winRateA: wilson(winsA, n), winRateB: wilson(winsB, n), tieRate: wilson(ties, n) };
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

/** Bradley–Terry ratings on one dimension: a win counts 1, a tie ½ to each side. */
export function ratings(run: Pick<ArenaRun, 'systems' | 'matches'>, d: Dimension, prior = 1): Ratings {
  const idx = new Map(run.systems.map((s, i) => [s, i]));
  const n = run.systems.length;
  const wins = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const m of run.matches) {
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
  const bt = bradleyTerry(wins, { prior });
  const order = [...run.systems].sort((x, y) => bt.rating[idx.get(y)!] - bt.rating[idx.get(x)!]);
  return { dimension: d, systems: [...run.systems], rating: bt.rating, strength: bt.strength, order };
}

/**
 * Summarises a run. `offline` maps system name → offline metric value (e.g. ndcg@10); with two or
 * more systems carrying it, the agreement of the `overall` ranking with it is computed.
 */
export function summarize(run: ArenaRun, offline?: { metric: string; values: Record<string, number> }): ArenaSummary {
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
  for (const d of DIMENSIONS) rs[d] = ratings(run, d);
  const summary: ArenaSummary = { pairs, judge: judgeBehaviour(run.matches), ratings: rs };
  if (offline) {
    const systems = run.systems.filter((s) => Number.isFinite(offline.values[s]));
    if (systems.length >= 2) {
      const overall = rs.overall;
      const arena = systems.map((s) => overall.rating[overall.systems.indexOf(s)]);
      const off = systems.map((s) => offline.values[s]);
      summary.agreement = { metric: offline.metric, dimension: 'overall', systems, arena, offline: off, kendallTauB: kendallTauB(arena, off) };
    }
  }
  return summary;
}
