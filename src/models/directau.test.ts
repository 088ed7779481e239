import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectAu, directAuBatch } from './directau.ts';
import { loadModel } from './registry.ts';
import { Rng } from '../nn/rng.ts';
import { maxRelError, numericGradient } from './cf/gradcheck.ts';
import { randomInteractions } from './cf/testutil.ts';

describe('DirectAU loss', () => {
  for (const gamma of [1, 0.5, 2]) {
    it(`test vector 1 (γ=${gamma}): orthogonal users and items, aligned pairs → L = −4γ`, () => {
      const r = directAuBatch(Float64Array.of(1, 0, 0, 1), Float64Array.of(1, 0, 0, 1), 2, 2, gamma);
      expect(r.loss).toBeCloseTo(-4 * gamma, 12);
    });
    it(`test vector 2 (γ=${gamma}): users (1,0),(1,0), items (0,1),(1,0) → L = 1 − 2γ`, () => {
      const r = directAuBatch(Float64Array.of(1, 0, 1, 0), Float64Array.of(0, 1, 1, 0), 2, 2, gamma);
      expect(r.loss).toBeCloseTo(1 - 2 * gamma, 12);
    });
  }

  it('is invariant to the scale of the raw rows (losses are on normalised rows)', () => {
    const a = directAuBatch(Float64Array.of(3, 0, 0, 0.2), Float64Array.of(5, 0, 0, 7), 2, 2, 1);
    expect(a.loss).toBeCloseTo(-4, 12);
  });

  it('hand-derived gradients match finite differences (repeated rows included)', () => {
    const rng = new Rng(12);
    const b = 5;
    const d = 4;
    const u = Float64Array.from({ length: b * d }, () => rng.normal());
    const i = Float64Array.from({ length: b * d }, () => rng.normal());
    // Row 3 repeats row 1, as when a user appears twice in a batch.
    for (let c = 0; c < d; c++) u[3 * d + c] = u[1 * d + c];
    const gamma = 0.7;
    const f = (): number => directAuBatch(u, i, b, d, gamma).loss;
    const r = directAuBatch(u, i, b, d, gamma);
    expect(maxRelError(r.gradUsers, numericGradient(f, u, 1e-6))).toBeLessThan(1e-6);
    expect(maxRelError(r.gradItems, numericGradient(f, i, 1e-6))).toBeLessThan(1e-6);
  });
});

describe('DirectAU model', () => {
  it('training lowers the loss, is seeded, and saves/loads', async () => {
    const train = randomInteractions(3, 40, 20, 3, 10);
    const cfg = { dim: 8, epochs: 6, batchSize: 16, lr: 0.01 };
    const a = new DirectAu(cfg);
    const b = new DirectAu(cfg);
    const ra = await a.fit(train, { seed: 4 });
    await b.fit(train, { seed: 4 });
    expect(ra.history[5].loss).toBeLessThan(ra.history[0].loss);
    expect(Array.from(a.users)).toEqual(Array.from(b.users));
    const dir = await mkdtemp(join(tmpdir(), 'reclab-dau-'));
    try {
      await a.save(dir);
      const back = await loadModel(dir);
      const x = new Float32Array(20);
      const y = new Float32Array(20);
      a.scoreUsers(Int32Array.of(7), train, x);
      back.scoreUsers(Int32Array.of(7), train, y);
      expect(Array.from(y)).toEqual(Array.from(x));
      // Inference is the un-normalised dot product.
      let dot = 0;
      for (let k = 0; k < 8; k++) dot += a.users[7 * 8 + k] * a.items[3 * 8 + k];
      expect(x[3]).toBeCloseTo(dot, 5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
