import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromSequences } from '../data/interactions.ts';
import { Ials } from './ials.ts';
import { loadModel } from './registry.ts';
import { naiveSolve, randomInteractions } from './cf/testutil.ts';

/** Naive normal equations for one user from the loss written out over all items. */
function naiveUserSolve(items: Float32Array, nItems: number, d: number, conf: Map<number, number>, alpha0: number, lam: number): number[] {
  const a = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const b = new Array<number>(d).fill(0);
  for (let i = 0; i < nItems; i++) {
    const c = conf.get(i);
    const q = Array.from(items.subarray(i * d, (i + 1) * d));
    // Observed pairs weigh c·(ŷ−1)² + α₀ŷ², unobserved α₀ŷ².
    const w = alpha0 + (c ?? 0);
    for (let s = 0; s < d; s++) for (let t = 0; t < d; t++) a[s][t] += w * q[s] * q[t];
    if (c !== undefined) for (let s = 0; s < d; s++) b[s] += c * q[s];
  }
  for (let s = 0; s < d; s++) a[s][s] += lam;
  return naiveSolve(a, b);
}

describe('iALS', () => {
  it('fold-in solves the normal equations of the loss (exact), with confidences from repeats', async () => {
    const train = randomInteractions(3, 40, 12);
    const cfg = { dim: 5, epochs: 3, reg: 0.05, alpha0: 0.3, alpha: 2, nu: 1, solver: 'cholesky' };
    const m = new Ials(cfg);
    await m.fit(train, { seed: 1 });
    const hist = fromSequences([[1, 4, 4, 4, 7]], 12);
    const vec = new Float32Array(5);
    m.foldIn(hist, 0, vec);
    // conf = 1 + α(r − 1): item 4 seen 3 times → 5; λ_u = λ(Σc + α₀|I|)^ν.
    const conf = new Map([[1, 1], [4, 5], [7, 1]]);
    const lam = 0.05 * (7 + 0.3 * 12);
    const want = naiveUserSolve(m.items, 12, 5, conf, 0.3, lam);
    want.forEach((w, k) => expect(vec[k]).toBeCloseTo(w, 5));
  });

  it('conjugate gradient with d steps reaches the exact solve', async () => {
    const train = randomInteractions(4, 30, 10);
    const exact = new Ials({ dim: 4, epochs: 1, solver: 'cholesky', reg: 0.1 });
    const cg = new Ials({ dim: 4, epochs: 1, solver: 'cg', cgSteps: 4, reg: 0.1 });
    await exact.fit(train, { seed: 2 });
    await cg.fit(train, { seed: 2 });
    for (let k = 0; k < exact.users.length; k++) expect(cg.users[k]).toBeCloseTo(exact.users[k], 4);
    for (let k = 0; k < exact.items.length; k++) expect(cg.items[k]).toBeCloseTo(exact.items[k], 4);
  });

  it('exact ALS never increases the loss', async () => {
    const m = new Ials({ dim: 6, epochs: 8, solver: 'cholesky' });
    const r = await m.fit(randomInteractions(6, 50, 20), { seed: 5 });
    for (let e = 1; e < r.history.length; e++) expect(r.history[e].loss).toBeLessThanOrEqual(r.history[e - 1].loss * (1 + 1e-9));
  });

  it('saves and loads, snapshot/restore round-trips', async () => {
    const train = randomInteractions(8, 20, 9);
    const m = new Ials({ dim: 3, epochs: 2 });
    await m.fit(train, { seed: 1 });
    const snap = m.snapshot();
    const before = m.items.slice();
    m.items.fill(0);
    m.restore(snap);
    expect(Array.from(m.items)).toEqual(Array.from(before));
    const dir = await mkdtemp(join(tmpdir(), 'reclab-ials-'));
    try {
      await m.save(dir);
      const back = await loadModel(dir);
      const a = new Float32Array(9);
      const b = new Float32Array(9);
      m.scoreUsers(Int32Array.of(4), train, a);
      back.scoreUsers(Int32Array.of(4), train, b);
      expect(Array.from(b)).toEqual(Array.from(a));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
