/**
 * `reclab quickstart`: the README's first command. It runs the main job end to end on an
 * embedded default:
 *
 *   1. data      — ML-100K from the cache or its official source; offline (or with
 *                  `--synthetic`) a generated log of the same size; or the user's `--data`;
 *   2. prepare   — duplicates (keep first) and 5-core, as papers do;
 *   3. describe  — the statistics table, before anything trains;
 *   4. split     — leave-one-out;
 *   5. compare   — train the classic baselines through the experiment runner (early stopping on
 *                  validation ndcg@10), evaluate under full ranking with history excluded, and
 *                  print the comparison table with significance against Pop;
 *   6. serve     — with `--serve`: refit the best model (on validation) on all events and start the HTTP
 *                  service on it (otherwise the two commands that do so are printed).
 *
 * `runQuickstart` returns everything the steps produced.
 */
import type { Command } from 'commander';
import { loadDatasetWithInfo, SYNTHETIC_DEFAULT } from '../../data/load.ts';
import type { DataSpec, LoadInfo } from '../../data/load.ts';
import type { PrepareOptions } from '../../data/prepare.ts';
import { describeDataset, formatStats } from '../../data/stats.ts';
import type { DatasetStats } from '../../data/stats.ts';
import { splitDataset } from '../../data/split.ts';
import type { SplitOptions } from '../../data/split.ts';
import { defaultCacheDir, fetchDataset, FetchError } from '../../data/registry.ts';
import type { Dataset, Split } from '../../data/types.ts';
import { validateExperiment } from '../../eval/config.ts';
import { formatResultTable, runExperiment } from '../../experiment/runner.ts';
import type { ExperimentResult, ModelResult } from '../../experiment/runner.ts';
import { meanStd } from '../../eval/significance.ts';
import { fmt } from '../../eval/table.ts';
import { trainBundle } from '../../serve/train.ts';
import { runServer } from '../../serve/server.ts';
import { join } from 'node:path';

export interface QuickstartOptions {
  /** Use the synthetic generator instead of ML-100K. */
  synthetic?: boolean;
  /** The user's own data (a file or folder) instead of ML-100K. */
  data?: string;
  format?: string;
  columns?: DataSpec['columns'];
  prep?: PrepareOptions;
  split?: SplitOptions;
  cacheDir?: string | false;
  /** Where lines go (default: stdout). */
  log?: (line: string) => void;
  /** Models compared in step 5 (registry names; default {@link QUICKSTART_MODELS}); empty skips the step. */
  models?: string[];
  /** Results folder of step 5 (default `runs`); false writes nothing. */
  output?: string | false;
  /** Step 6: start the service on the best model. */
  serve?: { port: number; db?: string };
}

/** What the quickstart steps produced. */
export interface QuickstartResult {
  /** Where the data came from: `ml-100k`, `synthetic` (and why), or the user's path. */
  origin: { kind: 'ml-100k' | 'synthetic' | 'user'; note?: string };
  spec: DataSpec;
  dataset: Dataset;
  load: LoadInfo;
  stats: DatasetStats;
  split: Split;
  /** Step 5's experiment record (absent when no models were compared). */
  comparison?: ExperimentResult;
  /** Label of the best model on validation ndcg@10 (the one `--serve` serves). */
  best?: string;
}

/**
 * Models the quickstart compares: fast baselines that train in seconds on ML-100K. EASE is
 * dropped automatically when the catalogue is too large for a dense item×item matrix.
 */
export const QUICKSTART_MODELS = ['pop', 'itemknn', 'ease', 'ials', 'bpr'];

/** Largest catalogue for which the quickstart includes EASE (dense n² doubles). */
const EASE_MAX_ITEMS = 20_000;

/** The default preparation of the quickstart: keep the first of repeated pairs, 5-core. */
export const QUICKSTART_PREP: PrepareOptions = { dedup: 'first', kCore: 5 };

/** Step 1: decide which data to use, fetching ML-100K when possible. */
export async function quickstartData(options: QuickstartOptions, log: (line: string) => void): Promise<{ spec: DataSpec; origin: QuickstartResult['origin'] }> {
  if (options.data) {
    return { spec: { source: options.data, format: options.format ?? 'auto', columns: options.columns }, origin: { kind: 'user' } };
  }
  const synthetic = { source: 'synthetic', format: 'synthetic', ...SYNTHETIC_DEFAULT, name: 'synthetic' } as DataSpec;
  if (options.synthetic) return { spec: synthetic, origin: { kind: 'synthetic', note: 'requested with --synthetic' } };
  const cacheDir = options.cacheDir === false || options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  try {
    const { cached } = await fetchDataset('ml-100k', { cacheDir, log, timeoutSeconds: 15 });
    log(cached ? 'ML-100K: using the cached copy' : 'ML-100K: fetched and verified');
    return { spec: { source: 'ml-100k' }, origin: { kind: 'ml-100k' } };
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    const note = `ML-100K unavailable (${error.message.split('. ')[0]}); using synthetic data of the same size instead`;
    log(note);
    log('  (with a local copy of ml-100k.zip or its folder: reclab data fetch ml-100k --from <path>, then run quickstart again)');
    return { spec: synthetic, origin: { kind: 'synthetic', note } };
  }
}

/** Mean validation value of a model's runs over seeds (−∞ when the split had no validation part). */
export function validationScore(model: ModelResult): number {
  const v = meanStd(model.runs.map((r) => r.valid)).mean;
  return Number.isNaN(v) ? -Infinity : v;
}

/** The model to serve: best mean validation value, ties to the earlier row. */
export function bestOnValidation(result: ExperimentResult): ModelResult {
  return result.models.reduce((best, m) => (validationScore(m) > validationScore(best) ? m : best));
}

