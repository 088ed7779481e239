/**
 * The experiment runner: an {@link ExperimentConfig} → load and split the data once → for each
 * model, grid point and seed: train (early stopping on the validation metric, best epoch
 * restored) → pick the best grid point on validation → evaluate on test under the stated
 * protocol → compare every model with the baseline (paired tests over users, bootstrap CI) →
 * write result.json, table.md, table.csv and SVG plots under `runs/<name>-<timestamp>/`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Dataset, Split } from '../data/types.ts';
import { createModel } from '../models/registry.ts';
import type { EpochReport, Recommender } from '../models/recommender.ts';
import { barChart, lineChart, type Series } from '../util/plot.ts';
import { gridPoints, type ExperimentConfig, type ModelSpec } from '../eval/config.ts';
import { evaluate, usersWithTargets, type EvalResult } from '../eval/evaluate.ts';
import { itemFeatures } from '../eval/features.ts';
import { parseMetric } from '../eval/metrics.ts';
import { bootstrapDiffCI, meanStd, pairedTTest, wilcoxon, type Interval } from '../eval/significance.ts';
import { fmt, fmtP, toCsv, toMarkdown, toText, type Table } from '../eval/table.ts';
import { BestOnValidation } from './select.ts';
import { setUpExperiment } from './setup.ts';

/** One epoch of a training curve: loss and (when validated that epoch) the validation metric. */
export interface CurvePoint extends EpochReport {
  valid?: number;
}

/** One training + evaluation of one model configuration with one seed. */
export interface SeedRun {
  seed: number;
  config: Record<string, unknown>;
  /** Validation metric of the restored (best) state. */
  valid: number;
  /** Epoch restored after early stopping (0 for closed-form models). */
  bestEpoch: number;
  epochs: number;
  curve: CurvePoint[];
  fitSeconds: number;
  validSeconds: number;
  test?: { metrics: Record<string, number>; seconds: number };
}

/** Everything recorded about one model of the experiment. */
export interface ModelResult {
  label: string;
  name: string;
  /** Chosen grid point. */
  config: Record<string, unknown>;
  /** Validation value of each grid point (first seed). */
  grid: { config: Record<string, unknown>; valid: number }[];
  runs: SeedRun[];
  /** Test metrics: mean and std over seeds. */
  summary: Record<string, { mean: number; std: number }>;
  /** Paired comparison with the baseline on the significance metric (absent for the baseline). */
  significance?: { metric: string; baseline: string; tTest: number; wilcoxon: number; meanDiff: number; ci95: Interval; users: number };
}

/** The saved record of a whole experiment. */
export interface ExperimentResult {
  name: string;
  config: ExperimentConfig;
  dataset: { name: string; fingerprint: string; source: string; format: string; preparation: Record<string, unknown>; nUsers: number; nItems: number; nEvents: number };
  split: Split['protocol'];
  protocol: EvalResult['protocol'] & { validMetric: string };
  versions: { reclab: string; node: string; git?: string };
  startedAt: string;
  seconds: number;
  models: ModelResult[];
}

/** Options of {@link runExperiment}. */
export interface RunOptions {
  /** The config file's folder: relative data paths not found from the working directory are tried here. */
  baseDir?: string;
  /** Progress bars on stderr (default: when a TTY). */
  progress?: boolean;
  /** Where progress lines go (default stderr). */
  log?: (line: string) => void;
  /** Skip writing files (tests). */
  dryRun?: boolean;
  /** Use this dataset instead of loading `config.data` (tests, notebooks). */
  dataset?: Dataset;
}

function libraryVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dirname(new URL(import.meta.url).pathname), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Label of a model row: explicit label, else name plus the grid keys' chosen values. */
function rowLabel(spec: ModelSpec): string {
  return spec.label ?? spec.name;
}

