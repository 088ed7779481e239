/**
 * Generic logs with a column mapping: CSV, TSV (any delimiter), JSON Lines and Parquet.
 *
 * `columns` maps roles to column names (or 0-based indices for headerless CSV): `user`, `item`,
 * optional `rating` and `timestamp`; every other key is a side column: `item:<name>` or
 * `user:<name>` (`<name>` alone means an item column). Without `columns`, common names are
 * recognised (`user_id`, `userId`, `item_id`, `movieId`, `asin`, `rating`, `timestamp`, …);
 * headerless CSV defaults to user, item[, rating[, timestamp]].
 *
 * Times are seconds since the epoch; `timeUnit: 'ms'` divides by 1000; with `auto` (the default)
 * text such as `2021-03-04T05:06:07Z` is parsed as an ISO date. Quoted CSV is handled by
 * csv-parse; unquoted files take the byte-level fast path.
 */
import { basename } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet';
import type { Compressors } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { tokenizeCsv, tokenizeFile } from '../tokenize.ts';
import { DataError, preview } from '../errors.ts';
import { EventBuilder, SideBuilder } from '../builder.ts';
import type { Dataset } from '../types.ts';
import { capacityFor, findColumn, readDelimitedEvents, requireEvents, ROLE_NAMES, sourceFingerprint } from './common.ts';
import type { Layout, ReaderContext, TimeUnit } from './common.ts';
import { formatBytes, LimitExceeded, RATIO_FLOOR_BYTES, raiseHint, resolveLimits } from '../source.ts';
import type { ReadLimits } from '../source.ts';

/** The column mapping of a DataSpec. */
export interface ColumnMap {
  user: string;
  item: string;
  rating?: string;
  timestamp?: string;
  [side: string]: string | undefined;
}

export interface TabularOptions {
  columns?: Partial<ColumnMap>;
  /** Field separator (csv: `,`, tsv: tab). `whitespace` splits on runs of spaces/tabs. */
  delimiter?: string;
  /** Whether the first row names the columns (default: detected from the names). */
  header?: boolean;
  timeUnit?: TimeUnit;
  encoding?: 'utf8' | 'latin1';
}

const ROLE_KEYS = new Set(['user', 'item', 'rating', 'timestamp']);

/** Side columns of a mapping: `[target, sideName, sourceColumn]`. */
function sideColumns(columns: Partial<ColumnMap> | undefined): { target: 'user' | 'item'; name: string; column: string }[] {
  const out: { target: 'user' | 'item'; name: string; column: string }[] = [];
  for (const [key, column] of Object.entries(columns ?? {})) {
    if (ROLE_KEYS.has(key) || column === undefined) continue;
    if (key.startsWith('user:')) out.push({ target: 'user', name: key.slice(5), column });
    else if (key.startsWith('item:')) out.push({ target: 'item', name: key.slice(5), column });
    else out.push({ target: 'item', name: key, column });
  }
  return out;
}

const TEXT_NAME = /title|name|description|text|review|summary|url/i;

