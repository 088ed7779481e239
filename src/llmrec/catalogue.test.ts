import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdMap } from '../data/types.ts';
import { datasetPath, hasDataset } from '../../test/shared.ts';
import { movieLensCatalogue, readIdMap, readMoviesDat } from './catalogue.ts';

describe('movies.dat catalogue', () => {
  it('parses Latin-1 titles and genres, and names file and line on bad input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reclab-cat-'));
    const f = join(dir, 'movies.dat');
    writeFileSync(f, Buffer.from('1::Toy Story (1995)::Animation|Comedy\n2::Am\xe9lie (2001)::Romance\n', 'latin1'));
    const m = readMoviesDat(f);
    expect(m.get('2')).toEqual({ title: 'Amélie (2001)', genres: ['Romance'] });
    const cat = movieLensCatalogue(IdMap.fromRaw(['20', '10', '30']), f, (writeFileSync(join(dir, 'map.txt'), '10 1\n20 2\n'), join(dir, 'map.txt')));
    expect(cat.titles).toEqual(['Amélie (2001)', 'Toy Story (1995)', 'item 30']);
    expect(cat.missing).toBe(1);
    writeFileSync(join(dir, 'bad.dat'), '1::Toy Story (1995)::Comedy\n2::no genres\n');
    expect(() => readMoviesDat(join(dir, 'bad.dat'))).toThrow(/bad\.dat:2: expected MovieID::Title::Genres/);
    writeFileSync(join(dir, 'badmap.txt'), '1 2\n3\n');
    expect(() => readIdMap(join(dir, 'badmap.txt'))).toThrow(/badmap\.txt:2: expected two ids/);
  });

  it.skipIf(!hasDataset('ml-1m/sas_to_original_items.txt') || !hasDataset('ml-1m-raw-meta/movies.dat'))('joins SASRec ML-1M ids to titles: sas item 1 is movie 1198', () => {
    const ids = IdMap.fromRaw(Array.from({ length: 3416 }, (_, i) => String(i + 1)));
    const cat = movieLensCatalogue(ids, datasetPath('ml-1m-raw-meta/movies.dat'), datasetPath('ml-1m/sas_to_original_items.txt'));
    expect(cat.missing).toBe(0);
    expect(cat.titles[0]).toBe('Raiders of the Lost Ark (1981)');
    expect(cat.genres[0]).toEqual(['Action', 'Adventure']);
  });
});
