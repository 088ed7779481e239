/**
 * Long training runs that leave a trace: `reclab run <config.yaml> [--resume] [--checkpoint-every N] [--key=value …]`
 * (src/cli/commands/run.ts).
 *
 * Reads an experiment file in the runner's format (src/eval/config.ts) and trains its models one
 * after another on the config's split and protocol. Every `evalEvery` epochs it evaluates the
 * model on validation (history = train) **and** on test (history = train + valid, train + valid
 * excluded under `full`), and appends one JSON line per evaluation to
 * `<output>/<name>.trace.jsonl`, then redraws `<output>/<name>-loss.svg` and
 * `<output>/<name>-valid.svg`. Nothing waits for the end of the run, so a run stopped early
 * (session limit, Ctrl-C) still leaves every figure measured so far with its epoch and wall time.
 *
 * Why not `reclab bench`: the runner writes its result folder once, at the end, and selects the
 * epoch on validation — right for final claims, but a multi-hour run on a shared machine needs
 * the intermediate figures on disk. The test figures at intermediate epochs are a *trace*, not a
 * selection: the final claim is the row at the epoch chosen on validation (`best_valid_epoch`).
 *
 * Long runs outlive a session: `--checkpoint-every N` makes each engine-trained sequential model
 * write its training state (FitOptions.checkpoint, src/models/seq/resume.ts) every N epochs, and
 * after its last, to `<output>/<name>-<label>.ckpt/`. Run the same command again and, for every
 * model whose checkpoint directory exists, the trace resumes: training continues from the saved
 * epoch, bit-identical to an uninterrupted run, and the tracer takes its own counters — training
 * seconds, wall seconds, best validation value and epoch — from that model's last line in the
 * trace file, so the file continues as if never stopped; epochs already in the file are not
 * evaluated again (a run killed between an evaluation and the next save redoes that epoch's
 * training silently). Raise `--models.<i>.config.epochs=…` to continue a finished run further.
 * `--resume` additionally refuses to start when no model has a checkpoint (continuing, never
 * silently restarting, e.g. after a typo in `--name`) and implies `--checkpoint-every 1`.
 * Closed-form models have no training state: they are fitted and evaluated again each time.
 *
 * `--evaluate` trains nothing and writes nothing: it loads every model's checkpoint at the epoch
 * it holds and prints one JSON line per model (epoch, protocol, valid and test metrics) to
 * stdout — e.g. to score a finished run under a second protocol (`--protocol=pop100:all`)
 * without touching its trace. Run it when no training process is writing the checkpoint.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadExperiment } from '../eval/config.ts';
import { evaluate } from '../eval/evaluate.ts';
import { bootstrapCI } from '../eval/significance.ts';
import type { Recommender } from '../models/recommender.ts';
import { createModel } from '../models/registry.ts';
import { readTrainingState, type TrainingState } from '../models/seq/resume.ts';
import { lineChart, type Series } from '../util/plot.ts';
import { BestOnValidation } from './select.ts';
import { setUpExperiment } from './setup.ts';

/** One line of the trace file. */
export interface TraceLine {
  model: string;
  epoch: number;
  /** Mean training loss of this epoch. */
  loss: number;
  /** Training seconds so far (evaluation excluded). */
  train_s: number;
  /** Wall seconds since the model was created (training + evaluations). */
  wall_s: number;
  valid: Record<string, number>;
  test: Record<string, number>;
  /** Epoch with the best validation `validMetric` so far. */
  best_valid_epoch: number;
  /**
   * The validation `validMetric` at `best_valid_epoch`, unrounded (absent without a validation
   * split), so that a resumed trace compares new values with the exact best, not the rounded one.
   */
  best_valid?: number;
  protocol: string;
  data: string;
}

/** Options of {@link trace} that are flags of the tracer, not keys of the experiment file. */
export interface TraceOptions {
  /** Save each model's training state every N epochs to `<output>/<name>-<label>.ckpt/`, and resume from it when it exists. */
  checkpointEvery?: number;
  /** Fail unless some model has a checkpoint to resume from; implies `checkpointEvery` 1 when that is not given. */
  resume?: boolean;
  /** Train nothing: evaluate each model's checkpoint as saved and print the metrics (stdout, JSON lines). */
  evaluate?: boolean;
}

