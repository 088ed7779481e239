/**
 * The reader table and format detection. `readSource(path, format, options)` turns one source
 * into one unprepared {@link Dataset}.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataError } from '../errors.ts';
import { tokenizeFile } from '../tokenize.ts';
import { requirePath, statPath } from '../source.ts';
import type { ReadLimits } from '../source.ts';
import type { Dataset } from '../types.ts';
import type { ReaderContext } from './common.ts';
import { readMl100k, readMl1m, readMl20m } from './movielens.ts';
import { readSasrec } from './sasrec.ts';
import { readRecbole } from './recbole.ts';
import { readAmazon } from './amazon.ts';
import { readDelimitedLog, readJsonl, readParquet } from './tabular.ts';

/** File formats with a reader. */
export const FILE_FORMATS = ['ml-100k', 'ml-1m', 'ml-20m', 'sasrec', 'sasrec-lines', 'recbole', 'amazon', 'csv', 'tsv', 'jsonl', 'parquet'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

/** Other names accepted for a format. */
const ALIASES: Record<string, FileFormat> = {
  'ml-10m': 'ml-1m',
  'ml-25m': 'ml-20m',
  'ml-32m': 'ml-20m',
  'ml-latest': 'ml-20m',
  'ml-latest-small': 'ml-20m',
  movielens: 'ml-20m',
  json: 'jsonl',
  ndjson: 'jsonl',
  'sasrec-pairs': 'sasrec',
  atomic: 'recbole',
};

/** Canonical format name of `format` (throws on unknown names). */
export function canonicalFormat(format: string): FileFormat {
  const f = format.toLowerCase();
  if ((FILE_FORMATS as readonly string[]).includes(f)) return f as FileFormat;
  const alias = ALIASES[f];
  if (alias) return alias;
  throw new DataError(format, 0, undefined, `unknown format; known: ${[...FILE_FORMATS, 'synthetic', 'auto'].join(', ')}`);
}

/** Reader options a DataSpec may carry (all optional). */
export interface ReaderOptions {
  columns?: { user?: string; item?: string; rating?: string; timestamp?: string; [side: string]: string | undefined };
  delimiter?: string;
  header?: boolean;
  timeUnit?: 's' | 'ms' | 'auto';
  encoding?: 'utf8' | 'latin1';
  items?: string;
  users?: string;
  order?: 'user-item' | 'item-user';
  item?: 'asin' | 'parent_asin';
  meta?: string;
}

/** Reads `source` with the reader of `format`; `ctx.limits` bounds every file it reads (see {@link ReadLimits}). */
export async function readSource(source: string, format: FileFormat, options: ReaderOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  requirePath(source);
  switch (format) {
    case 'ml-100k':
      return readMl100k(source, options, ctx);
    case 'ml-1m':
      return readMl1m(source, options, ctx);
    case 'ml-20m':
      return readMl20m(source, options, ctx);
    case 'sasrec':
      return readSasrec(source, { layout: 'auto' }, ctx);
    case 'sasrec-lines':
      return readSasrec(source, { layout: 'lines' }, ctx);
    case 'recbole':
      return readRecbole(source, { columns: options.columns }, ctx);
    case 'amazon':
      return readAmazon(source, { order: options.order, item: options.item, meta: options.meta }, ctx);
    case 'csv':
    case 'tsv':
      return readDelimitedLog(source, format, tabular(options), ctx);
    case 'jsonl':
      return readJsonl(source, tabular(options), ctx);
    case 'parquet':
      return readParquet(source, tabular(options), ctx);
  }
}

function tabular(options: ReaderOptions) {
  return {
    columns: options.columns as { user: string; item: string } | undefined,
    delimiter: options.delimiter,
    header: options.header,
    timeUnit: options.timeUnit,
    encoding: options.encoding,
  };
}

/**
 * Reads `path` up to its first non-empty line within `limits`: throws when that line is over
 * `maxLineBytes` or holds a NUL byte. Costs one chunk; lets a caller refuse a binary or
 * line-less file before doing anything proportional to its size (such as hashing it).
 */
export async function probeText(path: string, limits?: ReadLimits): Promise<void> {
  await firstLine(path, limits);
}

/** First non-empty line of a file as text ('' when none). */
async function firstLine(path: string, limits: ReadLimits | undefined): Promise<string> {
  let text = '';
  await tokenizeFile(path, { delimiter: '\n', limits }, (f) => {
    text = f.text(0);
    return text.trim() === '';
  });
  return text;
}

/**
 * Guesses the format of `source` from file names and the first line. Folders: `u.data` →
 * ml-100k, `ratings.dat` → ml-1m, `ratings.csv` → ml-20m, `*.inter` → recbole.
 */
export async function detectFormat(source: string, limits?: ReadLimits): Promise<FileFormat> {
  if (requirePath(source).isDirectory()) {
    if (statPath(join(source, 'u.data'))) return 'ml-100k';
    if (statPath(join(source, 'ratings.dat'))) return 'ml-1m';
    if (statPath(join(source, 'ratings.csv'))) return 'ml-20m';
    if (readdirSync(source).some((f) => f.endsWith('.inter'))) return 'recbole';
    throw new DataError(source, 0, undefined, 'cannot tell the format of this folder (no u.data, ratings.dat, ratings.csv or *.inter): pass --format');
  }
  const name = basename(source).toLowerCase();
  if (name === 'u.data') return 'ml-100k';
  if (name === 'ratings.dat') return 'ml-1m';
  if (name === 'ratings.csv' && statPath(join(dirname(source), 'movies.csv'))) return 'ml-20m';
  if (name.endsWith('.inter')) return 'recbole';
  if (name.endsWith('.parquet')) return 'parquet';
  const line = await firstLine(source, limits);
  if (line.trim() === '') throw new DataError(basename(source), 0, undefined, 'empty file: nothing to read');
  if (/\.(jsonl|json|ndjson)(\.gz)?$/.test(name) || line.trimStart().startsWith('{')) {
    return /"(reviewerID|asin|parent_asin)"|'(reviewerID|asin)'/.test(line) ? 'amazon' : 'jsonl';
  }
  if (/\.tsv(\.gz)?$/.test(name)) return 'tsv';
  if (/\.csv(\.gz)?$/.test(name)) {
    const fields = line.split(',');
    const asin = /^(B[0-9A-Z]{9}|\d{9}[\dX])$/;
    if (fields.length === 4 && (asin.test(fields[0]) || asin.test(fields[1])) && !Number.isNaN(Number(fields[2]))) return 'amazon';
    if (/^user_id,parent_asin,rating,timestamp/.test(line)) return 'amazon';
    return 'csv';
  }
  if (line.includes('::')) return 'ml-1m';
  if (line.includes('\t') && line.trim().split('\t').length > 2) return 'tsv';
  if (/^\s*\d+([ \t]+\d+)+\s*$/.test(line)) return 'sasrec';
  if (line.includes('\t')) return 'tsv';
  if (line.includes(',')) return 'csv';
  throw new DataError(basename(source), 1, undefined, 'cannot tell the format from the name or the first line: pass --format');
}
