/**
 * The multidimensional probes of "Beyond Utility: Evaluating LLM as Recommender" (Jiang et al.,
 * WWW 2025), run on any LLMClient:
 *
 * - history-length sensitivity: the last 5 / 10 / 15 / 20 history items, and the last 20 shuffled;
 * - candidate position bias: the target shown first, last, or at a random position; and the
 *   candidates placed before the history in the prompt instead of after it;
 * - profile-involved performance: the same task with and without an LLM-written user profile, and
 *   with the profile but no history at all (does the profile carry the history's information?);
 * - hallucination: outputs that match no catalogue item (and real items outside the candidates).
 *
 * Every condition of a user shares one candidate set (target + the same sampled negatives); only
 * what the condition varies changes, so differences between conditions are the probe's effect.
 * Identical requests across probes (e.g. "last 20, shuffled candidates, no profile" is the base of
 * all three) are asked once.
 */
import type { Interactions } from '../data/types.ts';
import { DataRng } from '../data/random.ts';
import { hitRate, mrr, ndcg, type UserOutcome } from '../eval/metrics.ts';
import type { LLMClient } from '../llm/index.ts';
import { progress } from '../util/progress.ts';
import type { ItemCatalogue } from './catalogue.ts';
import type { Grounder } from './grounding.ts';
import { userHistory, type HistoryEntry } from './history.ts';
import { generateProfile } from './profile.ts';
import { rankCandidates, targetRank, type PromptOrder, type RankOptions, type RankOutcome } from './rank.ts';

/** The probes. */
export const PROBES = ['length', 'position', 'profile', 'hallucination'] as const;
export type Probe = (typeof PROBES)[number];

/** One probed user: full history before the target, the target, and the sampled negatives. */
export interface ProbeUser {
  user: number;
  label: string;
  history: HistoryEntry[];
  target: number;
  negatives: number[];
}

/** What one condition varies. */
export interface Condition {
  /** e.g. `len=10`, `target-first`, `with-profile`. */
  name: string;
  /** Probes this condition belongs to. */
  probes: Probe[];
  /** Names of identical conditions of other probes, asked once under `name`. */
  aliases: string[];
  historyLength: number;
  shuffleHistory: boolean;
  /** Where the target sits among the candidates. */
  targetPosition: 'first' | 'last' | 'random';
  order: PromptOrder;
  profile: boolean;
}

/** Metrics of one condition over all users. */
export interface ConditionResult {
  condition: Condition;
  /** Users with a valid reply. */
  n: number;
  invalid: number;
  metrics: Record<string, number>;
  /** Mean 0-based rank of the target (unreturned = last). */
  meanTargetRank: number;
  /** Outputs matching no catalogue item / all outputs. */
  hallucinationRate: number;
  /** Outputs naming a real item that was not a candidate / all outputs. */
  outOfCandidateRate: number;
  /** Candidates the LLM left out / candidates shown. */
  missingRate: number;
  /** Mean Kendall τ between shown and returned order of the returned candidates (1 = echoes the input order). */
  inputOrderTau: number;
  templates: string[];
}

/** Per-user record of one condition (for the JSON report). */
export interface ProbeRecord {
  user: number;
  condition: string;
  candidates: number[];
  target: number;
  rank: number;
  outcome: RankOutcome;
}

/** Headline numbers of each probe. */
export interface ProbeSummary {
  /** ndcg@10 by history length. */
  length?: Record<string, number>;
  /** ndcg@10(target first) − ndcg@10(target last): 0 = no position bias, 1 = maximal. */
  positionGap?: number;
  /** ndcg@10(candidates first) − ndcg@10(history first), same candidates. */
  promptOrderEffect?: number;
  /** ndcg@10(with profile) − ndcg@10(without). */
  profileEffect?: number;
  /** ndcg@10(profile, no history) − ndcg@10(history, no profile). */
  profileOnlyEffect?: number;
  /** Share of all outputs that match no catalogue item. */
  hallucinationRate?: number;
}

/** Everything a probe run produced. */
export interface ProbeResult {
  conditions: ConditionResult[];
  summary: ProbeSummary;
  records: ProbeRecord[];
  nCandidates: number;
  ks: number[];
}

/** Options of {@link runProbes}. */
export interface ProbeOptions {
  client: LLMClient;
  /** Client that writes profiles for the profile probe (default: `client`). */
  profileClient?: LLMClient;
  grounder: Grounder;
  catalogue: ItemCatalogue;
  probes?: readonly Probe[];
  /** History lengths of the length probe (default 5, 10, 15, 20). */
  lengths?: readonly number[];
  /** Seed of candidate and history shuffles (default 0). */
  seed?: number;
  /** Cutoffs for hr / ndcg (default 1, 5, 10). */
  ks?: readonly number[];
  rank?: RankOptions;
  progress?: boolean;
}

