/**
 * The CTR view of an explicit-rating data set: one row per rating event with feature fields and a
 * binary label (rating ≥ `minPositive`, 4 by default), split by time.
 *
 * Fields of MovieLens-100K (`u.data`, `u.user`, `u.item`):
 * - categorical: user id, gender, age (bucketed as ML-1M's 7 groups), occupation, zip prefix
 *   (first digit), item id, release year (bucketed by decade);
 * - multi-valued: the item's genres (19 flags of u.item);
 * - the behaviour sequence: the user's last `maxHistory` (30) rated items strictly before the
 *   event's timestamp, each with its rating.
 *
 * Every categorical value is a global feature id: field offset + value index, so one embedding
 * table (and one first-order weight table) serves all fields. History items use the item field's
 * ids; history ratings have their own field (`hist_rating`, values 1…5).
 *
 * Split: events sorted by (time, user, item); the first `trainQuantile` of them are train, the next
 * up to `validQuantile` are validation, the rest test — every test event is later than every
 * training event (ties at the boundary timestamp go to the earlier split).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One feature field. */
export interface CtrField {
  name: string;
  kind: 'categorical' | 'bucketed' | 'multi';
  /** Number of values (ids offset … offset + vocab − 1). */
  vocab: number;
  /** First global feature id of the field. */
  offset: number;
  /** Value names (for reports and the knowledge source). */
  values: string[];
}

/** Side information of one item (dense index). */
export interface CtrItemInfo {
  rawId: string;
  title: string;
  /** Release year, or null when u.item has no date. */
  year: number | null;
  genres: string[];
}

/** Side information of one user (dense index). */
export interface CtrUserInfo {
  rawId: string;
  age: number;
  gender: string;
  occupation: string;
  zip: string;
}

/** Options of {@link buildCtrMovieLens100k}. */
export interface CtrOptions {
  /** Label 1 when rating ≥ this (default 4). */
  minPositive?: number;
  /** History length (default 30). */
  maxHistory?: number;
  /** Fraction of events (by time) in train (default 0.8). */
  trainQuantile?: number;
  /** Fraction of events (by time) in train + validation (default 0.9). */
  validQuantile?: number;
}

/** The CTR data set. Event arrays are in time order; `split[e]` is 0 train, 1 validation, 2 test. */
export interface CtrDataset {
  name: string;
  source: string;
  options: Required<CtrOptions>;
  /** Single-valued fields, in the column order of {@link cat}. */
  fields: CtrField[];
  /** The multi-valued genre field. */
  genreField: CtrField;
  /** Rating tokens of the history (values 1…5 → ids offset + 0…4). */
  ratingField: CtrField;
  /** Size of the global feature id space. */
  nFeatures: number;
  nUsers: number;
  nItems: number;
  nEvents: number;
  /** Dense user / item of each event. */
  user: Int32Array;
  item: Int32Array;
  rating: Int8Array;
  time: Float64Array;
  label: Float32Array;
  split: Uint8Array;
  /** Global feature ids of the single-valued fields, [nEvents × fields.length]. */
  cat: Int32Array;
  /** Genre feature ids of each item: itemGenres[itemGenreOff[i] … itemGenreOff[i+1]). */
  itemGenreOff: Int32Array;
  itemGenres: Int32Array;
  /** Each user's events in time order: item and rating; user u owns seqOff[u] … seqOff[u+1]. */
  seqOff: Int32Array;
  seqItem: Int32Array;
  seqRating: Int8Array;
  seqTime: Float64Array;
  /** History of event e: positions histStart[e] … histStart[e] + histLen[e] of the user's sequence arrays. */
  histStart: Int32Array;
  histLen: Int32Array;
  items: CtrItemInfo[];
  users: CtrUserInfo[];
  /** Training events per item (the cold / rest split of reports uses < 5). */
  itemTrainCount: Int32Array;
  userTrainCount: Int32Array;
}

export const CTR_DEFAULTS: Required<CtrOptions> = { minPositive: 4, maxHistory: 30, trainQuantile: 0.8, validQuantile: 0.9 };

/** ML-1M's age groups, used for every MovieLens user table. */
const AGE_EDGES = [18, 25, 35, 45, 50, 56];
const AGE_NAMES = ['<18', '18-24', '25-34', '35-44', '45-49', '50-55', '56+'];
/** Decades of release; index 0 = unknown. */
const YEAR_NAMES = ['unknown', '<1940', '1940s', '1950s', '1960s', '1970s', '1980s', '1990s', '2000s+'];

