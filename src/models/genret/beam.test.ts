/**
 * The batched incremental beam search (./beam.ts) against the scalar reference
 * (`Tiger.retrieveFrom`: one prefix at a time through the JS decoder, `constrainedBeamSearch`'s
 * full sort): on random untrained models, random ID tables (collision level included), random
 * histories, widths, cut-offs, exclusions and chunk sizes, both return the same items in the same
 * order with the same scores (up to float32 rounding of the engine's GEMMs).
 */
import { describe, expect, it } from 'vitest';
import { Tiger } from './tiger.ts';
import { randomIds } from './ids.ts';
import { IdTrie } from './trie.ts';
import { BeamDecoder } from './beam.ts';
import { fromSequences } from '../../data/interactions.ts';
import { Rng } from '../../util/rng.ts';

describe('BeamDecoder', () => {
  it('returns exactly the reference beam search\'s items and scores (random models)', async () => {
    const rng = new Rng(21);
    let compared = 0;
    for (let trial = 0; trial < 8; trial++) {
      const n = 20 + rng.int(60), levels = 1 + rng.int(3), K = 3 + rng.int(6);
      const t = randomIds(n, levels, K, trial);
      const seqs = Array.from({ length: 12 }, () => Array.from({ length: 2 + rng.int(8) }, () => rng.int(n)));
      const train = fromSequences(seqs, n);
      const heads = 1 + rng.int(2);
      const model = new Tiger({
        ids: 'unused.json', maxItems: 1 + rng.int(5), hidden: 8 * heads, heads, ffn: 16, encBlocks: 1, decBlocks: 1 + rng.int(2),
        dropout: 0, userBuckets: 5, threads: 1, epochs: 0,
      }, t);
      await model.fit(train, { seed: trial, progress: false });
      const users = seqs.map((_, u) => u);
      const hist = users.map((u) => train.items.subarray(train.offsets[u], train.offsets[u + 1]));
      const mems = model.memoriesOf(hist.map((items, u) => model.encoderTokens(u, items)));
      const width = 1 + rng.int(12), k = 1 + rng.int(15);
      const exclude = hist.map((items) => {
        const s = new Set(rng.next() < 0.5 ? items : []);
        return (i: number): boolean => s.has(i);
      });
      const dec = new BeamDecoder(model.network, new IdTrie(t), t.cardinalities);
      const fast = dec.search(mems, k, width, exclude, 1 + rng.int(5));
      users.forEach((u) => {
        const ref = model.retrieveFrom(mems[u], k, width, exclude[u]);
        expect(fast[u].map((r) => r.item)).toEqual(ref.map((r) => r.item));
        ref.forEach((r, i) => expect(Math.abs(fast[u][i].score - r.score)).toBeLessThan(1e-4));
        for (const r of fast[u]) {
          expect(r.item >= 0 && r.item < n).toBe(true);
          expect(exclude[u](r.item)).toBe(false);
        }
        compared += ref.length;
      });
    }
    expect(compared).toBeGreaterThan(200);
  });

  it('scoreUsers (fast beam) scores what the reference retrieves, for each user', async () => {
    const n = 40;
    const t = randomIds(n, 2, 5, 3);
    const train = fromSequences([[0, 1, 2, 3], [4, 5, 6, 7, 8], [9, 10, 11], [12, 13, 14, 15, 16, 17]], n);
    const model = new Tiger({ ids: 'unused.json', maxItems: 4, hidden: 8, heads: 2, ffn: 16, encBlocks: 1, decBlocks: 2, dropout: 0, userBuckets: 5, threads: 1, epochs: 0, beam: 7 }, t);
    await model.fit(train, { seed: 4, progress: false });
    const out = new Float32Array(4 * n);
    model.scoreUsers(Int32Array.from([0, 1, 2, 3]), train, out);
    for (let u = 0; u < 4; u++) {
      const items = train.items.subarray(train.offsets[u], train.offsets[u + 1]);
      const seen = new Set(items);
      const ref = model.retrieve(model.encoderTokens(u, items), 7, 7, (i) => seen.has(i));
      const row = out.subarray(u * n, (u + 1) * n);
      const hits = [...row].map((s, i) => [s, i]).filter(([s]) => s > -1e37).map(([, i]) => i).sort((a, b) => a - b);
      expect(hits).toEqual(ref.map((r) => r.item).sort((a, b) => a - b));
      for (const r of ref) expect(Math.abs(row[r.item] - r.score)).toBeLessThan(1e-4);
    }
  });

  it('a width of 0 is an error', async () => {
    const t = randomIds(10, 1, 4, 0);
    const model = new Tiger({ ids: 'unused.json', maxItems: 2, hidden: 8, heads: 1, ffn: 8, encBlocks: 1, decBlocks: 1, dropout: 0, threads: 1, epochs: 0 }, t);
    await model.fit(fromSequences([[0, 1, 2]], 10), { seed: 0, progress: false });
    const dec = new BeamDecoder(model.network, new IdTrie(t), t.cardinalities);
    expect(() => dec.search([], 1, 0)).toThrow(/beam width must be ≥ 1/);
  });
});