/**
 * Builds probe users from a leave-one-out style split: each user's history is `history` (train,
 * or train ∪ valid), the target is their first `targets` event, and `nNegatives` negatives are
 * drawn uniformly (seeded) from items the user never interacted with.
 */
export function buildProbeUsers(history: Interactions, targets: Interactions, catalogue: ItemCatalogue, users: ArrayLike<number>, nNegatives = 19, seed = 0, label: (u: number) => string = String): ProbeUser[] {
  const rng = new DataRng(seed);
  const out: ProbeUser[] = [];
  for (let x = 0; x < users.length; x++) {
    const u = users[x];
    if (targets.offsets[u + 1] === targets.offsets[u]) throw new Error(`buildProbeUsers: user ${label(u)} has no held-out event`);
    const target = targets.items[targets.offsets[u]];
    const seen = new Set<number>(history.items.subarray(history.offsets[u], history.offsets[u + 1]));
    seen.add(target);
    if (catalogue.n - seen.size < nNegatives) throw new Error(`buildProbeUsers: user ${label(u)} has fewer than ${nNegatives} unseen items`);
    const negatives: number[] = [];
    const chosen = new Set<number>();
    while (negatives.length < nNegatives) {
      const i = rng.uint32() % catalogue.n;
      if (seen.has(i) || chosen.has(i)) continue;
      chosen.add(i);
      negatives.push(i);
    }
    out.push({ user: u, label: label(u), history: userHistory(history, u, catalogue), target, negatives });
  }
  return out;
}

/** The conditions of the chosen probes, deduplicated by what they send. */
export function probeConditions(probes: readonly Probe[], lengths: readonly number[]): Condition[] {
  const base = Math.max(...lengths);
  const list: Condition[] = [];
  const add = (c: Omit<Condition, 'probes' | 'aliases'>, probe: Probe): void => {
    const same = list.find((x) => x.historyLength === c.historyLength && x.shuffleHistory === c.shuffleHistory && x.targetPosition === c.targetPosition && x.order === c.order && x.profile === c.profile);
    if (same) {
      if (!same.probes.includes(probe)) same.probes.push(probe);
      if (same.name !== c.name && !same.aliases.includes(c.name)) same.aliases.push(c.name);
    } else list.push({ ...c, probes: [probe], aliases: [] });
  };
  const plain = { historyLength: base, shuffleHistory: false, targetPosition: 'random', order: 'history-first', profile: false } as const;
  if (probes.includes('length')) {
    for (const L of lengths) add({ ...plain, name: `len=${L}`, historyLength: L }, 'length');
    add({ ...plain, name: `len=${base}-shuffled`, shuffleHistory: true }, 'length');
  }
  if (probes.includes('position')) {
    add({ ...plain, name: 'target-first', targetPosition: 'first' }, 'position');
    add({ ...plain, name: 'target-last', targetPosition: 'last' }, 'position');
    add({ ...plain, name: 'target-random' }, 'position');
    add({ ...plain, name: 'candidates-first', order: 'candidates-first' }, 'position');
  }
  if (probes.includes('profile')) {
    add({ ...plain, name: 'no-profile' }, 'profile');
    add({ ...plain, name: 'with-profile', profile: true }, 'profile');
    add({ ...plain, name: 'profile-only', historyLength: 0, profile: true }, 'profile');
  }
  // Hallucination is measured on every call; alone, it needs one condition to run.
  if (probes.includes('hallucination')) add({ ...plain, name: 'base' }, 'hallucination');
  return list;
}

