import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnnIndex, exactTopK, recallAt, useAnn } from './ann.ts';
import { syntheticCatalogue } from './ann-synthetic.ts';

/** The reference by a plain sort of every score (a second implementation of exactTopK). */
function bySort(v: Float32Array, n: number, d: number, q: Float32Array, k: number, keep: (i: number) => boolean): number[] {
  const s: { i: number; s: number }[] = [];
  for (let i = 0; i < n; i++) {
    if (!keep(i)) continue;
    let x = 0;
    for (let j = 0; j < d; j++) x += q[j] * v[i * d + j];
    s.push({ i, s: Math.fround(x) });
  }
  return s.sort((a, b) => b.s - a.s || a.i - b.i).slice(0, k).map((x) => x.i);
}

describe('ANN retrieval', () => {
  const cat = syntheticCatalogue({ n: 3000, d: 16, users: 40, clusters: 30, categories: 8 });
  // One build thread: the graph (and so the recall below) is the same every run.
  const index = AnnIndex.build(cat.items, cat.n, cat.d, { quantization: 'f16', threads: 1 });
  const q = (u: number) => cat.users.subarray(u * cat.d, (u + 1) * cat.d);

  it('exactTopK equals a full sort, with exclusions and filters', () => {
    for (let u = 0; u < 5; u++) {
      const h = new Set(cat.history[u]);
      const got = exactTopK(cat.items, cat.n, cat.d, q(u), 10, { exclude: (i) => h.has(i), allow: (i) => cat.category[i] === 3 });
      expect(Array.from(got.items)).toEqual(bySort(cat.items, cat.n, cat.d, q(u), 10, (i) => !h.has(i) && cat.category[i] === 3));
    }
  });

  it('finds the exact top 10 on a small catalogue, never returns history or other categories', () => {
    let recall = 0;
    for (let u = 0; u < 40; u++) {
      const h = new Set(cat.history[u]);
      const exclude = (i: number) => h.has(i);
      const allow = (i: number) => cat.category[i] === u % 8;
      const a = index.search(q(u), 10, { exclude, allow });
      expect(a.items.length).toBe(10);
      for (const i of a.items) expect(!h.has(i) && cat.category[i] === u % 8).toBe(true);
      // the scores are the exact dot products, best first
      for (let r = 0; r < 10; r++) {
        let x = 0;
        for (let j = 0; j < cat.d; j++) x += q(u)[j] * cat.items[a.items[r] * cat.d + j];
        expect(a.scores[r]).toBeCloseTo(x, 4);
        if (r > 0) expect(a.scores[r]).toBeLessThanOrEqual(a.scores[r - 1]);
      }
      recall += recallAt(a.items, exactTopK(cat.items, cat.n, cat.d, q(u), 10, { exclude, allow }).items);
    }
    expect(recall / 40).toBeGreaterThanOrEqual(0.95);
  });

  it('searchMany answers each query as search does (batched on native threads, per-query filters)', () => {
    const count = 12;
    const qs = cat.users.slice(0, count * cat.d);
    const opts = Array.from({ length: count }, (_, u) => {
      const h = new Set(cat.history[u]);
      // every third query with a filter rare enough to need the retry or the exact scan
      return u % 3 === 2 ? { exclude: (i: number) => h.has(i), allow: (i: number) => i % 97 === 0 } : { exclude: (i: number) => h.has(i) };
    });
    const many = index.searchMany(qs, count, 10, opts, 2);
    expect(many.length).toBe(count);
    for (let u = 0; u < count; u++) {
      const one = index.search(q(u), 10, opts[u]);
      expect(Array.from(many[u].items)).toEqual(Array.from(one.items));
      expect(Array.from(many[u].scores)).toEqual(Array.from(one.scores));
      expect(many[u].exact).toBe(one.exact);
    }
    // one query alone (usearch answers it in its single-query shape) and none
    expect(Array.from(index.searchMany(q(3), 1, 5)[0].items)).toEqual(Array.from(index.search(q(3), 5).items));
    expect(index.searchMany(new Float32Array(0), 0, 5)).toEqual([]);
    expect(() => index.searchMany(new Float32Array(20), 2, 5)).toThrow(/20 floats cannot hold 2 queries × 16 dims/);
  });

  it('answers a filter too rare for the graph by the exact scan', () => {
    const only = new Set([5, 77, 1234]);
    const a = index.search(q(0), 10, { allow: (i) => only.has(i) });
    expect(a.exact).toBe(true);
    expect(Array.from(a.items).sort((x, y) => x - y)).toEqual([5, 77, 1234]);
  });

  it('saves and loads beside the bundle, checking the size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reclab-ann-'));
    try {
      index.save(join(dir, 'ann.usearch'));
      const back = AnnIndex.load(join(dir, 'ann.usearch'), cat.items, cat.n, cat.d);
      expect(Array.from(back.search(q(1), 5).items)).toEqual(Array.from(index.search(q(1), 5).items));
      expect(() => AnnIndex.load(join(dir, 'ann.usearch'), cat.items, cat.n - 1, cat.d)).toThrow(/holds 3000 items but the model has 2999/);
      expect(() => AnnIndex.load(join(dir, 'missing.usearch'), cat.items, cat.n, cat.d)).toThrow(/no ANN index/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checks its inputs and the size threshold', () => {
    expect(() => index.search(new Float32Array(3), 10)).toThrow(/query has 3 dims, index 16/);
    expect(() => AnnIndex.build(new Float32Array(10), 5, 4)).toThrow(/cannot hold 5 items × 4 dims/);
    expect(useAnn(99_999)).toBe(false);
    expect(useAnn(100_000)).toBe(true);
    expect(useAnn(500, { minItems: 100 })).toBe(true);
  });
});
