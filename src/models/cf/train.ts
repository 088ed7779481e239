/**
 * The epoch loop shared by the iterative CF models: runs up to `epochs` epochs, reports each to
 * `options.onEpoch` (which may stop training: the runner's early stopping), shows a progress bar
 * with ETA, and honours cancellation between epochs.
 */
import type { EpochReport, FitOptions, FitReport } from '../recommender.ts';
import { progress } from '../../util/progress.ts';

/** Called by an epoch after each of its steps (mini-batches), so long epochs move the bar. */
export type StepTick = () => void;

/**
 * Runs `epoch(e, tick)` (returning the mean loss) for e = 1..epochs unless stopped earlier.
 * With `stepsPerEpoch` > 1 the bar counts steps (the epoch calls `tick` after each), else epochs.
 * The reported seconds count training only: time spent in `onEpoch` (validation) is excluded, so
 * "train seconds" in result tables compare models fairly.
 */
export async function trainEpochs(
  name: string,
  epochs: number,
  options: FitOptions,
  epoch: (e: number, tick: StepTick) => number,
  stepsPerEpoch = 1,
): Promise<FitReport> {
  let trainSeconds = 0;
  const history: EpochReport[] = [];
  const perStep = stepsPerEpoch > 1;
  const bar = progress(name, perStep ? epochs * stepsPerEpoch : epochs, { enabled: options.progress, unit: perStep ? 'steps' : 'epochs' });
  let lastLoss = '';
  let ticked = 0;
  const tick: StepTick = perStep
    ? () => {
        ticked++;
        bar.tick(1, lastLoss);
      }
    : () => {};
  try {
    for (let e = 1; e <= epochs; e++) {
      if (options.signal?.aborted) throw new Error(`${name}: fit aborted`);
      const te = performance.now();
      ticked = 0;
      const loss = epoch(e, tick);
      if (!Number.isFinite(loss)) throw new Error(`${name}: loss became ${loss} at epoch ${e}; lower the learning rate`);
      const report: EpochReport = { epoch: e, loss, seconds: (performance.now() - te) / 1000 };
      trainSeconds += report.seconds;
      history.push(report);
      lastLoss = `epoch ${e} loss ${loss.toPrecision(4)}`;
      // Keep the bar aligned with whole epochs even if an epoch ran fewer steps than announced.
      bar.tick(perStep ? Math.max(0, stepsPerEpoch - ticked) : 1, lastLoss);
      if (options.onEpoch && (await options.onEpoch(report)) === true) break;
    }
  } finally {
    bar.stop();
  }
  return { epochs: history.length, seconds: trainSeconds, history };
}