/** Reads a delimited log (csv, tsv or any delimiter). */
export async function readDelimitedLog(
  source: string,
  format: 'csv' | 'tsv',
  options: TabularOptions = {},
  ctx: ReaderContext = {},
): Promise<Dataset> {
  const label = basename(source);
  const delimiter = options.delimiter ?? (format === 'tsv' ? '\t' : ',');
  const fingerprint =
    ctx.fingerprint ??
    sourceFingerprint(format, [source], { columns: options.columns ?? null, delimiter, header: options.header ?? null, timeUnit: options.timeUnit ?? 'auto' });
  // First row: header or data?
  let first: string[] | null = null;
  await tokenizeCsv(source, { delimiter: delimiter === 'whitespace' ? ' ' : delimiter, label, encoding: options.encoding, limits: ctx.limits }, (f) => {
    first = Array.from({ length: f.count }, (_, k) => f.text(k));
    return false;
  });
  if (first === null) throw new DataError(label, 0, undefined, 'no interactions found (empty file?)');
  const row: string[] = first;
  const cols = options.columns ?? {};
  const byIndex = (c: string | undefined): boolean => c !== undefined && /^\d+$/.test(c);
  const namedColumns = Object.values(cols).some((c) => c !== undefined && !byIndex(c));
  const header =
    options.header ??
    (namedColumns || findColumn(row, ROLE_NAMES.user) >= 0 || findColumn(row, ROLE_NAMES.item) >= 0);
  const resolve = (role: string, given: string | undefined, candidates: readonly string[] | null, fallback: number): number => {
    if (given !== undefined) {
      if (byIndex(given) && !header) return Number(given);
      const k = header ? row.findIndex((h) => h.trim() === given) : -1;
      if (k < 0) {
        throw new DataError(label, 1, given, header ? `no such column for ${role} in the header (${row.map((h) => h.trim()).join(', ')})` : `the file has no header: give ${role} as a 0-based column index`);
      }
      return k;
    }
    if (header) {
      const k = candidates ? findColumn(row, candidates) : -1;
      if (k < 0 && (role === 'user' || role === 'item')) {
        throw new DataError(label, 1, role, `no ${role} column found in the header (${row.map((h) => h.trim()).join(', ')}): map it with columns.${role} / --columns ${role}=NAME`);
      }
      return k;
    }
    return fallback < row.length ? fallback : -1;
  };
  const user = resolve('user', cols.user, ROLE_NAMES.user, 0);
  const item = resolve('item', cols.item, ROLE_NAMES.item, 1);
  const value = resolve('rating', cols.rating, ROLE_NAMES.rating, 2);
  const time = resolve('timestamp', cols.timestamp, ROLE_NAMES.timestamp, 3);
  if (user < 0 || item < 0) throw new DataError(label, 1, user < 0 ? 'user' : 'item', 'column not found');
  const names = header ? row.map((h) => h.trim()) : row.map((_, k) => ['user', 'item', 'rating', 'timestamp'][k] ?? `column ${k}`);
  const sides = sideColumns(cols).map((s) => ({ ...s, index: resolve(s.name, s.column, null, -1) }));
  const userSide = new SideBuilder();
  const itemSide = new SideBuilder();
  for (const s of sides) (s.target === 'user' ? userSide : itemSide).declare(s.name, TEXT_NAME.test(s.name) ? 'text' : 'token');
  const layout: Layout = {
    user,
    item,
    time,
    value,
    names,
    required: Math.max(user, item, time, value) + 1,
    numericIds: false,
    timeUnit: options.timeUnit ?? 'auto',
    side: sides.map((s) => ({ index: s.index, target: s.target, name: s.name })),
  };
  const builder = new EventBuilder({ hasTime: time >= 0, hasValue: value >= 0, capacity: capacityFor(source, 24) });
  await readDelimitedEvents(
    source,
    { delimiter, skipRows: header ? 1 : 0, csvFallback: delimiter !== 'whitespace', encoding: options.encoding, label, limits: ctx.limits },
    layout,
    builder,
    { user: userSide, item: itemSide },
  );
  requireEvents(builder, label);
  return builder.finish({ name: ctx.name ?? stem(source), source, format, fingerprint, userSide, itemSide });
}

function stem(path: string): string {
  return basename(path).replace(/(\.(csv|tsv|txt|jsonl|json|ndjson|parquet|inter))?(\.gz)?$/i, '');
}

