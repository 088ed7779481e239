/**
 * The re-ranking task of "Beyond Utility: Evaluating LLM as Recommender" (Jiang et al., WWW
 * 2025): LLMs and traditional recommenders rank the **same candidates** (each user's held-out
 * target among sampled negatives), scored on accuracy and on beyond-utility metrics, with paired
 * significance against a baseline; the LLM-specific probes (history length, candidate order,
 * profile with / without history, hallucination) are conditions of that same task, each compared
 * with the base condition by a paired test.
 *
 * Metrics per system (k = the cutoff, 10 by default), all from src/eval:
 * - accuracy from the target's 0-based rank among the N candidates: hr@k, ndcg@k, mrr;
 * - beyond utility from each user's top-k list: novelty@k, arp@k, aplt@k (training popularity,
 *   short head = items holding 20 % of training events), ild@k (genre Jaccard distance), and from
 *   all users' lists together coverage@k and gini@k over the whole catalogue;
 * - hallucination (LLMs): outputs matching no catalogue item / all outputs.
 *
 * An LLM's list is what it returned, grounded to candidates (hallucinations and real items that
 * were not candidates dropped); a target it did not return takes the last place. A model ranks
 * the candidates by its scores; a target tied with other candidates is placed below them
 * (pessimistic, as the evaluator does). Replies that stay invalid after repair leave that user
 * out of the LLM's means and out of its paired tests (NaN), and are counted.
 */
import type { Interactions } from '../data/types.ts';
import { catalogueStats, exposureMetric, hitRate, listMetric, mrr, ndcg, parseMetric, type CatalogueStats, type ItemFeatures, type UserOutcome } from '../eval/metrics.ts';
import { binomialTest } from '../eval/hypothesis.ts';
import { wilcoxon, type TestResult } from '../eval/significance.ts';
import type { LLMClient } from '../llm/index.ts';
import type { Recommender } from '../models/recommender.ts';
import type { ItemCatalogue } from './catalogue.ts';
import type { Grounder } from './grounding.ts';
import { runProbes, type ProbeRecord, type ProbeSummary, type ProbeUser } from './probes.ts';

/** An LLM under comparison. */
export interface CompareLlm {
  name: string;
  client: LLMClient;
  /** Who writes profiles for the profile conditions (default: the LLM itself). */
  profileClient?: LLMClient;
}

/** A trained model under comparison. */
export interface CompareModel {
  name: string;
  model: Recommender;
}

/** Options of {@link runCompare}. */
export interface CompareOptions {
  llms: readonly CompareLlm[];
  models: readonly CompareModel[];
  grounder: Grounder;
  catalogue: ItemCatalogue;
  /** Training interactions: popularity, short head and novelty come from them. */
  train: Interactions;
  /** What models score from (train ∪ valid, the history at test time). */
  history: Interactions;
  /** Cutoff (default 10). */
  k?: number;
  /** System the others are tested against (default: the first model, else the first LLM). */
  baseline?: string;
  /** History lengths of the length conditions (default 5, 10, 20; the longest is the base). */
  lengths?: readonly number[];
  seed?: number;
  progress?: boolean;
}

/** One system's row of the table. */
export interface SystemRow {
  system: string;
  kind: 'llm' | 'model';
  /** Users with a valid ranking. */
  n: number;
  /** LLM replies that stayed invalid. */
  invalid: number;
  metrics: Record<string, number>;
  /** Per-user ndcg@k in user order (NaN for an invalid reply). */
  perUserNdcg: number[];
  /** Paired Wilcoxon test of ndcg@k against the baseline (absent for the baseline itself). */
  vsBaseline?: TestResult;
}

/** One condition of one LLM. */
export interface ConditionRow {
  llm: string;
  condition: string;
  aliases: string[];
  probes: string[];
  n: number;
  metrics: Record<string, number>;
  hallucinationRate: number;
  /** Paired Wilcoxon test of ndcg@k against the base condition (absent for the base). */
  vsBase?: TestResult;
}

/** The position-bias probe of one LLM as a test. */
export interface PositionBias {
  llm: string;
  /** ndcg@k(target first) − ndcg@k(target last): 0 none, 1 maximal. */
  gap: number;
  /** Paired Wilcoxon test of first vs last. */
  wilcoxon: TestResult;
  /** Exact sign test: users where first beat last, of users where they differ. */
  sign: { wins: number; n: number; p: number };
}

/** Everything a comparison produced. */
export interface CompareResult {
  users: number;
  nCandidates: number;
  k: number;
  baseline: string;
  /** Names of the metrics in table order. */
  metricNames: string[];
  rows: SystemRow[];
  conditions: ConditionRow[];
  positionBias: PositionBias[];
  probes: Record<string, ProbeSummary>;
  /** Per-LLM records (every request's candidates, target rank and grounded outcome). */
  records: Record<string, ProbeRecord[]>;
}

