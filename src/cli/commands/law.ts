/**
 * `reclab law …`: performance laws. `llm` is the LLM Performance Law calculator; `fit`, `predict`,
 * `sweep` and `quality` work on sequential-recommendation sweeps (see docs/laws.md).
 */
import type { Command } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readSource, detectFormat, canonicalFormat } from '../../data/readers/index.ts';
import { fetchedSource } from '../../data/registry.ts';
import { splitDataset } from '../../data/split.ts';
import type { Dataset } from '../../data/types.ts';
import { barChart } from '../../util/plot.ts';
import { dataQuality } from '../../laws/quality.ts';
import { runSweep } from '../../laws/sweep.ts';
import { loadSweepFile } from '../../laws/spec.ts';
import { llmPerformanceLaw } from '../../laws/llm.ts';
import { PARAM_NAMES, type ParamName } from '../../laws/law.ts';
import type { FitOptions } from '../../laws/fit.ts';
import { predictWithInterval } from '../../laws/predict.ts';
import { readLawPoints } from '../../laws/records.ts';
import { buildFitReport, fitReportMarkdown, writeFitReport, type FitReport } from '../../laws/report.ts';
import { splitOverrides } from './overrides.ts';

/** Parses a CLI number option, naming the flag on error. */
function num(flag: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (value.trim() === '' || !Number.isFinite(x)) throw new Error(`--${flag}: expected a number, got "${value}"`);
    return x;
  };
}

/** Parses a comma-separated list of positive numbers. */
function numList(flag: string): (value: string) => number[] {
  return (value: string) => {
    const xs = value.split(',').map((v) => v.trim()).filter((v) => v !== '').map(Number);
    if (xs.length === 0 || xs.some((x) => !(Number.isFinite(x) && x > 0))) throw new Error(`--${flag}: expected a comma-separated list of positive numbers, got "${value}"`);
    return xs;
  };
}

/** Parses `--free w1,w2,...`. */
function paramList(value: string): ParamName[] {
  const names = value.split(',').map((v) => v.trim());
  for (const n of names) if (!(PARAM_NAMES as readonly string[]).includes(n)) throw new Error(`--free: unknown parameter "${n}"; known: ${PARAM_NAMES.join(', ')}`);
  return names as ParamName[];
}

