/**
 * The item catalogue as an LLM sees it: a title and genres per dense item id. Built from a
 * dataset's item side table (MovieLens readers fill `title` and `genres`) or, for datasets whose
 * ids were remapped (SASRec's ml-1m.txt), by joining an id map with MovieLens `movies.dat`.
 */
import { readFileSync } from 'node:fs';
import type { Dataset, IdMap } from '../data/types.ts';

/** Titles and genres by dense item id. */
export interface ItemCatalogue {
  /** Number of items (equals the dataset's nItems). */
  n: number;
  titles: string[];
  genres: string[][];
  /** Where the titles came from, for the record. */
  source: string;
}

/** The catalogue from a dataset's item side table (`title` text + `genres` tokens), or undefined when it has no titles. */
export function catalogueFromDataset(d: Dataset): ItemCatalogue | undefined {
  const side = d.itemSide;
  const title = side?.columns.title;
  if (!side || !title || title.type !== 'text') return undefined;
  const g = side.columns.genres;
  const titles: string[] = [];
  const genres: string[][] = [];
  for (let i = 0; i < d.nItems; i++) {
    titles.push(title.values[i] ?? `item ${d.itemIds.toRaw(i)}`);
    const row: string[] = [];
    if (g?.type === 'token_seq') for (let p = g.offsets[i]; p < g.offsets[i + 1]; p++) row.push(g.vocab.toRaw(g.values[p]));
    genres.push(row);
  }
  return { n: d.nItems, titles, genres, source: `${d.name} item side table` };
}

/** Parses MovieLens `movies.dat` (`MovieID::Title::Genres`, ISO-8859-1) into movie id → title, genres. */
export function readMoviesDat(path: string): Map<string, { title: string; genres: string[] }> {
  const out = new Map<string, { title: string; genres: string[] }>();
  readFileSync(path, 'latin1')
    .split('\n')
    .forEach((line, i) => {
      const l = line.replace(/\r$/, '');
      if (!l) return;
      const parts = l.split('::');
      if (parts.length !== 3 || !/^\d+$/.test(parts[0])) throw new Error(`${path}:${i + 1}: expected MovieID::Title::Genres, got "${l.slice(0, 60)}"`);
      out.set(parts[0], { title: parts[1], genres: parts[2].split('|').filter(Boolean) });
    });
  return out;
}

/** Parses a two-column id map (`dataset_id original_id` per line, e.g. SASRec's sas_to_original_items.txt). */
export function readIdMap(path: string): Map<string, string> {
  const out = new Map<string, string>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const t = line.trim();
      if (!t) return;
      const f = t.split(/\s+/);
      if (f.length !== 2) throw new Error(`${path}:${i + 1}: expected two ids, got "${t.slice(0, 60)}"`);
      out.set(f[0], f[1]);
    });
  return out;
}

/**
 * The catalogue of a dataset with raw item ids `itemIds`, titled from `moviesDat`; `idMap` (when
 * given) first translates each raw id to a MovieLens movie id. Items without a title get
 * `item <raw id>` and are counted in the returned `missing`.
 */
export function movieLensCatalogue(itemIds: IdMap, moviesDat: string, idMap?: string): ItemCatalogue & { missing: number } {
  const movies = readMoviesDat(moviesDat);
  const map = idMap ? readIdMap(idMap) : undefined;
  const titles: string[] = [];
  const genres: string[][] = [];
  let missing = 0;
  for (let i = 0; i < itemIds.size; i++) {
    const raw = itemIds.toRaw(i);
    const movie = movies.get(map ? (map.get(raw) ?? '') : raw);
    if (!movie) missing++;
    titles.push(movie?.title ?? `item ${raw}`);
    genres.push(movie?.genres ?? []);
  }
  return { n: itemIds.size, titles, genres, source: `${moviesDat}${idMap ? ` via ${idMap}` : ''}`, missing };
}