/** Genre sets of the catalogue as ILD features (Jaccard distance). */
export function genreFeatures(catalogue: ItemCatalogue): ItemFeatures {
  const vocab = new Map<string, number>();
  const offsets = new Int32Array(catalogue.n + 1);
  const values: number[] = [];
  for (let i = 0; i < catalogue.n; i++) {
    for (const g of catalogue.genres[i]) {
      if (!vocab.has(g)) vocab.set(g, vocab.size);
      values.push(vocab.get(g)!);
    }
    offsets[i + 1] = values.length;
  }
  return { kind: 'sets', offsets, values: Int32Array.from(values) };
}

/** Per-user outcome of one system: the target's rank and the top list. */
interface UserResult {
  rank: number;
  list: Int32Array;
  valid: boolean;
}

/** Accuracy and beyond-utility metrics over users (invalid users left out). */
function systemMetrics(results: readonly UserResult[], targets: readonly number[], nCandidates: number, k: number, stats: CatalogueStats, features: ItemFeatures): { metrics: Record<string, number>; perUserNdcg: number[] } {
  const names = { hr: `hr@${k}`, ndcg: `ndcg@${k}`, novelty: `novelty@${k}`, arp: `arp@${k}`, aplt: `aplt@${k}`, ild: `ild@${k}` };
  const sums: Record<string, { s: number; n: number }> = {};
  const add = (name: string, v: number): void => {
    if (!Number.isFinite(v)) return;
    const x = (sums[name] ??= { s: 0, n: 0 });
    x.s += v;
    x.n++;
  };
  const exposure = new Float64Array(stats.nItems);
  const perUserNdcg: number[] = [];
  results.forEach((r, x) => {
    if (!r.valid) {
      perUserNdcg.push(NaN);
      return;
    }
    const o: UserOutcome = { ranks: [r.rank], nRelevant: 1, nCandidates };
    const nd = ndcg(o, k);
    perUserNdcg.push(nd);
    add(names.hr, hitRate(o, k));
    add(names.ndcg, nd);
    add('mrr', mrr(o, nCandidates));
    const top = r.list.subarray(0, k);
    for (const i of top) exposure[i]++;
    const ctx = { stats, relevant: new Set([targets[x]]), features };
    for (const m of ['novelty', 'arp', 'aplt', 'ild'] as const) add(names[m], listMetric(parseMetric(names[m]), top, ctx));
  });
  const metrics: Record<string, number> = {};
  for (const name of [names.hr, names.ndcg, 'mrr', names.novelty, names.arp, names.aplt, names.ild]) metrics[name] = sums[name] ? sums[name].s / sums[name].n : NaN;
  metrics[`coverage@${k}`] = exposureMetric('coverage', exposure);
  metrics[`gini@${k}`] = exposureMetric('gini', exposure);
  return { metrics, perUserNdcg };
}

/** The metric names of a table with cutoff k, in order. */
export function compareMetricNames(k: number): string[] {
  return [`hr@${k}`, `ndcg@${k}`, 'mrr', `coverage@${k}`, `novelty@${k}`, `arp@${k}`, `aplt@${k}`, `ild@${k}`, `gini@${k}`, 'hallucination'];
}

/** Ranks each user's candidates with a model (see the module comment for ties). */
function modelResults(model: Recommender, users: readonly ProbeUser[], history: Interactions): UserResult[] {
  const n = model.nItems;
  const out: UserResult[] = [];
  const block = 64;
  const scores = new Float32Array(block * n);
  for (let s = 0; s < users.length; s += block) {
    const batch = users.slice(s, s + block);
    const ids = Int32Array.from(batch, (u) => u.user);
    model.scoreUsers(ids, history, scores.subarray(0, batch.length * n));
    batch.forEach((u, r) => {
      const row = scores.subarray(r * n, (r + 1) * n);
      const candidates = [u.target, ...u.negatives];
      const st = row[u.target];
      let rank = 0;
      for (const c of u.negatives) if (row[c] >= st) rank++;
      // The list: by score, ties by item id (a stable, order-free rule).
      const list = Int32Array.from(candidates.sort((a, b) => row[b] - row[a] || a - b));
      out.push({ rank, list, valid: true });
    });
  }
  return out;
}

/**
 * Runs the comparison: every LLM through every condition (runProbes, all probes), every model on
 * the same candidates, then the table, the conditions and the tests.
 */