/** Runs an experiment and (unless dryRun) writes its folder; returns the record and the folder. */
export async function runExperiment(config: ExperimentConfig, options: RunOptions = {}): Promise<{ result: ExperimentResult; dir?: string; table: Table }> {
  const t0 = performance.now();
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const startedAt = new Date().toISOString();
  const { dataset, split, views, protocol, candidates, users, validMetric } = await setUpExperiment(config, options);
  log(`${dataset.name}: ${dataset.nUsers} users, ${dataset.nItems} items, ${dataset.items.length} events; ${split.protocol.description}`);
  const sigMetric = config.significanceMetric ?? validMetric;
  const testMetrics = [...new Set([...config.metrics, sigMetric])];

  const { train } = split;
  const { valid: validData, test: testData, hasValid } = views;
  const { valid: validCands, test: testCands } = candidates;
  // A split without validation targets (loo with valid: false) leaves nothing to select on:
  // every configuration trains its full epochs and the final state is reported.
  if (!hasValid && config.models.some((m) => gridPoints(m).length > 1)) {
    throw new Error(`${config.name}: a grid needs a validation split to choose on, and this split has none (${split.protocol.description})`);
  }
  const features = config.features ? itemFeatures(dataset, config.features) : undefined;
  if (!features && config.metrics.some((m) => parseMetric(m).name === 'ild')) throw new Error(`${config.name}: ild@k needs item features: set "features" to an item column`);
  const common = { protocol, ties: config.ties, blockSize: config.blockSize, progress: options.progress, features };

  /** Trains one configuration with one seed, validating each `evalEvery` epochs. */
  const trainOne = async (spec: ModelSpec, cfg: Record<string, unknown>, seed: number): Promise<{ model: Recommender; run: SeedRun }> => {
    const model = createModel(spec.name, cfg);
    const curve: CurvePoint[] = [];
    // early stopping with patience, the best state kept (src/experiment/select.ts)
    const sel = new BestOnValidation(config.patience, () => model.snapshot?.());
    let validSeconds = 0;
    const validate = async (): Promise<number> => {
      const r = await evaluate(model, validData, { ...common, metrics: [validMetric], candidates: validCands, users: users.valid, progress: false });
      validSeconds += r.seconds;
      return r.metrics[validMetric];
    };
    const fit = await model.fit(train, {
      seed,
      progress: options.progress,
      onEpoch: async (rep) => {
        const point: CurvePoint = { ...rep };
        curve.push(point);
        if (!hasValid || rep.epoch % config.evalEvery !== 0) return false;
        const v = await validate();
        point.valid = v;
        const stop = sel.update(rep.epoch, v);
        if (stop) log(`  ${spec.name} seed ${seed}: early stop at epoch ${rep.epoch} (best ${validMetric} ${fmt(sel.best)} at epoch ${sel.bestEpoch})`);
        return stop;
      },
    });
    const { best, bestEpoch, state: snap } = sel;
    let v: number;
    if (bestEpoch > 0 && bestEpoch === fit.epochs) v = best; // the final state is the best one
    else if (bestEpoch > 0 && snap !== undefined && model.restore) {
      model.restore(snap); // back to the best epoch
      v = best;
    } else v = hasValid ? await validate() : NaN; // closed-form, never validated, or no snapshot support
    return {
      model,
      run: { seed, config: cfg, valid: v, bestEpoch, epochs: fit.epochs, curve, fitSeconds: fit.seconds, validSeconds },
    };
  };

  const models: ModelResult[] = [];
  const trained = new Map<string, Recommender>();
  const perUserByModel = new Map<string, { users: Int32Array; values: Float64Array }>();
  for (const spec of config.models) {
    const label = rowLabel(spec);
    const points = gridPoints(spec);
    const grid: ModelResult['grid'] = [];
    let chosen = points[0];
    const runs: SeedRun[] = [];
    // Grid search on the first seed, by the validation metric.
    let bestModel: Recommender | null = null;
    let bestRun: SeedRun | null = null;
    for (const cfg of points) {
      log(`${label}: training ${JSON.stringify(cfg)} (seed ${config.seeds[0]})`);
      const { model, run } = await trainOne(spec, cfg, config.seeds[0]);
      grid.push({ config: cfg, valid: run.valid });
      log(`  valid ${validMetric} = ${fmt(run.valid)}, fit ${run.fitSeconds.toFixed(2)} s`);
      if (bestRun === null || run.valid > bestRun.valid) {
        bestRun = run;
        bestModel = model;
        chosen = cfg;
      }
    }
    const seedUsers: { users: Int32Array; values: Float64Array }[] = [];
    for (const seed of config.seeds) {
      let model: Recommender;
      let run: SeedRun;
      if (seed === config.seeds[0]) {
        model = bestModel!;
        run = bestRun!;
        trained.set(label, model);
      } else {
        log(`${label}: training ${JSON.stringify(chosen)} (seed ${seed})`);
        ({ model, run } = await trainOne(spec, chosen, seed));
      }
      const r = await evaluate(model, testData, { ...common, metrics: testMetrics, candidates: testCands, users: users.test, label: `test ${label}` });
      run.test = { metrics: r.metrics, seconds: r.seconds };
      seedUsers.push({ users: r.users, values: r.perUser[sigMetric] });
      runs.push(run);
      log(`  test (seed ${seed}): ${config.metrics.map((m) => `${m} ${fmt(r.metrics[m])}`).join(', ')} [${r.seconds.toFixed(2)} s]`);
    }
    // Per-user values averaged over seeds (same users every seed: same split and candidates).
    const avg = new Float64Array(seedUsers[0].values.length);
    for (const s of seedUsers) for (let j = 0; j < avg.length; j++) avg[j] += s.values[j] / seedUsers.length;
    perUserByModel.set(label, { users: seedUsers[0].users, values: avg });
    const summary: ModelResult['summary'] = {};
    for (const m of testMetrics) {
      const ms = meanStd(runs.map((r) => r.test!.metrics[m]));
      summary[m] = { mean: ms.mean, std: ms.std };
    }
    models.push({ label, name: spec.name, config: chosen, grid, runs, summary });
  }

  // Significance against the baseline.
  const baseLabel = config.baseline ? models.find((m) => m.label === config.baseline || m.name === config.baseline)?.label : models[0].label;
  if (!baseLabel) throw new Error(`baseline "${config.baseline}" is not one of the models (${models.map((m) => m.label).join(', ')})`);
  const base = perUserByModel.get(baseLabel)!;
  for (const m of models) {
    if (m.label === baseLabel) continue;
    const mine = perUserByModel.get(m.label)!;
    const t = pairedTTest(mine.values, base.values);
    const w = wilcoxon(mine.values, base.values);
    m.significance = { metric: sigMetric, baseline: baseLabel, tTest: t.p, wilcoxon: w.p, meanDiff: t.meanDiff, ci95: bootstrapDiffCI(mine.values, base.values, { seed: 0 }), users: t.n };
  }

  const result: ExperimentResult = {
    name: config.name,
    config,
    dataset: {
      name: dataset.name,
      fingerprint: dataset.fingerprint,
      source: dataset.provenance.source,
      format: dataset.provenance.format,
      preparation: dataset.provenance.preparation,
      nUsers: dataset.nUsers,
      nItems: dataset.nItems,
      nEvents: dataset.items.length,
    },
    split: split.protocol,
    protocol: {
      candidates: config.protocol,
      ties: config.ties,
      excluded: protocol.kind === 'full' ? 'train + valid items of each user at test time (train items at validation)' : 'negatives never interacted with (train, valid or test)',
      seed: protocol.kind === 'sampled' ? protocol.seed : undefined,
      nUsers: usersWithTargets(split.test).length,
      nItems: dataset.nItems,
      validMetric,
    },
    versions: { reclab: libraryVersion(), node: process.version, git: gitCommit() },
    startedAt,
    seconds: (performance.now() - t0) / 1000,
    models,
  };
  const table = resultTable(result);
  if (options.dryRun) return { result, table };
  const dir = await writeResult(result, table, config.output, config.saveModels ? trained : undefined);
  return { result, dir, table };
}

