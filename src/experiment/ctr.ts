/**
 * The CTR task of `reclab run` (`task: ctr` in the experiment file): build the CTR view → for each
 * model and seed: train with early stopping on the validation metric (best epoch restored) →
 * predict the test impressions → AUC, GAUC, LogLoss over all test impressions and separately
 * over impressions of cold items (< `coldThreshold` training events) and the rest → compare each
 * model with the baseline and each knowledge-augmented model with its twin without knowledge
 * (paired over users on per-user AUC, and over impressions on log loss) → result.json, table.md.
 *
 * `result.json` has the shape of the ranking runner's: `models[].label`, `models[].summary[metric]
 * .mean/.std` (metrics auc, gauc, logloss, and cold_/rest_ variants), plus `comparisons`.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { buildCtrMovieLens100k, ctrSplitEvents, type CtrDataset } from '../data/ctr.ts';
import { createCtrModel } from '../models/ctr/registry.ts';
import type { KnowledgeTables } from '../models/ctr/adaptor.ts';
import { applyOverrides, ConfigError } from '../eval/config.ts';
import { auc, ctrMetrics, groupAuc, logLossOne } from '../eval/ctr-metrics.ts';
import { bootstrapDiffCI, meanStd, pairedTTest, wilcoxon, type Interval } from '../eval/significance.ts';
import { fmt, fmtP, toMarkdown, toText, type Table } from '../eval/table.ts';
import { firstIssue } from '../util/schema.ts';

/** The schema of a CTR experiment file. */
export const ctrExperimentSchema = z
  .object({
    task: z.literal('ctr'),
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only'),
    description: z.string().optional(),
    data: z
      .object({
        /** Folder with u.data, u.user, u.item (relative to the config file or the working directory). */
        source: z.string().min(1),
        format: z.literal('ml-100k').default('ml-100k'),
        minPositive: z.number().int().min(1).max(5).default(4),
        maxHistory: z.number().int().positive().default(30),
        trainQuantile: z.number().gt(0).lt(1).default(0.8),
        validQuantile: z.number().gt(0).lt(1).default(0.9),
      })
      .strict(),
    /** Knowledge vectors for models with `knowledge: true` (built by `reclab knowledge build` when absent). */
    knowledge: z
      .object({
        vectors: z.string().min(1),
        source: z.enum(['offline', 'llm']).default('offline'),
        mode: z.enum(['individual', 'collective']).default('individual'),
        /** use, hashed, auto, or openai:<model> (an OpenAI-compatible /embeddings endpoint). */
        embedder: z.string().regex(/^(use|hashed|auto|openai:.+)$/, 'use use, hashed, auto or openai:<model>').default('auto'),
        /** Collective mode: LLM calls allowed (clusters = budget split between users and items). */
        budget: z.number().int().positive().optional(),
        /** LIBER vectors for models with `vectors: liber`: partitions of K events (or maxSpanDays), encoder. */
        liber: z
          .object({ K: z.number().int().positive().default(20), maxSpanDays: z.number().positive().optional(), embedder: z.enum(['use', 'hashed', 'auto']).default('hashed') })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    seeds: z.array(z.number().int()).min(1).default([0]),
    patience: z.number().int().positive().default(2),
    validMetric: z.enum(['auc', 'gauc', 'logloss']).default('auc'),
    baseline: z.string().optional(),
    coldThreshold: z.number().int().positive().default(5),
    models: z
      .array(
        z
          .object({
            name: z.string().min(1),
            label: z.string().optional(),
            config: z.record(z.string(), z.unknown()).default({}),
            /** With config.knowledge: which vectors — KAR (user + item) or LIBER (time-dependent user fusion + item). */
            vectors: z.enum(['kar', 'liber']).default('kar'),
          })
          .strict(),
      )
      .min(1),
    output: z.string().default('runs'),
  })
  .strict();

export type CtrExperimentConfig = z.infer<typeof ctrExperimentSchema>;

/** True when a parsed experiment document asks for the CTR task. */
export function isCtrDocument(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && (doc as Record<string, unknown>).task === 'ctr';
}

/** Reads, overrides and validates a CTR experiment file. */
export function loadCtrExperiment(path: string, overrides: readonly string[] = []): CtrExperimentConfig {
  const doc = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  applyOverrides(doc, overrides, path);
  const r = ctrExperimentSchema.safeParse(doc);
  if (!r.success) {
    const { key, message } = firstIssue(r.error, ctrExperimentSchema);
    throw new ConfigError(path, key, message);
  }
  return r.data;
}

/** A path of the config resolved from the working directory, else from the config's folder. */
export function resolveConfigPath(p: string, baseDir?: string): string {
  if (isAbsolute(p) || existsSync(p) || !baseDir) return resolve(p);
  return resolve(baseDir, p);
}

export const CTR_METRIC_NAMES = ['auc', 'gauc', 'logloss', 'cold_auc', 'cold_logloss', 'rest_auc', 'rest_logloss'] as const;

/** One training + test of one model with one seed. */
export interface CtrSeedRun {
  seed: number;
  valid: number;
  bestEpoch: number;
  epochs: number;
  curve: { epoch: number; loss: number; seconds: number; valid: number }[];
  fitSeconds: number;
  test: Record<string, number>;
}

export interface CtrModelResult {
  label: string;
  name: string;
  config: Record<string, unknown>;
  knowledge: boolean;
  runs: CtrSeedRun[];
  summary: Record<string, { mean: number; std: number }>;
}

/** A paired comparison of two models on the same test impressions (predictions averaged over seeds). */
export interface CtrComparison {
  a: string;
  b: string;
  kind: 'baseline' | 'knowledge';
  /** Per-user AUC (users with both classes): mean difference a − b, t-test and Wilcoxon p, 95 % bootstrap CI, users. */
  userAuc: { meanDiff: number; tTest: number; wilcoxon: number; ci95: Interval; users: number };
  /** Per-impression log loss, all / cold / rest: mean difference a − b and paired t-test p. */
  logloss: Record<'all' | 'cold' | 'rest', { meanDiff: number; tTest: number; n: number }>;
  /** AUC difference per seed (a − b), all / cold / rest: mean ± std and paired t-test over seeds. */
  seedAuc: Record<'all' | 'cold' | 'rest', { meanDiff: number; std: number; tTest: number }>;
}

export interface CtrExperimentResult {
  name: string;
  task: 'ctr';
  config: CtrExperimentConfig;
  dataset: { name: string; source: string; nUsers: number; nItems: number; nEvents: number; split: Record<string, number>; coldItems: number; coldTestImpressions: number; positiveRate: Record<string, number> };
  knowledge?: Record<string, unknown>;
  versions: { node: string };
  startedAt: string;
  seconds: number;
  models: CtrModelResult[];
  comparisons: CtrComparison[];
}

export interface CtrRunOptions {
  baseDir?: string;
  log?: (line: string) => void;
  progress?: boolean;
  dryRun?: boolean;
  /** Knowledge tables by dense user / item index of the CTR view (required when a model uses knowledge). */
  knowledge?: KnowledgeTables & { meta?: Record<string, unknown> };
  /** LIBER tables for models with `vectors: liber`. */
  liber?: KnowledgeTables & { meta?: Record<string, unknown> };
  /** Use this data set instead of building it from config.data. */
  dataset?: CtrDataset;
}

/** Builds the CTR view an experiment names. */
export function ctrDatasetOf(config: CtrExperimentConfig, baseDir?: string): CtrDataset {
  const { source, minPositive, maxHistory, trainQuantile, validQuantile } = config.data;
  return buildCtrMovieLens100k(resolveConfigPath(source, baseDir), { minPositive, maxHistory, trainQuantile, validQuantile });
}

const sub = (a: Float32Array, idx: number[]): Float32Array => Float32Array.from(idx, (i) => a[i]);

/** Runs a CTR experiment. */
export async function runCtrExperiment(config: CtrExperimentConfig, options: CtrRunOptions = {}): Promise<{ result: CtrExperimentResult; dir?: string; table: Table }> {
  const t0 = performance.now();
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const startedAt = new Date().toISOString();
  const ds = options.dataset ?? ctrDatasetOf(config, options.baseDir);
  const train = ctrSplitEvents(ds, 0);
  const valid = ctrSplitEvents(ds, 1);
  const test = ctrSplitEvents(ds, 2);
  const yValid = Float32Array.from(valid, (e) => ds.label[e]);
  const uValid = Int32Array.from(valid, (e) => ds.user[e]);
  const yTest = Float32Array.from(test, (e) => ds.label[e]);
  const uTest = Int32Array.from(test, (e) => ds.user[e]);
  const cold: number[] = [];
  const rest: number[] = [];
  test.forEach((e, k) => (ds.itemTrainCount[ds.item[e]] < config.coldThreshold ? cold : rest).push(k));
  let coldItems = 0;
  for (let i = 0; i < ds.nItems; i++) if (ds.itemTrainCount[i] < config.coldThreshold) coldItems++;
  const posRate = (ev: Int32Array): number => ev.reduce((s, e) => s + ds.label[e], 0) / ev.length;
  log(`${ds.name}: ${ds.nUsers} users, ${ds.nItems} items, ${ds.nEvents} events; time split ${train.length} / ${valid.length} / ${test.length}; test impressions of cold items (< ${config.coldThreshold} training events): ${cold.length}`);
  const sign = config.validMetric === 'logloss' ? -1 : 1;
  const models: CtrModelResult[] = [];
  /** Test predictions averaged over seeds, and per-seed predictions, by label. */
  const avgPred = new Map<string, Float64Array>();
  const seedPred = new Map<string, Float32Array[]>();
  const totalRuns = config.models.length * config.seeds.length;
  let done = 0;
  for (const spec of config.models) {
    const label = spec.label ?? spec.name;
    if (models.some((m) => m.label === label)) throw new ConfigError(config.name, 'models', `two models share the label "${label}"; give each a distinct label`);
    const runs: CtrSeedRun[] = [];
    const preds: Float32Array[] = [];
    let knowledgeOn = false;
    for (const seed of config.seeds) {
      const model = createCtrModel(spec.name, spec.config);
      knowledgeOn = model.config.knowledge;
      const k = knowledgeOn ? (spec.vectors === 'liber' ? options.liber : options.knowledge) : undefined;
      if (knowledgeOn && !k) throw new ConfigError(config.name, `models.${config.models.indexOf(spec)}.config.knowledge`, `needs ${spec.vectors === 'liber' ? 'LIBER' : 'knowledge'} vectors: add a \`knowledge:\` section${spec.vectors === 'liber' ? ' with liber:' : ''} to the experiment`);
      let best = -Infinity;
      let bestEpoch = 0;
      let bestState: Float32Array[] | null = null;
      let since = 0;
      const curve: CtrSeedRun['curve'] = [];
      const fit = await model.fit(ds, train, {
        seed,
        knowledge: k,
        progress: options.progress,
        onEpoch: (rep) => {
          const p = model.predict(ds, valid, k);
          const m = ctrMetrics(yValid, p, uValid);
          const v = m[config.validMetric];
          curve.push({ ...rep, valid: v });
          if (sign * v > best) {
            best = sign * v;
            bestEpoch = rep.epoch;
            bestState = model.snapshot();
            since = 0;
          } else since++;
          return since >= config.patience;
        },
      });
      if (bestState && bestEpoch !== fit.epochs) model.restore(bestState);
      const p = model.predict(ds, test, k);
      const all = ctrMetrics(yTest, p, uTest);
      const part = (idx: number[]): { auc: number; logloss: number } => {
        const yy = sub(yTest, idx);
        const pp = sub(p, idx);
        let ll = 0;
        for (let i = 0; i < yy.length; i++) ll += logLossOne(yy[i], pp[i]);
        return { auc: auc(yy, pp), logloss: ll / Math.max(1, yy.length) };
      };
      const c = part(cold);
      const r = part(rest);
      const testM = { ...all, cold_auc: c.auc, cold_logloss: c.logloss, rest_auc: r.auc, rest_logloss: r.logloss };
      runs.push({ seed, valid: sign * best, bestEpoch, epochs: fit.epochs, curve, fitSeconds: fit.seconds, test: testM });
      preds.push(p);
      done++;
      const elapsed = (performance.now() - t0) / 1000;
      log(`  ${label} seed ${seed}: best epoch ${bestEpoch}/${fit.epochs}, valid ${config.validMetric} ${fmt(sign * best)}; test auc ${fmt(all.auc)} gauc ${fmt(all.gauc)} logloss ${fmt(all.logloss)} (cold auc ${fmt(c.auc)}) [${fit.seconds.toFixed(1)} s; ${done}/${totalRuns} runs, ETA ${Math.round((elapsed / done) * (totalRuns - done))} s]`);
    }
    const summary: CtrModelResult['summary'] = {};
    for (const m of CTR_METRIC_NAMES) {
      const ms = meanStd(runs.map((x) => x.test[m]));
      summary[m] = { mean: ms.mean, std: ms.std };
    }
    const avg = new Float64Array(test.length);
    for (const p of preds) for (let i = 0; i < avg.length; i++) avg[i] += p[i] / preds.length;
    avgPred.set(label, avg);
    seedPred.set(label, preds);
    models.push({ label, name: spec.name, config: createCtrModel(spec.name, spec.config).config, knowledge: knowledgeOn, runs, summary });
  }

  // comparisons: every model vs the baseline; each knowledge model vs its twin without knowledge
  const compare = (a: CtrModelResult, b: CtrModelResult, kind: CtrComparison['kind']): CtrComparison => {
    const pa = avgPred.get(a.label)!;
    const pb = avgPred.get(b.label)!;
    const ga = groupAuc(yTest, pa, uTest);
    const gb = groupAuc(yTest, pb, uTest);
    const t = pairedTTest(ga.auc, gb.auc);
    const w = wilcoxon(ga.auc, gb.auc);
    const llTest = (idx: number[]): { meanDiff: number; tTest: number; n: number } => {
      const da = idx.map((i) => logLossOne(yTest[i], pa[i]));
      const db = idx.map((i) => logLossOne(yTest[i], pb[i]));
      const tt = pairedTTest(da, db);
      return { meanDiff: tt.meanDiff, tTest: tt.p, n: tt.n };
    };
    const allIdx = Array.from({ length: test.length }, (_, i) => i);
    const seedDiff = (key: 'auc' | 'cold_auc' | 'rest_auc'): { meanDiff: number; std: number; tTest: number } => {
      const xa = a.runs.map((x) => x.test[key]);
      const xb = b.runs.map((x) => x.test[key]);
      const ms = meanStd(xa.map((v, i) => v - xb[i]));
      return { meanDiff: ms.mean, std: ms.std, tTest: xa.length > 1 ? pairedTTest(xa, xb).p : NaN };
    };
    return {
      a: a.label,
      b: b.label,
      kind,
      userAuc: { meanDiff: t.meanDiff, tTest: t.p, wilcoxon: w.p, ci95: bootstrapDiffCI(ga.auc, gb.auc, { seed: 0 }), users: t.n },
      logloss: { all: llTest(allIdx), cold: llTest(cold), rest: llTest(rest) },
      seedAuc: { all: seedDiff('auc'), cold: seedDiff('cold_auc'), rest: seedDiff('rest_auc') },
    };
  };
  const comparisons: CtrComparison[] = [];
  const base = config.baseline ? models.find((m) => m.label === config.baseline || m.name === config.baseline) : models[0];
  if (!base) throw new ConfigError(config.name, 'baseline', `"${config.baseline}" is not one of the models (${models.map((m) => m.label).join(', ')})`);
  for (const m of models) if (m !== base && !m.knowledge) comparisons.push(compare(m, base, 'baseline'));
  for (const m of models) {
    if (!m.knowledge) continue;
    const twin = models.find((o) => o.name === m.name && !o.knowledge);
    if (twin) comparisons.push(compare(m, twin, 'knowledge'));
  }
  void seedPred;

  const result: CtrExperimentResult = {
    name: config.name,
    task: 'ctr',
    config,
    dataset: {
      name: ds.name,
      source: ds.source,
      nUsers: ds.nUsers,
      nItems: ds.nItems,
      nEvents: ds.nEvents,
      split: { train: train.length, valid: valid.length, test: test.length },
      coldItems,
      coldTestImpressions: cold.length,
      positiveRate: { train: posRate(train), valid: posRate(valid), test: posRate(test) },
    },
    knowledge: options.knowledge || options.liber ? { ...options.knowledge?.meta, liber: options.liber?.meta } : undefined,
    versions: { node: process.version },
    startedAt,
    seconds: (performance.now() - t0) / 1000,
    models,
    comparisons,
  };
  const table = ctrResultTable(result);
  if (options.dryRun) return { result, table };
  const stamp = startedAt.replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  const dir = resolve(config.output, `${config.name}-${stamp}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(tmp, 'table.md'), `# ${config.name}\n\n${toMarkdown(table)}\n${toMarkdown(ctrComparisonTable(result))}`);
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(tmp, dir);
  return { result, dir, table };
}

/** One row per model: AUC, GAUC, LogLoss (mean ± std over seeds), cold / rest AUC, epochs, fit time. */
export function ctrResultTable(r: CtrExperimentResult): Table {
  const multi = r.config.seeds.length > 1;
  const cell = (m: CtrModelResult, k: string): string => (multi ? `${fmt(m.summary[k].mean)} ± ${fmt(m.summary[k].std)}` : fmt(m.summary[k].mean));
  const header = ['model', 'AUC', 'GAUC', 'LogLoss', `AUC cold items (< ${r.config.coldThreshold})`, 'AUC rest', 'LogLoss cold', 'best epoch', 'fit s'];
  const rows = r.models.map((m) => [
    m.label,
    cell(m, 'auc'),
    cell(m, 'gauc'),
    cell(m, 'logloss'),
    cell(m, 'cold_auc'),
    cell(m, 'rest_auc'),
    cell(m, 'cold_logloss'),
    m.runs.map((x) => x.bestEpoch).join(','),
    meanStd(m.runs.map((x) => x.fitSeconds)).mean.toFixed(1),
  ]);
  const d = r.dataset;
  const notes = [
    `data: ${d.name} (${d.nUsers} users, ${d.nItems} items, ${d.nEvents} events), label rating ≥ ${r.config.data.minPositive}; time split train/valid/test ${d.split.train}/${d.split.valid}/${d.split.test}; positive rate test ${d.positiveRate.test.toFixed(3)}`,
    `cold: test impressions of items with < ${r.config.coldThreshold} training events (${d.coldTestImpressions} impressions, ${d.coldItems} items)`,
    `selection: early stopping on validation ${r.config.validMetric} (patience ${r.config.patience}), best epoch restored; seeds ${r.config.seeds.join(', ')}${multi ? ' (mean ± std)' : ''}`,
  ];
  if (r.knowledge?.description) notes.push(`knowledge (+KAR): ${String(r.knowledge.description)}`);
  const lib = r.knowledge?.liber as Record<string, unknown> | undefined;
  if (lib?.description) notes.push(`knowledge (+LIBER): ${String(lib.description)}`);
  return { header, rows, notes };
}

/** The paired comparisons. */
export function ctrComparisonTable(r: CtrExperimentResult): Table {
  const sgn = (v: number): string => `${v >= 0 ? '+' : ''}${fmt(v)}`;
  const header = ['comparison', 'Δ user-AUC [95 % CI]', 'p t-test', 'p Wilcoxon', 'Δ AUC over seeds', 'Δ AUC cold', 'Δ AUC rest', 'Δ LogLoss (p)', 'Δ LogLoss cold (p)'];
  const rows = r.comparisons.map((c) => [
    `${c.a} vs ${c.b}`,
    `${sgn(c.userAuc.meanDiff)} [${fmt(c.userAuc.ci95.low)}, ${fmt(c.userAuc.ci95.high)}]`,
    fmtP(c.userAuc.tTest),
    fmtP(c.userAuc.wilcoxon),
    `${sgn(c.seedAuc.all.meanDiff)}${Number.isFinite(c.seedAuc.all.tTest) ? ` (p ${fmtP(c.seedAuc.all.tTest)})` : ''}`,
    `${sgn(c.seedAuc.cold.meanDiff)}${Number.isFinite(c.seedAuc.cold.tTest) ? ` (p ${fmtP(c.seedAuc.cold.tTest)})` : ''}`,
    `${sgn(c.seedAuc.rest.meanDiff)}${Number.isFinite(c.seedAuc.rest.tTest) ? ` (p ${fmtP(c.seedAuc.rest.tTest)})` : ''}`,
    `${sgn(c.logloss.all.meanDiff)} (${fmtP(c.logloss.all.tTest)})`,
    `${sgn(c.logloss.cold.meanDiff)} (${fmtP(c.logloss.cold.tTest)})`,
  ]);
  const notes = [
    'user-AUC: per-user AUC of the seed-averaged predictions (users with both classes), paired over users; Δ AUC over seeds: per-seed AUC differences, paired t-test over seeds; LogLoss: paired over impressions (seed-averaged predictions).',
  ];
  return { header, rows, notes };
}

/** Terminal rendering of both tables. */
export function formatCtrResult(r: CtrExperimentResult, t: Table): string {
  return `${toText(t)}\n${toText(ctrComparisonTable(r))}`;
}
