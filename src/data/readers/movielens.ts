/**
 * MovieLens readers, for the files exactly as GroupLens distributes them.
 *
 * - ml-100k: `u.data` (`user \t item \t rating \t timestamp`), `u.item` (`|`-separated,
 *   Latin-1: id|title|release date|video release date|IMDb URL|19 genre flags), `u.user`
 *   (id|age|gender|occupation|zip), `u.genre` (genre names).
 * - ml-1m (and ml-10m): `ratings.dat` (`UserID::MovieID::Rating::Timestamp`), `movies.dat`
 *   (`MovieID::Title::Genres`, ISO-8859-1, genres `|`-separated), `users.dat`
 *   (`UserID::Gender::Age::Occupation::Zip-code`).
 * - ml-20m / ml-25m / ml-32m / ml-latest: `ratings.csv` (header `userId,movieId,rating,timestamp`),
 *   `movies.csv` (`movieId,title,genres`, titles quoted when they contain commas), `links.csv`.
 *
 * The source is the folder or the ratings file; side files are looked up beside it, or given
 * with `items` / `users` in the spec. Side files are optional.
 */
import { basename, dirname, join } from 'node:path';
import { tokenizeCsv, tokenizeFile } from '../tokenize.ts';
import type { Fields } from '../tokenize.ts';
import { DataError, preview } from '../errors.ts';
import { EventBuilder, SideBuilder } from '../builder.ts';
import type { Dataset } from '../types.ts';
import { capacityFor, missingField, readDelimitedEvents, requireEvents, sourceFingerprint } from './common.ts';
import type { ReaderContext } from './common.ts';
import { requirePath, statPath } from '../source.ts';

/** Options of the MovieLens readers (fields of the DataSpec). */
export interface MovieLensOptions {
  /** Item side file (default: beside the ratings). */
  items?: string;
  /** User side file (default: beside the ratings). */
  users?: string;
}

/** Resolves `source` (a folder or the ratings file) to the ratings file and the folder of its side files. */
function locate(source: string, ratingsName: string, label: string): { ratings: string; dir: string } {
  if (requirePath(source).isDirectory()) {
    const ratings = join(source, ratingsName);
    if (!statPath(ratings)) throw new DataError(source, 0, undefined, `no ${ratingsName} in this folder (reading it as ${label})`);
    return { ratings, dir: source };
  }
  return { ratings: source, dir: dirname(source) };
}

function sideFile(explicit: string | undefined, dir: string, name: string): string | undefined {
  if (explicit) {
    if (!statPath(explicit)) throw new DataError(explicit, 0, undefined, 'side file not found');
    return explicit;
  }
  const p = join(dir, name);
  return statPath(p) ? p : undefined;
}

const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

function requireCount(f: Fields, n: number, label: string, line: number, names: string[], delimiter: string): void {
  if (f.count < n) throw missingField(label, line, f, names, delimiter);
}

function checkIntId(f: Fields, i: number, label: string, line: number, name: string): string {
  if (f.canonicalInt(i) < 0) throw new DataError(label, line, name, `expected a non-negative integer id, got ${preview(f.text(i))}`);
  return f.text(i);
}

