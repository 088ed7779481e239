/**
 * What a CTR network reads: a batch of impressions as global feature ids (one id per
 * single-valued field, a bag of genre ids, the behaviour sequence as item and rating ids), the
 * dense user and item of each row (to look up knowledge vectors), and the label.
 */
import { yearBucket, type CtrDataset } from '../../data/ctr.ts';

/** The shape of the inputs, fixed for a model's lifetime (saved with it). */
export interface CtrSchema {
  /** Size of the global feature id space. */
  nFeatures: number;
  /** Single-valued fields per row. */
  nSingle: number;
  /** Column of the target item among the single-valued fields. */
  itemField: number;
  /** Field names (reports). */
  fieldNames: string[];
  nUsers: number;
  nItems: number;
}

/** A batch of n impressions. */
export interface CtrBatch {
  n: number;
  /** [n × nSingle] global feature ids. */
  cat: Int32Array;
  /** Genre bag of row r: genres[genreOff[r] … genreOff[r+1]). */
  genreOff: Int32Array;
  genres: Int32Array;
  /** Behaviour sequence of row r: histItem/histRating[histOff[r] … histOff[r+1]) (global ids, oldest first). */
  histOff: Int32Array;
  histItem: Int32Array;
  histRating: Int32Array;
  /** Dense user and item of each row. */
  user: Int32Array;
  item: Int32Array;
  /** Event index of each row in its data set (−1 when the batch was not built from one). */
  event: Int32Array;
  label: Float32Array;
}

/** The schema of a CTR data set. */
export function ctrSchema(ds: CtrDataset): CtrSchema {
  return {
    nFeatures: ds.nFeatures,
    nSingle: ds.fields.length,
    itemField: ds.fields.findIndex((f) => f.name === 'item'),
    fieldNames: [...ds.fields.map((f) => f.name), 'genres', 'history'],
    nUsers: ds.nUsers,
    nItems: ds.nItems,
  };
}

/** The batch of events `events` of `ds`. */
export function makeBatch(ds: CtrDataset, events: ArrayLike<number>): CtrBatch {
  const n = events.length;
  const F = ds.fields.length;
  const itemOff = ds.fields.find((f) => f.name === 'item')!.offset;
  const b: CtrBatch = {
    n,
    cat: new Int32Array(n * F),
    genreOff: new Int32Array(n + 1),
    genres: new Int32Array(0),
    histOff: new Int32Array(n + 1),
    histItem: new Int32Array(0),
    histRating: new Int32Array(0),
    user: new Int32Array(n),
    item: new Int32Array(n),
    event: Int32Array.from(events),
    label: new Float32Array(n),
  };
  let ng = 0;
  let nh = 0;
  for (let r = 0; r < n; r++) {
    const e = events[r];
    const i = ds.item[e];
    ng += ds.itemGenreOff[i + 1] - ds.itemGenreOff[i];
    nh += ds.histLen[e];
    b.genreOff[r + 1] = ng;
    b.histOff[r + 1] = nh;
  }
  b.genres = new Int32Array(ng);
  b.histItem = new Int32Array(nh);
  b.histRating = new Int32Array(nh);
  for (let r = 0; r < n; r++) {
    const e = events[r];
    const i = ds.item[e];
    b.cat.set(ds.cat.subarray(e * F, e * F + F), r * F);
    b.genres.set(ds.itemGenres.subarray(ds.itemGenreOff[i], ds.itemGenreOff[i + 1]), b.genreOff[r]);
    for (let k = 0; k < ds.histLen[e]; k++) {
      const p = ds.histStart[e] + k;
      b.histItem[b.histOff[r] + k] = itemOff + ds.seqItem[p];
      b.histRating[b.histOff[r] + k] = ds.ratingField.offset + ds.seqRating[p] - 1;
    }
    b.user[r] = ds.user[e];
    b.item[r] = i;
    b.label[r] = ds.label[e];
  }
  return b;
}

/**
 * The impressions a ranking request scores: the context of event `e` (its user fields and
 * behaviour sequence) with each candidate item in turn as the target (item id, year, genres).
 */
export function candidateBatch(ds: CtrDataset, e: number, candidates: ArrayLike<number>): CtrBatch {
  const n = candidates.length;
  const b = makeBatch(ds, Int32Array.from({ length: n }, () => e));
  const F = ds.fields.length;
  const itemCol = ds.fields.findIndex((f) => f.name === 'item');
  const yearCol = ds.fields.findIndex((f) => f.name === 'year');
  const genres: number[] = [];
  for (let r = 0; r < n; r++) {
    const i = candidates[r];
    b.cat[r * F + itemCol] = ds.fields[itemCol].offset + i;
    b.cat[r * F + yearCol] = ds.fields[yearCol].offset + yearBucket(ds.items[i].year);
    b.item[r] = i;
    b.event[r] = -1;
    for (let k = ds.itemGenreOff[i]; k < ds.itemGenreOff[i + 1]; k++) genres.push(ds.itemGenres[k]);
    b.genreOff[r + 1] = genres.length;
  }
  b.genres = Int32Array.from(genres);
  return b;
}
