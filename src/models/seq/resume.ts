/**
 * Resumable training for the engine-trained sequential models (SASRec, BERT4Rec, HSTU, GRU4Rec):
 * the `checkpoint` option of FitOptions. A multi-hour run outlives a working session, so its fit
 * loop writes its whole training state after every few epochs and a later fit continues from it,
 * bit-identically to a run that was never stopped.
 *
 * What "whole" means, and why each part is needed for exactness:
 *   - weights and Adam's moments m, v and step count t (the bias corrections depend on t);
 *   - the random stream's position (batches, negatives, dropout masks and GRU4Rec's session
 *     order all draw from the one Rng of fit), including its cached Box–Muller variate;
 *   - the epoch reached, the epoch history, and the lr schedule's step counter;
 *   - no sampler state: every sampler either is stateless between epochs (BatchSampler's and
 *     SASRecNet's `stamp` only mark rows, the marks' values never reach a result; ClozeSampler and
 *     PopSampler hold constants) or restarts each epoch from the Rng (GRU4Rec's lanes: a fresh
 *     shuffle and zeroed hidden states at every epoch start).
 *
 * Layout of a checkpoint directory: `model.json` + `weights.safetensors` exactly as the model's
 * `save` writes them (so a checkpoint is also a loadable model: `reclab` can evaluate it),
 * `optimizer.safetensors` (per parameter `<name>.exp_avg`, `<name>.exp_avg_sq`, as PyTorch names
 * Adam's moments) and `training.json` (everything else, plain JSON).
 *
 * Atomicity: a state is written into `<dir>.tmp-<pid>`, then `<dir>` is renamed to
 * `<dir>.old-<pid>`, the new one renamed to `<dir>`, and the old one removed. A kill at any
 * point leaves either `<dir>` complete, or — between the two renames — both siblings, from
 * which {@link readTrainingState} finishes the swap. (POSIX rename cannot replace a non-empty
 * directory, hence the two steps.)
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { NamedTensor } from '../../nn/safetensors.ts';
import { loadSafetensors, saveSafetensors } from '../../nn/safetensors.ts';
import type { Rng, RngState } from '../../util/rng.ts';
import { readCheckpoint } from '../checkpoint.ts';
import type { EpochReport, FitOptions } from '../recommender.ts';
import { saveNetwork, type EngineNetwork } from './network-state.ts';

/** Format tag of training.json. */
export const TRAINING_FORMAT = 'reclab-training';
/** Current training.json version. */
export const TRAINING_VERSION = 1;
const STATE_FILE = 'training.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

/** The contents of training.json. */
export interface TrainingState {
  format: typeof TRAINING_FORMAT;
  version: number;
  /** Registry name of the model that wrote it. */
  name: string;
  /** The model's full config (defaults filled in) when it was written. */
  config: Record<string, unknown>;
  nItems: number;
  /** FitOptions.seed of the run. */
  seed: number;
  /** Last completed epoch. */
  epoch: number;
  /** The lr schedule's step counter after that epoch. */
  step: number;
  /** Adam's step count t. */
  adamSteps: number;
  rng: RngState;
  /** One report per completed epoch, 1..epoch. */
  history: EpochReport[];
  /** Fit wall seconds up to this state, over every session. */
  seconds: number;
  savedAt: string;
}

/** What {@link startTraining} needs of the model being fitted. */
export interface TrainingSpec {
  /** The model: registry name and config with defaults filled in. */
  model: { name: string; config: object };
  /** The freshly built and initialised network (its weights are replaced when resuming). */
  net: EngineNetwork;
  /** fit's random stream, already used for init (moved to the saved position when resuming). */
  rng: Rng;
  /** The fit options (seed, onEpoch, checkpoint). */
  options: FitOptions;
  /** The last epoch this fit trains (config.epochs): a state is always written there. */
  epochs: number;
  /** Model-specific fields of model.json's `state`, as the model's `save` writes them. */
  modelState?: Record<string, unknown>;
  /**
   * The model's config defaults (its schema applied to `{}`). A key a checkpoint lacks (it was
   * written before the key existed) is read as its default, so adding a config key with a
   * default that keeps the old behaviour does not orphan older checkpoints.
   */
  defaults?: object;
}

/**
 * Where a fit loop stands: the epochs already done (none, or those of a resumed checkpoint) and
 * the one call per epoch that reports, checkpoints and decides whether to stop.
 */
export class TrainingRun {
  private readonly t0 = performance.now();
  private readonly every: number;

