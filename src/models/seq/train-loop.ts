/**
 * The epoch/step loop shared by the engine-trained sequential models (SASRec, BERT4Rec, HSTU,
 * GRU4Rec). A model builds its network, random stream and sampler, starts a {@link TrainingRun}
 * (resume.ts), and hands {@link runEpochs} one training step; the loop owns everything around
 * it: the progress bar, the abort check before every step, the non-finite-loss error, the
 * running mean loss, the per-epoch {@link EpochReport} and `run.endEpoch` (onEpoch, checkpoints,
 * early stop).
 *
 * The loop itself draws nothing from the Rng: every draw happens inside the model's callbacks, in
 * the order the model makes them, so moving a model onto this loop leaves training bit-identical.
 *
 * Two kinds of epoch:
 *   - {@link FixedEpochs}: a fixed number of sampled mini-batches per epoch (SASRec, BERT4Rec,
 *     HSTU). The loop keeps the lr schedule's step counter, continuing from `run.step` when
 *     resuming, passes it to each step and saves it at every endEpoch.
 *   - {@link DataEpochs}: the data decides where an epoch ends (GRU4Rec's session-parallel lanes
 *     run until no session is left). There is no lr schedule counter (endEpoch saves 0), and the
 *     progress bar counts an estimate of the steps.
 */
import { progress } from '../../util/progress.ts';
import type { EpochReport, FitOptions, FitReport } from '../recommender.ts';
import type { TrainingRun } from './resume.ts';

/** What both kinds of epoch loop share. */
export interface EpochLoopBase {
  /** The model's registry name: the progress bar's title and the prefix of every error. */
  name: string;
  /** The run from `startTraining`: where the loop starts, and where epochs are reported. */
  run: TrainingRun;
  /** The fit options (signal, progress; onEpoch and checkpoint act through `run`). */
  options: FitOptions;
  /** The last epoch to train (config.epochs). */
  epochs: number;
}

/** Epochs of a fixed number of steps, with an lr schedule step counter. */
export interface FixedEpochs extends EpochLoopBase {
  /** Steps per epoch. */
  steps: number;
  /** One training step; `t` is the lr schedule's step counter (0-based over the whole run). Returns the step's loss. */
  step: (t: number) => number;
  /** Yield to the event loop before every step (before the abort check), so a server stays responsive. */
  yieldEachStep?: boolean;
  /** Advice appended in parentheses to the non-finite-loss error. */
  lossHint?: string;
}

/** Epochs whose length the data decides; no lr schedule counter. */
export interface DataEpochs extends EpochLoopBase {
  /** Steps an epoch takes, about: only the progress bar's total uses it. */
  estimatedSteps: number;
  /** Called at the start of every epoch, before its first step (e.g. shuffle, reset state). */
  startEpoch: () => void;
  /** One training step. Returns the step's loss. */
  step: () => number;
  /** Called after every step (once its loss is checked and counted): true when the epoch is over. */
  endOfEpoch: () => boolean;
}

/**
 * Runs the epochs `run.epoch + 1 .. epochs` (stopping early when onEpoch asks) and returns the
 * fit's report: every epoch's history, resumed ones included, and the wall seconds over every
 * session. Throws `<name>: training aborted` when `options.signal` is aborted before a step, and
 * `<name>: loss became <loss> at epoch <e> step <s>` (DataEpochs: without the step) when a step's
 * loss is not finite. The progress bar is stopped however the loop ends.
 */
export async function runEpochs(loop: FixedEpochs | DataEpochs): Promise<FitReport> {
  const { name, run, options, epochs } = loop;
  const fixed = 'steps' in loop;
  const total = fixed ? Math.max(0, loop.steps * epochs - run.step) : loop.estimatedSteps * Math.max(0, epochs - run.epoch);
  const bar = progress(name, total, { enabled: options.progress, unit: 'steps' });
  let t = run.step;
  try {
    for (let epoch = run.epoch + 1; epoch <= epochs; epoch++) {
      const e0 = performance.now();
      if (!fixed) loop.startEpoch();
      let sum = 0, n = 0;
      for (let more = !fixed || loop.steps > 0; more; ) {
        // Yielding to the event loop between steps (microseconds) lets an AbortSignal fired by an
        // event actually stop training.
        if (fixed && loop.yieldEachStep) await new Promise<void>((resolve) => setImmediate(resolve));
        if (options.signal?.aborted) throw new Error(`${name}: training aborted`);
        const loss = fixed ? loop.step(t++) : loop.step();
        if (!Number.isFinite(loss)) {
          throw new Error(fixed
            ? `${name}: loss became ${loss} at epoch ${epoch} step ${n + 1}${loop.lossHint ? ` (${loop.lossHint})` : ''}`
            : `${name}: loss became ${loss} at epoch ${epoch}`);
        }
        sum += loss;
        n++;
        bar.tick(1, `epoch ${epoch} loss ${(sum / n).toFixed(4)}`);
        more = fixed ? n < loop.steps : !loop.endOfEpoch();
      }
      const report: EpochReport = { epoch, loss: sum / n, seconds: (performance.now() - e0) / 1000 };
      if (await (fixed ? run.endEpoch(report, t) : run.endEpoch(report))) break;
    }
  } finally {
    bar.stop();
  }
  const history = run.history;
  return { epochs: history.length, seconds: run.seconds(), history };
}
