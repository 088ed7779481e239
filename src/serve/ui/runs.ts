/**
 * The Runs page's data: a result's table (the same `resultTable` / `ctrResultTable` the CLI
 * prints, so the protocol lines, significance and intervals read the same), per-epoch curves from
 * traces and from results' own curves, a diff of two runs' configurations, and saved models.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { resultTable, type ExperimentResult } from '../../experiment/runner.ts';
import { ctrResultTable, type CtrExperimentResult } from '../../experiment/ctr.ts';
import type { TraceLine } from '../../experiment/trace.ts';
import type { Table } from '../../eval/table.ts';
import { readJson, readJsonLines, type CatalogEntry } from './catalog.ts';

/** One curve: a model's loss and validation metric by epoch. */
export interface Curve {
  /** `<file> · <model>` (with the seed when a result has several). */
  name: string;
  epoch: number[];
  loss: number[];
  /** Validation metric per epoch (null where not evaluated). */
  valid: (number | null)[];
  metric: string;
}

/** What the page shows of one result file. */
export interface ResultView {
  id: string;
  name: string;
  task: string;
  table: Table;
  /** Folders of saved models next to the result (`models/<label>`), relative to the result. */
  models: string[];
  startedAt?: string;
  dataset?: unknown;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The table of a result file, through the CLI's own table code for its task. */
export function resultView(e: CatalogEntry): ResultView {
  const doc = readJson(e);
  if (!isObject(doc) || !Array.isArray(doc.models)) throw new Error(`${e.root}/${e.path}: not a reclab result (no "models" list)`);
  const ctr = doc.task === 'ctr';
  const table = ctr ? ctrResultTable(doc as unknown as CtrExperimentResult) : resultTable(doc as unknown as ExperimentResult);
  const modelsDir = join(dirname(e.file), 'models');
  const models = existsSync(modelsDir) ? readdirSync(modelsDir).sort().map((m) => `models/${m}`) : [];
  return { id: e.id, name: String(doc.name ?? e.path), task: ctr ? 'ctr' : 'ranking', table, models, startedAt: typeof doc.startedAt === 'string' ? doc.startedAt : undefined, dataset: doc.dataset };
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** Curves of a trace file: one per model (label), in epoch order. */
export function traceCurves(e: CatalogEntry): Curve[] {
  const byModel = new Map<string, TraceLine[]>();
  readJsonLines(e).forEach((raw, i) => {
    if (!isObject(raw) || typeof raw.model !== 'string' || typeof raw.epoch !== 'number') throw new Error(`${e.root}/${e.path}: record ${i + 1} is not a trace line (needs "model" and "epoch")`);
    const line = raw as unknown as TraceLine;
    let g = byModel.get(line.model);
    if (!g) byModel.set(line.model, (g = []));
    g.push(line);
  });
  const file = e.path.replace(/\.trace\.jsonl$/, '');
  return [...byModel].map(([model, lines]) => {
    lines.sort((a, b) => a.epoch - b.epoch);
    const metric = Object.keys(lines[0].valid ?? {})[0] ?? '';
    return { name: `${file} · ${model}`, epoch: lines.map((l) => l.epoch), loss: lines.map((l) => l.loss), valid: lines.map((l) => num(l.valid?.[metric])), metric };
  });
}

/** Curves of a result file: one per model and seed that trained by epochs. */
export function resultCurves(e: CatalogEntry): Curve[] {
  const doc = readJson(e);
  if (!isObject(doc) || !Array.isArray(doc.models)) return [];
  const r = doc as unknown as ExperimentResult;
  const metric = r.protocol?.validMetric ?? '';
  const out: Curve[] = [];
  for (const m of r.models) {
    const runs = Array.isArray(m.runs) ? m.runs : [];
    for (const run of runs) {
      if (!Array.isArray(run.curve) || run.curve.length === 0) continue;
      out.push({
        name: `${r.name} · ${m.label}${runs.length > 1 ? ` s${run.seed}` : ''}`,
        epoch: run.curve.map((c) => c.epoch),
        loss: run.curve.map((c) => c.loss),
        valid: run.curve.map((c) => num(c.valid)),
        metric,
      });
    }
  }
  return out;
}

/** Flattens nested JSON to dotted keys (arrays by index), for the config diff. */
export function flatten(x: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (Array.isArray(x)) x.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  else if (isObject(x)) for (const [k, v] of Object.entries(x)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  else out[prefix] = JSON.stringify(x);
  return out;
}

/** One differing key of two configurations (`undefined` side: the key is absent there). */
export interface ConfigDiff {
  key: string;
  a?: string;
  b?: string;
}

/** The keys whose values differ between two results' configurations, sorted by key. */
export function configDiff(a: CatalogEntry, b: CatalogEntry): ConfigDiff[] {
  const fa = flatten((readJson(a) as Record<string, unknown>)?.config ?? {});
  const fb = flatten((readJson(b) as Record<string, unknown>)?.config ?? {});
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort();
  return keys.filter((k) => fa[k] !== fb[k]).map((k) => ({ key: k, a: fa[k], b: fb[k] }));
}