  /**
   * @param spec the model being fitted
   * @param epoch last completed epoch (0 for a fresh run): the fit loop starts at `epoch + 1`
   * @param step the lr schedule's step counter at that point
   * @param history the reports of epochs 1..epoch; endEpoch appends to it
   * @param priorSeconds fit seconds spent before this session
   */
  constructor(
    private readonly spec: TrainingSpec,
    readonly epoch: number,
    readonly step: number,
    readonly history: EpochReport[],
    readonly priorSeconds: number,
  ) {
    const every = spec.options.checkpoint?.every ?? 1;
    if (!(Number.isInteger(every) && every >= 1)) throw new Error(`${spec.model.name}: checkpoint.every must be a positive integer, got ${every}`);
    this.every = every;
  }

  /** Fit wall seconds so far, earlier sessions included. */
  seconds(): number {
    return this.priorSeconds + (performance.now() - this.t0) / 1000;
  }

  /**
   * Records a finished epoch: appends it to the history, calls `onEpoch`, then writes a state if
   * one is due (every `every` epochs, at the last epoch, and when onEpoch stops training).
   * `step` is the lr schedule's counter (models without one pass nothing). Returns true when
   * onEpoch asked to stop. onEpoch runs before the save on purpose: a caller that evaluates or
   * logs the epoch (trace.ts) has always seen every saved epoch, so a run killed in between
   * redoes the epoch, bit-identically, instead of leaving it unreported.
   */
  async endEpoch(report: EpochReport, step = 0): Promise<boolean> {
    this.history.push(report);
    const { options, epochs } = this.spec;
    const stop = Boolean(options.onEpoch && (await options.onEpoch(report)));
    if (options.checkpoint && (report.epoch % this.every === 0 || report.epoch >= epochs || stop)) {
      await this.save(options.checkpoint.dir, report.epoch, step);
    }
    return stop;
  }

  private async save(dir: string, epoch: number, step: number): Promise<void> {
    const { model, net, rng, options, modelState } = this.spec;
    const seconds = this.seconds();
    const state: TrainingState = {
      format: TRAINING_FORMAT, version: TRAINING_VERSION, name: model.name, config: { ...model.config } as Record<string, unknown>,
      nItems: net.nItems, seed: options.seed, epoch, step, adamSteps: net.adam.t, rng: rng.state(), history: this.history, seconds,
      savedAt: new Date().toISOString(),
    };
    const record = { epochs: epoch, seconds, finalLoss: this.history.at(-1)?.loss ?? null, seed: options.seed, checkpoint: 'training state (see training.json)' };
    await writeAtomically(dir, async (tmp) => {
      await saveNetwork(tmp, { name: model.name, config: model.config, record }, net, modelState);
      const moments: Record<string, NamedTensor> = {};
      for (const p of net.params.list) {
        moments[`${p.name}.exp_avg`] = { data: p.m.a.slice(), shape: [...p.shape] };
        moments[`${p.name}.exp_avg_sq`] = { data: p.v.a.slice(), shape: [...p.shape] };
      }
      await saveSafetensors(join(tmp, OPTIMIZER_FILE), moments, { format: TRAINING_FORMAT, model: model.name });
      await writeFile(join(tmp, STATE_FILE), `${JSON.stringify(state)}\n`);
    });
  }
}

/**
 * Starts (or resumes) a fit loop. Without `options.checkpoint`, or with a checkpoint directory
 * that does not exist yet or is empty, the run starts at epoch 0 and `spec.net`/`spec.rng` are
 * untouched. Otherwise the saved state is checked against the model (name, config except
 * `epochs`, catalogue size, seed; a mismatch throws naming the file and the key) and loaded into
 * the network, its optimizer and the random stream.
 */
