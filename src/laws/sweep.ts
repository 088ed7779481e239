/**
 * The scaling sweep: train one sequential model per grid point (layers × hidden × data fraction ×
 * seed), evaluate it under a recorded protocol, and append one JSON line per finished point to a
 * results file. The file is the sweep's state: a killed sweep, restarted with the same spec,
 * skips every point already in the file and carries on (a half-written last line is dropped).
 *
 * Protocol per point:
 *   - the dataset is split once (default leave-one-out);
 *   - a data fraction f < 1 keeps a seeded random f-share of the users (their whole sequences;
 *     other users are neither trained on nor evaluated), so D′ = #tokens · ApEn is measured on
 *     exactly the data the model saw;
 *   - the model is `createModel(model, {...config, [layersKey]: N, [hiddenKey]: h})`, trained with
 *     `seed`; with `validEvery` > 0 it is scored on the validation events every that many epochs
 *     and the best epoch (by the first metric) is restored before testing, when the model
 *     supports snapshots;
 *   - test: history train ∪ valid, the test event as target, candidates by `protocol` (e.g.
 *     `uni100` as in SASRec, or `full`), train and valid items excluded under `full`;
 *   - validation and test views and sampled negatives follow the one data rule
 *     (src/experiment/data.ts): negatives never come from the user's train, valid or test items.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';
import type { Dataset, Interactions, Split } from '../data/types.ts';
import { createModel } from '../models/registry.ts';
import type { Recommender } from '../models/recommender.ts';
import { evaluate, type EvalResult } from '../eval/evaluate.ts';
import { parseProtocol } from '../eval/protocol.ts';
import { evalViews, sampleEvalUsers, stageCandidates } from '../experiment/data.ts';
import { BestOnValidation } from '../experiment/select.ts';
import { Rng } from '../nn/rng.ts';
import { progress } from '../util/progress.ts';
import { dataQuality, type ApenOptions } from './quality.ts';

/** What to sweep. */
export interface SweepSpec {
  /** Registry name of a sequential model, e.g. `sasrec`. */
  model: string;
  /** Config shared by every point (epochs, maxLen, dropout, …). */
  config: Record<string, unknown>;
  /** Config keys of depth and width (default `layers`, `hidden`). */
  layersKey?: string;
  hiddenKey?: string;
  layers: number[];
  hidden: number[];
  /** Shares of users kept (default [1]). */
  fractions?: number[];
  /** Training seeds (default [0]). */
  seeds?: number[];
  /** Candidate protocol of the test (default `uni100`). */
  protocol?: string;
  /** Metrics recorded (default hr@10, ndcg@10); the first drives best-epoch selection. */
  metrics?: string[];
  /** Validate every this many epochs and keep the best (0 = train the full budget; default 0). */
  validEvery?: number;
  /** Evaluate at most this many users (seeded sample), as SASRec does above 10,000 (default: all). */
  maxEvalUsers?: number;
  /** ApEn options for D′ (default m 2, r 0, maxLen = config.maxLen when set). */
  apen?: ApenOptions;
}

/** One finished grid point, as stored (one JSON line). */
export interface SweepPoint {
  kind: 'reclab-law-point';
  version: 1;
  /** Identity of the point within its sweep (what resuming matches on). */
  key: string;
  model: string;
  dataset: string;
  fingerprint: string;
  fraction: number;
  layers: number;
  hidden: number;
  seed: number;
  /** The model's config in effect (defaults filled in). */
  config: Record<string, unknown>;
  /** D′ = (interactions/10⁶) · ApEn of the training data used, and its parts. */
  D: number;
  apen: number;
  trainInteractions: number;
  /** Test metrics. */
  metrics: Record<string, number>;
  /** Validation metrics of the restored epoch (when validEvery > 0). */
  valid?: Record<string, number>;
  protocol: {
    split: Split['protocol'];
    eval: EvalResult['protocol'];
    /** How the data fraction was drawn. */
    fraction: string;
    evalUsers: number;
  };
  train: { epochs: number; bestEpoch: number | null; seconds: number };
  evalSeconds: number;
  library: { name: 'reclab'; version: string };
  finishedAt: string;
}

/** Progress and control hooks. */
export interface SweepHooks {
  /** Called after each point is written. Return true to stop the sweep (used by tests). */
  onPoint?: (p: SweepPoint, done: number, total: number) => boolean | void;
  /** Log line sink (default stderr). */
  log?: (line: string) => void;
  /** Show a progress bar (default: when stderr is a TTY). */
  progress?: boolean;
}

/** Seed of the validation candidates (test: + 1), fixed for every point and training seed. */
const CANDIDATE_SEED = 1;

const LIBRARY_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** A stable short hash of JSON-able data (key order normalised). */
function stableHash(value: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  return createHash('sha256').update(JSON.stringify(canon(value))).digest('hex').slice(0, 12);
}

