/**
 * Pieces shared by the readers: the per-row event loop over a delimited file, id and number
 * fields with file/line/field errors, column-name resolution and source fingerprints.
 */
import { statSync } from 'node:fs';
import { DataError, preview } from '../errors.ts';
import { EventBuilder, SideBuilder } from '../builder.ts';
import type { Interner } from '../builder.ts';
import { QuotedInput, tokenizeCsv, tokenizeFile } from '../tokenize.ts';
import type { Fields, RowHandler } from '../tokenize.ts';
import { canonicalJson, displayName, estimatedBytes, sha256File, sha256Text } from '../source.ts';
import type { ReadLimits } from '../source.ts';
import type { Dataset } from '../types.ts';

/** Options every reader accepts (besides its own, read from the DataSpec). */
export interface ReaderContext {
  /** Precomputed source fingerprint; computed from the files when absent. */
  fingerprint?: string;
  /** Dataset name (default: derived from the source). */
  name?: string;
  /** Bounds on line length and decompression for every file the reader reads (defaults: DEFAULT_LIMITS). */
  limits?: ReadLimits;
}

const hashMemo = new Map<string, string>();

/** SHA-256 of a file, memoized per (path, size, mtime) within the process. */
export function fileHash(path: string): string {
  const st = statSync(path);
  const key = `${path}\0${st.size}\0${st.mtimeMs}`;
  let hash = hashMemo.get(key);
  if (hash === undefined) {
    hash = sha256File(path);
    hashMemo.set(key, hash);
  }
  return hash;
}

/** Fingerprint of a source: reader format + its options + the content of every file it reads. */
export function sourceFingerprint(format: string, files: readonly string[], options: unknown): string {
  return sha256Text('reclab-source-v1', format, canonicalJson(options ?? {}), ...files.map((f) => `${displayName(f)}:${fileHash(f)}`));
}

/** Reads an id field into `interner`. `numeric` ids must be canonical non-negative integers. */
export function idField(f: Fields, i: number, interner: Interner, label: string, line: number, name: string, numeric: boolean): number {
  const n = f.canonicalInt(i);
  if (n >= 0) return interner.number(n);
  const text = f.text(i);
  if (text === '') throw new DataError(label, line, name, 'empty id');
  if (numeric) {
    // Accept "007"-style ids? No: they would silently differ from "7". Say what was found.
    throw new DataError(label, line, name, `expected a non-negative integer id, got ${preview(text)}`);
  }
  return interner.text(text);
}

/** A required number field. */
export function numberField(f: Fields, i: number, label: string, line: number, name: string): number {
  const v = f.number(i);
  if (v !== v || !Number.isFinite(v)) throw new DataError(label, line, name, `expected a number, got ${preview(f.text(i))}`);
  return v;
}

/** How a time column is read. */
export type TimeUnit = 's' | 'ms' | 'auto';

/**
 * A time field in seconds: numbers are seconds (or milliseconds with unit `ms`); with `auto`,
 * text that is not a number is parsed as an ISO-8601 date.
 */
export function timeField(f: Fields, i: number, label: string, line: number, name: string, unit: TimeUnit): number {
  const v = f.number(i);
  if (v === v && Number.isFinite(v)) return unit === 'ms' ? v / 1000 : v;
  if (unit === 'auto') {
    const text = f.text(i);
    const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
    if (ms === ms) return ms / 1000;
    throw new DataError(label, line, name, `expected a timestamp (seconds since epoch or ISO date), got ${preview(text)}`);
  }
  throw new DataError(label, line, name, `expected a timestamp in ${unit === 'ms' ? 'milliseconds' : 'seconds'}, got ${preview(f.text(i))}`);
}

/** Error for a row with too few fields, naming the first missing one and the separator. */
export function missingField(label: string, line: number, f: Fields, names: readonly string[], delimiter: string): DataError {
  const missing = names[f.count] ?? `#${f.count + 1}`;
  const sep = delimiter === 'whitespace' ? 'spaces/tabs' : JSON.stringify(delimiter);
  let reason = `missing: expected ${names.length} fields (${names.join(', ')}) separated by ${sep}, found ${f.count}`;
  if (f.count === 1) reason += ` — is the separator right? the line reads ${preview(f.text(0))}`;
  else reason += ' (truncated line?)';
  return new DataError(label, line, missing, reason);
}

/** Where each role sits in a delimited row (0-based field indices; -1 = absent). */
export interface Layout {
  user: number;
  item: number;
  time: number;
  value: number;
  /** Names of the fields in order, for error messages. The row must have at least `required` fields. */
  names: string[];
  required: number;
  numericIds: boolean;
  timeUnit: TimeUnit;
  /** Extra columns copied into side tables (first value per id wins). */
  side?: { index: number; target: 'user' | 'item'; name: string }[];
}

