/**
 * What `reclab submit <file>` queues, by the file's shape or `--kind`:
 *
 * - a law sweep file (`grid:` of layers/hidden/fractions) → one `law-point` job per grid point;
 * - an experiment file (`models:`) → one `experiment` job per model × grid point × seed, or with
 *   `--kind evaluate --recs FILE` one `evaluate` job scoring that file;
 * - a jobs file: `kind: <arena|knowledge|retrain|…>` with `jobs:` (a list of job data) or
 *   `data:` (one) → those jobs, checked by their kind before anything is queued.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyOverrides, validateExperiment } from '../eval/config.ts';
import { loadSweepFile, type SweepFile } from '../laws/spec.ts';
import { JOB_KINDS, jobKind, sweepJobs } from './kinds.ts';
import { experimentJobs, fileSha256 } from './kinds-run.ts';
import type { JobRequest } from './queue.ts';

/** The jobs of a submitted file. */
export interface JobPlan {
  kind: string;
  jobs: JobRequest[];
  /** The sweep, when the file is one (the submitter fits its law from the stored points). */
  sweep?: SweepFile;
}

/** Options of {@link planJobs}. */
export interface PlanOptions {
  /** Kind to use instead of the one the file's shape names. */
  kind?: string;
  /** `evaluate`: the recommendation-list file to score, and the stage. */
  recs?: string;
  stage?: 'valid' | 'test';
}

/** Reads `file` (overrides `key=value` applied) and returns its jobs, every one checked by its kind. */
export function planJobs(file: string, overrides: readonly string[] = [], options: PlanOptions = {}): JobPlan {
  if (options.kind !== undefined && !(options.kind in JOB_KINDS)) jobKind(options.kind);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read as YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: expected a mapping at the top level`);
  const doc = raw as Record<string, unknown>;
  const shape = typeof doc.kind === 'string' ? 'jobs' : 'models' in doc ? 'experiment' : 'law-point';
  const kind = options.kind ?? (shape === 'jobs' ? (doc.kind as string) : shape);
  const check = (jobs: JobRequest[]): JobRequest[] =>
    jobs.map((j, i) => {
      try {
        return { kind: j.kind, data: jobKind(j.kind).check(j.data) };
      } catch (e) {
        throw new Error(`${file}: job ${i + 1}: ${(e as Error).message}`);
      }
    });
  if (shape === 'jobs') {
    if (options.kind !== undefined && options.kind !== doc.kind) throw new Error(`${file}: the file says kind "${String(doc.kind)}" but --kind is "${options.kind}"`);
    const list = Array.isArray(doc.jobs) ? doc.jobs : doc.data !== undefined ? [doc.data] : undefined;
    if (!list || list.length === 0) throw new Error(`${file}: a jobs file needs "jobs:" (a list of job data) or "data:" (one job)`);
    // Relative paths in job data (retrain roots, recommendation files) are the file's, not the cwd's.
    return { kind, jobs: check(list.map((data) => ({ kind, data: withBase(data, dirname(resolve(file))) }))) };
  }
  if (shape === 'law-point') {
    if (kind !== 'law-point') throw new Error(`${file}: a law sweep file makes law-point jobs, not ${kind}`);
    const sweep = loadSweepFile(file, overrides);
    return { kind, jobs: sweepJobs(sweep), sweep };
  }
  const experiment = validateExperiment(applyOverrides(doc, overrides, file), file);
  const baseDir = dirname(resolve(file));
  if (kind === 'experiment') return { kind, jobs: check(experimentJobs(experiment, baseDir)) };
  if (kind === 'evaluate') {
    if (!options.recs) throw new Error(`${file}: --kind evaluate needs --recs <recommendations file>`);
    const recs = resolve(options.recs);
    return { kind, jobs: check([{ kind, data: { experiment, baseDir, recs, recsSha256: fileSha256(recs), stage: options.stage ?? 'test' } }]) };
  }
  throw new Error(`${file}: an experiment file makes experiment or evaluate jobs, not ${kind}`);
}

/** `root` (retrain) and `recs` (evaluate) resolved against the jobs file's folder. */
function withBase(data: unknown, base: string): unknown {
  if (!data || typeof data !== 'object') return data;
  const d = { ...(data as Record<string, unknown>) };
  for (const f of ['root', 'recs', 'cacheDir']) if (typeof d[f] === 'string') d[f] = resolve(base, d[f] as string);
  return d;
}
