/**
 * Amazon review dumps (McAuley lab), in the shapes they are distributed:
 *
 * - ratings-only CSV: 2014 `ratings_<Cat>.csv` (`user,item,rating,timestamp`, no header),
 *   2018 `<Cat>.csv` (`item,user,rating,timestamp`, no header), 2023 `<Cat>.csv` with a header
 *   (`user_id,parent_asin,rating,timestamp`, timestamps in milliseconds). Headerless column order
 *   is detected from which column holds ASIN-like ids (10 chars, `B0…` or ISBN), or given with
 *   `order: 'user-item' | 'item-user'`;
 * - reviews as JSON lines, gzip or not: 2014 / 2018 (`reviewerID`, `asin`, `overall`,
 *   `unixReviewTime` in seconds) and 2023 (`user_id`, `parent_asin`, `asin`, `rating`,
 *   `timestamp` in milliseconds; the item is `parent_asin` unless `item: 'asin'`).
 *
 * Item metadata (`meta` in the spec: `meta_<Cat>.json(.gz)`; JSON lines, or the 2014 Python-literal
 * lines) adds `title`, `brand` and `categories` side columns.
 */
import { basename } from 'node:path';
import { tokenizeFile } from '../tokenize.ts';
import { DataError, preview } from '../errors.ts';
import { EventBuilder, SideBuilder } from '../builder.ts';
import type { Dataset } from '../types.ts';
import { capacityFor, readDelimitedEvents, requireEvents, sourceFingerprint } from './common.ts';
import type { ReaderContext } from './common.ts';
import { parsePythonLiteral } from './pyliteral.ts';
import type { ReadLimits } from '../source.ts';

export interface AmazonOptions {
  /** Headerless CSV column order (default: detected). */
  order?: 'user-item' | 'item-user';
  /** 2023 dumps: which id is the item (default `parent_asin`). */
  item?: 'asin' | 'parent_asin';
  /** Item metadata file. */
  meta?: string;
}

const ASIN = /^(B[0-9A-Z]{9}|\d{9}[\dX])$/;

async function sniffCsv(path: string, limits: ReadLimits | undefined): Promise<{ header: string[] | null; order: 'user-item' | 'item-user'; empty: boolean }> {
  let header: string[] | null = null;
  let rows = 0;
  const asinLike = [0, 0];
  await tokenizeFile(path, { delimiter: ',', limits }, (f) => {
    if (rows === 0 && f.count >= 3 && Number.isNaN(f.number(2))) {
      header = Array.from({ length: f.count }, (_, k) => f.text(k).trim());
      rows++;
      return true;
    }
    if (f.count >= 2) {
      if (ASIN.test(f.text(0))) asinLike[0]++;
      if (ASIN.test(f.text(1))) asinLike[1]++;
    }
    return ++rows < 2000;
  });
  return { header, order: asinLike[0] > asinLike[1] ? 'item-user' : 'user-item', empty: rows === 0 };
}

