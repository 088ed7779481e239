/**
 * A small dependency-free SVG chart helper: line charts with several series, scatter plots with
 * error bars, and grouped bar charts — each with axes, "nice" ticks, a legend and a title.
 *
 * Every function returns a complete standalone SVG document as a string, so callers write it
 * with `writeFile(path, svg)` and browsers, GitHub and VS Code show it directly. Output is
 * deterministic (same input → same bytes) so plots can be diffed and tested.
 */

/** One line (or set of points) of a chart. */
export interface Series {
  /** Legend label. */
  name: string;
  /** x values (same length as `y`). */
  x: readonly number[];
  /** y values; non-finite values break the line (a gap) and are not drawn as points. */
  y: readonly number[];
  /** Symmetric error bar half-widths (scatter), same length as `y`. */
  yErr?: readonly number[];
  /** CSS colour; defaults to the palette colour of the series' position. */
  color?: string;
}

/** Options shared by every chart. */
export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Pixel size of the whole SVG (default 640 × 400). */
  width?: number;
  height?: number;
  /** Logarithmic (base 10) axes; non-positive values are dropped. */
  logX?: boolean;
  logY?: boolean;
  /** Force axis ranges (in data units); default: the data range, padded to nice ticks. */
  xRange?: [number, number];
  yRange?: [number, number];
}

/** One group of a bar chart: a category label and one value per series. */
export interface BarGroup {
  label: string;
  values: readonly number[];
  /** Optional error bar half-widths, one per series. */
  errors?: readonly number[];
}

/** Tableau-10 palette: distinguishable colours that also survive greyscale printing reasonably. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };

/** Escapes text for use inside SVG elements and attributes. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * "Nice" tick values covering [lo, hi] (Heckbert's algorithm: steps of 1, 2 or 5 × 10^n), about
 * `count` of them. A degenerate range (lo = hi) is widened by one unit either side so the axis is
 * still drawable.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceNumber((hi - lo) / Math.max(1, count - 1), true);
  const start = Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  // Round each tick to the step's decimals so 0.1 + 0.2 prints as 0.3.
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  for (let v = start; v <= end + step * 1e-9; v += step) ticks.push(Number(v.toFixed(decimals)));
  return ticks;
}

function niceNumber(x: number, round: boolean): number {
  const exp = Math.floor(Math.log10(x));
  const f = x / 10 ** exp;
  let nf: number;
  if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nf * 10 ** exp;
}

/** Powers of ten covering [lo, hi] (both > 0), for log axes. */
function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const ticks: number[] = [];
  for (let e = a; e <= Math.max(b, a + 1); e++) ticks.push(10 ** e);
  return ticks;
}

/** Short label for a tick value: integers as is, otherwise up to 4 significant digits. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/** A linear or log mapping from data to pixels. */
interface Axis {
  ticks: number[];
  map(v: number): number;
}

function makeAxis(values: number[], log: boolean, range: [number, number] | undefined, p0: number, p1: number): Axis {
  let lo: number;
  let hi: number;
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (range) [lo, hi] = range;
  else if (vs.length === 0) [lo, hi] = log ? [1, 10] : [0, 1];
  else {
    lo = Math.min(...vs);
    hi = Math.max(...vs);
  }
  const ticks = log ? logTicks(lo, hi) : range ? niceTicks(lo, hi).filter((t) => t >= lo - 1e-12 && t <= hi + 1e-12) : niceTicks(lo, hi);
  const a = range ? lo : ticks[0];
  const b = range ? hi : ticks[ticks.length - 1];
  const f = log ? Math.log10 : (v: number) => v;
  const fa = f(a);
  const fb = f(b);
  const span = fb - fa || 1;
  return { ticks, map: (v: number) => p0 + ((f(v) - fa) / span) * (p1 - p0) };
}