/** The key of one grid point: everything that changes the result. */
export function pointKey(spec: SweepSpec, fingerprint: string, fraction: number, layers: number, hidden: number, seed: number): string {
  const shared = stableHash({ model: spec.model, config: spec.config, protocol: spec.protocol ?? 'uni100', validEvery: spec.validEvery ?? 0, maxEvalUsers: spec.maxEvalUsers ?? null, metrics: spec.metrics ?? null });
  return `${spec.model}|${fingerprint.slice(0, 12)}|f=${fraction}|N=${layers}|h=${hidden}|seed=${seed}|${shared}`;
}

/**
 * Reads the finished points of a results file. A last line without its newline (the process was
 * killed while writing it) is cut off the file, so the next append starts on a clean line; any
 * other unreadable line is an error naming the line.
 */
export function readFinishedPoints(path: string): SweepPoint[] {
  if (!existsSync(path)) return [];
  let text = readFileSync(path, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) {
    text = text.slice(0, text.lastIndexOf('\n') + 1);
    writeFileSync(path, text);
  }
  const out: SweepPoint[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: SweepPoint;
    try {
      rec = JSON.parse(line) as SweepPoint;
    } catch (error) {
      throw new Error(`${path}:${i + 1}: invalid JSON line: ${(error as Error).message}`);
    }
    if (rec.kind !== 'reclab-law-point' || typeof rec.key !== 'string') throw new Error(`${path}:${i + 1}: not a sweep point (field "kind" must be "reclab-law-point")`);
    out.push(rec);
  });
  return out;
}

/** Keeps only the users marked in `keep`: others get no events (nUsers and nItems unchanged). */
export function keepUsers(data: Interactions, keep: Uint8Array): Interactions {
  const offsets = new Int32Array(data.nUsers + 1);
  for (let u = 0; u < data.nUsers; u++) offsets[u + 1] = offsets[u] + (keep[u] ? data.offsets[u + 1] - data.offsets[u] : 0);
  const n = offsets[data.nUsers];
  const items = new Int32Array(n);
  const times = new Float64Array(n);
  const values = data.values ? new Float32Array(n) : undefined;
  for (let u = 0; u < data.nUsers; u++) {
    if (!keep[u]) continue;
    const s = data.offsets[u];
    const e = data.offsets[u + 1];
    items.set(data.items.subarray(s, e), offsets[u]);
    times.set(data.times.subarray(s, e), offsets[u]);
    if (values) values.set(data.values!.subarray(s, e), offsets[u]);
  }
  return { nUsers: data.nUsers, nItems: data.nItems, offsets, items, times, values };
}

/** A seeded choice of round(fraction · nUsers) users (the same for every model and seed). */
export function fractionMask(nUsers: number, fraction: number, seed = 12345): Uint8Array {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`sweep: fraction must be in (0, 1], got ${fraction}`);
  const keep = new Uint8Array(nUsers);
  if (fraction === 1) return keep.fill(1);
  const order = new Rng(seed).shuffle(Int32Array.from({ length: nUsers }, (_, i) => i));
  const k = Math.round(fraction * nUsers);
  for (let i = 0; i < k; i++) keep[order[i]] = 1;
  return keep;
}

/** Trains and evaluates one point; returns the record (not yet written). */
async function runPoint(
  spec: SweepSpec,
  dataset: Dataset,
  split: Split,
  fraction: number,
  layers: number,
  hidden: number,
  seed: number,
  key: string,
  log: (line: string) => void,
): Promise<SweepPoint> {
  const metrics = spec.metrics ?? ['hr@10', 'ndcg@10'];
  const protocol = spec.protocol ?? 'uni100';
  const keep = fractionMask(dataset.nUsers, fraction);
  const train = fraction === 1 ? split.train : keepUsers(split.train, keep);
  const valid = fraction === 1 ? split.valid : keepUsers(split.valid, keep);
  const test = fraction === 1 ? split.test : keepUsers(split.test, keep);
  const maxLen = typeof spec.config.maxLen === 'number' ? spec.config.maxLen : undefined;
  const quality = dataQuality(train, { maxLen, ...spec.apen });

  const model: Recommender = createModel(spec.model, { ...spec.config, [spec.layersKey ?? 'layers']: layers, [spec.hiddenKey ?? 'hidden']: hidden });
  const validEvery = spec.validEvery ?? 0;
  const validUsers = sampleEvalUsers(valid, spec.maxEvalUsers, 1);
  const users = sampleEvalUsers(test, spec.maxEvalUsers, 2);
  // The one data rule: validation negatives are drawn outside train, valid *and* test (the
  // sweep's own rule once left the test item drawable), validation with seed 1, test with 2.
  const views = evalViews({ train, valid, test });
  const cands = stageCandidates(parseProtocol(protocol, CANDIDATE_SEED), views, CANDIDATE_SEED, { valid: validUsers, test: users });
  // the best epoch by the first metric, its state kept (no early stop: a fixed budget)
  const sel = new BestOnValidation(Infinity, () => model.snapshot?.());
  let bestMetrics: Record<string, number> | undefined;
  const fitReport = await model.fit(train, {
    seed,
    progress: false,
    onEpoch: async (r) => {
      log(`  epoch ${r.epoch}: loss ${r.loss.toFixed(4)} (${r.seconds.toFixed(1)} s)`);
      if (validEvery > 0 && r.epoch % validEvery === 0) {
        const res = await evaluate(model, views.valid, { protocol, metrics, seed: CANDIDATE_SEED, users: validUsers, candidates: cands.valid, progress: false });
        log(`  valid ${metrics.map((m) => `${m} ${res.metrics[m].toFixed(4)}`).join(', ')}`);
        sel.update(r.epoch, res.metrics[metrics[0]]);
        if (sel.bestEpoch === r.epoch) bestMetrics = res.metrics;
      }
    },
  });
  const chosen = bestMetrics ? { epoch: sel.bestEpoch, state: sel.state, metrics: bestMetrics } : null;
  if (chosen && chosen.state !== undefined && model.restore) model.restore(chosen.state);
  const result = await evaluate(model, views.test, { protocol, metrics, seed: CANDIDATE_SEED + 1, users, candidates: cands.test, progress: false });
  return {
    kind: 'reclab-law-point',
    version: 1,
    key,
    model: spec.model,
    dataset: dataset.name,
    fingerprint: dataset.fingerprint,
    fraction,
    layers,
    hidden,
    seed,
    config: model.config,
    D: quality.D,
    apen: quality.apen.mean,
    trainInteractions: quality.interactions,
    metrics: result.metrics,
    ...(chosen ? { valid: chosen.metrics } : {}),
    protocol: {
      split: split.protocol,
      eval: result.protocol,
      fraction: fraction === 1 ? 'all users' : `seeded (12345) random ${fraction} share of users; the others neither trained on nor evaluated`,
      evalUsers: users.length,
    },
    train: { epochs: fitReport.epochs, bestEpoch: chosen?.state !== undefined ? chosen.epoch : null, seconds: fitReport.seconds },
    evalSeconds: result.seconds,
    library: { name: 'reclab', version: LIBRARY_VERSION },
    finishedAt: new Date().toISOString(),
  };
}

