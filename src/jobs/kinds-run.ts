/**
 * Job kinds over experiment files (`reclab bench` / `reclab run` configs):
 *
 * - `experiment`: one grid point of one model with one seed, trained and tested as `reclab bench`
 *   trains it (runExperiment on the file cut down to that point and seed);
 * - `evaluate`: a recommendation-list file scored on the file's data, split and metrics as
 *   `reclab eval --recs` scores it; the file's SHA-256 is part of the job, so a changed file is a
 *   new job and a job never scores a file other than the one submitted.
 *
 * The content key of both hashes everything in the file that changes the result (data,
 * preparation, split, protocol, metrics, …), not its name or output folder.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gridPoints, validateExperiment, type ExperimentConfig } from '../eval/config.ts';
import { evaluateLists, readRecommendations } from '../eval/recfile.ts';
import { runExperiment } from '../experiment/runner.ts';
import { setUpExperiment } from '../experiment/setup.ts';
import { putArtifact } from './artifacts.ts';
import type { JobKind } from './kinds.ts';
import { contentHash } from './results.ts';

/** `experiment`: one (model, grid point, seed) of an experiment file (validated, overrides applied). */
export interface ExperimentPointData {
  experiment: ExperimentConfig;
  /** The file's folder, for relative data paths. */
  baseDir?: string;
  /** Index into `experiment.models`. */
  model: number;
  /** Index into that model's grid points (gridPoints order). */
  point: number;
  seed: number;
}

/** The parts of an experiment that change a result (not its name, description or output folder). */
function experimentId(e: ExperimentConfig): string {
  const { data, prepare, split, protocol, ties, metrics, validMetric, patience, evalEvery, significanceMetric, features, maxEvalUsers, blockSize } = e;
  return contentHash({ data, prepare, split, protocol, ties, metrics, validMetric: validMetric ?? null, patience, evalEvery, significanceMetric: significanceMetric ?? null, features: features ?? null, maxEvalUsers: maxEvalUsers ?? null, blockSize }).slice(0, 16);
}

function checkExperiment(kind: string, raw: unknown): ExperimentConfig {
  if (!raw || typeof raw !== 'object') throw new Error(`${kind} job: field "experiment" must be an experiment config`);
  return validateExperiment(raw, `${kind} job: field "experiment"`);
}

/** The experiment cut down to one model at one grid point and one seed (what the job trains). */
export function experimentPoint(d: ExperimentPointData): ExperimentConfig {
  const spec = d.experiment.models[d.model];
  const cfg = gridPoints(spec)[d.point];
  // The label stays the model's own, so a point's row reads as it does in `reclab bench`.
  return { ...d.experiment, seeds: [d.seed], models: [{ ...spec, label: spec.label ?? spec.name, config: cfg, grid: {} }], baseline: undefined, saveModels: false };
}

export const experimentKind: JobKind<ExperimentPointData> = {
  name: 'experiment',
  key: (d) => {
    const spec = d.experiment.models[d.model];
    return `exp:${experimentId(d.experiment)}:${spec.name}:${contentHash(gridPoints(spec)[d.point]).slice(0, 16)}:seed=${d.seed}`;
  },
  check(data) {
    const d = data as ExperimentPointData;
    const experiment = checkExperiment('experiment', d?.experiment);
    if (!Number.isInteger(d.model) || d.model < 0 || d.model >= experiment.models.length) throw new Error(`experiment job: field "model" must index the ${experiment.models.length} models`);
    const points = gridPoints(experiment.models[d.model]).length;
    if (!Number.isInteger(d.point) || d.point < 0 || d.point >= points) throw new Error(`experiment job: field "point" must index the model's ${points} grid points`);
    if (!Number.isInteger(d.seed)) throw new Error('experiment job: field "seed" must be an integer');
    return { ...d, experiment };
  },
  async run(d, ctx) {
    await ctx.progress(5);
    const { result } = await runExperiment(experimentPoint(d), { baseDir: d.baseDir, dryRun: true, progress: false, log: ctx.log });
    await ctx.progress(95);
    const m = result.models[0];
    const run = m.runs[0];
    const out = { label: m.label, name: m.name, config: run.config, seed: run.seed, valid: run.valid, bestEpoch: run.bestEpoch, epochs: run.epochs, test: run.test?.metrics ?? {}, dataset: result.dataset.fingerprint, fitSeconds: run.fitSeconds };
    return ctx.artifacts ? { ...out, artifact: putArtifact(ctx.artifacts, `${JSON.stringify({ ...result, models: [m] })}\n`, '.json').sha256 } : out;
  },
  identity(result) {
    const r = result as { label: string; config: unknown; seed: number; valid: number; bestEpoch: number; test: unknown; dataset: string };
    return { label: r.label, config: r.config, seed: r.seed, valid: r.valid, bestEpoch: r.bestEpoch, test: r.test, dataset: r.dataset };
  },
};

/** Every (model, grid point, seed) of an experiment as `experiment` jobs. */
export function experimentJobs(experiment: ExperimentConfig, baseDir?: string): { kind: 'experiment'; data: ExperimentPointData }[] {
  const out: { kind: 'experiment'; data: ExperimentPointData }[] = [];
  experiment.models.forEach((spec, model) => {
    const points = gridPoints(spec).length;
    for (let point = 0; point < points; point++) for (const seed of experiment.seeds) out.push({ kind: 'experiment', data: { experiment, baseDir, model, point, seed } });
  });
  return out;
}

/** `evaluate`: a recommendation-list file scored on an experiment's data, split and metrics. */
export interface EvaluateData {
  experiment: ExperimentConfig;
  baseDir?: string;
  /** Recommendation lists (`reclab eval --recs` format), on a path every worker sees. */
  recs: string;
  /** SHA-256 of the file as submitted. */
  recsSha256: string;
  stage: 'valid' | 'test';
}

/** SHA-256 of a file's bytes. */
export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export const evaluateKind: JobKind<EvaluateData> = {
  name: 'evaluate',
  key: (d) => `eval:${experimentId(d.experiment)}:${d.stage}:${d.recsSha256}`,
  check(data) {
    const d = data as EvaluateData;
    const experiment = checkExperiment('evaluate', d?.experiment);
    if (typeof d.recs !== 'string' || d.recs === '') throw new Error('evaluate job: field "recs" must be a file path');
    if (typeof d.recsSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.recsSha256)) throw new Error('evaluate job: field "recsSha256" must be the file\'s SHA-256 (64 hex digits)');
    if (d.stage !== 'valid' && d.stage !== 'test') throw new Error('evaluate job: field "stage" must be "valid" or "test"');
    return { ...d, experiment };
  },
  async run(d, ctx) {
    const sha = fileSha256(d.recs);
    if (sha !== d.recsSha256) throw new Error(`evaluate job: ${d.recs} changed since it was submitted (SHA-256 ${sha.slice(0, 12)}…, submitted ${d.recsSha256.slice(0, 12)}…)`);
    const { dataset, split } = await setUpExperiment(d.experiment, { baseDir: d.baseDir, progress: false });
    await ctx.progress(50);
    const testing = d.stage === 'test';
    const result = evaluateLists(readRecommendations(d.recs, dataset), { exclude: testing ? [split.train, split.valid] : [split.train], targets: testing ? split.test : split.valid, train: split.train }, { metrics: d.experiment.metrics });
    return { recsSha256: d.recsSha256, stage: d.stage, dataset: dataset.fingerprint, users: result.users.length, metrics: result.metrics };
  },
};