/** Runs the quickstart steps in order and returns what they produced. */
export async function runQuickstart(options: QuickstartOptions = {}): Promise<QuickstartResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const cacheDir = options.cacheDir ?? defaultCacheDir();

  // Step 1 — data.
  log('== 1. data');
  const { spec, origin } = await quickstartData(options, log);

  // Step 2 — prepare.
  log('== 2. prepare');
  const prep = options.prep ?? QUICKSTART_PREP;
  const { dataset, info } = await loadDatasetWithInfo(spec, prep, { cacheDir });
  const r = info.report;
  log(
    r
      ? `${info.format}: ${r.input.interactions} events → ${r.output.interactions} after preparation (duplicates −${r.duplicatesRemoved}, rating threshold −${r.belowRatingRemoved}, k-core −${r.kCoreRemoved} in ${r.kCoreRounds} rounds) in ${info.seconds.toFixed(2)} s`
      : `${info.format}: loaded from the cache in ${info.seconds.toFixed(2)} s`,
  );

  // Step 3 — statistics, before anything trains.
  log('== 3. statistics');
  const stats = describeDataset(dataset);
  log(formatStats(stats));

  // Step 4 — split.
  log('== 4. split');
  const split = splitDataset(dataset, options.split ?? { kind: 'loo' });
  const count = (v: { nUsers: number; offsets: Int32Array }): number => v.offsets[v.nUsers];
  log(`${split.protocol.description}`);
  log(`train ${count(split.train)}, valid ${count(split.valid)}, test ${count(split.test)} events`);

  // Step 5 — train the baselines and compare them under one stated protocol.
  const models = (options.models ?? QUICKSTART_MODELS).filter((m) => m !== 'ease' || dataset.nItems <= EASE_MAX_ITEMS);
  if (models.length === 0) return { origin, spec, dataset, load: info, stats, split };
  log('== 5. train and compare');
  const config = validateExperiment(
    {
      name: 'quickstart',
      description: 'reclab quickstart: classic baselines, leave-one-out, full ranking',
      data: { source: spec.source, format: spec.format ?? 'auto' },
      prepare: prep,
      split: options.split ?? { kind: 'loo' },
      protocol: 'full',
      metrics: ['hr@10', 'ndcg@10', 'recall@20', 'coverage@10'],
      validMetric: 'ndcg@10',
      baseline: models.includes('pop') ? 'pop' : models[0],
      models: models.map((name) => ({ name })),
      output: options.output === false ? 'runs' : (options.output ?? 'runs'),
    },
    '<quickstart>',
  );
  const { result, dir, table } = await runExperiment(config, { dataset, dryRun: options.output === false, log });
  log(formatResultTable(table));
  if (dir) log(`saved: ${dir} (result.json, table.md, table.csv)`);
  // Selection is on validation, never on test: the model served is the one with the best mean
  // validation ndcg@10 over seeds (the test table above is reported, not chosen from).
  const best = bestOnValidation(result);
  log(`best on validation ${result.protocol.validMetric}: ${best.label} (${fmt(validationScore(best))})`);

  // Step 6 — serve the best model, refitted on every event.
  const bundleDir = join(options.output === false ? 'runs' : (options.output ?? 'runs'), 'quickstart-model', best.name);
  if (options.serve) {
    log('== 6. serve');
    await trainBundle(dataset, { model: best.name, config: best.config, out: bundleDir, seed: 0 });
    log(`model bundle: ${bundleDir}`);
    await runServer({ models: bundleDir, db: options.serve.db ?? 'sqlite:reclab.db', port: options.serve.port, host: '127.0.0.1', workers: 1, rateLimit: 60_000, bodyLimit: 4 * 1024 * 1024 });
  } else {
    log('== 6. serve');
    log(`  add --serve to refit ${best.name} on every event and start the HTTP service (port 8087, OpenAPI at /docs);`);
    log('  for your own models: npx reclab train … then npx reclab serve --models <dir> (docs/serve.md)');
  }
  return { origin, spec, dataset, load: info, stats, split, comparison: result, best: best.label };
}

/** Registers `reclab quickstart`. */
export function register(program: Command): void {
  program
    .command('quickstart')
    .description('the main job on an embedded default: fetch ML-100K (synthetic when offline), prepare, describe, split, train and compare baselines, optionally serve')
    .option('--synthetic', 'use a generated interaction log instead of ML-100K')
    .option('--data <path>', 'your own data instead (file or folder)')
    .option('--format <format>', 'format of --data (default: detected)')
    .option('--cache-dir <dir>', `cache folder (default ${defaultCacheDir()})`)
    .option('--models <list>', `comma-separated models to compare (default ${QUICKSTART_MODELS.join(',')}; "" skips training)`)
    .option('--output <dir>', 'results folder', 'runs')
    .option('--serve', 'start the HTTP service on the best model at the end')
    .option('--port <n>', 'port for --serve', '8087')
    .option('--db <url>', 'store for --serve (sqlite:<path> or postgres://…)', 'sqlite:reclab.db')
    .action(async (o: { synthetic?: boolean; data?: string; format?: string; cacheDir?: string; models?: string; output: string; serve?: boolean; port: string; db: string }) => {
      if (o.format && !o.data) throw new Error('--format applies to --data <path>');
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected an integer 0..65535, got "${o.port}"`);
      const models = o.models === undefined ? undefined : o.models.split(',').map((m) => m.trim()).filter(Boolean);
      await runQuickstart({ synthetic: o.synthetic, data: o.data, format: o.format, cacheDir: o.cacheDir, models, output: o.output, serve: o.serve ? { port, db: o.db } : undefined });
    });
}