/** The comparison table: one row per model, metric columns (mean ± std over seeds), p-values, times. */
export function resultTable(r: ExperimentResult): Table {
  const metrics = r.config.metrics;
  const sig = r.models.find((m) => m.significance)?.significance;
  const multi = r.config.seeds.length > 1;
  const header = ['model', ...metrics];
  if (sig) header.push(`Δ${sig.metric} vs ${sig.baseline}`, 'p (t-test)', 'p (Wilcoxon)');
  header.push('fit s', 'eval s');
  const rows = r.models.map((m) => {
    const cells = [m.label, ...metrics.map((k) => (multi ? `${fmt(m.summary[k].mean)} ± ${fmt(m.summary[k].std)}` : fmt(m.summary[k].mean)))];
    if (sig) {
      if (m.significance) cells.push(`${m.significance.meanDiff >= 0 ? '+' : ''}${fmt(m.significance.meanDiff)} [${fmt(m.significance.ci95.low)}, ${fmt(m.significance.ci95.high)}]`, fmtP(m.significance.tTest), fmtP(m.significance.wilcoxon));
      else cells.push('(baseline)', '—', '—');
    }
    const fitS = meanStd(m.runs.map((x) => x.fitSeconds)).mean;
    const evalS = meanStd(m.runs.map((x) => x.test?.seconds ?? NaN)).mean;
    cells.push(fitS.toFixed(2), evalS.toFixed(2));
    return cells;
  });
  const p = r.protocol;
  const notes = [
    `data: ${r.dataset.name} (${r.dataset.nUsers} users, ${r.dataset.nItems} items, ${r.dataset.nEvents} events), fingerprint ${r.dataset.fingerprint.slice(0, 12)}`,
    `split: ${r.split.description}`,
    `protocol: ${p.candidates} ranking; excluded: ${p.excluded}; ties: ${p.ties} (a relevant item ranks ${p.ties === 'pessimistic' ? 'below' : 'above'} equal scores); ${p.nUsers} test users`,
    `selection: ${r.split.options.valid === false ? 'none (no validation split): the final epoch is reported' : `grid and early stopping on validation ${p.validMetric}`}; seeds ${r.config.seeds.join(', ')}${multi ? ' (mean ± std)' : ''}`,
  ];
  if (sig) notes.push(`significance: paired over users on ${sig.metric} against ${sig.baseline}; Δ with 95 % bootstrap CI`);
  return { header, rows, notes };
}