/** What `--evaluate` prints for one model. */
export interface CheckpointEvaluation {
  model: string;
  /** Epoch the checkpoint holds. */
  epoch: number;
  protocol: string;
  valid: Record<string, number>;
  test: Record<string, number>;
  /**
   * 95 % bootstrap interval of each test metric's mean over the test users (1,000 resamples of
   * users, seed 0): how far the figure could move with another draw of users of the same kind —
   * the yardstick for comparing one run with a published number.
   */
  testCi95: Record<string, [number, number]>;
}

/**
 * Splits the tracer's command-line arguments (after the config path) into the tracer's own flags
 * (`--checkpointEvery=N` — the spelling of the docs before `reclab run` had `--checkpoint-every` —,
 * `--resume`, `--evaluate`) and the experiment overrides (`key=value`, leading `--` removed) that
 * go to loadExperiment, which would reject the flags as unknown config keys.
 */
export function parseTraceArgs(args: readonly string[]): { overrides: string[]; options: TraceOptions } {
  const overrides: string[] = [];
  const options: TraceOptions = {};
  for (const arg of args) {
    const a = arg.replace(/^--/, '');
    const m = /^checkpointEvery=(.*)$/.exec(a);
    if (m) {
      const n = Number(m[1]);
      if (!(Number.isInteger(n) && n >= 1)) throw new Error(`--checkpointEvery: expected a positive integer, got "${m[1]}"`);
      options.checkpointEvery = n;
    } else if (a === 'resume') options.resume = true;
    else if (a === 'evaluate') options.evaluate = true;
    else overrides.push(a);
  }
  return { overrides, options };
}

/** Where the tracer keeps a model's training checkpoint. */
export function checkpointDir(outDir: string, name: string, label: string): string {
  return join(outDir, `${name}-${label}.ckpt`);
}

/** The tracer's counters for one model, recovered from an existing trace and training checkpoint. */
export interface TraceResume {
  /** Last epoch already in the trace (0: none): such epochs are not evaluated again. */
  lastTraced: number;
  /** Training seconds up to the checkpoint's epoch, or the trace's last epoch if later. */
  trainS: number;
  /** Wall seconds of the model so far: the trace's last line's, plus the training seconds of the checkpoint's later epochs. */
  wallS: number;
  best: number;
  bestEpoch: number;
  /** Loss per epoch (from the checkpoint's history and the trace) and the plotted metric where evaluated. */
  curve: Map<number, { loss: number; valid?: number }>;
}

/**
 * Recovers the counters of model `label` from the trace file's lines and its training state.
 * Only the last run of the label in the file counts (its epochs increase line by line; an
 * earlier, separate run of the same label ends where the epochs start again). Training seconds
 * (and wall seconds) are those of the last line plus the checkpoint's epochs after it (with
 * `evalEvery` > 1 the checkpoint can be ahead of the last evaluation); the best value is the line's unrounded
 * `best_valid` when present, else the rounded metric of the best epoch's line.
 */
export function recoverTrace(lines: readonly TraceLine[], label: string, saved: TrainingState, validMetric: string, hasValid: boolean): TraceResume {
  const own = lines.filter((l) => l.model === label);
  let start = own.length - 1;
  while (start > 0 && own[start - 1].epoch < own[start].epoch) start--;
  const run = own.slice(Math.max(0, start));
  const last = run.at(-1);
  const lastTraced = last?.epoch ?? 0;
  const curve = new Map<number, { loss: number; valid?: number }>();
  for (const h of saved.history) curve.set(h.epoch, { loss: h.loss });
  for (const l of run) curve.set(l.epoch, { loss: l.loss, valid: hasValid ? l.valid[validMetric] : l.test[validMetric] });
  const after = saved.history.filter((h) => h.epoch > lastTraced).reduce((a, h) => a + h.seconds, 0);
  let best = -Infinity, bestEpoch = 0;
  if (last) {
    bestEpoch = last.best_valid_epoch;
    const at = run.find((l) => l.epoch === bestEpoch);
    best = !hasValid ? bestEpoch : last.best_valid ?? at?.valid[validMetric] ?? -Infinity;
  }
  // epochs trained after the last traced line took wall time too (at least their training time)
  return { lastTraced, trainS: (last?.train_s ?? 0) + after, wallS: last ? last.wall_s + after : saved.seconds, best, bestEpoch, curve };
}

/** The parsed lines of a trace file (none when it does not exist). */
function readTrace(file: string): TraceLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    try {
      return JSON.parse(l) as TraceLine;
    } catch (e) {
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
  });
}

