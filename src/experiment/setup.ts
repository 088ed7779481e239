/**
 * What every experiment run does before training: find the data, load and split it once, choose
 * the validation metric, and build the validation/test views and sampled candidates by the one
 * data rule (./data.ts). The bench runner and the tracer both start here, so the two cannot
 * differ in what they train on or rank against.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { loadDataset } from '../data/load.ts';
import { splitDataset } from '../data/split.ts';
import type { Dataset, Split } from '../data/types.ts';
import type { ExperimentConfig } from '../eval/config.ts';
import { parseMetric, RANK_METRICS } from '../eval/metrics.ts';
import { parseProtocol, type Protocol } from '../eval/protocol.ts';
import { evalViews, sampleEvalUsers, stageCandidates, type EvalViews, type StageCandidates } from './data.ts';

/** Options of {@link setUpExperiment}. */
export interface SetupOptions {
  /** The config file's folder: relative data paths not found from the working directory are tried here. */
  baseDir?: string;
  /** Use this dataset instead of loading `config.data` (tests, notebooks). */
  dataset?: Dataset;
  /** Progress bars while loading (default: when a TTY). */
  progress?: boolean;
}

/** The data side of an experiment, ready to train and score. */
export interface ExperimentSetup {
  dataset: Dataset;
  split: Split;
  views: EvalViews;
  /** The candidate protocol, seeded with the experiment's first seed. */
  protocol: Protocol;
  candidates: StageCandidates;
  /** The users each stage evaluates: all with a target, or the `maxEvalUsers` sample. */
  users: { valid: Int32Array; test: Int32Array };
  /** The metric selection is made on: `validMetric`, else the first rank metric of `metrics`. */
  validMetric: string;
}

/**
 * A relative data path is taken from the working directory (run from the repo root, as the
 * examples assume); if nothing is there but the path exists relative to the config file's
 * folder, that is used. Registry names and `synthetic…` pass through.
 */
export function resolveSource(source: string, baseDir?: string): string {
  if (isAbsolute(source) || source.startsWith('synthetic')) return source;
  const fromCwd = resolve(source);
  if (existsSync(fromCwd) || !baseDir) return existsSync(fromCwd) ? fromCwd : source;
  const fromConfig = resolve(baseDir, source);
  return existsSync(fromConfig) ? fromConfig : source;
}

/** The validation metric of a config: a rank metric (higher is better), named or the first one listed. */
export function chooseValidMetric(config: ExperimentConfig): string {
  const isRank = (m: string): boolean => (RANK_METRICS as readonly string[]).includes(parseMetric(m).name);
  const validMetric = config.validMetric ?? config.metrics.find(isRank);
  if (!validMetric) throw new Error(`${config.name}: set validMetric (a rank metric such as ndcg@10): none of the metrics is one`);
  if (!isRank(validMetric)) throw new Error(`validMetric "${validMetric}" must be a rank metric (higher is better): ${RANK_METRICS.join(', ')}`);
  return validMetric;
}

/** Loads (unless given) and splits the data, and builds views and candidates by the one data rule. */
export async function setUpExperiment(config: ExperimentConfig, options: SetupOptions = {}): Promise<ExperimentSetup> {
  const validMetric = chooseValidMetric(config);
  const source = resolveSource(config.data.source, options.baseDir);
  const dataset = options.dataset ?? (await loadDataset({ ...config.data, source }, config.prepare, { progress: options.progress }));
  const split = splitDataset(dataset, config.split);
  const views = evalViews(split);
  // sampled protocols: drawn once, so every model, grid point and seed ranks the same lists
  const protocol = parseProtocol(config.protocol, config.seeds[0]);
  const seed = config.seeds[0];
  const users = { valid: sampleEvalUsers(views.valid.targets, config.maxEvalUsers, seed), test: sampleEvalUsers(views.test.targets, config.maxEvalUsers, seed + 1) };
  return { dataset, split, views, protocol, candidates: stageCandidates(protocol, views, seed, users), users, validMetric };
}