export async function readAmazon(source: string, options: AmazonOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  const label = basename(source);
  const limits = ctx.limits;
  const isCsv = /\.csv(\.gz)?$/i.test(source);
  const files = options.meta ? [source, options.meta] : [source];
  const fingerprint = ctx.fingerprint ?? sourceFingerprint('amazon', files, { order: options.order ?? null, item: options.item ?? null });
  let builder: EventBuilder;
  if (isCsv) {
    const sniff = await sniffCsv(source, limits);
    if (sniff.empty) throw new DataError(label, 0, undefined, 'no interactions found (empty file?)');
    builder = new EventBuilder({ hasTime: true, hasValue: true, capacity: capacityFor(source, 40) });
    if (sniff.header) {
      const h = sniff.header.map((x) => x.toLowerCase());
      const user = h.indexOf('user_id');
      let item = h.indexOf(options.item ?? 'parent_asin');
      if (item < 0) item = h.indexOf('asin');
      const value = h.indexOf('rating');
      const time = h.indexOf('timestamp');
      if (user < 0 || item < 0 || value < 0 || time < 0) {
        throw new DataError(label, 1, undefined, `unrecognised header ${preview(sniff.header.join(','), 80)}: expected user_id,parent_asin,rating,timestamp`);
      }
      await readDelimitedEvents(source, { delimiter: ',', skipRows: 1, csvFallback: true, limits }, {
        user, item, value, time, names: sniff.header, required: Math.max(user, item, value, time) + 1, numericIds: false, timeUnit: 'ms',
      }, builder);
    } else {
      const order = options.order ?? sniff.order;
      const names = order === 'user-item' ? ['user', 'item', 'rating', 'timestamp'] : ['item', 'user', 'rating', 'timestamp'];
      await readDelimitedEvents(source, { delimiter: ',', csvFallback: true, limits }, {
        user: order === 'user-item' ? 0 : 1, item: order === 'user-item' ? 1 : 0, value: 2, time: 3, names, required: 4, numericIds: false, timeUnit: 's',
      }, builder);
    }
  } else {
    builder = new EventBuilder({ hasTime: true, hasValue: true, capacity: capacityFor(source, 400) });
    const users = builder.users;
    const items = builder.items;
    await tokenizeFile(source, { delimiter: '\n', label, limits }, (f, line) => {
      const r = parseRecord(f.text(0), label, line);
      const is2023 = r.user_id !== undefined;
      const userKey = is2023 ? 'user_id' : 'reviewerID';
      const itemKey = is2023 ? (options.item === 'asin' ? 'asin' : r.parent_asin !== undefined ? 'parent_asin' : 'asin') : 'asin';
      const ratingKey = is2023 ? 'rating' : 'overall';
      const u = users.text(stringField(r, userKey, label, line));
      const i = items.text(stringField(r, itemKey, label, line));
      const v = numberOf(r, ratingKey, label, line);
      let t: number;
      if (is2023) t = numberOf(r, 'timestamp', label, line) / 1000;
      else if (r.unixReviewTime !== undefined) t = numberOf(r, 'unixReviewTime', label, line);
      else t = reviewTime(r, label, line);
      builder.add(u, i, t, v);
    });
  }
  requireEvents(builder, label);
  const itemSide = options.meta ? await readMeta(options.meta, options.item, limits) : undefined;
  return builder.finish({ name: ctx.name ?? basename(source).replace(/(\.(csv|json|jsonl))?(\.gz)?$/i, ''), source, format: 'amazon', fingerprint, itemSide });
}

/** One line: JSON, or (2014 dumps) a Python literal. */
function parseRecord(text: string, label: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    try {
      value = parsePythonLiteral(text);
    } catch (error) {
      throw new DataError(label, line, undefined, `neither JSON nor a Python dict literal (${(error as Error).message}): ${preview(text)}`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DataError(label, line, undefined, `expected an object, got ${preview(text)}`);
  return value as Record<string, unknown>;
}

function stringField(r: Record<string, unknown>, key: string, label: string, line: number): string {
  const v = r[key];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number') return String(v);
  throw new DataError(label, line, key, v === undefined ? 'missing' : `expected a non-empty string, got ${preview(JSON.stringify(v) ?? '')}`);
}

function numberOf(r: Record<string, unknown>, key: string, label: string, line: number): number {
  const v = r[key];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new DataError(label, line, key, v === undefined ? 'missing' : `expected a number, got ${preview(JSON.stringify(v) ?? '')}`);
  return n;
}

/** 2014 `reviewTime` "MM DD, YYYY" when `unixReviewTime` is absent. */
function reviewTime(r: Record<string, unknown>, label: string, line: number): number {
  const m = typeof r.reviewTime === 'string' ? /^(\d{1,2}) (\d{1,2}), (\d{4})$/.exec(r.reviewTime) : null;
  if (!m) throw new DataError(label, line, 'unixReviewTime', 'missing (and no reviewTime "MM DD, YYYY")');
  return Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2])) / 1000;
}

async function readMeta(path: string, itemKey: AmazonOptions['item'], limits: ReadLimits | undefined): Promise<SideBuilder> {
  const label = basename(path);
  const side = new SideBuilder();
  side.declare('title', 'text');
  side.declare('brand', 'token');
  side.declare('categories', 'token_seq');
  await tokenizeFile(path, { delimiter: '\n', label, limits }, (f, line) => {
    const r = parseRecord(f.text(0), label, line);
    const idKey = r.parent_asin !== undefined && itemKey !== 'asin' ? 'parent_asin' : 'asin';
    const id = stringField(r, idKey, label, line);
    if (typeof r.title === 'string') side.set(id, 'title', r.title);
    const brand = r.brand ?? r.store;
    if (typeof brand === 'string' && brand !== '') side.set(id, 'brand', brand);
    const cats = r.categories ?? r.category;
    if (Array.isArray(cats)) {
      // 2014: [[path…], …]; 2018/2023: [c1, c2, …]
      const flat = cats.flat(2).filter((c): c is string => typeof c === 'string' && c !== '');
      side.set(id, 'categories', [...new Set(flat)]);
    } else if (typeof r.main_category === 'string') side.set(id, 'categories', [r.main_category]);
  });
  return side;
}