/** Reads a report written by `reclab law fit --out`. */
function readFitReport(path: string): FitReport {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: cannot read fit report: ${(error as Error).message}`);
  }
  const r = data as Partial<FitReport>;
  if (r.kind !== 'reclab-law-fit' || r.version !== 1 || !r.fit) throw new Error(`${path}: not a reclab law fit report (expected "kind": "reclab-law-fit", "version": 1)`);
  return r as FitReport;
}

/** Loads a dataset file with a named reader format, or detects it (`auto`). */
async function loadData(path: string, format = 'auto'): Promise<Dataset> {
  // A registry name (fetched, or in the developers' mirror) reads the file its path would.
  const fetched = existsSync(path) ? undefined : fetchedSource(path);
  const source = fetched?.source ?? path;
  return readSource(source, format === 'auto' ? (fetched?.format ?? (await detectFormat(source))) : canonicalFormat(format));
}

/** Rounds to `d` decimals for display (JSON numbers people compare by eye). */
function round(x: number, d: number): number {
  return Number(x.toFixed(d));
}

/** Registers `reclab law` and its sub-verbs. */
export function register(program: Command): void {
  const law = program.command('law').description('performance laws: fit, predict and plan model sizes before training');

  law
    .command('fit')
    .description('fit the sequential-recommendation Performance Law (arXiv 2412.00430) to sweep results (.jsonl, .json or .csv)')
    .argument('<results...>', 'results files (several = one joint fit): one record per trained model with layers, hidden, the metric, optional group/dataset and D')
    .option('--metric <name>', 'metric to model', 'ndcg@10')
    .option('--free <params>', `parameters to fit, overriding the identifiability defaults (${PARAM_NAMES.join(',')})`, paramList)
    .option('--w5 <value>', 'hold w5 at this value when it is not fitted', num('w5'))
    .option('--loco', 'also run leave-one-configuration-out validation')
    .option('--out <dir>', 'write fit.json, fit.md and SVG plots here')
    .option('--json', 'print the report as JSON')
    .action((files: string[], o: { metric: string; free?: ParamName[]; w5?: number; loco?: boolean; out?: string; json?: boolean }) => {
      const points = files.flatMap((file) => readLawPoints(file, o.metric));
      const file = files.join(' ');
      const fitOptions: FitOptions = {};
      if (o.free) fitOptions.free = o.free;
      if (o.w5 !== undefined) fitOptions.fixed = { w5: o.w5 };
      const report = buildFitReport(points, { metric: o.metric, source: file, fit: fitOptions, loco: o.loco });
      if (o.out) {
        const written = writeFitReport(report, o.out);
        process.stderr.write(`wrote ${written.join(', ')}\n`);
      }
      process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : fitReportMarkdown(report));
    });

  law
    .command('predict')
    .description('predict the metric for model sizes not trained, from a fit report (reclab law fit --out)')
    .argument('<fit>', 'fit.json written by reclab law fit --out')
    .requiredOption('--layers <list>', 'depths N, comma-separated', numList('layers'))
    .requiredOption('--hidden <list>', 'hidden sizes h, comma-separated', numList('hidden'))
    .option('--group <name>', 'data group (dataset) whose D to use; default: the first')
    .option('--D <value>', 'predict for this data quality D instead of a fitted group', num('D'))
    .option('--reps <n>', 'bootstrap resamples for the prediction interval (0 = none)', num('reps'), 200)
    .option('--level <p>', 'prediction interval level', num('level'), 0.95)
    .option('--interval <method>', 'bootstrap over the sweep points (points) or over the fit\'s residuals (residuals)', 'points')
    .option('--seed <n>', 'bootstrap seed', num('seed'), 0)
    .option('--json', 'print JSON lines')
    .action((file: string, o: { layers: number[]; hidden: number[]; group?: string; D?: number; reps: number; level: number; interval: string; seed: number; json?: boolean }) => {
      const report = readFitReport(file);
      if (o.interval !== 'points' && o.interval !== 'residuals') throw new Error(`--interval: expected points or residuals, got "${o.interval}"`);
      if (!(o.level > 0 && o.level < 1)) throw new Error(`--level: expected a number in (0, 1), got ${o.level}`);
      if (!Number.isInteger(o.reps) || o.reps < 0) throw new Error(`--reps: expected a non-negative integer, got ${o.reps}`);
      if (!Array.isArray(report.points) || report.points.length === 0) throw new Error(`${file}: the fit report holds no points (refit with this version of reclab law fit)`);
      const sizes = o.layers.flatMap((layers) => o.hidden.map((hidden) => ({ layers, hidden })));
      const preds = predictWithInterval(report.fit, report.points, sizes, { group: o.group, D: o.D, reps: o.reps, level: o.level, seed: o.seed, fitOptions: report.options, method: o.interval });
      if (o.json) {
        for (const p of preds) process.stdout.write(`${JSON.stringify({ layers: p.layers, hidden: p.hidden, [report.metric]: p.value, interval: p.interval, warnings: p.warnings })}\n`);
        for (const w of new Set(preds.flatMap((p) => p.warnings))) process.stderr.write(`warning: ${w}\n`);
        return;
      }
      const pct = Math.round(100 * o.level);
      process.stdout.write(`predicted ${report.metric} (${o.D !== undefined ? `D = ${o.D}` : `group ${o.group ?? Object.keys(report.fit.groupD)[0]}`}), ${pct} % prediction interval by bootstrap over the ${o.interval === 'points' ? 'sweep points' : 'fit residuals'} (${o.reps} resamples, seed ${o.seed})\n`);
      process.stdout.write(`${'N'.padStart(6)} ${'h'.padStart(6)} ${report.metric.padStart(10)}  ${`${pct} % interval`.padEnd(20)}\n`);
      for (const p of preds) {
        const iv = Number.isFinite(p.interval.lo) ? `[${p.interval.lo.toFixed(4)}, ${p.interval.hi.toFixed(4)}]` : '–';
        process.stdout.write(`${String(p.layers).padStart(6)} ${String(p.hidden).padStart(6)} ${p.value.toFixed(4).padStart(10)}  ${iv.padEnd(20)}${p.outside.length ? '  extrapolated' : ''}\n`);
      }
      const warnings = [...new Set(preds.flatMap((p) => p.warnings))];
      for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
    });

  law
    .command('sweep')
    .description('run (or resume) a scaling sweep from a YAML file: train each (layers, hidden[, fraction]) point, append results to JSONL, then fit the law')
    .argument('<spec>', 'sweep YAML (see examples/law-*.yaml)')
    .argument('[overrides...]', 'overrides of the file as --key=value (dotted keys, YAML values), e.g. --config.epochs=5 --grid.hidden=[16,32]')
    .option('--no-fit', 'only run the grid; do not fit the law afterwards')
    .allowUnknownOption(true)
    .action(async (file: string, overrides: string[], o: { fit: boolean }) => {
      const spec = loadSweepFile(file, splitOverrides(overrides));
      const dataset = await loadData(spec.dataset.path, spec.dataset.format);
      const split = splitDataset(dataset, { kind: spec.split });
      await runSweep(
        {
          model: spec.model,
          config: spec.config,
          layersKey: spec.layersKey,
          hiddenKey: spec.hiddenKey,
          layers: spec.grid.layers,
          hidden: spec.grid.hidden,
          fractions: spec.grid.fractions,
          seeds: spec.grid.seeds,
          protocol: spec.protocol,
          metrics: spec.metrics,
          validEvery: spec.validEvery,
          maxEvalUsers: spec.maxEvalUsers,
          apen: spec.apen,
        },
        dataset,
        split,
        spec.out,
      );
      if (o.fit && spec.fit) {
        const points = readLawPoints(spec.out, spec.fit.metric);
        let report: FitReport;
        try {
          report = buildFitReport(points, { metric: spec.fit.metric, source: spec.out, loco: spec.fit.loco });
        } catch (error) {
          process.stderr.write(`not fitting the law yet: ${(error as Error).message}\n`);
          return;
        }
        const written = writeFitReport(report, spec.fit.outDir);
        process.stderr.write(`wrote ${written.join(', ')}\n`);
        process.stdout.write(fitReportMarkdown(report));
      }
    });

  law
    .command('quality')
    .description('data quality for the law: per-user and dataset Approximate Entropy, D′ = #tokens·ApEn, and item-popularity Shannon entropy')
    .argument('<dataset>', 'dataset file or folder')
    .option('--format <name>', 'reader format, or auto', 'auto')
    .option('--m <m>', 'ApEn window length', num('m'), 2)
    .option('--r <r>', 'ApEn tolerance (0 = equal item ids)', num('r'), 0)
    .option('--max-len <n>', 'use only each user\'s last n events (as the model would)', num('max-len'))
    .option('--per-user <csv>', 'write user,length,apen per user to this CSV')
    .option('--plot <svg>', 'write a histogram of per-user ApEn')
    .option('--json', 'print one JSON object')
    .action(async (path: string, o: { format: string; m: number; r: number; maxLen?: number; perUser?: string; plot?: string; json?: boolean }) => {
      const data = await loadData(path, o.format);
      const q = dataQuality(data, { m: o.m, r: o.r, maxLen: o.maxLen });
      const { perUserApen, ...summary } = q;
      if (o.perUser) {
        const lines = ['user,length,apen'];
        for (let u = 0; u < data.nUsers; u++) {
          const len = Math.min(data.offsets[u + 1] - data.offsets[u], o.maxLen ?? Infinity);
          lines.push(`${JSON.stringify(data.userIds.toRaw(u))},${len},${Number.isNaN(perUserApen[u]) ? '' : perUserApen[u]}`);
        }
        writeFileSync(o.perUser, `${lines.join('\n')}\n`);
      }
      if (o.plot) {
        const values = Array.from(perUserApen).filter((v) => !Number.isNaN(v));
        const bins = 20;
        const hi = Math.max(...values, 1e-9);
        const counts = new Array<number>(bins).fill(0);
        for (const v of values) counts[Math.min(bins - 1, Math.floor((v / hi) * bins))]++;
        const groups = counts.map((c, i) => ({ label: ((hi * (i + 0.5)) / bins).toFixed(3), values: [c] }));
        writeFileSync(o.plot, barChart(groups, ['users'], { title: `Per-user ApEn (m=${o.m}, r=${o.r}) of ${data.name}: mean ${q.apen.mean.toFixed(4)}`, xLabel: 'ApEn (bin centre)', yLabel: 'users', width: 900 }));
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ dataset: data.name, fingerprint: data.fingerprint, ...summary })}\n`);
        return;
      }
      const a = q.apen;
      const f = (x: number) => x.toFixed(4);
      process.stdout.write(
        `${data.name}: ${q.users} users, ${q.items} items, ${q.interactions} interactions\n` +
          `ApEn (m=${a.options.m}, r=${a.options.r}${a.options.maxLen ? `, last ${a.options.maxLen} events` : ''}): mean ${f(a.mean)} over ${a.usersCounted} users\n` +
          `  per user: min ${f(a.perUser.min)}  p10 ${f(a.perUser.p10)}  p25 ${f(a.perUser.p25)}  median ${f(a.perUser.median)}  p75 ${f(a.perUser.p75)}  p90 ${f(a.perUser.p90)}  max ${f(a.perUser.max)}\n` +
          `D′ = interactions/10⁶ · ApEn = ${q.D.toPrecision(4)}\n` +
          `item popularity entropy: ${f(q.popularityEntropy.nats)} nats (${f(q.popularityEntropy.bits)} bits), normalised ${f(q.popularityEntropy.normalized)}\n`,
      );
    });

  law
    .command('llm')
    .description('LLM Performance Law (arXiv 2408.09895): predicted MMLU of a dense LLM from its shape and training tokens')
    .requiredOption('--layers <N>', 'number of layers N', num('layers'))
    .requiredOption('--hidden <h>', 'hidden size h', num('hidden'))
    .requiredOption('--ffn <d>', 'FFN intermediate size d', num('ffn'))
    .requiredOption('--tokens <T>', 'training tokens, in trillions', num('tokens'))
    .requiredOption('--params <S>', 'model size, in billions of parameters', num('params'))
    .option('--gamma <γ>', 'precision-loss factor', num('gamma'), 1)
    .option('--json', 'print one JSON object')
    .action((o: { layers: number; hidden: number; ffn: number; tokens: number; params: number; gamma: number; json?: boolean }) => {
      const p = llmPerformanceLaw({ layers: o.layers, hidden: o.hidden, ffn: o.ffn, tokensT: o.tokens, paramsB: o.params, gamma: o.gamma });
      if (o.json) {
        const out = {
          mmlu: round(p.mmlu, 2),
          mmlu_raw: p.mmluRaw,
          theta: p.theta,
          effective_tokens_t: p.effectiveTokensT,
          inputs: { layers: o.layers, hidden: o.hidden, ffn: o.ffn, tokens_t: o.tokens, params_b: o.params, gamma: o.gamma },
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        process.stdout.write(
          `predicted MMLU: ${p.mmlu.toFixed(2)} %\n` +
            `  θ (instability discount) = ${p.theta.toFixed(6)}, T′ = min(T, S) = ${p.effectiveTokensT} T tokens` +
            `${p.mmluRaw !== p.mmlu ? `, raw law value ${p.mmluRaw.toFixed(2)} (clipped)` : ''}\n`,
        );
      }
    });
}