/** Age group index of an age. */
export function ageBucket(age: number): number {
  let b = 0;
  while (b < AGE_EDGES.length && age >= AGE_EDGES[b]) b++;
  return b;
}

/** Decade bucket of a release year (0 = unknown). */
export function yearBucket(year: number | null): number {
  if (year === null) return 0;
  if (year < 1940) return 1;
  if (year >= 2000) return 8;
  return 2 + Math.floor((year - 1940) / 10);
}

function readLines(path: string): string[] {
  if (!existsSync(path)) throw new Error(`${path}: not found (the CTR view of ML-100K needs u.data, u.user and u.item)`);
  // u.item has a few Latin-1 titles
  return readFileSync(path, 'latin1').split('\n').filter((l) => l.trim() !== '');
}

/** Reads `dir/u.user` and `dir/u.item` (MovieLens-100K side tables), keyed by raw id. */
export function readMovieLens100kSide(dir: string): { users: Map<string, CtrUserInfo>; items: Map<string, CtrItemInfo>; genres: string[] } {
  const genrePath = join(dir, 'u.genre');
  const genres = existsSync(genrePath)
    ? readLines(genrePath).map((l) => l.split('|')[0])
    : ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'];
  const users = new Map<string, CtrUserInfo>();
  readLines(join(dir, 'u.user')).forEach((l, i) => {
    const f = l.split('|');
    if (f.length < 5) throw new Error(`${join(dir, 'u.user')}:${i + 1}: expected 5 fields "id|age|gender|occupation|zip", got ${f.length}`);
    const age = Number(f[1]);
    if (!Number.isFinite(age)) throw new Error(`${join(dir, 'u.user')}:${i + 1}: field age: not a number ("${f[1]}")`);
    users.set(f[0], { rawId: f[0], age, gender: f[2], occupation: f[3], zip: f[4].trim() });
  });
  const items = new Map<string, CtrItemInfo>();
  readLines(join(dir, 'u.item')).forEach((l, i) => {
    const f = l.split('|');
    if (f.length < 5 + genres.length) throw new Error(`${join(dir, 'u.item')}:${i + 1}: expected ${5 + genres.length} fields, got ${f.length}`);
    const m = /(\d{4})$/.exec(f[2].trim());
    const flags = f.slice(5, 5 + genres.length);
    items.set(f[0], {
      rawId: f[0],
      title: f[1].trim(),
      year: m ? Number(m[1]) : null,
      genres: genres.filter((_, g) => flags[g].trim() === '1'),
    });
  });
  return { users, items, genres };
}

