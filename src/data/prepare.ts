/**
 * Preparation: the filters papers apply between the raw file and the split, in this order:
 *
 * 1. duplicates — repeated (user, item) pairs: keep the `first` (earliest), the `last` (latest),
 *    or `all` (default: the data is left as it is);
 * 2. rating threshold — `minRating`: keep events whose rating is ≥ the threshold (explicit →
 *    implicit feedback; the rating values are kept in `values`);
 * 3. k-core — drop users with fewer than `kCore.user` events and items with fewer than
 *    `kCore.item`, repeatedly, until both hold for everyone (iterative k-core, as in
 *    SASRec/S3-Rec "5-core"); `minSeqLen` is folded in as a user minimum in the same loop;
 * 4. re-indexing — users and items without events are dropped; surviving ids keep their order
 *    (which is raw-id order), so dense ids stay `0..n-1`.
 *
 * Each user's events keep their order (time, then source order for ties). The result's
 * fingerprint hashes the input fingerprint with the normalized options.
 */
import { IdMap } from './types.ts';
import type { Dataset, SideColumn, SideTable } from './types.ts';
import { DataError } from './errors.ts';
import { canonicalJson, sha256Text } from './source.ts';

export interface PrepareOptions {
  dedup?: 'first' | 'last' | 'all';
  minRating?: number;
  kCore?: number | { user: number; item: number };
  minSeqLen?: number;
}

/** Options with every default filled in: the form that is hashed and recorded. */
export interface NormalizedPrepare {
  dedup: 'first' | 'last' | 'all';
  minRating: number | null;
  kCore: { user: number; item: number };
  minSeqLen: number;
}

/** Fills defaults and checks ranges. */
export function normalizePrepare(o: PrepareOptions | NormalizedPrepare = {}): NormalizedPrepare {
  const dedup = o.dedup ?? 'all';
  if (!['first', 'last', 'all'].includes(dedup)) throw new RangeError(`prepare: dedup must be first, last or all, got ${String(dedup)}`);
  const k = o.kCore ?? 0;
  const kCore = typeof k === 'number' ? { user: k, item: k } : { user: k.user ?? 0, item: k.item ?? 0 };
  for (const [name, v] of [['kCore.user', kCore.user], ['kCore.item', kCore.item], ['minSeqLen', o.minSeqLen ?? 0]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`prepare: ${name} must be a non-negative integer, got ${v}`);
  }
  if (o.minRating != null && !Number.isFinite(o.minRating)) throw new RangeError(`prepare: minRating must be a number, got ${o.minRating}`);
  return { dedup, minRating: o.minRating ?? null, kCore, minSeqLen: o.minSeqLen ?? 0 };
}

/** What preparation removed. */
export interface PrepareReport {
  input: { users: number; items: number; interactions: number };
  duplicatesRemoved: number;
  belowRatingRemoved: number;
  kCoreRemoved: number;
  kCoreRounds: number;
  output: { users: number; items: number; interactions: number };
}

/** Applies {@link PrepareOptions} to `d`; see the file comment for the order of steps. */
export function prepare(d: Dataset, o: PrepareOptions | NormalizedPrepare): Dataset {
  return prepareWithReport(d, o).dataset;
}

/** {@link prepare}, also returning counts of what each step removed. */
export function prepareWithReport(d: Dataset, o: PrepareOptions | NormalizedPrepare): { dataset: Dataset; report: PrepareReport } {
  const opts = normalizePrepare(o);
  const n = d.offsets[d.nUsers];
  const keep = new Uint8Array(n).fill(1);
  const { offsets, items } = d;
  let duplicatesRemoved = 0;
  let belowRatingRemoved = 0;

  if (opts.dedup !== 'all') {
    const stamp = new Int32Array(d.nItems).fill(-1);
    for (let u = 0; u < d.nUsers; u++) {
      const s = offsets[u];
      const e = offsets[u + 1];
      if (opts.dedup === 'first') {
        for (let p = s; p < e; p++) {
          if (stamp[items[p]] === u) {
            keep[p] = 0;
            duplicatesRemoved++;
          } else stamp[items[p]] = u;
        }
      } else {
        for (let p = e - 1; p >= s; p--) {
          if (stamp[items[p]] === u) {
            keep[p] = 0;
            duplicatesRemoved++;
          } else stamp[items[p]] = u;
        }
      }
    }
  }

  if (opts.minRating !== null) {
    const values = d.values;
    if (!values) throw new DataError(d.name, 0, 'rating', 'this source has no ratings, so a rating threshold (minRating) does not apply');
    const min = opts.minRating;
    for (let p = 0; p < n; p++) {
      if (keep[p] && !(values[p] >= min)) {
        keep[p] = 0;
        belowRatingRemoved++;
      }
    }
  }

  const userMin = Math.max(opts.kCore.user, opts.minSeqLen, 1);
  const itemMin = Math.max(opts.kCore.item, 1);
  let kCoreRemoved = 0;
  let kCoreRounds = 0;
  if (userMin > 1 || itemMin > 1) {
    const userCount = new Int32Array(d.nUsers);
    const itemCount = new Int32Array(d.nItems);
    for (;;) {
      userCount.fill(0);
      itemCount.fill(0);
      for (let u = 0; u < d.nUsers; u++) {
        for (let p = offsets[u]; p < offsets[u + 1]; p++) {
          if (keep[p]) {
            userCount[u]++;
            itemCount[items[p]]++;
          }
        }
      }
      kCoreRounds++;
      let removed = 0;
      for (let u = 0; u < d.nUsers; u++) {
        const userLow = userCount[u] < userMin;
        for (let p = offsets[u]; p < offsets[u + 1]; p++) {
          if (keep[p] && (userLow || itemCount[items[p]] < itemMin)) {
            keep[p] = 0;
            removed++;
          }
        }
      }
      kCoreRemoved += removed;
      if (removed === 0) break;
    }
  }

  const dataset = compact(d, keep, opts);
  return {
    dataset,
    report: {
      input: { users: d.nUsers, items: d.nItems, interactions: n },
      duplicatesRemoved,
      belowRatingRemoved,
      kCoreRemoved,
      kCoreRounds,
      output: { users: dataset.nUsers, items: dataset.nItems, interactions: dataset.offsets[dataset.nUsers] },
    },
  };
}