export async function runCompare(users: readonly ProbeUser[], options: CompareOptions): Promise<CompareResult> {
  if (users.length === 0) throw new Error('runCompare: no users');
  if (options.llms.length + options.models.length === 0) throw new Error('runCompare: nothing to compare (give at least one LLM or model)');
  const names = [...options.models.map((m) => m.name), ...options.llms.map((l) => l.name)];
  if (new Set(names).size !== names.length) throw new Error(`runCompare: system names must be distinct, got ${names.join(', ')}`);
  const k = options.k ?? 10;
  const lengths = options.lengths ?? [5, 10, 20];
  const nCandidates = users[0].negatives.length + 1;
  const baseline = options.baseline ?? names[0];
  if (!names.includes(baseline)) throw new Error(`--baseline: "${baseline}" is not one of the compared systems (${names.join(', ')})`);
  const stats = catalogueStats(options.train);
  const features = genreFeatures(options.catalogue);
  const targets = users.map((u) => u.target);
  const rows: SystemRow[] = [];
  for (const m of options.models) {
    if (m.model.nItems !== options.catalogue.n) throw new Error(`model ${m.name} scores ${m.model.nItems} items, the catalogue has ${options.catalogue.n}`);
    const r = systemMetrics(modelResults(m.model, users, options.history), targets, nCandidates, k, stats, features);
    rows.push({ system: m.name, kind: 'model', n: users.length, invalid: 0, metrics: { ...r.metrics, hallucination: NaN }, perUserNdcg: r.perUserNdcg });
  }
  const conditions: ConditionRow[] = [];
  const positionBias: PositionBias[] = [];
  const probes: Record<string, ProbeSummary> = {};
  const records: Record<string, ProbeRecord[]> = {};
  const index = new Map(users.map((u, i) => [u.user, i]));
  for (const llm of options.llms) {
    const pr = await runProbes(users, { client: llm.client, profileClient: llm.profileClient, grounder: options.grounder, catalogue: options.catalogue, lengths, seed: options.seed ?? 0, ks: [...new Set([1, 5, 10, k])].sort((a, b) => a - b), progress: options.progress });
    probes[llm.name] = pr.summary;
    records[llm.name] = pr.records;
    const perCondition = new Map<string, UserResult[]>();
    const hallucination = new Map<string, number>();
    for (const c of pr.conditions) {
      const res: UserResult[] = users.map(() => ({ rank: nCandidates - 1, list: new Int32Array(0), valid: false }));
      for (const rec of pr.records.filter((r) => r.condition === c.condition.name)) res[index.get(rec.user)!] = { rank: rec.rank, list: Int32Array.from(rec.outcome.ranking), valid: rec.outcome.valid };
      perCondition.set(c.condition.name, res);
      hallucination.set(c.condition.name, c.hallucinationRate);
    }
    const base = pr.conditions.find((c) => c.condition.name === 'target-random' || c.condition.aliases.includes('target-random'))!;
    const baseRes = perCondition.get(base.condition.name)!;
    const main = systemMetrics(baseRes, targets, nCandidates, k, stats, features);
    rows.push({ system: llm.name, kind: 'llm', n: base.n, invalid: base.invalid, metrics: { ...main.metrics, hallucination: base.hallucinationRate }, perUserNdcg: main.perUserNdcg });
    const ndcgOf = new Map<string, number[]>();
    for (const c of pr.conditions) {
      const r = systemMetrics(perCondition.get(c.condition.name)!, targets, nCandidates, k, stats, features);
      ndcgOf.set(c.condition.name, r.perUserNdcg);
      const isBase = c === base;
      conditions.push({
        llm: llm.name,
        condition: c.condition.name,
        aliases: c.condition.aliases,
        probes: c.condition.probes,
        n: c.n,
        metrics: { [`hr@${k}`]: r.metrics[`hr@${k}`], [`ndcg@${k}`]: r.metrics[`ndcg@${k}`], mrr: r.metrics.mrr },
        hallucinationRate: c.hallucinationRate,
        ...(isBase ? {} : { vsBase: wilcoxon(r.perUserNdcg, main.perUserNdcg) }),
      });
    }
    const byName = (name: string): number[] => {
      const c = pr.conditions.find((x) => x.condition.name === name || x.condition.aliases.includes(name))!;
      return ndcgOf.get(c.condition.name)!;
    };
    const first = byName('target-first');
    const last = byName('target-last');
    let wins = 0;
    let differ = 0;
    let sf = 0;
    let sl = 0;
    let nBoth = 0;
    first.forEach((f, i) => {
      if (!Number.isFinite(f) || !Number.isFinite(last[i])) return;
      nBoth++;
      sf += f;
      sl += last[i];
      if (f !== last[i]) differ++;
      if (f > last[i]) wins++;
    });
    positionBias.push({ llm: llm.name, gap: nBoth ? (sf - sl) / nBoth : NaN, wilcoxon: wilcoxon(first, last), sign: { wins, n: differ, p: binomialTest(wins, differ).p } });
  }
  const baseRow = rows.find((r) => r.system === baseline)!;
  for (const r of rows) if (r !== baseRow) r.vsBaseline = wilcoxon(r.perUserNdcg, baseRow.perUserNdcg);
  // Table order: models first (as given), then LLMs (as given).
  return { users: users.length, nCandidates, k, baseline, metricNames: compareMetricNames(k), rows, conditions, positionBias, probes, records };
}
