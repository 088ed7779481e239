import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Interactions } from '../data/types.ts';
import { ItemKnn } from './itemknn.ts';
import { UserKnn } from './userknn.ts';
import { loadModel } from './registry.ts';
import { randomInteractions } from './cf/testutil.ts';

/** Distinct item sets per user. */
function sets(data: Interactions): Set<number>[] {
  return Array.from({ length: data.nUsers }, (_, u) => new Set(data.items.subarray(data.offsets[u], data.offsets[u + 1])));
}

/** Brute-force similarity straight from the formulas. */
function sim(kind: string, a: Set<number>, b: Set<number>, shrink: number, alpha: number): number {
  const c = [...a].filter((x) => b.has(x)).length;
  if (c === 0) return 0;
  if (kind === 'cosine') return c / (Math.sqrt(a.size * b.size) + shrink);
  if (kind === 'asymmetric') return c / (a.size ** alpha * b.size ** (1 - alpha) + shrink);
  return c / (a.size + b.size - c + shrink);
}

/** Indices of the k largest positive values, ties to the lower index (full sort). */
function bruteTopK(values: number[], k: number, skip: number): number[] {
  return values
    .map((s, i) => ({ s, i }))
    .filter(({ s, i }) => i !== skip && s > 0)
    .sort((p, q) => q.s - p.s || p.i - q.i)
    .slice(0, k)
    .map(({ i }) => i);
}

describe('ItemKNN against a brute-force reference', () => {
  const train = randomInteractions(7, 60, 25, 2, 9);
  const nItems = 25;
  const userSets = sets(train);
  const itemUsers = Array.from({ length: nItems }, (_, i) => new Set(userSets.flatMap((s, u) => (s.has(i) ? [u] : []))));
  for (const [kind, k, shrink, alpha] of [['cosine', 5, 0, 0.5], ['asymmetric', 4, 2, 0.2], ['jaccard', 30, 1, 0.5]] as const) {
    it(`${kind}, k=${k}, shrink=${shrink}`, async () => {
      const m = new ItemKnn({ similarity: kind, k, shrink, alpha });
      await m.fit(train, { seed: 0 });
      // Reference: S_ij for i's top-k neighbours j, then s_j = Σ_{i∈h} S_ij.
      const s = Array.from({ length: nItems }, (_, i) => {
        const row = itemUsers.map((uj) => sim(kind, itemUsers[i], uj, shrink, alpha));
        const keep = new Set(bruteTopK(row, k, i));
        return row.map((v, j) => (keep.has(j) ? v : 0));
      });
      const users = Int32Array.from({ length: 60 }, (_, u) => u);
      const out = new Float32Array(60 * nItems);
      m.scoreUsers(users, train, out);
      for (let u = 0; u < 60; u++) {
        for (let j = 0; j < nItems; j++) {
          const want = [...userSets[u]].reduce((acc, i) => acc + s[i][j], 0);
          expect(out[u * nItems + j]).toBeCloseTo(want, 5);
        }
      }
    });
  }

  it('saves and loads', async () => {
    const m = new ItemKnn({ k: 3 });
    await m.fit(train, { seed: 0 });
    const dir = await mkdtemp(join(tmpdir(), 'reclab-iknn-'));
    try {
      await m.save(dir);
      const back = await loadModel(dir);
      const a = new Float32Array(nItems);
      const b = new Float32Array(nItems);
      m.scoreUsers(Int32Array.of(5), train, a);
      back.scoreUsers(Int32Array.of(5), train, b);
      expect(Array.from(b)).toEqual(Array.from(a));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('UserKNN against a brute-force reference', () => {
  const train = randomInteractions(9, 50, 20, 2, 8);
  const userSets = sets(train);
  for (const [kind, k, shrink, alpha] of [['cosine', 6, 0, 0.5], ['asymmetric', 10, 1, 0.8], ['jaccard', 3, 0.5, 0.5]] as const) {
    it(`${kind}, k=${k}, shrink=${shrink}`, async () => {
      const m = new UserKnn({ similarity: kind, k, shrink, alpha });
      await m.fit(train, { seed: 0 });
      const out = new Float32Array(50 * 20);
      m.scoreUsers(Int32Array.from({ length: 50 }, (_, u) => u), train, out);
      for (let u = 0; u < 50; u++) {
        const sims = userSets.map((sv) => sim(kind, userSets[u], sv, shrink, alpha));
        const nbrs = bruteTopK(sims, k, u);
        for (let j = 0; j < 20; j++) {
          const want = nbrs.reduce((acc, v) => acc + (userSets[v].has(j) ? sims[v] : 0), 0);
          expect(out[u * 20 + j]).toBeCloseTo(want, 5);
        }
      }
    });
  }

  it('saves and loads', async () => {
    const m = new UserKnn();
    await m.fit(train, { seed: 0 });
    const dir = await mkdtemp(join(tmpdir(), 'reclab-uknn-'));
    try {
      await m.save(dir);
      const back = await loadModel(dir);
      const a = new Float32Array(20);
      const b = new Float32Array(20);
      m.scoreUsers(Int32Array.of(2), train, a);
      back.scoreUsers(Int32Array.of(2), train, b);
      expect(Array.from(b)).toEqual(Array.from(a));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
