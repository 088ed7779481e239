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

/**
 * Observed vs fitted curves of the metric against hidden size: one colour per depth N, the law as
 * a line through 41 widths, observations as larger dots on top. The legend lists depths only.
 */
export function lawCurvesSvg(points: readonly LawPoint[], fit: LawFit, options: { metric: string; group?: string; title?: string }): string {
  const group = options.group ?? Object.keys(fit.groupD)[0];
  const mine = points.filter((p) => (p.group ?? 'default') === group);
  const depths = [...new Set(mine.map((p) => p.layers))].sort((a, b) => a - b);
  const hs = mine.map((p) => p.hidden);
  const hMin = Math.min(...hs);
  const hMax = Math.max(...hs);
  const grid = Array.from({ length: 41 }, (_, k) => hMin + ((hMax - hMin) * k) / 40);
  const lines: Series[] = [];
  const dots: Series[] = [];
  depths.forEach((N, i) => {
    const color = PALETTE[i % PALETTE.length];
    lines.push({ name: `N=${N}`, x: grid, y: grid.map((h) => predictLaw(fit, N, h, { group })), color });
    const obs = mine.filter((p) => p.layers === N).sort((a, b) => a.hidden - b.hidden);
    dots.push(dotsOnly(`N=${N} observed`, obs.map((p) => p.hidden), obs.map((p) => p.y), color));
  });
  // Head-room above the data for the legend (top right), so it does not cover the curves.
  const ys = [...lines.flatMap((l) => [...l.y]), ...mine.map((p) => p.y)];
  const lo = Math.min(...ys);
  const hi = Math.max(...ys);
  const span = hi - lo || Math.abs(hi) || 1;
  const svg = lineChart([...lines, ...dots], {
    title: options.title ?? `${options.metric}${group === 'default' ? '' : ` (${group})`}: observed (dots) vs fitted law (lines), R²${Object.keys(fit.groupD).length > 1 ? ' (joint fit)' : ''} = ${fit.r2.toFixed(3)}`,
    xLabel: 'hidden size h',
    yLabel: options.metric,
    width: 760,
    height: 460,
    yRange: [lo - 0.05 * span, hi + 0.06 * span * Math.max(3, depths.length)],
  });
  return restyle(svg);
}

/** Removes one-point polylines (invisible; left by the NaN breaks of {@link dotsOnly}). */
function dropLonePoints(svg: string): string {
  return svg.replace(/<polyline points="[^" ]*"[^>]*\/>/g, '');
}

/**
 * Post-processes a lineChart document: law lines lose their per-point dots, observation dots
 * grow and get a white rim, and "observed" entries leave the legend (they share the colour of
 * their depth's line, which is listed).
 */
function restyle(svg: string): string {
  return svg
    .replace(/(<g class="series" data-name="N=\d+">(?:<polyline[^>]*\/>)+)<g fill="[^"]*">(?:<circle[^>]*\/>)*<\/g>/g, '$1')
    .replace(/(<g class="series" data-name="N=\d+ observed">.*?<\/g><\/g>)/g, (group) => dropLonePoints(group).replace(/r="2\.5"/g, 'r="4.5" stroke="white" stroke-width="1.2"'))
    .replace(/<rect [^>]*\/><text [^>]*>N=\d+ observed<\/text>/g, '');
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
  )
    .replace(/(<g class="series" data-name="y = x">(?:<polyline[^>]*\/>)+)<g fill="[^"]*">(?:<circle[^>]*\/>)*<\/g>/, '$1')
    .replace(/(<g class="series" data-name="held-out configuration">.*?<\/g><\/g>)/, (group) => dropLonePoints(group).replace(/r="2\.5"/g, 'r="4" stroke="white" stroke-width="1"'));
}