/** Writes result.json, table.md, table.csv, metrics.svg and (when any model has epochs) curves.svg; atomic per folder. */
async function writeResult(r: ExperimentResult, table: Table, output: string, trained?: Map<string, Recommender>): Promise<string> {
  const stamp = r.startedAt.replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  const dir = resolve(output, `${r.name}-${stamp}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'result.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(join(tmp, 'table.md'), `# ${r.name}\n\n${toMarkdown(table)}`);
  writeFileSync(join(tmp, 'table.csv'), toCsv(table));
  const metrics = r.config.metrics;
  writeFileSync(
    join(tmp, 'metrics.svg'),
    barChart(
      metrics.map((m) => ({ label: m, values: r.models.map((x) => x.summary[m].mean), errors: r.config.seeds.length > 1 ? r.models.map((x) => x.summary[m].std) : undefined })),
      r.models.map((x) => x.label),
      { title: `${r.name}: test metrics (${r.protocol.candidates})`, yLabel: 'value' },
    ),
  );
  const withCurves = r.models.flatMap((m) => m.runs.filter((x) => x.curve.length > 0).map((x) => ({ m, x })));
  if (withCurves.length) {
    const loss: Series[] = withCurves.map(({ m, x }) => ({ name: `${m.label} s${x.seed}`, x: x.curve.map((c) => c.epoch), y: x.curve.map((c) => c.loss) }));
    const val: Series[] = withCurves.map(({ m, x }) => ({ name: `${m.label} s${x.seed}`, x: x.curve.map((c) => c.epoch), y: x.curve.map((c) => c.valid ?? NaN) }));
    writeFileSync(join(tmp, 'curves-loss.svg'), lineChart(loss, { title: 'training loss', xLabel: 'epoch', yLabel: 'loss' }));
    writeFileSync(join(tmp, 'curves-valid.svg'), lineChart(val, { title: `validation ${r.protocol.validMetric}`, xLabel: 'epoch', yLabel: r.protocol.validMetric }));
  }
  if (trained) for (const [label, model] of trained) await model.save(join(tmp, 'models', label.replace(/[^A-Za-z0-9._-]/g, '_')));
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(tmp, dir);
  return dir;
}

/** The terminal rendering of a result table. */
export function formatResultTable(t: Table): string {
  return toText(t);
}