/** Fisher–Yates shuffle with the data RNG. */
function shuffle<T>(xs: T[], rng: DataRng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.uint32() % (i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Kendall τ of a sequence of distinct values against its sorted order: (C − D) / (C + D); NaN for < 2 values. */
export function orderTau(values: readonly number[]): number {
  let c = 0;
  let d = 0;
  for (let i = 0; i < values.length; i++) {
    for (let j = i + 1; j < values.length; j++) {
      if (values[i] < values[j]) c++;
      else d++;
    }
  }
  return c + d > 0 ? (c - d) / (c + d) : NaN;
}

function mean(xs: readonly number[]): number {
  const f = xs.filter((x) => Number.isFinite(x));
  return f.length ? f.reduce((a, x) => a + x, 0) / f.length : NaN;
}

/** Runs the probes for `users`. */
export async function runProbes(users: readonly ProbeUser[], options: ProbeOptions): Promise<ProbeResult> {
  const probes = options.probes ?? PROBES;
  const lengths = options.lengths ?? [5, 10, 15, 20];
  const ks = options.ks ?? [1, 5, 10];
  const conditions = probeConditions(probes, lengths);
  const seed = options.seed ?? 0;
  const nCandidates = users.length ? users[0].negatives.length + 1 : 0;
  const needProfile = conditions.some((c) => c.profile);
  const bar = progress('llmrec probe', users.length * (conditions.length + (needProfile ? 1 : 0)), { enabled: options.progress, unit: 'calls' });
  const records: ProbeRecord[] = [];
  try {
    await Promise.all(
      users.map(async (pu, x) => {
        if (pu.negatives.length + 1 !== nCandidates) throw new Error(`runProbes: user ${pu.label} has ${pu.negatives.length} negatives, others ${nCandidates - 1}`);
        const rng = new DataRng(seed * 1_000_003 + x);
        const shuffledNegs = shuffle([...pu.negatives], rng);
        const randomPos = rng.uint32() % nCandidates;
        const baseLen = Math.max(...lengths);
        const shuffledHistory = shuffle(pu.history.slice(-baseLen), rng);
        let profile: string | undefined;
        if (needProfile) {
          const p = await generateProfile(options.profileClient ?? options.client, pu.user, pu.label, pu.history.slice(-baseLen));
          profile = p.profile;
          bar.tick();
        }
        for (const c of conditions) {
          const candidates = [...shuffledNegs];
          const at = c.targetPosition === 'first' ? 0 : c.targetPosition === 'last' ? nCandidates - 1 : randomPos;
          candidates.splice(at, 0, pu.target);
          // slice(-0) would be the whole history: length 0 means none.
          const history = c.historyLength === 0 ? [] : c.shuffleHistory ? shuffledHistory.slice(-c.historyLength) : pu.history.slice(-c.historyLength);
          const outcome = await rankCandidates(options.client, options.grounder, options.catalogue, { history, candidates, order: c.order, profile: c.profile ? profile : undefined }, options.rank);
          records.push({ user: pu.user, condition: c.name, candidates, target: pu.target, rank: targetRank(outcome, pu.target, nCandidates), outcome });
          bar.tick(1, c.name);
        }
      }),
    );
  } finally {
    bar.stop();
  }
  records.sort((a, b) => a.user - b.user || conditions.findIndex((c) => c.name === a.condition) - conditions.findIndex((c) => c.name === b.condition));
  const results: ConditionResult[] = conditions.map((c) => {
    const rs = records.filter((r) => r.condition === c.name);
    const valid = rs.filter((r) => r.outcome.valid);
    const metrics: Record<string, number> = {};
    const outcome = (r: ProbeRecord): UserOutcome => ({ ranks: [r.rank], nRelevant: 1, nCandidates });
    for (const k of ks) {
      metrics[`hr@${k}`] = mean(valid.map((r) => hitRate(outcome(r), k)));
      metrics[`ndcg@${k}`] = mean(valid.map((r) => ndcg(outcome(r), k)));
    }
    metrics.mrr = mean(valid.map((r) => mrr(outcome(r), nCandidates)));
    const outputs = rs.reduce((a, r) => a + r.outcome.outputs, 0);
    const shown = valid.length * nCandidates;
    return {
      condition: c,
      n: valid.length,
      invalid: rs.length - valid.length,
      metrics,
      meanTargetRank: mean(valid.map((r) => r.rank)),
      hallucinationRate: outputs ? rs.reduce((a, r) => a + r.outcome.hallucinated, 0) / outputs : NaN,
      outOfCandidateRate: outputs ? rs.reduce((a, r) => a + r.outcome.outOfCandidates, 0) / outputs : NaN,
      missingRate: shown ? valid.reduce((a, r) => a + r.outcome.missing, 0) / shown : NaN,
      inputOrderTau: mean(valid.map((r) => orderTau(r.outcome.ranking.map((id) => r.candidates.indexOf(id))))),
      templates: [...new Set(rs.map((r) => r.outcome.template))],
    };
  });
  const by = (name: string): ConditionResult | undefined => results.find((r) => r.condition.name === name || r.condition.aliases.includes(name));
  const nd = (name: string): number => by(name)?.metrics['ndcg@10'] ?? NaN;
  const summary: ProbeSummary = {};
  if (probes.includes('length')) summary.length = Object.fromEntries(results.filter((r) => r.condition.probes.includes('length')).map((r) => [r.condition.name, r.metrics['ndcg@10']]));
  if (probes.includes('position')) {
    summary.positionGap = nd('target-first') - nd('target-last');
    summary.promptOrderEffect = nd('candidates-first') - nd('target-random');
  }
  if (probes.includes('profile')) {
    summary.profileEffect = nd('with-profile') - nd('no-profile');
    summary.profileOnlyEffect = nd('profile-only') - nd('no-profile');
  }
  const allOut = records.reduce((a, r) => a + r.outcome.outputs, 0);
  summary.hallucinationRate = allOut ? records.reduce((a, r) => a + r.outcome.hallucinated, 0) / allOut : NaN;
  return { conditions: results, summary, records, nCandidates, ks: [...ks] };
}
