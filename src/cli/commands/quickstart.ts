/**
 * `reclab quickstart`: the README's first command. It runs the main job end to end on an
 * embedded default:
 *
 *   1. data      — ML-100K from the cache or its official source; offline (or with
 *                  `--synthetic`) a generated log of the same size; or the user's `--data`;
 *   2. prepare   — duplicates (keep first) and 5-core, as papers do;
 *   3. describe  — the statistics table, before anything trains;
 *   4. split     — leave-one-out;
 *   5. (later)   — train the available models, print the comparison table, start the service.
 *
 * `runQuickstart` returns everything the steps produced, so the later steps can be appended
 * where marked below without touching the first four.
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
}

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

  // ---------------------------------------------------------------------------------------
  // Later steps (not implemented yet): train the available models on `split`, print the
  // comparison table, start the service. Add them here, using `dataset`, `split` and `stats`.
  // ---------------------------------------------------------------------------------------

  return { origin, spec, dataset, load: info, stats, split };
}

/** Registers `reclab quickstart`. */
export function register(program: Command): void {
  program
    .command('quickstart')
    .description('the main job on an embedded default: fetch ML-100K (synthetic when offline), prepare, print statistics, split')
    .option('--synthetic', 'use a generated interaction log instead of ML-100K')
    .option('--data <path>', 'your own data instead (file or folder)')
    .option('--format <format>', 'format of --data (default: detected)')
    .option('--cache-dir <dir>', `cache folder (default ${defaultCacheDir()})`)
    .action(async (o: { synthetic?: boolean; data?: string; format?: string; cacheDir?: string }) => {
      if (o.format && !o.data) throw new Error('--format applies to --data <path>');
      await runQuickstart({ synthetic: o.synthetic, data: o.data, format: o.format, cacheDir: o.cacheDir });
    });
}
