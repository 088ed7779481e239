import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withCollisionLevel, idStats, randomIds, sequentialIds, saveIdTable, loadIdTable } from './ids.ts';
import { collaborativeIds, hierarchicalCodes } from './collab.ts';
import { fromSequences } from '../../data/interactions.ts';
import { Rng } from '../../util/rng.ts';

describe('ID tables', () => {
  it('the collision level numbers equal tuples 0, 1, 2, … and the statistics count them (worked by hand)', () => {
    // items: (0,1) (0,1) (2,3) (0,1) (0,2)
    const t = withCollisionLevel(Int32Array.from([0, 1, 0, 1, 2, 3, 0, 1, 0, 2]), 5, 2, 'hand', [4, 4]);
    expect(Array.from(t.codes)).toEqual([0, 1, 0, 0, 1, 1, 2, 3, 0, 0, 1, 2, 0, 2, 0]);
    expect(t.cardinalities).toEqual([4, 4, 3]);
    const s = idStats(t);
    expect(s.collidingItems).toBe(3);
    expect(s.distinctTuples).toBe(3);
    expect(s.maxCollision).toBe(3);
    expect(s.usage[0].used).toBe(2); // codes 0 and 2 at level 0
    // level-0 distribution 4/5, 1/5 → perplexity exp(−0.8 ln 0.8 − 0.2 ln 0.2)
    expect(s.usage[0].perplexity).toBeCloseTo(Math.exp(-0.8 * Math.log(0.8) - 0.2 * Math.log(0.2)), 10);
    expect(s.prefixes[0]).toEqual({ length: 1, distinct: 2, meanItems: 2.5 });
  });

  it('sequential IDs number items by first appearance, in base K', () => {
    const train = fromSequences([[5, 3, 5], [0, 3, 7]], 9);
    const t = sequentialIds(train, 3);
    // order of first appearance: 5, 3, 0, 7, then unseen 1, 2, 4, 6, 8 → ranks 0..8; two base-3 digits
    const rank = (i: number): number => t.codes[i * t.levels] * 3 + t.codes[i * t.levels + 1];
    expect([5, 3, 0, 7, 1, 2, 4, 6, 8].map(rank)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(idStats(t).collidingItems).toBe(0);
  });

  it('random IDs use the codebook uniformly and round-trip through JSON', () => {
    const t = randomIds(2000, 2, 16, 3);
    const s = idStats(t);
    expect(s.usage[0].used).toBe(16);
    expect(s.usage[0].perplexity).toBeGreaterThan(15.5);
    const dir = mkdtempSync(join(tmpdir(), 'ids-'));
    try {
      saveIdTable(join(dir, 'ids.json'), t);
      const back = loadIdTable(join(dir, 'ids.json'));
      expect(Array.from(back.codes)).toEqual(Array.from(t.codes));
      expect(back.cardinalities).toEqual(t.cardinalities);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('collaborative IDs put items that co-occur under one first code', () => {
    // 4 planted communities of 6 items; users only ever touch one community
    const rng = new Rng(2);
    const seqs = Array.from({ length: 200 }, (_, u) => Array.from({ length: 8 }, () => (u % 4) * 6 + rng.int(6)));
    const train = fromSequences(seqs, 24);
    const t = collaborativeIds(train, { K: 4, levels: 2, dims: 4, seed: 1 });
    for (let c = 0; c < 4; c++) {
      const first = new Set(Array.from({ length: 6 }, (_, j) => t.codes[(c * 6 + j) * t.levels]));
      expect(first.size).toBe(1);
    }
    expect(new Set(Array.from({ length: 4 }, (_, c) => t.codes[c * 6 * t.levels])).size).toBe(4);
  });

  it('hierarchical codes split each group again at the next level', () => {
    const x = Float32Array.from([0, 0, 0, 1, 10, 0, 10, 1]); // two groups of two, each separable
    const codes = hierarchicalCodes(x, 4, 2, 2, 2, 0);
    expect(codes[0]).toBe(codes[2]);
    expect(codes[4]).toBe(codes[6]);
    expect(codes[0]).not.toBe(codes[4]);
    expect(codes[1]).not.toBe(codes[3]);
    expect(codes[5]).not.toBe(codes[7]);
  });

  it('a malformed table is an error naming the file and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ids-'));
    try {
      const t = randomIds(3, 1, 4, 0);
      saveIdTable(join(dir, 'ok.json'), t);
      expect(() => loadIdTable(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read the ID table/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
