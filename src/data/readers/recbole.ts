/**
 * RecBole atomic files: `<name>.inter`, `<name>.item`, `<name>.user`, tab-separated, with a
 * header of `field:type` (types `token`, `token_seq`, `float`, `float_seq`; sequences are
 * space-separated). Roles are found by field name — `user_id`, `item_id`, `rating`,
 * `timestamp` (RecBole's defaults) — or given with `columns`. Every other `.item` / `.user`
 * field becomes a side column of its declared type.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tokenizeFile } from '../tokenize.ts';
import type { Fields } from '../tokenize.ts';
import { DataError, preview } from '../errors.ts';
import { EventBuilder, SideBuilder } from '../builder.ts';
import type { Dataset, SideColumn } from '../types.ts';
import { capacityFor, readDelimitedEvents, requireEvents, sourceFingerprint } from './common.ts';
import type { ReaderContext } from './common.ts';
import { requirePath, statPath } from '../source.ts';
import type { ReadLimits } from '../source.ts';

export interface RecboleOptions {
  columns?: { user?: string; item?: string; rating?: string; timestamp?: string };
}

interface HeaderField {
  name: string;
  type: SideColumn['type'] | 'float';
}

const TYPES: Record<string, SideColumn['type']> = { token: 'token', token_seq: 'token_seq', float: 'float', float_seq: 'float_seq' };

async function readHeader(path: string, limits: ReadLimits | undefined): Promise<HeaderField[]> {
  const label = basename(path);
  let header: HeaderField[] | null = null;
  await tokenizeFile(path, { delimiter: '\t', limits }, (f: Fields, line) => {
    header = [];
    for (let k = 0; k < f.count; k++) {
      const text = f.text(k).trim();
      const colon = text.lastIndexOf(':');
      if (colon <= 0) throw new DataError(label, line, text || `#${k + 1}`, `RecBole header fields are name:type, got ${preview(text)}`);
      const type = TYPES[text.slice(colon + 1)];
      if (!type) throw new DataError(label, line, text.slice(0, colon), `unknown RecBole type ${preview(text.slice(colon + 1))} (token, token_seq, float, float_seq)`);
      header.push({ name: text.slice(0, colon), type });
    }
    return false;
  });
  if (!header) throw new DataError(label, 0, undefined, 'empty file: expected a RecBole header (field:type …)');
  return header;
}

/** The files the RecBole reader reads for `source` (.inter plus .item/.user beside it). */
export function recboleFiles(source: string): string[] {
  const inter = locate(source);
  const stem = inter.replace(/\.inter$/, '');
  return [inter, ...['.item', '.user'].map((e) => stem + e).filter((f) => statPath(f) !== undefined)];
}

/** Finds the `.inter` file for a source that is the file itself or its folder. */
function locate(source: string): string {
  if (!requirePath(source).isDirectory()) return source;
  const named = join(source, `${basename(source)}.inter`);
  if (statPath(named)) return named;
  const inters = readdirSync(source).filter((f) => f.endsWith('.inter'));
  if (inters.length === 1) return join(source, inters[0]);
  throw new DataError(source, 0, undefined, inters.length === 0 ? 'no .inter file in this folder' : `several .inter files here (${inters.join(', ')}): name one`);
}

export async function readRecbole(source: string, options: RecboleOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  const inter = locate(source);
  const label = basename(inter);
  const stem = inter.replace(/\.inter$/, '');
  const itemFile = statPath(`${stem}.item`) ? `${stem}.item` : undefined;
  const userFile = statPath(`${stem}.user`) ? `${stem}.user` : undefined;
  const limits = ctx.limits;
  const files = [inter, itemFile, userFile].filter((f): f is string => f !== undefined);
  const fingerprint = ctx.fingerprint ?? sourceFingerprint('recbole', files, options.columns ?? {});
  const header = await readHeader(inter, limits);
  const names = header.map((h) => h.name);
  const find = (wanted: string | undefined, fallback: string): number => names.indexOf(wanted ?? fallback);
  const userName = options.columns?.user ?? 'user_id';
  const itemName = options.columns?.item ?? 'item_id';
  const user = find(options.columns?.user, 'user_id');
  const item = find(options.columns?.item, 'item_id');
  if (user < 0) throw new DataError(label, 1, userName, `no such field in the header (${names.join(', ')})`);
  if (item < 0) throw new DataError(label, 1, itemName, `no such field in the header (${names.join(', ')})`);
  const value = find(options.columns?.rating, 'rating');
  const time = find(options.columns?.timestamp, 'timestamp');
  const builder = new EventBuilder({ hasTime: time >= 0, hasValue: value >= 0, capacity: capacityFor(inter, 24) });
  await readDelimitedEvents(
    inter,
    { delimiter: '\t', skipRows: 1, limits },
    { user, item, time, value, names, required: Math.max(user, item, time, value) + 1, numericIds: false, timeUnit: 's' },
    builder,
  );
  requireEvents(builder, label);
  const itemSide = itemFile ? await readSideFile(itemFile, itemName, limits) : undefined;
  const userSide = userFile ? await readSideFile(userFile, userName, limits) : undefined;
  return builder.finish({ name: ctx.name ?? basename(stem), source, format: 'recbole', fingerprint, itemSide, userSide });
}

async function readSideFile(path: string, idName: string, limits: ReadLimits | undefined): Promise<SideBuilder> {
  const label = basename(path);
  const header = await readHeader(path, limits);
  const id = header.findIndex((h) => h.name === idName);
  if (id < 0) throw new DataError(label, 1, idName, `no such field in the header (${header.map((h) => h.name).join(', ')})`);
  const side = new SideBuilder();
  header.forEach((h, k) => {
    if (k !== id) side.declare(h.name, h.type as SideColumn['type']);
  });
  let first = true;
  await tokenizeFile(path, { delimiter: '\t', limits }, (f, line) => {
    if (first) {
      first = false;
      return;
    }
    if (f.count <= id) throw new DataError(label, line, idName, `missing (found ${f.count} fields)`);
    const raw = f.text(id);
    for (let k = 0; k < header.length; k++) {
      if (k === id || k >= f.count) continue;
      const h = header[k];
      const text = f.text(k);
      if (text === '') continue;
      if (h.type === 'float') {
        const v = f.number(k);
        if (v !== v) throw new DataError(label, line, h.name, `expected a number, got ${preview(text)}`);
        side.set(raw, h.name, v);
      } else if (h.type === 'float_seq') {
        const parts = text.split(' ').filter((x) => x !== '').map(Number);
        if (parts.some((x) => Number.isNaN(x))) throw new DataError(label, line, h.name, `expected space-separated numbers, got ${preview(text)}`);
        side.set(raw, h.name, parts);
      } else if (h.type === 'token_seq') {
        side.set(raw, h.name, text.split(' ').filter((x) => x !== ''));
      } else {
        side.set(raw, h.name, text);
      }
    }
  });
  return side;
}

