/**
 * Plots of a fitted performance law, as standalone SVG (via src/util/plot.ts):
 *   - {@link lawCurvesSvg}: the metric against hidden size, one colour per depth N — observed
 *     points as dots, the fitted law as a line through a fine grid of widths;
 *   - {@link locoParitySvg}: leave-one-configuration-out predictions against observations, with
 *     the y = x diagonal, so the reader sees at a glance how far off held-out predictions are.
 */
import { PALETTE, lineChart, type Series } from '../util/plot.ts';
import { predictLaw, type LawFit, type LawPoint, type LocoReport } from './fit.ts';

/** Dots without a line: lineChart draws a dot per finite point and breaks the line at NaN. */
function dotsOnly(name: string, xs: number[], ys: number[], color: string): Series {
  const x: number[] = [];
  const y: number[] = [];
  xs.forEach((v, i) => {
    x.push(v, v);
    y.push(ys[i], NaN);
  });
  return { name, x, y, color };
}

/** Observed vs fitted curves of the metric against hidden size, one series pair per depth. */
export function lawCurvesSvg(points: readonly LawPoint[], fit: LawFit, options: { metric: string; group?: string; title?: string }): string {
  const group = options.group ?? Object.keys(fit.groupD)[0];
  const mine = points.filter((p) => (p.group ?? 'default') === group);
  const depths = [...new Set(mine.map((p) => p.layers))].sort((a, b) => a - b);
  const hs = mine.map((p) => p.hidden);
  const hMin = Math.min(...hs);
  const hMax = Math.max(...hs);
  const series: Series[] = [];
  depths.forEach((N, i) => {
    const color = PALETTE[i % PALETTE.length];
    const obs = mine.filter((p) => p.layers === N).sort((a, b) => a.hidden - b.hidden);
    series.push(dotsOnly(`N=${N} observed`, obs.map((p) => p.hidden), obs.map((p) => p.y), color));
    const grid = Array.from({ length: 41 }, (_, k) => hMin + ((hMax - hMin) * k) / 40);
    series.push({ name: `N=${N} law`, x: grid, y: grid.map((h) => predictLaw(fit, N, h, { group })), color });
  });
  return lineChart(series, {
    title: options.title ?? `${options.metric}: observed (dots) vs fitted law (lines), R² = ${fit.r2.toFixed(3)}`,
    xLabel: 'hidden size h',
    yLabel: options.metric,
    width: 760,
    height: 460,
  });
}

/** Held-out (leave-one-configuration-out) predictions against observed values, with y = x. */
export function locoParitySvg(report: LocoReport, options: { metric: string; title?: string }): string {
  const obs = report.rows.map((r) => r.observed);
  const pred = report.rows.map((r) => r.predicted);
  const lo = Math.min(...obs, ...pred);
  const hi = Math.max(...obs, ...pred);
  return lineChart(
    [
      { name: 'y = x', x: [lo, hi], y: [lo, hi], color: '#999999' },
      dotsOnly('held-out configuration', obs, pred, PALETTE[0]),
    ],
    {
      title: options.title ?? `Leave-one-configuration-out: median APE ${report.medianApePct.toFixed(2)} %`,
      xLabel: `observed ${options.metric}`,
      yLabel: `predicted ${options.metric}`,
      width: 560,
      height: 460,
    },
  );
}