/** Pixel value rounded to 2 decimals, which keeps files small and deterministic. */
function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function header(width: number, height: number, title?: string): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (title) out.push(`<text class="title" x="${px(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  return out;
}

function axes(out: string[], xAxis: Axis | null, yAxis: Axis, o: Required<Pick<ChartOptions, 'width' | 'height'>> & ChartOptions): void {
  const x0 = MARGIN.left;
  const x1 = o.width - MARGIN.right;
  const y0 = o.height - MARGIN.bottom;
  const y1 = MARGIN.top;
  out.push(`<g class="axes" stroke="#333" fill="none"><line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}"/><line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}"/></g>`);
  const ticks: string[] = [];
  for (const t of yAxis.ticks) {
    const y = yAxis.map(t);
    ticks.push(`<line x1="${x0}" y1="${px(y)}" x2="${x1}" y2="${px(y)}" stroke="#e5e5e5"/>`);
    ticks.push(`<text class="ytick" x="${x0 - 6}" y="${px(y + 4)}" text-anchor="end">${escapeXml(formatTick(t))}</text>`);
  }
  if (xAxis) {
    for (const t of xAxis.ticks) {
      const x = xAxis.map(t);
      ticks.push(`<line x1="${px(x)}" y1="${y0}" x2="${px(x)}" y2="${y0 + 5}" stroke="#333"/>`);
      ticks.push(`<text class="xtick" x="${px(x)}" y="${y0 + 18}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`);
    }
  }
  out.push(`<g class="ticks">${ticks.join('')}</g>`);
  if (o.xLabel) out.push(`<text class="xlabel" x="${px((x0 + x1) / 2)}" y="${o.height - 10}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  if (o.yLabel) {
    const cy = (y0 + y1) / 2;
    out.push(`<text class="ylabel" x="14" y="${px(cy)}" text-anchor="middle" transform="rotate(-90 14 ${px(cy)})">${escapeXml(o.yLabel)}</text>`);
  }
}

function legend(out: string[], names: string[], colors: string[], width: number): void {
  if (names.length === 0) return;
  // A translucent backing keeps the legend readable where it overlaps the data.
  const x = width - MARGIN.right - 150;
  const items: string[] = [`<rect x="${x - 6}" y="${MARGIN.top - 6}" width="150" height="${names.length * 16 + 6}" fill="white" fill-opacity="0.85"/>`];
  names.forEach((name, i) => {
    const y = MARGIN.top + 6 + i * 16;
    items.push(`<rect x="${x}" y="${y - 8}" width="12" height="10" fill="${colors[i]}"/>`);
    items.push(`<text x="${x + 18}" y="${y + 1}">${escapeXml(name)}</text>`);
  });
  out.push(`<g class="legend">${items.join('')}</g>`);
}

function defaults(o: ChartOptions): Required<Pick<ChartOptions, 'width' | 'height'>> & ChartOptions {
  return { ...o, width: o.width ?? 640, height: o.height ?? 400 };
}

function colorOf(s: Series, i: number): string {
  return s.color ?? PALETTE[i % PALETTE.length];
}

function checkSeries(series: readonly Series[]): void {
  for (const s of series) {
    if (s.x.length !== s.y.length) throw new Error(`plot: series "${s.name}" has ${s.x.length} x values but ${s.y.length} y values`);
    if (s.yErr && s.yErr.length !== s.y.length) throw new Error(`plot: series "${s.name}" has ${s.yErr.length} error values but ${s.y.length} y values`);
  }
}

/**
 * A line chart: one polyline per series (with a small dot at each point), shared axes, legend.
 * Non-finite y values (and, on log axes, non-positive ones) break the line.
 */
export function lineChart(series: readonly Series[], options: ChartOptions = {}): string {
  checkSeries(series);
  const o = defaults(options);
  const xs = series.flatMap((s) => [...s.x]);
  const ys = series.flatMap((s) => [...s.y]);
  const xAxis = makeAxis(xs, !!o.logX, o.xRange, MARGIN.left, o.width - MARGIN.right);
  const yAxis = makeAxis(ys, !!o.logY, o.yRange, o.height - MARGIN.bottom, MARGIN.top);
  const out = header(o.width, o.height, o.title);
  axes(out, xAxis, yAxis, o);
  series.forEach((s, i) => {
    const color = colorOf(s, i);
    const segments: string[][] = [[]];
    const dots: string[] = [];
    for (let j = 0; j < s.x.length; j++) {
      const ok = Number.isFinite(s.x[j]) && Number.isFinite(s.y[j]) && (!o.logX || s.x[j] > 0) && (!o.logY || s.y[j] > 0);
      if (!ok) {
        if (segments[segments.length - 1].length > 0) segments.push([]);
        continue;
      }
      const p = `${px(xAxis.map(s.x[j]))},${px(yAxis.map(s.y[j]))}`;
      segments[segments.length - 1].push(p);
      const [cx, cy] = p.split(',');
      dots.push(`<circle cx="${cx}" cy="${cy}" r="2.5"/>`);
    }
    const lines = segments.filter((seg) => seg.length > 0).map((seg) => `<polyline points="${seg.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">${lines.join('')}<g fill="${color}">${dots.join('')}</g></g>`);
  });
  legend(out, series.map((s) => s.name), series.map(colorOf), o.width);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * A scatter plot: one marker per point, with vertical error bars (± `yErr`) when given.
 * Points with non-finite coordinates are skipped.
 */
export function scatterChart(series: readonly Series[], options: ChartOptions = {}): string {
  checkSeries(series);
  const o = defaults(options);
  const xs = series.flatMap((s) => [...s.x]);
  const ys = series.flatMap((s) => s.y.flatMap((y, j) => (s.yErr ? [y - s.yErr[j], y + s.yErr[j]] : [y])));
  const xAxis = makeAxis(xs, !!o.logX, o.xRange, MARGIN.left, o.width - MARGIN.right);
  const yAxis = makeAxis(ys, !!o.logY, o.yRange, o.height - MARGIN.bottom, MARGIN.top);
  const out = header(o.width, o.height, o.title);
  axes(out, xAxis, yAxis, o);
  series.forEach((s, i) => {
    const color = colorOf(s, i);
    const parts: string[] = [];
    for (let j = 0; j < s.x.length; j++) {
      if (!Number.isFinite(s.x[j]) || !Number.isFinite(s.y[j])) continue;
      const cx = px(xAxis.map(s.x[j]));
      if (s.yErr && Number.isFinite(s.yErr[j])) {
        const lo = px(yAxis.map(s.y[j] - s.yErr[j]));
        const hi = px(yAxis.map(s.y[j] + s.yErr[j]));
        parts.push(`<line class="errorbar" x1="${cx}" y1="${lo}" x2="${cx}" y2="${hi}" stroke="${color}"/>`);
      }
      parts.push(`<circle cx="${cx}" cy="${px(yAxis.map(s.y[j]))}" r="3.5" fill="${color}"/>`);
    }
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">${parts.join('')}</g>`);
  });
  legend(out, series.map((s) => s.name), series.map(colorOf), o.width);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * A grouped bar chart: one group per category, one bar per series within a group, optional
 * error bars. The y axis always includes 0 so bar heights are honest.
 */
