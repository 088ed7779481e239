/**
 * Several judges on the same Arena: how far they agree (Fleiss' κ per dimension, over the
 * matches every judge answered validly) and the panel's majority verdict.
 *
 * Each judge's run is first reduced to its both-orders outcome per match and dimension
 * (`a`, `b`, `tie`; see arena.ts), so κ measures agreement on what the Arena counts, not on raw
 * letters. The majority verdict of a match is the outcome more than half of the judges with a
 * valid verdict gave; with no such outcome it is a tie (a split panel has not decided), and with
 * no valid verdict at all it is invalid.
 */
import { fleissKappa, type FleissKappa } from '../eval/hypothesis.ts';
import { DIMENSIONS, type ArenaRun, type Dimension, type MatchRecord, type Outcome } from './arena.ts';

/** The categories κ is computed over. */
const CATEGORIES = ['a', 'b', 'tie'] as const;

/** Agreement of a panel on one dimension. */
export interface PanelAgreement extends FleissKappa {
  dimension: Dimension;
  /** Matches left out because some judge had no valid verdict. */
  excluded: number;
}

/** Agreement and the majority run of several judges. */
export interface Panel {
  judges: string[];
  agreement: Record<Dimension, PanelAgreement>;
  /** A run whose outcomes are the majority verdicts (raw replies are null). */
  majority: ArenaRun;
}

const key = (m: MatchRecord): string => `${m.user}\u0000${m.a}\u0000${m.b}`;

/** The majority outcome among `outcomes` (see module comment). */
export function majorityOutcome(outcomes: readonly Outcome[]): Outcome {
  const valid = outcomes.filter((o) => o !== 'invalid');
  if (valid.length === 0) return 'invalid';
  for (const c of CATEGORIES) if (valid.filter((o) => o === c).length * 2 > valid.length) return c;
  return 'tie';
}

/**
 * Combines runs of several judges over the same systems, users and pairs. Throws when the runs do
 * not cover the same matches (they must come from one Arena setup).
 */
export function combineJudges(runs: readonly ArenaRun[]): Panel {
  if (runs.length < 2) throw new Error(`combineJudges: need at least two judges, got ${runs.length}`);
  const judges = runs.map((r) => r.judge);
  const first = runs[0];
  const maps = runs.map((r) => new Map(r.matches.map((m) => [key(m), m])));
  for (const [j, r] of runs.entries()) {
    if (r.systems.join('\u0000') !== first.systems.join('\u0000')) throw new Error(`combineJudges: judge ${r.judge} compared ${r.systems.join(', ')}, judge ${first.judge} ${first.systems.join(', ')}`);
    if (r.matches.length !== first.matches.length || first.matches.some((m) => !maps[j].has(key(m)))) throw new Error(`combineJudges: judge ${r.judge} did not judge the same (user, pair) matches as ${first.judge}`);
  }
  const agreement = {} as Record<Dimension, PanelAgreement>;
  for (const d of DIMENSIONS) {
    const counts: number[][] = [];
    let excluded = 0;
    for (const m of first.matches) {
      const os = maps.map((mp) => mp.get(key(m))!.outcome[d]);
      if (os.includes('invalid')) {
        excluded++;
        continue;
      }
      counts.push(CATEGORIES.map((c) => os.filter((o) => o === c).length));
    }
    agreement[d] = { dimension: d, excluded, ...fleissKappa(counts) };
  }
  const matches: MatchRecord[] = first.matches.map((m) => {
    const outcome = {} as Record<Dimension, Outcome>;
    for (const d of DIMENSIONS) outcome[d] = majorityOutcome(maps.map((mp) => mp.get(key(m))!.outcome[d]));
    return { user: m.user, userLabel: m.userLabel, a: m.a, b: m.b, forward: null, backward: null, outcome, hashes: maps.flatMap((mp) => mp.get(key(m))!.hashes) };
  });
  const templates = [...new Set(runs.map((r) => r.template))];
  return { judges, agreement, majority: { template: templates.join(', '), judge: `majority of ${judges.join(', ')}`, k: first.k, systems: [...first.systems], matches } };
}