/** Reads MovieLens-100K. */
export async function readMl100k(source: string, options: MovieLensOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  const { ratings, dir } = locate(source, 'u.data', 'ml-100k');
  const itemFile = sideFile(options.items, dir, 'u.item');
  const userFile = sideFile(options.users, dir, 'u.user');
  const genreFile = sideFile(undefined, dir, 'u.genre');
  const files = [ratings, itemFile, userFile, genreFile].filter((f): f is string => f !== undefined);
  const fingerprint = ctx.fingerprint ?? sourceFingerprint('ml-100k', files, {});
  const limits = ctx.limits;
  const builder = new EventBuilder({ hasTime: true, hasValue: true, capacity: capacityFor(ratings, 20) });
  await readDelimitedEvents(
    ratings,
    { delimiter: '\t', limits },
    { user: 0, item: 1, value: 2, time: 3, names: ['user', 'item', 'rating', 'timestamp'], required: 4, numericIds: true, timeUnit: 's' },
    builder,
  );
  requireEvents(builder, basename(ratings));

  let genres = ML100K_GENRES;
  if (genreFile) {
    const names: string[] = [];
    await tokenizeFile(genreFile, { delimiter: '|', encoding: 'latin1', limits }, (f) => {
      if (f.count >= 2 && f.text(0) !== '') names[Number(f.text(1))] = f.text(0);
    });
    if (names.length > 0) genres = names;
  }
  const itemSide = new SideBuilder();
  if (itemFile) {
    const label = basename(itemFile);
    itemSide.declare('title', 'text');
    itemSide.declare('release_date', 'text');
    itemSide.declare('genres', 'token_seq');
    const names = ['movie id', 'title', 'release date', 'video release date', 'IMDb URL', ...genres.map((g) => `genre ${g}`)];
    await tokenizeFile(itemFile, { delimiter: '|', encoding: 'latin1', limits }, (f, line) => {
      requireCount(f, 5, label, line, names.slice(0, 5), '|');
      const id = checkIntId(f, 0, label, line, 'movie id');
      itemSide.set(id, 'title', f.text(1));
      if (!f.isEmpty(2)) itemSide.set(id, 'release_date', f.text(2));
      const g: string[] = [];
      for (let k = 5; k < f.count; k++) if (f.text(k) === '1') g.push(genres[k - 5] ?? `genre${k - 5}`);
      itemSide.set(id, 'genres', g);
    });
  }
  const userSide = new SideBuilder();
  if (userFile) {
    const label = basename(userFile);
    const names = ['user id', 'age', 'gender', 'occupation', 'zip code'];
    userSide.declare('age', 'float');
    userSide.declare('gender', 'token');
    userSide.declare('occupation', 'token');
    userSide.declare('zip', 'token');
    await tokenizeFile(userFile, { delimiter: '|', encoding: 'latin1', limits }, (f, line) => {
      requireCount(f, 5, label, line, names, '|');
      const id = checkIntId(f, 0, label, line, 'user id');
      const age = f.number(1);
      if (age === age) userSide.set(id, 'age', age);
      userSide.set(id, 'gender', f.text(2));
      userSide.set(id, 'occupation', f.text(3));
      userSide.set(id, 'zip', f.text(4));
    });
  }
  return builder.finish({ name: ctx.name ?? 'ml-100k', source, format: 'ml-100k', fingerprint, itemSide, userSide });
}

/** Reads MovieLens-1M (also ml-10m, which has the same `::` layout). */
export async function readMl1m(source: string, options: MovieLensOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  const { ratings, dir } = locate(source, 'ratings.dat', 'ml-1m');
  const itemFile = sideFile(options.items, dir, 'movies.dat');
  const userFile = sideFile(options.users, dir, 'users.dat');
  const files = [ratings, itemFile, userFile].filter((f): f is string => f !== undefined);
  const fingerprint = ctx.fingerprint ?? sourceFingerprint('ml-1m', files, {});
  const limits = ctx.limits;
  const builder = new EventBuilder({ hasTime: true, hasValue: true, capacity: capacityFor(ratings, 24) });
  await readDelimitedEvents(
    ratings,
    { delimiter: '::', limits },
    { user: 0, item: 1, value: 2, time: 3, names: ['UserID', 'MovieID', 'Rating', 'Timestamp'], required: 4, numericIds: true, timeUnit: 's' },
    builder,
  );
  requireEvents(builder, basename(ratings));
  const itemSide = new SideBuilder();
  if (itemFile) {
    const label = basename(itemFile);
    itemSide.declare('title', 'text');
    itemSide.declare('genres', 'token_seq');
    await tokenizeFile(itemFile, { delimiter: '::', encoding: 'latin1', limits }, (f, line) => {
      requireCount(f, 3, label, line, ['MovieID', 'Title', 'Genres'], '::');
      const id = checkIntId(f, 0, label, line, 'MovieID');
      itemSide.set(id, 'title', f.text(1));
      itemSide.set(id, 'genres', f.text(2).split('|').filter((g) => g !== ''));
    });
  }
  const userSide = new SideBuilder();
  if (userFile) {
    const label = basename(userFile);
    userSide.declare('gender', 'token');
    userSide.declare('age', 'token');
    userSide.declare('occupation', 'token');
    userSide.declare('zip', 'token');
    await tokenizeFile(userFile, { delimiter: '::', encoding: 'latin1', limits }, (f, line) => {
      requireCount(f, 5, label, line, ['UserID', 'Gender', 'Age', 'Occupation', 'Zip-code'], '::');
      const id = checkIntId(f, 0, label, line, 'UserID');
      userSide.set(id, 'gender', f.text(1));
      userSide.set(id, 'age', f.text(2));
      userSide.set(id, 'occupation', f.text(3));
      userSide.set(id, 'zip', f.text(4));
    });
  }
  return builder.finish({ name: ctx.name ?? 'ml-1m', source, format: 'ml-1m', fingerprint, itemSide, userSide });
}

