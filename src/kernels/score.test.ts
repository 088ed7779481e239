/**
 * The scoring kernels against plain definitions: scores as float64 dot products, rank counts as
 * counts over those scores with the excluded items left out, countAbove as a JS count (ties, NaN,
 * −∞). Sizes cover a partial last panel, rows that are not a multiple of 4, one and two threads.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.ts';
import { defaultEngine } from './engine.ts';
import { countAbove, ItemPanels, rankCountDot, scoreDot } from './score.ts';

const rng = new Rng(3);
const randn = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());

describe('scoreDot', () => {
  for (const [nUsers, nItems, dims] of [[1, 5, 3], [3, 9, 8], [7, 37, 16], [301, 250, 65]]) {
    it(`equals float64 dot products (${nUsers} users × ${nItems} items × ${dims}), in engine memory and outside`, () => {
      const V = randn(nItems * dims), U = randn(nUsers * dims);
      const panels = new ItemPanels(V, nItems, dims);
      const outside = new Float32Array(nUsers * nItems);
      scoreDot(panels, U, nUsers, outside);
      const e = defaultEngine();
      const inside = e.f32(Math.ceil(nUsers / 4) * 4 * nItems);
      scoreDot(panels, U, nUsers, inside.a);
      for (let u = 0; u < nUsers; u++) {
        for (let i = 0; i < nItems; i++) {
          let s = 0;
          for (let k = 0; k < dims; k++) s += U[u * dims + k] * V[i * dims + k];
          expect(outside[u * nItems + i]).toBeCloseTo(s, 3);
        }
      }
      expect([...inside.a.subarray(0, nUsers * nItems)]).toEqual([...outside]);
      e.freeBuf(inside);
      panels.dispose();
    });
  }
});

describe('rankCountDot', () => {
  it('counts items above / equal to the target over the scores scoreDot writes, history left out, with ties', () => {
    const nUsers = 203, nItems = 61, dims = 6;
    // small integer vectors: many exact ties
    const V = Float32Array.from({ length: nItems * dims }, () => rng.int(3) - 1);
    const U = Float32Array.from({ length: nUsers * dims }, () => rng.int(3) - 1);
    const panels = new ItemPanels(V, nItems, dims);
    const scores = new Float32Array(nUsers * nItems);
    scoreDot(panels, U, nUsers, scores);
    const targets = Int32Array.from({ length: nUsers }, () => rng.int(nItems));
    const offsets = new Int32Array(nUsers + 1);
    const items: number[] = [];
    for (let u = 0; u < nUsers; u++) {
      const ex = new Set<number>();
      const k = rng.int(10);
      for (let j = 0; j < k; j++) {
        const i = rng.int(nItems);
        if (i !== targets[u]) ex.add(i);
      }
      items.push(...ex);
      offsets[u + 1] = items.length;
    }
    const counts = new Int32Array(2 * nUsers);
    rankCountDot(panels, U, nUsers, targets, { offsets, items: Int32Array.from(items) }, counts);
    let ties = 0;
    for (let u = 0; u < nUsers; u++) {
      const ex = new Set(items.slice(offsets[u], offsets[u + 1]));
      const t = scores[u * nItems + targets[u]];
      let gt = 0, eq = 0;
      for (let i = 0; i < nItems; i++) {
        if (ex.has(i)) continue;
        const s = scores[u * nItems + i];
        if (s > t) gt++;
        else if (s === t) eq++;
      }
      expect([counts[2 * u], counts[2 * u + 1]]).toEqual([gt, eq]);
      ties += eq - 1;
    }
    expect(ties).toBeGreaterThan(100); // the case exercises ties
  });
});

describe('countAbove', () => {
  it('equals a plain count, with ties, NaN and −∞', () => {
    const nRows = 9, nItems = 43;
    const s = Float32Array.from({ length: nRows * nItems }, () => (rng.next() < 0.05 ? NaN : rng.next() < 0.05 ? -Infinity : rng.int(5)));
    const targets = Int32Array.from({ length: nRows }, () => rng.int(nItems));
    const counts = new Int32Array(nRows * 2);
    countAbove(s, nRows, nItems, targets, counts);
    for (let r = 0; r < nRows; r++) {
      const row = [...s.subarray(r * nItems, (r + 1) * nItems)];
      const t = row[targets[r]];
      expect([counts[2 * r], counts[2 * r + 1]]).toEqual([row.filter((x) => x > t).length, row.filter((x) => x === t).length]);
    }
  });
});
