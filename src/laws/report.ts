/**
 * A fit report: the fitted law, its validation and its advice, as one JSON-able object plus a
 * short Markdown rendering. This is what `reclab law fit` prints and saves, and what
 * `reclab law predict` reads back.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bestSize, fitLaw, leaveOneConfigOut, type FitOptions, type LawFit, type LawPoint, type LocoReport } from './fit.ts';
import { lawCurvesSvg, locoParitySvg } from './plot.ts';
import { progress } from '../util/progress.ts';

/** Everything `reclab law fit` produces. */
export interface FitReport {
  kind: 'reclab-law-fit';
  version: 1;
  metric: string;
  /** Where the points came from. */
  source: string;
  fit: LawFit;
  /** The options the fit used (so predict/LOCO can repeat it). */
  options: FitOptions;
  /** The observed points. */
  points: LawPoint[];
  /** Leave-one-configuration-out validation, when asked for. */
  loco?: LocoReport;
  /** The best observed-grid configuration by the law, per group. */
  best: Record<string, { layers: number; hidden: number; y: number }>;
}

/** Fits, optionally validates, and assembles the report. */
export function buildFitReport(points: LawPoint[], options: { metric: string; source: string; fit?: FitOptions; loco?: boolean }): FitReport {
  const fitOptions = options.fit ?? {};
  const fit = fitLaw(points, fitOptions);
  let loco: LocoReport | undefined;
  if (options.loco) {
    const configs = new Set(points.map((p) => `${p.group ?? 'default'}|${p.layers}|${p.hidden}`)).size;
    const bar = progress('leave-one-configuration-out', configs, { unit: 'fits' });
    loco = leaveOneConfigOut(points, fitOptions, () => bar.tick());
    bar.stop();
  }
  const layerChoices = [...new Set(points.map((p) => p.layers))].sort((a, b) => a - b);
  const hiddenChoices = [...new Set(points.map((p) => p.hidden))].sort((a, b) => a - b);
  const best: FitReport['best'] = {};
  for (const group of Object.keys(fit.groupD)) best[group] = bestSize(fit, layerChoices, hiddenChoices, { group });
  return { kind: 'reclab-law-fit', version: 1, metric: options.metric, source: options.source, fit, options: fitOptions, points, loco, best };
}

function fmt(x: number, d = 4): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(d))) : String(x);
}

/** A short human-readable rendering of a report. */
export function fitReportMarkdown(r: FitReport): string {
  const p = r.fit.params;
  const lines = [
    `# Performance law fit: ${r.metric}`,
    '',
    `Source: \`${r.source}\` — ${r.fit.n} points, groups: ${Object.keys(r.fit.groupD).join(', ')}.`,
    '',
    'y(N, h) = w1·(−1/(2·N^w3) − w3·ln N) + w2·(−1/(2·h^w4) − w4·ln h) + (−1/(2·D^w5) − w5·ln D) + b',
    '',
    '| parameter | value | fitted? |',
    '|---|---|---|',
    ...(['w1', 'w2', 'w3', 'w4', 'w5', 'b'] as const).map((k) => `| ${k} | ${fmt(p[k], 6)} | ${r.fit.free.includes(k) ? 'yes' : 'held'} |`),
    ...Object.entries(r.fit.groupD).map(([g, d]) => `| D (${g}) | ${fmt(d, 6)} | ${r.fit.free.includes(`D:${g}`) ? 'yes' : 'measured/held'} |`),
    '',
    `R² = ${fmt(r.fit.r2, 5)}, RMSE = ${fmt(r.fit.rmse, 4)}.`,
    '',
    `Depth term: ${describeOptimum(r.fit.optimum.layers, 'N')}. Width term: ${describeOptimum(r.fit.optimum.hidden, 'h')}.`,
    '',
    ...Object.entries(r.best).map(([g, b]) => `Best size on the swept grid (${g}): N = ${b.layers}, h = ${b.hidden}, predicted ${r.metric} = ${fmt(b.y)}.`),
  ];
  if (r.loco) {
    lines.push(
      '',
      `Leave-one-configuration-out: median APE ${fmt(r.loco.medianApePct, 3)} %, mean ${fmt(r.loco.meanApePct, 3)} %, max ${fmt(r.loco.maxApePct, 3)} % over ${r.loco.rows.length} configurations.`,
      '',
      '| group | N | h | observed | predicted (held out) | APE % |',
      '|---|---|---|---|---|---|',
      ...r.loco.rows.map((row) => `| ${row.group} | ${row.layers} | ${row.hidden} | ${fmt(row.observed)} | ${fmt(row.predicted)} | ${fmt(row.apePct, 3)} |`),
    );
    if (r.loco.skipped.length) lines.push('', `Skipped (no other point of their group): ${r.loco.skipped.join(', ')}.`);
  }
  if (r.fit.notes.length) lines.push('', 'Notes:', ...r.fit.notes.map((n) => `- ${n}`));
  return `${lines.join('\n')}\n`;
}

function describeOptimum(o: LawFit['optimum']['layers'], name: string): string {
  switch (o.kind) {
    case 'max':
      return `peaks at ${name}* = ${fmt(o.x)}`;
    case 'min':
      return `dips at ${name} = ${fmt(o.x)} (best at an edge of the range)`;
    case 'decreasing':
      return `falls with ${name} (smaller is better)`;
    case 'increasing':
      return `rises with ${name} (larger is better)`;
  }
}

/** Writes fit.json, fit.md, curves SVG (one per group) and, with LOCO, the parity SVG into `dir`. Returns the paths. */
export function writeFitReport(r: FitReport, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    written.push(path);
  };
  put('fit.json', `${JSON.stringify(r, null, 2)}\n`);
  put('fit.md', fitReportMarkdown(r));
  const groups = Object.keys(r.fit.groupD);
  for (const g of groups) {
    const suffix = groups.length > 1 ? `-${g.replace(/[^A-Za-z0-9_.@-]/g, '_')}` : '';
    put(`curves${suffix}.svg`, lawCurvesSvg(r.points, r.fit, { metric: r.metric, group: g }));
  }
  if (r.loco && r.loco.rows.length > 0) put('loco.svg', locoParitySvg(r.loco, { metric: r.metric }));
  return written;
}
