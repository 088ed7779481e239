import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromSequences } from '../data/interactions.ts';
import { binaryRows } from './cf/common.ts';
import { layerAverage, LightGcn, lightGcnLoss, normalizedGraph } from './lightgcn.ts';
import { loadModel } from './registry.ts';
import { Rng } from '../nn/rng.ts';
import { maxRelError, numericGradient } from './cf/gradcheck.ts';
import { randomInteractions } from './cf/testutil.ts';

describe('LightGCN propagation', () => {
  it('matches dense Â and layer averaging by hand', () => {
    // Users: 0 → {0, 1}, 1 → {1}. Degrees: u0 2, u1 1, i0 1, i1 2.
    const g = normalizedGraph(binaryRows(fromSequences([[0, 1], [1]], 2)));
    // Nodes u0, u1, i0, i1; Â[u0,i0] = 1/√2, Â[u0,i1] = 1/2, Â[u1,i1] = 1/√2.
    const a = [
      [0, 0, Math.SQRT1_2, 0.5],
      [0, 0, 0, Math.SQRT1_2],
      [Math.SQRT1_2, 0, 0, 0],
      [0.5, Math.SQRT1_2, 0, 0],
    ];
    const e = [1, 2, 3, 4]; // d = 1
    const ae = a.map((row) => row.reduce((s, v, c) => s + v * e[c], 0));
    const aae = a.map((row) => row.reduce((s, v, c) => s + v * ae[c], 0));
    const f = layerAverage(g, e, 2, 1);
    e.forEach((_, r) => expect(f[r]).toBeCloseTo((e[r] + ae[r] + aae[r]) / 3, 6));
  });
});

describe('LightGCN loss', () => {
  it('hand-derived gradient (through K propagations) matches finite differences', () => {
    const train = randomInteractions(2, 6, 5, 1, 4);
    const g = normalizedGraph(binaryRows(train));
    const d = 3;
    const rng = new Rng(8);
    const ego = Float64Array.from({ length: (6 + 5) * d }, () => rng.normal() * 0.5);
    const triples = { u: Int32Array.of(0, 3, 3, 5), i: Int32Array.of(1, 0, 2, 4), j: Int32Array.of(2, 4, 1, 0) };
    const f = (): number => lightGcnLoss(g, ego, triples, 2, d, 0.3).loss;
    const r = lightGcnLoss(g, ego, triples, 2, d, 0.3);
    expect(maxRelError(r.grad, numericGradient(f, ego, 1e-6))).toBeLessThan(1e-7);
  });
});

describe('LightGCN model', () => {
  it('learns two communities, is seeded, saves/loads', async () => {
    const seqs = Array.from({ length: 30 }, (_, u) => {
      const base = u < 15 ? 0 : 5;
      return [0, 1, 2, 3, 4].filter((k) => k !== u % 5).map((k) => base + k);
    });
    const train = fromSequences(seqs, 10);
    const cfg = { dim: 8, epochs: 40, batchSize: 32, lr: 0.05, reg: 1e-4 };
    const m = new LightGcn(cfg);
    const m2 = new LightGcn(cfg);
    await m.fit(train, { seed: 3 });
    await m2.fit(train, { seed: 3 });
    expect(Array.from(m.users)).toEqual(Array.from(m2.users));
    const out = new Float32Array(30 * 10);
    m.scoreUsers(Int32Array.from({ length: 30 }, (_, u) => u), train, out);
    for (let u = 0; u < 30; u++) {
      const own = (u < 15 ? 0 : 5) + (u % 5);
      for (const o of u < 15 ? [5, 6, 7, 8, 9] : [0, 1, 2, 3, 4]) expect(out[u * 10 + own]).toBeGreaterThan(out[u * 10 + o]);
    }
    const dir = await mkdtemp(join(tmpdir(), 'reclab-lgcn-'));
    try {
      await m.save(dir);
      const back = await loadModel(dir);
      const y = new Float32Array(10);
      back.scoreUsers(Int32Array.of(4), train, y);
      expect(Array.from(y)).toEqual(Array.from(out.subarray(40, 50)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
