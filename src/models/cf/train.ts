/**
 * The epoch loop shared by the iterative CF models: runs up to `epochs` epochs, reports each to
 * `options.onEpoch` (which may stop training: the runner's early stopping), shows a progress bar
 * with ETA, and honours cancellation between epochs.
 */
import type { EpochReport, FitOptions, FitReport } from '../recommender.ts';
import { progress } from '../../util/progress.ts';

/**
 * Runs `epoch(e)` (returning the mean loss) for e = 1..epochs unless stopped earlier. The
 * reported seconds count training only: time spent in `onEpoch` (validation) is excluded, so
 * "train seconds" in result tables compare models fairly.
 */
export async function trainEpochs(name: string, epochs: number, options: FitOptions, epoch: (e: number) => number): Promise<FitReport> {
  let trainSeconds = 0;
  const history: EpochReport[] = [];
  const bar = progress(name, epochs, { enabled: options.progress, unit: 'epochs' });
  try {
    for (let e = 1; e <= epochs; e++) {
      if (options.signal?.aborted) throw new Error(`${name}: fit aborted`);
      const te = performance.now();
      const loss = epoch(e);
      if (!Number.isFinite(loss)) throw new Error(`${name}: loss became ${loss} at epoch ${e}; lower the learning rate`);
      const report: EpochReport = { epoch: e, loss, seconds: (performance.now() - te) / 1000 };
      trainSeconds += report.seconds;
      history.push(report);
      bar.tick(1, `loss ${loss.toPrecision(4)}`);
      if (options.onEpoch && (await options.onEpoch(report)) === true) break;
    }
  } finally {
    bar.stop();
  }
  return { epochs: history.length, seconds: trainSeconds, history };
}
