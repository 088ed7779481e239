/**
 * `reclab law …`: performance laws. `llm` is the LLM Performance Law calculator; `fit`, `predict`,
 * `sweep` and `quality` work on sequential-recommendation sweeps (see docs/laws.md).
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { llmPerformanceLaw } from '../../laws/llm.ts';
import { PARAM_NAMES, type ParamName } from '../../laws/law.ts';
import { predictLaw, type FitOptions } from '../../laws/fit.ts';
import { readLawPoints } from '../../laws/records.ts';
import { buildFitReport, fitReportMarkdown, writeFitReport, type FitReport } from '../../laws/report.ts';

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
    .argument('<results>', 'results file: one record per trained model with layers, hidden, the metric, optional group/dataset and D')
    .option('--metric <name>', 'metric to model', 'ndcg@10')
    .option('--free <params>', `parameters to fit, overriding the identifiability defaults (${PARAM_NAMES.join(',')})`, paramList)
    .option('--w5 <value>', 'hold w5 at this value when it is not fitted', num('w5'))
    .option('--loco', 'also run leave-one-configuration-out validation')
    .option('--out <dir>', 'write fit.json, fit.md and SVG plots here')
    .option('--json', 'print the report as JSON')
    .action((file: string, o: { metric: string; free?: ParamName[]; w5?: number; loco?: boolean; out?: string; json?: boolean }) => {
      const points = readLawPoints(file, o.metric);
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
    .option('--json', 'print JSON lines')
    .action((file: string, o: { layers: number[]; hidden: number[]; group?: string; D?: number; json?: boolean }) => {
      const report = readFitReport(file);
      const at = o.D !== undefined ? { D: o.D } : { group: o.group };
      const rows = o.layers.flatMap((layers) => o.hidden.map((hidden) => ({ layers, hidden, [report.metric]: predictLaw(report.fit, layers, hidden, at) })));
      if (o.json) {
        for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
        return;
      }
      process.stdout.write(`predicted ${report.metric} (${o.D !== undefined ? `D = ${o.D}` : `group ${o.group ?? Object.keys(report.fit.groupD)[0]}`})\n`);
      process.stdout.write(`${'N'.padStart(6)} ${'h'.padStart(6)} ${report.metric.padStart(10)}\n`);
      for (const row of rows) process.stdout.write(`${String(row.layers).padStart(6)} ${String(row.hidden).padStart(6)} ${(row[report.metric] as number).toFixed(4).padStart(10)}\n`);
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
