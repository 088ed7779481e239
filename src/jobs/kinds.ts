/**
 * The kinds of job a worker runs. Each kind names its job by a content key (everything that
 * changes the result), which is both the queue's job id (a duplicate submission is dropped by the
 * queue) and the results store's primary key (a retried or duplicated run writes nothing twice).
 *
 * Here: `noop` (measures the queue itself) and `law-point` (one grid point of a law sweep: one
 * model size × data fraction × seed, trained and evaluated as `reclab law sweep` does). Beside:
 * `experiment` and `evaluate` (kinds-run.ts), `arena` and `knowledge` (kinds-llm.ts), `retrain`
 * (kinds-retrain.ts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset, Split } from '../data/types.ts';
import { readSource, detectFormat, canonicalFormat } from '../data/readers/index.ts';
import { splitDataset } from '../data/split.ts';
import { fetchedSource } from '../data/registry.ts';
import type { SweepFile } from '../laws/spec.ts';
import { runSweep, type SweepPoint, type SweepSpec } from '../laws/sweep.ts';
import { canonicalJson, contentHash } from './results.ts';
import { putArtifact } from './artifacts.ts';
import { evaluateKind, experimentKind } from './kinds-run.ts';
import { arenaKind, knowledgeKind } from './kinds-llm.ts';
import { retrainKind } from './kinds-retrain.ts';

/** What a running job may use. */
export interface JobContext {
  /** This worker's name (host:pid). */
  worker: string;
  /** Directory for artifacts, when the worker has one. */
  artifacts?: string;
  /** Reports progress (0–100) to the queue, where the submitter follows it. */
  progress(percent: number): Promise<void>;
  log(line: string): void;
}

/** One kind of job. */
export interface JobKind<D = unknown> {
  name: string;
  /** The content key of a job of this kind (store key and, hashed, queue job id). */
  key(data: D): string;
  /** Checks the data (at submission and in the worker), throwing a message naming the field. */
  check(data: unknown): D;
  run(data: D, ctx: JobContext): Promise<unknown>;
  /** The part of a result a faithful re-run reproduces (default: all of it). */
  identity?(result: unknown): unknown;
}

/** `noop`: does nothing but optionally wait (measures the queue's own cost). */
export interface NoopData {
  id: string;
  sleepMs?: number;
}
const noop: JobKind<NoopData> = {
  name: 'noop',
  key: (d) => `noop:${d.id}`,
  check(data) {
    const d = data as NoopData;
    if (typeof d?.id !== 'string' || d.id === '') throw new Error('noop job: field "id" must be a non-empty string');
    if (d.sleepMs !== undefined && !(Number.isFinite(d.sleepMs) && d.sleepMs >= 0)) throw new Error('noop job: field "sleepMs" must be a number ≥ 0');
    return d;
  },
  async run(d) {
    if (d.sleepMs) await new Promise((r) => setTimeout(r, d.sleepMs));
    return { id: d.id };
  },
};

/** `law-point`: one point of a sweep file (already validated and with overrides applied). */
export interface LawPointData {
  sweep: SweepFile;
  fraction: number;
  layers: number;
  hidden: number;
  seed: number;
}

/** The identity of a sweep without its grid: points of one sweep share it in their keys. */
export function sweepId(s: SweepFile): string {
  const { dataset, split, model, config, layersKey, hiddenKey, protocol, metrics, validEvery, maxEvalUsers, apen } = s;
  return contentHash({ dataset, split, model, config, layersKey, hiddenKey, protocol, metrics, validEvery, maxEvalUsers, apen: apen ?? null }).slice(0, 16);
}

/** The store key prefix of every point of a sweep. */
export function sweepPrefix(s: SweepFile): string {
  return `law:${sweepId(s)}:`;
}

