/**
 * Item knowledge from movies.dat through an id map: parsing (and its errors, with file and line),
 * one KAR item prompt per item, and the vectors file keyed by the data set's raw item ids.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildItemKnowledge, itemKnowledgeRequests, movieLensItems } from './items.ts';
import { OfflineKnowledgeSource } from './kar.ts';
import { loadKnowledgeVectors } from '../data/ctr-knowledge.ts';
import { HashedNgramEmbedder } from '../llm/embed.ts';

function files(): { dir: string; movies: string; map: string } {
  const dir = mkdtempSync(join(tmpdir(), 'item-knowledge-'));
  const movies = join(dir, 'movies.dat');
  const map = join(dir, 'map.txt');
  writeFileSync(movies, Buffer.from('1::Toy Story (1995)::Animation|Children\'s|Comedy\n2::Jumanji (1995)::Adventure\n3::Am\xe9lie::Comedy\n', 'latin1'));
  writeFileSync(map, '1 3\n2 1\n3 2\n');
  return { dir, movies, map };
}

describe('item knowledge for sequential data', () => {
  it('joins movies.dat through the id map (latin1 titles, years from the title)', () => {
    const f = files();
    try {
      const items = movieLensItems(['2', '1', '3'], f.movies, f.map);
      expect(items).toEqual([
        { rawId: '2', title: 'Toy Story (1995)', year: 1995, genres: ['Animation', "Children's", 'Comedy'] },
        { rawId: '1', title: 'Amélie', year: null, genres: ['Comedy'] },
        { rawId: '3', title: 'Jumanji (1995)', year: 1995, genres: ['Adventure'] },
      ]);
      expect(() => movieLensItems(['9'], f.movies, f.map)).toThrow(/map\.txt: no entry for item 9/);
      writeFileSync(f.map, '1 3\n2\n');
      expect(() => movieLensItems(['1'], f.movies, f.map)).toThrow(/map\.txt:2: expected two ids/);
      writeFileSync(f.movies, '1::Toy Story (1995)\n');
      expect(() => movieLensItems(['1'], f.movies)).toThrow(/movies\.dat:1: expected MovieID::Title::Genres/);
    } finally {
      rmSync(f.dir, { recursive: true, force: true });
    }
  });

  it('one KAR item prompt per item, and a vectors file keyed by raw item id (offline source labelled)', async () => {
    const f = files();
    try {
      const items = movieLensItems(['1', '2', '3'], f.movies, f.map);
      const reqs = itemKnowledgeRequests(items);
      expect(reqs.length).toBe(3);
      expect(reqs[1].messages.at(-1)!.content).toContain('Introduce the movie "Toy Story (1995)" (1995; genres: Animation, Children\'s, Comedy)');
      const out = join(f.dir, 'items.rkv');
      const { texts } = await buildItemKnowledge(items, { source: new OfflineKnowledgeSource(), embedder: new HashedNgramEmbedder(), out, dataset: 'tiny' });
      expect(texts[2]).toContain('genre: Adventure');
      const v = loadKnowledgeVectors(out);
      expect(v.itemIds).toEqual(['1', '2', '3']);
      expect(v.userIds).toEqual([]);
      expect(v.item.length).toBe(3 * v.dim);
      expect(v.meta.offline).toBe(true);
      expect(String(v.meta.description)).toMatch(/^OFFLINE/);
      // different items, different vectors
      expect(v.item.subarray(0, v.dim)).not.toEqual(v.item.subarray(v.dim, 2 * v.dim));
    } finally {
      rmSync(f.dir, { recursive: true, force: true });
    }
  });
});