/** Checks a spec's grid, naming the field. */
export function validateSpec(spec: SweepSpec): void {
  const positiveInts = (name: string, xs: unknown) => {
    if (!Array.isArray(xs) || xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`sweep spec: "${name}" must be a non-empty list of positive integers`);
  };
  positiveInts('layers', spec.layers);
  positiveInts('hidden', spec.hidden);
  if (spec.fractions && (spec.fractions.length === 0 || spec.fractions.some((f) => !(f > 0 && f <= 1)))) throw new Error('sweep spec: "fractions" must be values in (0, 1]');
  if (spec.seeds && spec.seeds.some((s) => !Number.isInteger(s))) throw new Error('sweep spec: "seeds" must be integers');
}

/**
 * Runs (or resumes) a sweep over `split` of `dataset`, appending each finished point to `out`.
 * Points are run cheapest first (by layers · hidden), so an interrupted sweep has covered the
 * small models. Returns every point of this spec in the file (old and new).
 */
export async function runSweep(spec: SweepSpec, dataset: Dataset, split: Split, out: string, hooks: SweepHooks = {}): Promise<SweepPoint[]> {
  validateSpec(spec);
  const log = hooks.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  mkdirSync(dirname(out), { recursive: true });
  const finished = readFinishedPoints(out);
  const done = new Map(finished.map((p) => [p.key, p]));
  const grid: { fraction: number; layers: number; hidden: number; seed: number; key: string }[] = [];
  for (const fraction of spec.fractions ?? [1]) for (const layers of spec.layers) for (const hidden of spec.hidden) for (const seed of spec.seeds ?? [0]) {
    grid.push({ fraction, layers, hidden, seed, key: pointKey(spec, dataset.fingerprint, fraction, layers, hidden, seed) });
  }
  grid.sort((a, b) => a.fraction * a.layers * a.hidden - b.fraction * b.layers * b.hidden || a.seed - b.seed);
  const todo = grid.filter((g) => !done.has(g.key));
  log(`sweep ${spec.model} on ${dataset.name}: ${grid.length} points, ${grid.length - todo.length} already in ${out}, ${todo.length} to run`);
  const bar = progress('sweep', todo.length, { enabled: hooks.progress, unit: 'points' });
  let count = grid.length - todo.length;
  try {
    for (const g of todo) {
      log(`point f=${g.fraction} N=${g.layers} h=${g.hidden} seed=${g.seed}`);
      const point = await runPoint(spec, dataset, split, g.fraction, g.layers, g.hidden, g.seed, g.key, log);
      // One write call per line: a kill leaves at most one partial line, which resuming drops.
      appendFileSync(out, `${JSON.stringify(point)}\n`);
      done.set(point.key, point);
      count++;
      bar.tick(1, `N=${g.layers} h=${g.hidden}`);
      log(`  → ${Object.entries(point.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')} (train ${point.train.seconds.toFixed(0)} s)`);
      if (hooks.onPoint?.(point, count, grid.length)) break;
    }
  } finally {
    bar.stop();
  }
  return grid.map((g) => done.get(g.key)).filter((p): p is SweepPoint => p !== undefined);
}