/** Keeps the events with `keep[p] = 1`, drops users/items left without events and re-indexes. */
function compact(d: Dataset, keep: Uint8Array, opts: NormalizedPrepare): Dataset {
  const { offsets, items, times, values } = d;
  const itemNew = new Int32Array(d.nItems).fill(-1);
  for (let p = 0; p < keep.length; p++) if (keep[p]) itemNew[items[p]] = 0;
  const itemKeep: number[] = [];
  for (let i = 0; i < d.nItems; i++) {
    if (itemNew[i] === 0) {
      itemNew[i] = itemKeep.length;
      itemKeep.push(i);
    }
  }
  const userKeep: number[] = [];
  let total = 0;
  for (let u = 0; u < d.nUsers; u++) {
    let c = 0;
    for (let p = offsets[u]; p < offsets[u + 1]; p++) c += keep[p];
    if (c > 0) {
      userKeep.push(u);
      total += c;
    }
  }
  const nUsers = userKeep.length;
  const newOffsets = new Int32Array(nUsers + 1);
  const newItems = new Int32Array(total);
  const newTimes = new Float64Array(total);
  const newValues = values ? new Float32Array(total) : undefined;
  let q = 0;
  for (let k = 0; k < nUsers; k++) {
    const u = userKeep[k];
    for (let p = offsets[u]; p < offsets[u + 1]; p++) {
      if (!keep[p]) continue;
      newItems[q] = itemNew[items[p]];
      newTimes[q] = times[p];
      if (newValues) newValues[q] = values![p];
      q++;
    }
    newOffsets[k + 1] = q;
  }
  const userIdx = Int32Array.from(userKeep);
  const itemIdx = Int32Array.from(itemKeep);
  const prepJson = opts as unknown as Record<string, unknown>;
  return {
    name: d.name,
    nUsers,
    nItems: itemKeep.length,
    offsets: newOffsets,
    items: newItems,
    times: newTimes,
    values: newValues,
    userIds: IdMap.fromRaw(userKeep.map((u) => d.userIds.toRaw(u))),
    itemIds: IdMap.fromRaw(itemKeep.map((i) => d.itemIds.toRaw(i))),
    hasTime: d.hasTime,
    userSide: d.userSide ? subsetSide(d.userSide, userIdx) : undefined,
    itemSide: d.itemSide ? subsetSide(d.itemSide, itemIdx) : undefined,
    fingerprint: sha256Text('reclab-prepared-v1', d.fingerprint, canonicalJson(prepJson)),
    provenance: { ...d.provenance, preparation: { ...prepJson } },
  };
}

/** Rows `rows` (old ids, in new order) of a side table. */
export function subsetSide(table: SideTable, rows: Int32Array): SideTable {
  const n = rows.length;
  const columns: Record<string, SideColumn> = {};
  for (const [name, col] of Object.entries(table.columns)) {
    switch (col.type) {
      case 'token':
        columns[name] = { type: 'token', vocab: col.vocab, values: Int32Array.from(rows, (r) => col.values[r]) };
        break;
      case 'float':
        columns[name] = { type: 'float', values: Float64Array.from(rows, (r) => col.values[r]) };
        break;
      case 'text':
        columns[name] = { type: 'text', values: Array.from(rows, (r) => col.values[r]) };
        break;
      case 'token_seq':
      case 'float_seq': {
        const offsets = new Int32Array(n + 1);
        for (let k = 0; k < n; k++) offsets[k + 1] = offsets[k] + (col.offsets[rows[k] + 1] - col.offsets[rows[k]]);
        const values = col.type === 'token_seq' ? new Int32Array(offsets[n]) : new Float32Array(offsets[n]);
        for (let k = 0; k < n; k++) values.set(col.values.subarray(col.offsets[rows[k]], col.offsets[rows[k] + 1]), offsets[k]);
        columns[name] =
          col.type === 'token_seq'
            ? { type: 'token_seq', vocab: col.vocab, offsets, values: values as Int32Array }
            : { type: 'float_seq', offsets, values: values as Float32Array };
        break;
      }
    }
  }
  return { n, columns };
}
