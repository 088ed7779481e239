// Charts on uPlot. Each chart registers what it plots in window.reclabCharts[name] (series names
// and data arrays), so tests and people can read back exactly what is drawn.
import uPlot from 'uplot';
import { html } from './html.js';
import { useEffect, useRef } from 'preact/hooks';

window.reclabCharts = window.reclabCharts ?? {};
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/**
 * A line chart: `x` shared by every series, `series` = [{ name, y }]; `log` = 'xy' for log-log.
 * Points are drawn too (traces have few epochs).
 */
export function LineChart({ name, title, x, series, xLabel, yLabel, log = '', width = 560, height = 300, bars = false }) {
  const ref = useRef(null);
  useEffect(() => {
    const data = [x, ...series.map((s) => s.y)];
    window.reclabCharts[name] = { title, x: [...x], series: series.map((s) => ({ name: s.name, y: [...s.y] })) };
    const opts = {
      title,
      width,
      height,
      scales: { x: { time: false, distr: log.includes('x') ? 3 : 1 }, y: { distr: log.includes('y') ? 3 : 1 } },
      axes: [{ label: xLabel }, { label: yLabel }],
      series: [
        { label: xLabel },
        ...series.map((s, i) => ({
          label: s.name,
          stroke: COLORS[i % COLORS.length],
          width: 2,
          spanGaps: true,
          points: { show: true, size: 5 },
          ...(bars ? { paths: uPlot.paths.bars({ size: [0.9] }), fill: COLORS[i % COLORS.length] + '88' } : {}),
        })),
      ],
    };
    const plot = new uPlot(opts, data, ref.current);
    return () => plot.destroy();
  }, [name, JSON.stringify(x), JSON.stringify(series), log]);
  return html`<div class="chart" data-chart=${name} ref=${ref}></div>`;
}

/**
 * Overlays curves whose x values differ (traces evaluated at different epochs): the union of the
 * x values, each series null where it has no point (uPlot joins them with spanGaps).
 */
export function alignSeries(curves, field) {
  const xs = [...new Set(curves.flatMap((c) => c.epoch))].sort((a, b) => a - b);
  const series = curves.map((c) => {
    const at = new Map(c.epoch.map((e, i) => [e, c[field][i]]));
    return { name: c.name, y: xs.map((e) => (at.has(e) ? at.get(e) : null)) };
  });
  return { x: xs, series };
}
