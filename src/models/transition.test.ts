import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromSequences } from '../data/interactions.ts';
import { Transition } from './transition.ts';
import { loadModel } from './registry.ts';
import { isSequential } from './recommender.ts';

describe('Transition graph heuristic', () => {
  // Transitions: 0→1 ×2, 1→2 ×2, 1→3 ×1 (2→2 is a self loop: ignored). Popularity: 2, 3, 3, 1, 0.
  const train = fromSequences([[0, 1, 2], [0, 1, 3], [1, 2, 2]], 5);

  it('scores two hops from the last item by hand', async () => {
    const m = new Transition({ lastItems: 1, hops: 2, hopDecay: 0.5 });
    await m.fit(train, { seed: 0 });
    const out = new Float32Array(5);
    m.scoreSequence(Int32Array.of(3, 0), out);
    // hop 1: e0 T̂ = {1: 1}; hop 2: 0.5 · {2: 2/3, 3: 1/3}; plus 1e-9 · pop/3.
    const want = [0, 1, 1 / 3, 1 / 6, 0].map((s, j) => s + (1e-9 * [2, 3, 3, 1, 0][j]) / 3);
    want.forEach((w, j) => expect(out[j]).toBeCloseTo(w, 7));
    // Unreached items keep the popularity order.
    expect(out[0]).toBeGreaterThan(out[4]);
  });

  it('mixes the last two items with recency decay', async () => {
    const m = new Transition({ lastItems: 2, recencyDecay: 0.5, hops: 2, hopDecay: 0.5 });
    await m.fit(train, { seed: 0 });
    const out = new Float32Array(5);
    m.scoreSequence(Int32Array.of(0, 1), out);
    // v = e1 + 0.5 e0 → hop 1 {1: .5, 2: 2/3, 3: 1/3}; hop 2: 0.5 · 0.5 · {2: 2/3, 3: 1/3}.
    expect(out[1]).toBeCloseTo(0.5, 6);
    expect(out[2]).toBeCloseTo(2 / 3 + 1 / 6, 6);
    expect(out[3]).toBeCloseTo(1 / 3 + 1 / 12, 6);
  });

  it('keeps only the strongest out-edges', async () => {
    const m = new Transition({ lastItems: 1, hops: 1, topEdges: 1 });
    await m.fit(train, { seed: 0 });
    const out = new Float32Array(5);
    m.scoreSequence(Int32Array.of(1), out);
    expect(out[2]).toBeCloseTo(2 / 3, 6);
    expect(out[3]).toBeLessThan(1e-8);
  });

  it('is sequential, scores users from their history and saves/loads', async () => {
    const m = new Transition();
    await m.fit(train, { seed: 0 });
    expect(isSequential(m)).toBe(true);
    const a = new Float32Array(5);
    const b = new Float32Array(5);
    m.scoreUsers(Int32Array.of(1), train, a);
    m.scoreSequence(Int32Array.of(0, 1, 3), b);
    expect(Array.from(a)).toEqual(Array.from(b));
    const dir = await mkdtemp(join(tmpdir(), 'reclab-trans-'));
    try {
      await m.save(dir);
      const back = await loadModel(dir);
      const c = new Float32Array(5);
      back.scoreUsers(Int32Array.of(1), train, c);
      expect(Array.from(c)).toEqual(Array.from(a));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
