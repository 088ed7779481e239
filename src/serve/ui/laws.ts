/**
 * The Laws page's data: a fitted SR law (`fit.json` of `reclab law fit`) with its points and LOCO
 * errors, and the two calculators through the code `reclab law` runs — `predictWithInterval` for
 * the SR law (NDCG/HR at a size and data quality) and `llmPerformanceLaw` for the LLM law.
 */
import { llmPerformanceLaw, type LlmPrediction } from '../../laws/llm.ts';
import { predictWithInterval, type Prediction } from '../../laws/predict.ts';
import type { FitReport } from '../../laws/report.ts';
import { readJson, type CatalogEntry } from './catalog.ts';

/** Reads and checks a law fit report. */
export function readFit(e: CatalogEntry): FitReport {
  const doc = readJson(e) as Partial<FitReport> | null;
  if (!doc || doc.kind !== 'reclab-law-fit' || !doc.fit || !Array.isArray(doc.points)) throw new Error(`${e.root}/${e.path}: not a reclab law fit (kind "reclab-law-fit")`);
  return doc as FitReport;
}

/** The fit as the page shows it: parameters, quality, points with the law's value, LOCO rows. */
export function fitView(e: CatalogEntry, r: FitReport) {
  const { params, groupD, r2, rmse, n, notes } = r.fit;
  const fitted = predictWithInterval(r.fit, r.points, r.points.map((p) => ({ layers: p.layers, hidden: p.hidden })), { reps: 0 });
  return {
    id: e.id,
    path: e.path,
    metric: r.metric,
    params,
    groups: groupD,
    r2,
    rmse,
    n,
    notes,
    points: r.points.map((p, i) => ({ ...p, law: fitted[i].value })),
    loco: r.loco ? { medianApePct: r.loco.medianApePct, meanApePct: r.loco.meanApePct, maxApePct: r.loco.maxApePct, rows: r.loco.rows } : undefined,
  };
}

/** Parses a positive number from a query field, naming the field on error. */
export function positive(query: Record<string, unknown>, field: string, fallback?: number): number {
  const raw = query[field];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new RangeError(`${field}: required`);
  }
  const x = Number(raw);
  if (!(Number.isFinite(x) && x > 0)) throw new RangeError(`${field}: expected a positive number, got "${String(raw)}"`);
  return x;
}

/** The SR law at one size (and optionally data quality D), as `reclab law predict` computes it, without the bootstrap. */
export function srPredict(r: FitReport, query: Record<string, unknown>): Prediction {
  const layers = positive(query, 'layers');
  const hidden = positive(query, 'hidden');
  const D = query.D === undefined || query.D === '' ? undefined : positive(query, 'D');
  const group = typeof query.group === 'string' && query.group ? query.group : undefined;
  if (group !== undefined && !Object.hasOwn(r.fit.groupD, group)) throw new RangeError(`group: "${group}" is not a fitted group (${Object.keys(r.fit.groupD).join(', ')})`);
  return predictWithInterval(r.fit, r.points, [{ layers, hidden }], { reps: 0, group, D, fitOptions: r.options })[0];
}

/** The LLM Performance Law for the query's shape (`reclab law llm`'s code). */
export function llmPredict(query: Record<string, unknown>): LlmPrediction {
  return llmPerformanceLaw({
    layers: positive(query, 'layers'),
    hidden: positive(query, 'hidden'),
    ffn: positive(query, 'ffn'),
    tokensT: positive(query, 'tokens'),
    paramsB: positive(query, 'params'),
    gamma: positive(query, 'gamma', 1),
  });
}
