/**
 * SASRec-style sequence files, as distributed with SASRec, BERT4Rec, S3-Rec and their followers:
 *
 * - pairs: `user item` per line, whitespace-separated, each user's lines in time order
 *   (kang205/SASRec `data/ml-1m.txt`, BERT4Rec `beauty.txt`);
 * - lines: one user per line, `user i1 i2 … iN` in time order (S3-Rec `Beauty.txt`).
 *
 * Ids are integers. There are no timestamps: an event's time is its position in the file, so
 * the file order is the sequence order. `layout: 'auto'` (the default) picks `lines` when any of
 * the first 1000 non-empty lines has other than two fields.
 */
import { basename } from 'node:path';
import { tokenizeFile } from '../tokenize.ts';
import { EventBuilder } from '../builder.ts';
import type { Dataset } from '../types.ts';
import { capacityFor, idField, missingField, requireEvents, sourceFingerprint } from './common.ts';
import type { ReaderContext } from './common.ts';
import { DataError } from '../errors.ts';
import type { ReadLimits } from '../source.ts';

export interface SasrecOptions {
  layout?: 'auto' | 'pairs' | 'lines';
}

/** Looks at the first lines: `pairs` when every one has exactly two fields. */
export async function sniffSasrecLayout(path: string, limits?: ReadLimits): Promise<'pairs' | 'lines'> {
  let seen = 0;
  let pairs = true;
  await tokenizeFile(path, { delimiter: 'whitespace', limits }, (f) => {
    if (f.count !== 2) pairs = false;
    return ++seen < 1000 && pairs;
  });
  return pairs ? 'pairs' : 'lines';
}

export async function readSasrec(source: string, options: SasrecOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  const label = basename(source);
  const limits = ctx.limits;
  const layout = options.layout === undefined || options.layout === 'auto' ? await sniffSasrecLayout(source, limits) : options.layout;
  const format = layout === 'pairs' ? 'sasrec' : 'sasrec-lines';
  const fingerprint = ctx.fingerprint ?? sourceFingerprint('sasrec', [source], { layout });
  const builder = new EventBuilder({ hasTime: false, hasValue: false, capacity: capacityFor(source, layout === 'pairs' ? 9 : 5) });
  const users = builder.users;
  const items = builder.items;
  if (layout === 'pairs') {
    const names = ['user', 'item'];
    await tokenizeFile(source, { delimiter: 'whitespace', label, limits }, (f, line) => {
      if (f.count !== 2) {
        if (f.count < 2) throw missingField(label, line, f, names, 'whitespace');
        throw new DataError(label, line, undefined, `expected 2 fields (user item), found ${f.count}: is this a one-user-per-line file? use --format sasrec-lines`);
      }
      const u = idField(f, 0, users, label, line, 'user', true);
      const i = idField(f, 1, items, label, line, 'item', true);
      builder.add(u, i, NaN);
    });
  } else {
    await tokenizeFile(source, { delimiter: 'whitespace', label, limits }, (f, line) => {
      if (f.count < 2) return; // a user without items has no events
      const u = idField(f, 0, users, label, line, 'user', true);
      for (let k = 1; k < f.count; k++) {
        const i = idField(f, k, items, label, line, `item #${k}`, true);
        builder.add(u, i, NaN);
      }
    });
  }
  requireEvents(builder, label);
  return builder.finish({ name: ctx.name ?? basename(source).replace(/\.(txt|csv|tsv)(\.gz)?$/i, ''), source, format, fingerprint });
}