export async function startTraining(spec: TrainingSpec): Promise<TrainingRun> {
  const dir = spec.options.checkpoint?.dir;
  const saved = dir === undefined ? null : await readTrainingState(dir);
  if (!dir || !saved) return new TrainingRun(spec, 0, 0, [], 0);
  const file = join(dir, STATE_FILE);
  const { model, net, rng } = spec;
  if (saved.name !== model.name) throw new Error(`${file}: checkpoint of a "${saved.name}" model, cannot resume ${model.name}`);
  if (saved.nItems !== net.nItems) throw new Error(`${file}: checkpoint has nItems = ${saved.nItems}, the training data ${net.nItems}`);
  const config = model.config as Record<string, unknown>;
  const savedConfig: Record<string, unknown> = { ...(spec.defaults ?? {}), ...saved.config };
  for (const key of new Set([...Object.keys(savedConfig), ...Object.keys(config)])) {
    if (key === 'epochs') continue; // the one key a resumed run may change: train longer
    const a = JSON.stringify(savedConfig[key]), b = JSON.stringify(config[key]);
    if (a !== b) throw new Error(`${file}: checkpoint has ${model.name} config ${key} = ${a ?? '(absent)'}, this run ${b ?? '(absent)'} (only epochs may change on resume)`);
  }
  if (saved.seed !== spec.options.seed) throw new Error(`${file}: checkpoint has seed = ${saved.seed}, this run ${spec.options.seed}`);
  const { tensors } = await readCheckpoint(dir);
  net.params.fromTensors(tensors, join(dir, 'weights.safetensors'));
  const momentsFile = join(dir, OPTIMIZER_FILE);
  const { tensors: moments } = await loadSafetensors(momentsFile);
  for (const p of net.params.list) {
    for (const [suffix, buf] of [['exp_avg', p.m], ['exp_avg_sq', p.v]] as const) {
      const t = moments[`${p.name}.${suffix}`];
      if (!t || !(t.data instanceof Float32Array) || t.data.length !== p.size) throw new Error(`${momentsFile}: missing or misshapen F32 tensor "${p.name}.${suffix}"`);
      buf.a.set(t.data);
    }
  }
  net.adam.t = saved.adamSteps;
  net.invalidate();
  rng.setState(saved.rng);
  return new TrainingRun(spec, saved.epoch, saved.step, saved.history.slice(), saved.seconds);
}

/**
 * Reads `<dir>/training.json` after finishing a save that a kill interrupted (see the file
 * comment). Returns null when `dir` does not exist or is empty (a fresh run); throws when `dir`
 * holds something else (e.g. a model saved by `save`, which a run must not overwrite) or a state
 * of an unknown format.
 */
export async function readTrainingState(dir: string): Promise<TrainingState | null> {
  await recoverInterruptedSave(dir);
  if (!existsSync(dir) || (await readdir(dir)).length === 0) return null;
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) throw new Error(`${dir}: not a training checkpoint (no ${STATE_FILE}); refusing to overwrite it`);
  let state: TrainingState;
  try {
    state = JSON.parse(await readFile(file, 'utf8')) as TrainingState;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  if (state.format !== TRAINING_FORMAT) throw new Error(`${file}: format is "${state.format}", expected "${TRAINING_FORMAT}"`);
  if (!(state.version >= 1 && state.version <= TRAINING_VERSION)) {
    throw new Error(`${file}: training state version ${state.version} is newer than this reclab supports (${TRAINING_VERSION})`);
  }
  if (!Array.isArray(state.history) || state.history.length !== state.epoch) {
    throw new Error(`${file}: history has ${state.history?.length} epochs, epoch is ${state.epoch}`);
  }
  return state;
}

/** `<dir>.tmp-<pid>` and `<dir>.old-<pid>`: the siblings a save makes. */
function siblingPattern(dir: string): RegExp {
  return new RegExp(`^${basename(dir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(tmp|old)-(\\d+)$`);
}

/** Writes a new state of `dir` through `write(tmp)`, then swaps it in (see the file comment). */
async function writeAtomically(dir: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const full = resolve(dir);
  await mkdir(dirname(full), { recursive: true });
  const tmp = `${full}.tmp-${process.pid}`;
  const old = `${full}.old-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await write(tmp);
  if (existsSync(full)) await rename(full, old);
  await rename(tmp, full);
  await rm(old, { recursive: true, force: true });
}

/**
 * Completes a swap a kill interrupted, and removes leftovers. `<dir>.old-<pid>` exists only after
 * the new state in `<dir>.tmp-<pid>` was complete, so when `<dir>` is missing that tmp sibling is
 * the newest complete state and takes its place (the old one does only if the tmp is gone too,
 * which no save leaves behind but a manual clean-up might). Every other sibling is a half-written
 * tmp or a superseded old state.
 */
async function recoverInterruptedSave(dir: string): Promise<void> {
  const full = resolve(dir);
  const parent = dirname(full);
  if (!existsSync(parent)) return;
  const pattern = siblingPattern(full);
  const siblings = (await readdir(parent)).filter((n) => pattern.test(n));
  if (!existsSync(full)) {
    const old = siblings.find((n) => pattern.exec(n)![1] === 'old');
    if (old) {
      const tmp = old.replace(/\.old-(\d+)$/, '.tmp-$1');
      await rename(join(parent, siblings.includes(tmp) ? tmp : old), full);
    }
  }
  for (const n of siblings) await rm(join(parent, n), { recursive: true, force: true });
}