/**
 * Runs every model of the experiment file with per-evaluation tracing; see the file comment.
 * With `options.evaluate`, trains nothing and returns each checkpoint's evaluation instead.
 */
export async function trace(path: string, overrides: readonly string[], options: TraceOptions = {}): Promise<CheckpointEvaluation[]> {
  const config = loadExperiment(path, overrides);
  // the same data, views, candidates and validation metric as `reclab bench` has for this config;
  // loo with valid: false (the HSTU repository's split) has no validation targets: the trace then
  // records test only, and the final epoch is the reported one (nothing to select on)
  const { dataset, split, views, protocol, candidates, users, validMetric } = await setUpExperiment(config, { baseDir: dirname(resolve(path)) });
  const { train } = split;
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  log(`${dataset.name}: ${dataset.nUsers} users, ${dataset.nItems} items; ${split.protocol.description}; protocol ${config.protocol}`);
  const { valid: validData, test: testData, hasValid } = views;
  const { valid: validCands, test: testCands } = candidates;
  const outDir = resolve(config.output);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${config.name}.trace.jsonl`);
  const common = { protocol, ties: config.ties, blockSize: config.blockSize, progress: false, metrics: config.metrics };
  const protocolText = `${split.protocol.description}; ${config.protocol}; ties ${config.ties}${config.maxEvalUsers ? `; ${users.test.length} sampled test users` : ''}`;
  /** The model's validation (none without a validation split) and test metrics, and each test user's values. */
  const score = async (model: Recommender): Promise<{ valid: Record<string, number>; test: Record<string, number>; testPerUser: Record<string, Float64Array> }> => {
    const valid = hasValid ? (await evaluate(model, validData, { ...common, candidates: validCands, users: users.valid })).metrics : {};
    const tested = await evaluate(model, testData, { ...common, candidates: testCands, users: users.test });
    return { valid, test: tested.metrics, testPerUser: tested.perUser };
  };
  const every = options.checkpointEvery ?? (options.resume ? 1 : undefined);
  const ckptOf = (spec: { name: string; label?: string }): string => checkpointDir(outDir, config.name, spec.label ?? spec.name);
  if (options.evaluate) {
    const results: CheckpointEvaluation[] = [];
    for (const spec of config.models) {
      const label = spec.label ?? spec.name;
      const dir = ckptOf(spec);
      const saved = await readTrainingState(dir);
      if (!saved) throw new Error(`--evaluate: ${label} has no checkpoint in ${dir}`);
      // epochs = the saved epoch: the fit loads the state and has no epoch left to train (or save)
      const model = createModel(spec.name, { ...spec.config, epochs: saved.epoch });
      await model.fit(train, { seed: config.seeds[0], progress: false, checkpoint: { dir, every: saved.epoch } });
      const { valid: v, test: t, testPerUser } = await score(model);
      const ci = intervalsOverUsers(Object.keys(t), testPerUser);
      log(`${label} checkpoint, epoch ${saved.epoch}: ${hasValid ? `valid ${fmtAll(v)} | ` : ''}test ${fmtAll(t)}; 95 % CI over users ${Object.entries(ci).map(([m, [lo, hi]]) => `${m} [${lo}, ${hi}]`).join(', ')}`);
      results.push({ model: label, epoch: saved.epoch, protocol: protocolText, valid: roundAll(v), test: roundAll(t), testCi95: ci });
    }
    return results;
  }
  if (options.resume) {
    const found = await Promise.all(config.models.map(async (spec) => (await readTrainingState(ckptOf(spec))) !== null));
    if (!found.includes(true)) throw new Error(`--resume: nothing to resume, no checkpoint in ${config.models.map(ckptOf).join(', ')}`);
  }
  for (const spec of config.models) {
    const label = spec.label ?? spec.name;
    const model = createModel(spec.name, spec.config);
    log(`${label}: ${JSON.stringify(model.config)}`);
    const ckpt = every === undefined ? undefined : ckptOf(spec);
    const saved = ckpt === undefined ? null : await readTrainingState(ckpt);
    const prior = saved ? recoverTrace(readTrace(file), label, saved, validMetric, hasValid) : undefined;
    if (prior) log(`${label}: resuming from epoch ${saved!.epoch} of ${ckpt}; the trace has epochs up to ${prior.lastTraced}`);
    const t0 = performance.now() - (prior?.wallS ?? 0) * 1000;
    let trainS = prior?.trainS ?? 0;
    // the best validation epoch so far, continued from the trace on resume (no early stop: a trace)
    const sel = new BestOnValidation().resume(prior?.best ?? -Infinity, prior?.bestEpoch ?? 0);
    const curve = prior?.curve ?? new Map<number, { loss: number; valid?: number }>();
    const lastTraced = prior?.lastTraced ?? 0;
    let lastEvaluated = prior && lastTraced > 0 ? lastTraced : -1;
    const evalAt = async (rep: { epoch: number; loss: number }): Promise<number> => {
      lastEvaluated = rep.epoch;
      const { valid: v, test: t } = await score(model);
      // without validation every evaluation is "best so far", so best_valid_epoch tracks the final epoch
      const value = hasValid ? v[validMetric] : rep.epoch;
      const point = curve.get(rep.epoch);
      // the metric curve: validation, or test when the split has no validation part — drawn
      // from the figures as the trace file holds them (rounded), so that a resumed run, which
      // reads its earlier points back from the file, draws the same curve as an uninterrupted one
      if (point) point.valid = roundAll({ v: hasValid ? value : t[validMetric] }).v;
      sel.update(rep.epoch, value);
      const line: TraceLine = {
        model: label, epoch: rep.epoch, loss: rep.loss, train_s: round(trainS), wall_s: round((performance.now() - t0) / 1000),
        valid: roundAll(v), test: roundAll(t), best_valid_epoch: sel.bestEpoch, ...(hasValid ? { best_valid: sel.best } : {}),
        protocol: protocolText, data: config.data.source,
      };
      appendFileSync(file, `${JSON.stringify(line)}\n`);
      log(`  ${hasValid ? `valid ${fmtAll(v)} | ` : ''}test ${fmtAll(t)}`);
      if (curve.size === 0) return value; // closed-form model: no curve to draw
      const points = [...curve].sort((a, b) => a[0] - b[0]).map(([epoch, c]) => ({ epoch, ...c }));
      const loss: Series[] = [{ name: label, x: points.map((c) => c.epoch), y: points.map((c) => c.loss) }];
      const val = points.filter((c) => c.valid !== undefined);
      const part = hasValid ? 'valid' : 'test';
      writeFileSync(join(outDir, `${config.name}-${label}-loss.svg`), lineChart(loss, { title: `${label} training loss`, xLabel: 'epoch', yLabel: 'loss' }));
      writeFileSync(join(outDir, `${config.name}-${label}-${part}.svg`), lineChart([{ name: label, x: val.map((c) => c.epoch), y: val.map((c) => c.valid!) }], {
        title: `${label} ${hasValid ? 'validation' : 'test (no validation split)'} ${validMetric}`, xLabel: 'epoch', yLabel: validMetric,
      }));
      return value;
    };
    const fit = await model.fit(train, {
      seed: config.seeds[0],
      progress: false,
      ...(ckpt === undefined ? {} : { checkpoint: { dir: ckpt, every } }),
      onEpoch: async (rep) => {
        if (rep.epoch <= lastTraced) {
          // killed after this epoch's evaluation, before its checkpoint: trained again, identically
          log(`${label} epoch ${rep.epoch}: loss ${rep.loss.toFixed(4)} (redone after the checkpoint; already in the trace)`);
          return false;
        }
        trainS += rep.seconds;
        curve.set(rep.epoch, { loss: rep.loss });
        log(`${label} epoch ${rep.epoch}: loss ${rep.loss.toFixed(4)} (${rep.seconds.toFixed(1)} s)`);
        if (rep.epoch % config.evalEvery === 0) await evalAt(rep);
        return false;
      },
    });
    if (fit.epochs > lastEvaluated) {
      // closed-form models (no epochs) and runs whose last epoch was not on the evalEvery grid
      if (fit.epochs === 0) trainS = fit.seconds;
      await evalAt({ epoch: fit.epochs, loss: fit.history.at(-1)?.loss ?? NaN });
    }
  }
  return [];
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function roundAll(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round4(v)]));
}

/** 95 % bootstrap interval of each metric's mean over users (1,000 resamples, seed 0), rounded as the metrics are. */
function intervalsOverUsers(metrics: readonly string[], perUser: Record<string, Float64Array>): Record<string, [number, number]> {
  return Object.fromEntries(metrics.filter((m) => perUser[m]).map((m) => {
    const { low, high } = bootstrapCI(perUser[m], { seed: 0 });
    return [m, [round4(low), round4(high)]];
  }));
}

function fmtAll(m: Record<string, number>): string {
  return Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ');
}