/** Gets `obj[path]`, following dots into nested objects when there is no such key. */
function getPath(obj: Record<string, unknown>, path: string): unknown {
  if (path in obj) return obj[path];
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function findKey(obj: Record<string, unknown>, candidates: readonly string[]): string | undefined {
  const keys = Object.keys(obj);
  const lower = keys.map((k) => k.toLowerCase());
  for (const c of candidates) {
    const k = lower.indexOf(c);
    if (k >= 0) return keys[k];
  }
  return undefined;
}

/** Converts a JSON/Parquet value to an id string. */
function idText(v: unknown, label: string, line: number, name: string): string {
  if (typeof v === 'string') {
    if (v === '') throw new DataError(label, line, name, 'empty id');
    return v;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return v.toString();
  throw new DataError(label, line, name, v === undefined || v === null ? 'missing' : `expected a string or number id, got ${preview(JSON.stringify(v) ?? String(v))}`);
}

function numberValue(v: unknown, label: string, line: number, name: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new DataError(label, line, name, `expected a number, got ${preview(JSON.stringify(v) ?? String(v))}`);
  return n;
}

function timeValue(v: unknown, unit: TimeUnit, label: string, line: number, name: string): number {
  if (v instanceof Date) return v.getTime() / 1000;
  if (typeof v === 'string' && unit === 'auto' && /^\d{4}-\d{2}-\d{2}/.test(v)) {
    const ms = Date.parse(v);
    if (ms === ms) return ms / 1000;
  }
  const n = numberValue(v, label, line, name);
  return unit === 'ms' ? n / 1000 : n;
}

/** A reader of records (JSON objects or Parquet rows) with a column mapping. */
class RecordSink {
  readonly builder: EventBuilder;
  readonly userSide = new SideBuilder();
  readonly itemSide = new SideBuilder();
  private roles: { user: string; item: string; rating?: string; timestamp?: string } | null = null;
  private sides: { target: 'user' | 'item'; name: string; column: string }[];

  constructor(
    readonly label: string,
    readonly options: TabularOptions,
    capacity: number,
    hasTime: boolean,
    hasValue: boolean,
  ) {
    this.builder = new EventBuilder({ hasTime, hasValue, capacity });
    this.sides = sideColumns(options.columns);
    for (const s of this.sides) (s.target === 'user' ? this.userSide : this.itemSide).declare(s.name, TEXT_NAME.test(s.name) ? 'text' : 'token');
  }

  /** Resolves role keys from the first record when not mapped. */
  resolve(first: Record<string, unknown>, line: number): { user: string; item: string; rating?: string; timestamp?: string } {
    const cols = this.options.columns ?? {};
    const user = cols.user ?? findKey(first, ROLE_NAMES.user);
    const item = cols.item ?? findKey(first, ROLE_NAMES.item);
    if (user === undefined) throw new DataError(this.label, line, 'user', `no user field found (keys: ${Object.keys(first).join(', ')}): map it with columns.user`);
    if (item === undefined) throw new DataError(this.label, line, 'item', `no item field found (keys: ${Object.keys(first).join(', ')}): map it with columns.item`);
    return { user, item, rating: cols.rating ?? findKey(first, ROLE_NAMES.rating), timestamp: cols.timestamp ?? findKey(first, ROLE_NAMES.timestamp) };
  }

  add(record: Record<string, unknown>, line: number): void {
    const roles = (this.roles ??= this.resolve(record, line));
    const b = this.builder;
    const u = b.users.text(idText(getPath(record, roles.user), this.label, line, roles.user));
    const rawItem = idText(getPath(record, roles.item), this.label, line, roles.item);
    const i = b.items.text(rawItem);
    if (roles.timestamp !== undefined) b.hasTime = true;
    const t = roles.timestamp !== undefined ? timeValue(getPath(record, roles.timestamp), this.options.timeUnit ?? 'auto', this.label, line, roles.timestamp) : NaN;
    const v = roles.rating !== undefined && b.hasValue ? numberValue(getPath(record, roles.rating), this.label, line, roles.rating) : 1;
    b.add(u, i, t, v);
    for (const s of this.sides) {
      const val = getPath(record, s.column);
      if (val === undefined || val === null || val === '') continue;
      const raw = s.target === 'user' ? String(getPath(record, roles.user)) : rawItem;
      (s.target === 'user' ? this.userSide : this.itemSide).set(raw, s.name, typeof val === 'object' ? JSON.stringify(val) : String(val));
    }
  }
}

/** Reads JSON Lines (one object per line; `.gz` transparently). */
export async function readJsonl(source: string, options: TabularOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  const label = basename(source);
  const fingerprint = ctx.fingerprint ?? sourceFingerprint('jsonl', [source], { columns: options.columns ?? null, timeUnit: options.timeUnit ?? 'auto' });
  const hasValue = options.columns ? options.columns.rating !== undefined : true;
  const sink = new RecordSink(label, options, capacityFor(source, 80), false, hasValue);
  let valueChecked = options.columns !== undefined;
  await tokenizeFile(source, { delimiter: '\n', label, limits: ctx.limits }, (f, line) => {
    const record = parseJsonLine(f.text(0), label, line);
    if (!valueChecked) {
      valueChecked = true;
      if (findKey(record, ROLE_NAMES.rating) === undefined) sink.builder.dropValues();
    }
    sink.add(record, line);
  });
  requireEvents(sink.builder, label);
  return sink.builder.finish({ name: ctx.name ?? stem(source), source, format: 'jsonl', fingerprint, userSide: sink.userSide, itemSide: sink.itemSide });
}

/** Parses one JSON object line with file/line context. */
export function parseJsonLine(text: string, label: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DataError(label, line, undefined, `invalid JSON (${(error as Error).message}): ${preview(text)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DataError(label, line, undefined, `expected a JSON object, got ${preview(text)}`);
  return value as Record<string, unknown>;
}

/**
 * hyparquet's decompressors held to `limits`, counted over the whole file: a page is refused
 * before it is inflated when its declared size would take the total past
 * `maxDecompressedBytes`, or (past {@link RATIO_FLOOR_BYTES}) past `maxCompressionRatio` × the
 * compressed bytes so far; and refused after when it came out larger than declared.
 */
function boundedCompressors(limits: ReadLimits | undefined): Compressors {
  const { maxDecompressedBytes, maxCompressionRatio } = resolveLimits(limits);
  let bytesIn = 0;
  let bytesOut = 0;
  const bounded: Compressors = {};
  for (const [codec, inflate] of Object.entries(compressors) as [keyof Compressors, NonNullable<Compressors[keyof Compressors]>][]) {
    bounded[codec] = (input: Uint8Array, outputLength: number): Uint8Array => {
      bytesIn += input.length;
      bytesOut += outputLength;
      if (bytesOut > maxDecompressedBytes) {
        throw new LimitExceeded(`Parquet pages decompress to more than ${formatBytes(maxDecompressedBytes)} (maxDecompressedBytes): ${raiseHint('maxDecompressedBytes')}`);
      }
      if (bytesOut > RATIO_FLOOR_BYTES && bytesOut > maxCompressionRatio * bytesIn) {
        throw new LimitExceeded(`Parquet pages expand more than ${maxCompressionRatio} × (maxCompressionRatio): a decompression bomb? ${raiseHint('maxCompressionRatio')}`);
      }
      const page = inflate(input, outputLength);
      // zstd sizes its output from the frame, not from the declared length: hold it to that.
      if (page.length > outputLength) throw new LimitExceeded(`a ${codec} page decompressed to ${page.length} bytes, more than the ${outputLength} its header declares`);
      return page;
    };
  }
  return bounded;
}

/** Reads a Parquet file with hyparquet (snappy, gzip, zstd, brotli, lz4 through hyparquet-compressors), decompression bounded by `ctx.limits`. */
export async function readParquet(source: string, options: TabularOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  const label = basename(source);
  const fingerprint = ctx.fingerprint ?? sourceFingerprint('parquet', [source], { columns: options.columns ?? null, timeUnit: options.timeUnit ?? 'auto' });
  let file;
  let metadata;
  try {
    file = await asyncBufferFromFile(source);
    metadata = await parquetMetadataAsync(file);
  } catch (error) {
    throw new DataError(label, 0, undefined, `not a readable Parquet file (${(error as Error).message})`);
  }
  let names: string[];
  try {
    names = parquetSchema(metadata).children.map((c) => c.element.name);
  } catch (error) {
    throw new DataError(label, 0, undefined, `unreadable Parquet schema (${(error as Error).message})`);
  }
  const probe: Record<string, unknown> = Object.fromEntries(names.map((n) => [n, null]));
  const cols = options.columns ?? {};
  const user = cols.user ?? findKey(probe, ROLE_NAMES.user);
  const item = cols.item ?? findKey(probe, ROLE_NAMES.item);
  const rating = cols.rating ?? findKey(probe, ROLE_NAMES.rating);
  const timestamp = cols.timestamp ?? findKey(probe, ROLE_NAMES.timestamp);
  for (const [role, col] of [['user', user], ['item', item], ['rating', rating], ['timestamp', timestamp]] as const) {
    if (col !== undefined && !names.includes(col)) throw new DataError(label, 0, col, `no such column for ${role} (columns: ${names.join(', ')})`);
    if (col === undefined && (role === 'user' || role === 'item')) throw new DataError(label, 0, role, `no ${role} column found (columns: ${names.join(', ')}): map it with columns.${role}`);
  }
  const sides = sideColumns(cols);
  for (const s of sides) if (!names.includes(s.column)) throw new DataError(label, 0, s.column, `no such column (columns: ${names.join(', ')})`);
  const wanted = [...new Set([user!, item!, rating, timestamp, ...sides.map((s) => s.column)].filter((c): c is string => c !== undefined))];
  const mapped = { ...cols, user: user!, item: item!, rating, timestamp };
  const total = Number(metadata.num_rows);
  const sink = new RecordSink(label, { ...options, columns: mapped }, total + 1, timestamp !== undefined, rating !== undefined);
  const bounded = boundedCompressors(ctx.limits);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[] = [];
    try {
      await parquetRead({ file, metadata, columns: wanted, rowStart, rowEnd, rowFormat: 'object', compressors: bounded, onComplete: (r) => (rows = r) });
    } catch (error) {
      if (error instanceof LimitExceeded) throw new DataError(label, rowStart + 1, undefined, `rows ${rowStart + 1}..${rowEnd}: ${error.reason}`);
      throw new DataError(label, rowStart + 1, undefined, `cannot decode Parquet rows ${rowStart + 1}..${rowEnd} (${(error as Error).message})`);
    }
    for (let k = 0; k < rows.length; k++) sink.add(rows[k], rowStart + k + 1);
    rowStart = rowEnd;
  }
  requireEvents(sink.builder, label);
  return sink.builder.finish({ name: ctx.name ?? stem(source), source, format: 'parquet', fingerprint, userSide: sink.userSide, itemSide: sink.itemSide });
}