export function barChart(groups: readonly BarGroup[], seriesNames: readonly string[], options: ChartOptions = {}): string {
  for (const g of groups) {
    if (g.values.length !== seriesNames.length) throw new Error(`plot: bar group "${g.label}" has ${g.values.length} values for ${seriesNames.length} series`);
  }
  const o = defaults(options);
  const ys = [0, ...groups.flatMap((g) => g.values.flatMap((v, i) => (g.errors ? [v - g.errors[i], v + g.errors[i]] : [v])))];
  const yAxis = makeAxis(ys, false, o.yRange, o.height - MARGIN.bottom, MARGIN.top);
  const out = header(o.width, o.height, o.title);
  axes(out, null, yAxis, o);
  const x0 = MARGIN.left;
  const plotW = o.width - MARGIN.right - x0;
  const groupW = plotW / Math.max(1, groups.length);
  const barW = (groupW * 0.8) / Math.max(1, seriesNames.length);
  const base = yAxis.map(0);
  const colors = seriesNames.map((_, i) => PALETTE[i % PALETTE.length]);
  groups.forEach((g, gi) => {
    const gx = x0 + gi * groupW + groupW * 0.1;
    const parts: string[] = [];
    g.values.forEach((v, si) => {
      if (!Number.isFinite(v)) return;
      const y = yAxis.map(v);
      const bx = gx + si * barW;
      parts.push(`<rect class="bar" x="${px(bx)}" y="${px(Math.min(y, base))}" width="${px(barW * 0.9)}" height="${px(Math.abs(base - y))}" fill="${colors[si]}"><title>${escapeXml(`${seriesNames[si]} ${g.label}: ${formatTick(v)}`)}</title></rect>`);
      if (g.errors && Number.isFinite(g.errors[si])) {
        const cx = px(bx + barW * 0.45);
        parts.push(`<line class="errorbar" x1="${cx}" y1="${px(yAxis.map(v - g.errors[si]))}" x2="${cx}" y2="${px(yAxis.map(v + g.errors[si]))}" stroke="#333"/>`);
      }
    });
    parts.push(`<text class="xtick" x="${px(x0 + (gi + 0.5) * groupW)}" y="${o.height - MARGIN.bottom + 18}" text-anchor="middle">${escapeXml(g.label)}</text>`);
    out.push(`<g class="group">${parts.join('')}</g>`);
  });
  legend(out, [...seriesNames], colors, o.width);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