/** Builds the CTR view of MovieLens-100K from the folder holding u.data, u.user and u.item. */
export function buildCtrMovieLens100k(dir: string, options: CtrOptions = {}): CtrDataset {
  const opt = { ...CTR_DEFAULTS, ...options };
  if (!(opt.trainQuantile > 0 && opt.trainQuantile < opt.validQuantile && opt.validQuantile < 1)) {
    throw new Error(`ctr options: need 0 < trainQuantile (${opt.trainQuantile}) < validQuantile (${opt.validQuantile}) < 1`);
  }
  const side = readMovieLens100kSide(dir);
  const dataPath = join(dir, 'u.data');
  const raw: { u: string; i: string; r: number; t: number }[] = [];
  readLines(dataPath).forEach((l, n) => {
    const f = l.split('\t');
    if (f.length < 4) throw new Error(`${dataPath}:${n + 1}: expected "user<TAB>item<TAB>rating<TAB>timestamp", got ${f.length} fields`);
    const r = Number(f[2]);
    const t = Number(f[3]);
    if (!Number.isInteger(r) || r < 1 || r > 5) throw new Error(`${dataPath}:${n + 1}: field rating: expected 1…5, got "${f[2]}"`);
    if (!Number.isFinite(t)) throw new Error(`${dataPath}:${n + 1}: field timestamp: not a number ("${f[3]}")`);
    if (!side.users.has(f[0])) throw new Error(`${dataPath}:${n + 1}: user ${f[0]} is not in u.user`);
    if (!side.items.has(f[1])) throw new Error(`${dataPath}:${n + 1}: item ${f[1]} is not in u.item`);
    raw.push({ u: f[0], i: f[1], r, t });
  });
  const num = (a: string, b: string): number => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);
  raw.sort((a, b) => a.t - b.t || num(a.u, b.u) || num(a.i, b.i));

  const userIds = [...side.users.keys()].sort(num);
  const itemIds = [...side.items.keys()].sort(num);
  const uIndex = new Map(userIds.map((u, k) => [u, k]));
  const iIndex = new Map(itemIds.map((i, k) => [i, k]));
  const users = userIds.map((u) => side.users.get(u)!);
  const items = itemIds.map((i) => side.items.get(i)!);

  // fields
  const genders = [...new Set(users.map((u) => u.gender))].sort();
  const occupations = [...new Set(users.map((u) => u.occupation))].sort();
  const zipOf = (z: string): string => (/^\d/.test(z) ? z[0] : 'other');
  const zips = [...new Set(users.map((u) => zipOf(u.zip)))].sort();
  let offset = 0;
  const field = (name: string, kind: CtrField['kind'], values: string[]): CtrField => {
    const f: CtrField = { name, kind, vocab: values.length, offset, values };
    offset += values.length;
    return f;
  };
  const fields = [
    field('user', 'categorical', userIds),
    field('gender', 'categorical', genders),
    field('age', 'bucketed', AGE_NAMES),
    field('occupation', 'categorical', occupations),
    field('zip', 'categorical', zips),
    field('item', 'categorical', itemIds),
    field('year', 'bucketed', YEAR_NAMES),
  ];
  const genreField = field('genres', 'multi', side.genres);
  const ratingField = field('hist_rating', 'categorical', ['1', '2', '3', '4', '5']);
  const F = fields.length;
  const userFeat = users.map((u) => [
    fields[1].offset + genders.indexOf(u.gender),
    fields[2].offset + ageBucket(u.age),
    fields[3].offset + occupations.indexOf(u.occupation),
    fields[4].offset + zips.indexOf(zipOf(u.zip)),
  ]);
  const itemGenreOff = new Int32Array(items.length + 1);
  const genreList: number[] = [];
  items.forEach((it, k) => {
    for (const g of it.genres) genreList.push(genreField.offset + side.genres.indexOf(g));
    itemGenreOff[k + 1] = genreList.length;
  });

  const n = raw.length;
  const nTrain = Math.floor(n * opt.trainQuantile);
  const nValidEnd = Math.floor(n * opt.validQuantile);
  const tTrain = raw[nTrain - 1].t;
  const tValid = raw[nValidEnd - 1].t;
  const ds: CtrDataset = {
    name: 'ml-100k-ctr',
    source: dir,
    options: opt,
    fields,
    genreField,
    ratingField,
    nFeatures: offset,
    nUsers: users.length,
    nItems: items.length,
    nEvents: n,
    user: new Int32Array(n),
    item: new Int32Array(n),
    rating: new Int8Array(n),
    time: new Float64Array(n),
    label: new Float32Array(n),
    split: new Uint8Array(n),
    cat: new Int32Array(n * F),
    itemGenreOff,
    itemGenres: Int32Array.from(genreList),
    seqOff: new Int32Array(users.length + 1),
    seqItem: new Int32Array(n),
    seqRating: new Int8Array(n),
    seqTime: new Float64Array(n),
    histStart: new Int32Array(n),
    histLen: new Int32Array(n),
    items,
    users,
    itemTrainCount: new Int32Array(items.length),
    userTrainCount: new Int32Array(users.length),
  };
  for (let e = 0; e < n; e++) {
    const r = raw[e];
    const u = uIndex.get(r.u)!;
    const i = iIndex.get(r.i)!;
    ds.user[e] = u;
    ds.item[e] = i;
    ds.rating[e] = r.r;
    ds.time[e] = r.t;
    ds.label[e] = r.r >= opt.minPositive ? 1 : 0;
    // ties at a boundary timestamp stay with the earlier split, so no later split precedes it in time
    ds.split[e] = r.t <= tTrain ? 0 : r.t <= tValid ? 1 : 2;
    const c = ds.cat.subarray(e * F, e * F + F);
    c[0] = fields[0].offset + u;
    c.set(userFeat[u], 1);
    c[5] = fields[5].offset + i;
    c[6] = fields[6].offset + yearBucket(items[i].year);
    if (ds.split[e] === 0) {
      ds.itemTrainCount[i]++;
      ds.userTrainCount[u]++;
    }
  }
  // per-user sequences (events are already in time order)
  for (let e = 0; e < n; e++) ds.seqOff[ds.user[e] + 1]++;
  for (let u = 0; u < users.length; u++) ds.seqOff[u + 1] += ds.seqOff[u];
  const fill = ds.seqOff.slice(0, users.length);
  const posOf = new Int32Array(n);
  for (let e = 0; e < n; e++) {
    const p = fill[ds.user[e]]++;
    ds.seqItem[p] = ds.item[e];
    ds.seqRating[p] = ds.rating[e];
    ds.seqTime[p] = ds.time[e];
    posOf[e] = p;
  }
  for (let e = 0; e < n; e++) {
    const u = ds.user[e];
    let q = posOf[e];
    // strictly before the event's time: events of the same second are not history
    while (q > ds.seqOff[u] && ds.seqTime[q - 1] >= ds.time[e]) q--;
    const start = Math.max(ds.seqOff[u], q - opt.maxHistory);
    ds.histStart[e] = start;
    ds.histLen[e] = q - start;
  }
  return ds;
}