/** Reads events from a delimited file into `builder` with `layout`. Skips `skipRows` leading non-empty rows (headers). */
export async function readDelimitedEvents(
  path: string,
  options: { delimiter: string; encoding?: 'utf8' | 'latin1'; skipRows?: number; csvFallback?: boolean; label?: string; limits?: ReadLimits },
  layout: Layout,
  builder: EventBuilder,
  sides?: { user?: SideBuilder; item?: SideBuilder },
): Promise<void> {
  const label = options.label ?? displayName(path);
  const { user, item, time, value, names, required, numericIds, timeUnit } = layout;
  const side = layout.side ?? [];
  const users = builder.users;
  const items = builder.items;
  const delimiter = options.delimiter;
  let skip = options.skipRows ?? 0;
  const nSide = side.length;
  const ms = timeUnit === 'ms';
  const onRow: RowHandler = (f, line) => {
    if (skip > 0) {
      skip--;
      return;
    }
    if (f.count < required) throw missingField(label, line, f, names, delimiter);
    // Fast paths inline; the helpers handle everything else (and the errors).
    let k = f.canonicalInt(user);
    const u = k >= 0 ? users.number(k) : idField(f, user, users, label, line, names[user], numericIds);
    k = f.canonicalInt(item);
    const i = k >= 0 ? items.number(k) : idField(f, item, items, label, line, names[item], numericIds);
    let t = NaN;
    if (time >= 0) {
      t = f.number(time);
      if (t !== t || t === Infinity || t === -Infinity) t = timeField(f, time, label, line, names[time], timeUnit);
      else if (ms) t /= 1000;
    }
    let v = 1;
    if (value >= 0) {
      v = f.number(value);
      if (v !== v || v === Infinity || v === -Infinity) v = numberField(f, value, label, line, names[value]);
    }
    builder.add(u, i, t, v);
    for (let s = 0; s < nSide; s++) {
      const sc = side[s];
      if (sc.index >= f.count || f.isEmpty(sc.index)) continue;
      const target = sc.target === 'user' ? sides?.user : sides?.item;
      const raw = sc.target === 'user' ? f.text(user) : f.text(item);
      target?.set(raw, sc.name, f.text(sc.index));
    }
  };
  const csv = options.csvFallback ?? false;
  try {
    await tokenizeFile(path, { delimiter, encoding: options.encoding, label, rejectQuotes: csv, limits: options.limits }, onRow);
  } catch (error) {
    if (!(error instanceof QuotedInput)) throw error;
    // Quoted CSV: start over with the full CSV parser.
    resetBuilder(builder);
    skip = options.skipRows ?? 0;
    await tokenizeCsv(path, { delimiter, label, encoding: options.encoding, limits: options.limits }, onRow);
  }
}

/** Empties a builder's events (its interners keep ids: harmless, the restart re-adds the same ids). */
function resetBuilder(builder: EventBuilder): void {
  builder.length = 0;
}

/** Initial capacity for a file of this size given an average bytes-per-line guess. */
export function capacityFor(path: string, bytesPerLine: number): number {
  try {
    return Math.ceil((estimatedBytes(path) / bytesPerLine) * 1.05) + 1024;
  } catch {
    return 1 << 16;
  }
}

/** Throws when a read produced no events. */
export function requireEvents(builder: EventBuilder, label: string): void {
  if (builder.length === 0) throw new DataError(label, 0, undefined, 'no interactions found (empty file?)');
}

/** Finds a header column by any of `candidates` (case-insensitive, ignoring a RecBole `:type` suffix). */
export function findColumn(header: readonly string[], candidates: readonly string[]): number {
  const norm = header.map((h) => h.split(':')[0].trim().toLowerCase());
  for (const c of candidates) {
    const k = norm.indexOf(c.toLowerCase());
    if (k >= 0) return k;
  }
  return -1;
}

/** Common names of the four roles in logs seen in the wild. */
export const ROLE_NAMES = {
  user: ['user', 'user_id', 'userid', 'uid', 'reviewerid', 'visitorid', 'customer_id', 'session_id'],
  item: ['item', 'item_id', 'itemid', 'iid', 'movieid', 'movie_id', 'parent_asin', 'asin', 'product_id', 'productid', 'article_id'],
  rating: ['rating', 'score', 'overall', 'value', 'weight'],
  timestamp: ['timestamp', 'time', 'ts', 'unixreviewtime', 'datetime', 'date', 'event_time'],
} as const;

export type { Dataset };
export { EventBuilder, SideBuilder, DataError };