/** Datasets loaded by this process, by path and format (a worker runs many points of one sweep). */
const loaded = new Map<string, Promise<{ dataset: Dataset; split: Split }>>();
function loadSplit(s: SweepFile): Promise<{ dataset: Dataset; split: Split }> {
  const id = canonicalJson([s.dataset, s.split]);
  let p = loaded.get(id);
  if (!p) {
    p = (async () => {
      // As `reclab law sweep` reads it: a path, or a registry name read from its fetched copy.
      const fetched = existsSync(s.dataset.path) ? undefined : fetchedSource(s.dataset.path);
      const source = fetched?.source ?? s.dataset.path;
      const format = s.dataset.format === 'auto' ? (fetched?.format ?? (await detectFormat(source))) : canonicalFormat(s.dataset.format);
      const dataset = await readSource(source, format);
      return { dataset, split: splitDataset(dataset, { kind: s.split }) };
    })();
    loaded.set(id, p);
    p.catch(() => loaded.delete(id));
  }
  return p;
}

const lawPoint: JobKind<LawPointData> = {
  name: 'law-point',
  key: (d) => `${sweepPrefix(d.sweep)}f=${d.fraction}:N=${d.layers}:h=${d.hidden}:seed=${d.seed}`,
  check(data) {
    const d = data as LawPointData;
    if (!d || typeof d.sweep !== 'object' || typeof d.sweep?.model !== 'string') throw new Error('law-point job: field "sweep" must be a sweep file');
    for (const f of ['layers', 'hidden'] as const) if (!Number.isInteger(d[f]) || d[f] < 1) throw new Error(`law-point job: field "${f}" must be a positive integer`);
    if (!(d.fraction > 0 && d.fraction <= 1)) throw new Error('law-point job: field "fraction" must be in (0, 1]');
    if (!Number.isInteger(d.seed)) throw new Error('law-point job: field "seed" must be an integer');
    return d;
  },
  async run(d, ctx) {
    const { dataset, split } = await loadSplit(d.sweep);
    const s = d.sweep;
    // The sweep's own code runs the point: a one-point grid into a scratch results file, so a
    // point run here is the point `reclab law sweep` would have run.
    const spec: SweepSpec = {
      model: s.model,
      config: s.config,
      layersKey: s.layersKey,
      hiddenKey: s.hiddenKey,
      layers: [d.layers],
      hidden: [d.hidden],
      fractions: [d.fraction],
      seeds: [d.seed],
      protocol: s.protocol,
      metrics: s.metrics,
      validEvery: s.validEvery,
      maxEvalUsers: s.maxEvalUsers,
      apen: s.apen,
    };
    const scratch = mkdtempSync(join(tmpdir(), 'reclab-job-'));
    try {
      await ctx.progress(5);
      const [point] = await runSweep(spec, dataset, split, join(scratch, 'point.jsonl'), { log: ctx.log, progress: false });
      await ctx.progress(95);
      if (!point) throw new Error('law-point job: the sweep returned no point');
      const stored: SweepPoint & { artifact?: string } = ctx.artifacts ? { ...point, artifact: putArtifact(ctx.artifacts, `${JSON.stringify(point)}\n`, '.json').sha256 } : point;
      return stored;
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  },
  identity(result) {
    const p = result as SweepPoint;
    return { key: p.key, config: p.config, D: p.D, apen: p.apen, metrics: p.metrics, valid: p.valid ?? null };
  },
};

/** Every kind, by name. */
export const JOB_KINDS: Record<string, JobKind> = Object.fromEntries(
  [noop, lawPoint, experimentKind, evaluateKind, arenaKind, knowledgeKind, retrainKind].map((k) => [k.name, k as JobKind]),
);

/** The kind called `name`, or an error listing the known ones. */
export function jobKind(name: string): JobKind {
  const k = JOB_KINDS[name];
  if (!k) throw new Error(`unknown job kind "${name}" (known: ${Object.keys(JOB_KINDS).join(', ')})`);
  return k;
}

/** The grid of a sweep file as law-point jobs, cheapest first (as the one-process sweep runs them). */
export function sweepJobs(s: SweepFile): { kind: 'law-point'; data: LawPointData }[] {
  const out: { kind: 'law-point'; data: LawPointData }[] = [];
  for (const fraction of s.grid.fractions) for (const layers of s.grid.layers) for (const hidden of s.grid.hidden) for (const seed of s.grid.seeds) out.push({ kind: 'law-point', data: { sweep: s, fraction, layers, hidden, seed } });
  out.sort((a, b) => a.data.fraction * a.data.layers * a.data.hidden - b.data.fraction * b.data.layers * b.data.hidden || a.data.seed - b.data.seed);
  return out;
}