/** Indices of the events of split `s` (0 train, 1 validation, 2 test), in time order. */
export function ctrSplitEvents(ds: CtrDataset, s: 0 | 1 | 2): Int32Array {
  const out: number[] = [];
  for (let e = 0; e < ds.nEvents; e++) if (ds.split[e] === s) out.push(e);
  return Int32Array.from(out);
}

/** One-line-per-fact summary of a CTR view (for `reclab data ctr`). */
export function describeCtr(ds: CtrDataset): string[] {
  const lines = [`${ds.name} from ${ds.source}: ${ds.nUsers} users, ${ds.nItems} items, ${ds.nEvents} events, label rating ≥ ${ds.options.minPositive}`];
  for (const s of [0, 1, 2] as const) {
    const ev = ctrSplitEvents(ds, s);
    let pos = 0;
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const e of ev) {
      pos += ds.label[e];
      t0 = Math.min(t0, ds.time[e]);
      t1 = Math.max(t1, ds.time[e]);
    }
    const iso = (t: number): string => new Date(t * 1000).toISOString().slice(0, 10);
    lines.push(`  ${['train', 'valid', 'test'][s]}: ${ev.length} events, positive rate ${(pos / Math.max(1, ev.length)).toFixed(3)}, ${iso(t0)} … ${iso(t1)}`);
  }
  lines.push(`  fields: ${[...ds.fields, ds.genreField, ds.ratingField].map((f) => `${f.name} (${f.kind}, ${f.vocab})`).join(', ')}; ${ds.nFeatures} feature ids`);
  let h = 0;
  for (let e = 0; e < ds.nEvents; e++) h += ds.histLen[e];
  lines.push(`  history: last ${ds.options.maxHistory} rated items strictly before each event, mean length ${(h / ds.nEvents).toFixed(1)}`);
  return lines;
}

/** The view as TSV: split, label, time, one column per field (value names), genres and history as `|`-joined lists. */
export function ctrRowsTsv(ds: CtrDataset): string {
  const F = ds.fields.length;
  const name = (id: number): string => {
    for (const f of [...ds.fields, ds.genreField, ds.ratingField]) if (id >= f.offset && id < f.offset + f.vocab) return f.values[id - f.offset];
    return String(id);
  };
  const lines = [['split', 'label', 'time', ...ds.fields.map((f) => f.name), 'genres', 'history'].join('\t')];
  for (let e = 0; e < ds.nEvents; e++) {
    const cells = [['train', 'valid', 'test'][ds.split[e]], String(ds.label[e]), String(ds.time[e])];
    for (let f = 0; f < F; f++) cells.push(name(ds.cat[e * F + f]));
    const i = ds.item[e];
    cells.push(Array.from(ds.itemGenres.subarray(ds.itemGenreOff[i], ds.itemGenreOff[i + 1]), name).join('|'));
    const h: string[] = [];
    for (let k = 0; k < ds.histLen[e]; k++) h.push(`${ds.items[ds.seqItem[ds.histStart[e] + k]].rawId}:${ds.seqRating[ds.histStart[e] + k]}`);
    cells.push(h.join('|'));
    lines.push(cells.join('\t'));
  }
  return `${lines.join('\n')}\n`;
}
