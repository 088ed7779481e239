/**
 * Predictions from a fitted Performance Law that say how far to trust them:
 *
 * - **Extrapolation warnings.** A law fitted on N ∈ [1, 3] knows nothing certain about N = 4: the
 *   terms' exponents are only pinned down inside the swept range, and outside it the fitted
 *   curve can run anywhere (a 6-point sweep once "predicted" NDCG@10 0.6467 at N = 4 when no
 *   observed value exceeded 0.19). Every requested size outside the range of the fitted points
 *   (of its data group) is flagged with how far out it lies, and an extrapolated value beyond the
 *   observed metric range is flagged too.
 * - **Prediction intervals** by the bootstrap over the sweep points: resample the points with
 *   replacement (seeded), refit the law with the same options, predict, and add a residual of
 *   the original fit drawn at random (so the interval covers a new trained model, not only the
 *   mean curve); the interval is the percentile range of those values. Resamples whose fit fails
 *   (e.g. too few distinct sizes to identify the law) are skipped and counted.
 */
import { Rng } from '../util/rng.ts';
import { quantile } from '../eval/significance.ts';
import { fitLaw, predictLaw, type FitOptions, type LawFit, type LawPoint } from './fit.ts';

/** Where a requested size lies relative to the fitted range of one dimension. */
export interface RangeCheck {
  dimension: 'layers' | 'hidden';
  value: number;
  min: number;
  max: number;
  /** 0 inside the range; otherwise value − max (> 0) or value − min (< 0). */
  outsideBy: number;
  /** value / max above the range, min / value below it; 1 inside. */
  factor: number;
}

/** One prediction with its warnings and interval. */
export interface Prediction {
  layers: number;
  hidden: number;
  value: number;
  /** Percentile bootstrap prediction interval; NaN bounds when no bootstrap was run. */
  interval: { lo: number; hi: number; level: number; reps: number; failed: number; method: 'points' | 'residuals' };
  /** Range checks that failed (empty when the size lies inside the swept grid's range). */
  outside: RangeCheck[];
  /** Human-readable warnings (extrapolated size, value beyond the observed metric range). */
  warnings: string[];
}

/** Options of {@link predictWithInterval}. */
export interface PredictOptions {
  /** Data group whose D to use (default: the fit's first group). */
  group?: string;
  /** Predict for this data quality instead of a group's. */
  D?: number;
  /** Bootstrap resamples (default 200; 0 = no interval). */
  reps?: number;
  /** Interval level (default 0.95). */
  level?: number;
  seed?: number;
  /** The options the law was fitted with (repeated on each resample). */
  fitOptions?: FitOptions;
  /**
   * `points` (default): resample the sweep points (cases) — honest about how much each point
   * matters, but a resample with fewer distinct sizes than free parameters cannot be fitted and is
   * skipped. `residuals`: keep every size and resample the fit's residuals — always fittable, but
   * on a nearly saturated sweep the residuals are small and so is the interval.
   */
  method?: 'points' | 'residuals';
}

/** The range check of `value` against the observed values `xs` of one dimension. */
export function rangeCheck(dimension: 'layers' | 'hidden', value: number, xs: readonly number[]): RangeCheck {
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  const outsideBy = value > max ? value - max : value < min ? value - min : 0;
  const factor = value > max ? value / max : value < min ? min / value : 1;
  return { dimension, value, min, max, outsideBy, factor };
}

const fmt = (x: number): string => String(Number(x.toPrecision(4)));

/** Warning text of a failed range check. */
export function rangeWarning(c: RangeCheck): string {
  const name = c.dimension === 'layers' ? 'N' : 'h';
  const side = c.outsideBy > 0 ? `${fmt(c.outsideBy)} above the largest (${fmt(c.factor)}× it)` : `${fmt(-c.outsideBy)} below the smallest (1/${fmt(c.factor)} of it)`;
  return `extrapolation: ${name} = ${fmt(c.value)} lies outside the fitted range ${fmt(c.min)}–${fmt(c.max)}, ${side}`;
}

/**
 * Predicts the metric at every (layers, hidden) with range warnings and a bootstrap prediction
 * interval. `points` are the points the law was fitted on (a fit report keeps them).
 */
export function predictWithInterval(fit: LawFit, points: readonly LawPoint[], sizes: readonly { layers: number; hidden: number }[], options: PredictOptions = {}): Prediction[] {
  const group = options.group ?? Object.keys(fit.groupD)[0];
  const at = options.D !== undefined ? { D: options.D } : { group };
  const inGroup = options.D !== undefined ? points : points.filter((p) => (p.group ?? 'default') === group);
  const ref = inGroup.length ? inGroup : points;
  const ys = ref.map((p) => p.y);
  const yMin = Math.min(...ys);
  const yMax = Math.max(...ys);
  const reps = options.reps ?? 200;
  const level = options.level ?? 0.95;
  // Residuals of the original fit, each point against its own group's curve.
  const residuals = points.map((p) => p.y - predictLaw(fit, p.layers, p.hidden, { group: p.group ?? 'default' }));
  const method = options.method ?? 'points';
  const fitted = points.map((p, i) => p.y - residuals[i]);
  const samples = sizes.map(() => [] as number[]);
  let failed = 0;
  if (reps > 0) {
    const rng = new Rng(options.seed ?? 0);
    for (let r = 0; r < reps; r++) {
      const drawn = method === 'points' ? Array.from({ length: points.length }, () => points[rng.int(points.length)]) : points.map((p, i) => ({ ...p, y: fitted[i] + residuals[rng.int(residuals.length)] }));
      let refit: LawFit;
      try {
        refit = fitLaw(drawn, options.fitOptions ?? {});
        if (options.D === undefined && refit.groupD[group] === undefined) throw new Error('group not drawn');
      } catch {
        failed++;
        continue;
      }
      sizes.forEach((s, i) => {
        const e = residuals[rng.int(residuals.length)];
        const v = predictLaw(refit, s.layers, s.hidden, at) + e;
        if (Number.isFinite(v)) samples[i].push(v);
      });
    }
  }
  const alpha = (1 - level) / 2;
  return sizes.map((s, i) => {
    const value = predictLaw(fit, s.layers, s.hidden, at);
    const outside = [rangeCheck('layers', s.layers, ref.map((p) => p.layers)), rangeCheck('hidden', s.hidden, ref.map((p) => p.hidden))].filter((c) => c.outsideBy !== 0);
    const warnings = outside.map(rangeWarning);
    // Inside the grid a peak between swept sizes may legitimately top the observations; outside
    // it, a value beyond everything observed is the extrapolation talking.
    if (outside.length && value > yMax) warnings.push(`the predicted value ${fmt(value)} exceeds every observed value (largest ${fmt(yMax)}, ${fmt(value / yMax)}× it)`);
    else if (outside.length && value < yMin) warnings.push(`the predicted value ${fmt(value)} is below every observed value (smallest ${fmt(yMin)})`);
    const xs = Float64Array.from(samples[i]).sort();
    const interval = xs.length ? { lo: quantile(xs, alpha), hi: quantile(xs, 1 - alpha), level, reps, failed, method } : { lo: NaN, hi: NaN, level, reps, failed, method };
    if (failed > 0) warnings.push(`the interval rests on ${reps - failed} of ${reps} resamples: ${failed} drew too few distinct sizes to fit the law (the sweep is small for its free parameters)`);
    return { layers: s.layers, hidden: s.hidden, value, interval, outside, warnings };
  });
}