/** Reads MovieLens-20M / 25M / 32M / latest (`ratings.csv` + `movies.csv` + `links.csv`). */
export async function readMl20m(source: string, options: MovieLensOptions = {}, ctx: ReaderContext = {}): Promise<Dataset> {
  const { ratings, dir } = locate(source, 'ratings.csv', 'ml-20m');
  const itemFile = sideFile(options.items, dir, 'movies.csv');
  const linkFile = sideFile(undefined, dir, 'links.csv');
  const files = [ratings, itemFile, linkFile].filter((f): f is string => f !== undefined);
  const fingerprint = ctx.fingerprint ?? sourceFingerprint('ml-20m', files, {});
  const limits = ctx.limits;
  const label = basename(ratings);
  // Check the header, then read with the fast path.
  let header: string[] = [];
  await tokenizeFile(ratings, { delimiter: ',', limits }, (f) => {
    header = Array.from({ length: f.count }, (_, k) => f.text(k).trim());
    return false;
  });
  const expected = ['userId', 'movieId', 'rating', 'timestamp'];
  if (header.length === 0) throw new DataError(label, 0, undefined, 'no interactions found (empty file?)');
  for (let k = 0; k < 4; k++) {
    if (header[k] !== expected[k]) {
      throw new DataError(label, 1, expected[k], `header should be ${expected.join(',')}, found ${preview(header.join(','), 80)}`);
    }
  }
  const builder = new EventBuilder({ hasTime: true, hasValue: true, capacity: capacityFor(ratings, 26) });
  await readDelimitedEvents(
    ratings,
    { delimiter: ',', skipRows: 1, csvFallback: true, limits },
    { user: 0, item: 1, value: 2, time: 3, names: expected, required: 4, numericIds: true, timeUnit: 's' },
    builder,
  );
  requireEvents(builder, label);
  const itemSide = new SideBuilder();
  if (itemFile) {
    const flabel = basename(itemFile);
    itemSide.declare('title', 'text');
    itemSide.declare('genres', 'token_seq');
    let first = true;
    await tokenizeCsv(itemFile, { delimiter: ',', limits }, (f, line) => {
      if (first) {
        first = false;
        if (f.text(0) === 'movieId') return;
      }
      requireCount(f, 3, flabel, line, ['movieId', 'title', 'genres'], ',');
      const id = checkIntId(f, 0, flabel, line, 'movieId');
      itemSide.set(id, 'title', f.text(1));
      const g = f.text(2);
      itemSide.set(id, 'genres', g === '(no genres listed)' ? [] : g.split('|').filter((x) => x !== ''));
    });
  }
  if (linkFile) {
    const flabel = basename(linkFile);
    itemSide.declare('imdbId', 'token');
    itemSide.declare('tmdbId', 'token');
    let first = true;
    await tokenizeFile(linkFile, { delimiter: ',', limits }, (f, line) => {
      if (first) {
        first = false;
        if (f.text(0) === 'movieId') return;
      }
      requireCount(f, 2, flabel, line, ['movieId', 'imdbId', 'tmdbId'], ',');
      const id = checkIntId(f, 0, flabel, line, 'movieId');
      if (!f.isEmpty(1)) itemSide.set(id, 'imdbId', f.text(1));
      if (!f.isEmpty(2)) itemSide.set(id, 'tmdbId', f.text(2));
    });
  }
  return builder.finish({ name: ctx.name ?? basename(dir), source, format: 'ml-20m', fingerprint, itemSide });
}
