/**
 * Reading sweep results into law points. Accepted files:
 *   - JSONL (one JSON object per line; what `reclab law sweep` writes),
 *   - JSON (an array of such objects, or `{ "points": [...] }`),
 *   - CSV with a header row.
 * Each record needs the model shape and the metric:
 *   layers (alias N, n_layers), hidden (alias h, hidden_size), the metric (e.g. `ndcg@10`) either
 *   as a top-level field/column or inside a `metrics` object; optionally `group` (or `dataset`,
 *   with `fraction` appended as dataset@fraction when below 1) and `D` (measured data quality).
 * Bad records are reported with file, line (JSONL/CSV) or record number (JSON) and field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import { DataError } from '../data/errors.ts';
import type { LawPoint } from './fit.ts';
import { firstIssue } from '../util/schema.ts';

const positive = z.coerce.number().refine((v) => Number.isFinite(v) && v > 0, 'expected a positive number');

const RecordSchema = z
  .object({
    layers: positive.optional(),
    N: positive.optional(),
    n_layers: positive.optional(),
    hidden: positive.optional(),
    h: positive.optional(),
    hidden_size: positive.optional(),
    group: z.string().min(1).optional(),
    dataset: z.string().min(1).optional(),
    fraction: positive.optional(),
    D: positive.optional(),
    metrics: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough();

/** Where a record came from, for error messages. */
interface Origin {
  file: string;
  line: number;
}

/** Turns one parsed record into a law point for `metric`, or throws a DataError naming the field. */
export function recordToPoint(raw: unknown, metric: string, origin: Origin): LawPoint {
  const parsed = RecordSchema.safeParse(raw);
  if (!parsed.success) {
    const { key, message } = firstIssue(parsed.error);
    throw new DataError(origin.file, origin.line, key || undefined, message);
  }
  const r = parsed.data;
  const layers = r.layers ?? r.N ?? r.n_layers;
  const hidden = r.hidden ?? r.h ?? r.hidden_size;
  if (layers === undefined) throw new DataError(origin.file, origin.line, 'layers', 'missing (also accepted: N, n_layers)');
  if (hidden === undefined) throw new DataError(origin.file, origin.line, 'hidden', 'missing (also accepted: h, hidden_size)');
  const rawValue = r.metrics && metric in r.metrics ? r.metrics[metric] : (r as Record<string, unknown>)[metric];
  if (rawValue === undefined || rawValue === '') throw new DataError(origin.file, origin.line, metric, 'missing metric (top-level or inside "metrics")');
  const y = typeof rawValue === 'number' ? rawValue : Number(rawValue);
  if (!Number.isFinite(y)) throw new DataError(origin.file, origin.line, metric, `expected a number, got ${JSON.stringify(rawValue)}`);
  let group = r.group;
  if (group === undefined && r.dataset !== undefined) group = r.fraction !== undefined && r.fraction < 1 ? `${r.dataset}@${r.fraction}` : r.dataset;
  const point: LawPoint = { layers, hidden, y };
  if (group !== undefined) point.group = group;
  if (r.D !== undefined) point.D = r.D;
  return point;
}

/** Parses JSONL text into records with their line numbers (blank lines skipped). */
export function parseJsonl(text: string, file: string): { record: unknown; line: number }[] {
  const out: { record: unknown; line: number }[] = [];
  text.split('\n').forEach((lineText, i) => {
    if (lineText.trim() === '') return;
    try {
      out.push({ record: JSON.parse(lineText), line: i + 1 });
    } catch (error) {
      throw new DataError(file, i + 1, undefined, `invalid JSON: ${(error as Error).message}`);
    }
  });
  return out;
}

/** Reads the raw records of a results file (format from the extension: .jsonl, .json, .csv). */
export function readResultRecords(file: string): { record: unknown; line: number }[] {
  const text = readFileSync(file, 'utf8');
  const lower = file.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return parseJsonl(text, file);
  if (lower.endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new DataError(file, 0, undefined, `invalid JSON: ${(error as Error).message}`);
    }
    const list = Array.isArray(data) ? data : (data as { points?: unknown }).points;
    if (!Array.isArray(list)) throw new DataError(file, 0, undefined, 'expected an array of records or an object with a "points" array');
    // For JSON the "line" is the 1-based record number.
    return list.map((record, i) => ({ record, line: i + 1 }));
  }
  if (lower.endsWith('.csv')) {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true });
    } catch (error) {
      throw new DataError(file, 0, undefined, `invalid CSV: ${(error as Error).message}`);
    }
    // Data rows start on line 2 (after the header); this holds for files without quoted newlines.
    return rows.map((record, i) => ({ record: Object.fromEntries(Object.entries(record).filter(([, v]) => v !== '')), line: i + 2 }));
  }
  throw new DataError(file, 0, undefined, 'unknown results format: use .jsonl, .json or .csv');
}

/** Reads a results file into law points for `metric` (e.g. `ndcg@10`). */
export function readLawPoints(file: string, metric: string): LawPoint[] {
  const records = readResultRecords(file);
  if (records.length === 0) throw new DataError(file, 0, undefined, 'no records');
  return records.map(({ record, line }) => recordToPoint(record, metric, { file, line }));
}
