import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bpr, bprGrad, bprLoss, bprStep, softplus } from './bpr.ts';
import { loadModel } from './registry.ts';
import { Rng } from '../nn/rng.ts';
import { maxRelError, numericGradient } from './cf/gradcheck.ts';
import { randomInteractions } from './cf/testutil.ts';
import { fromSequences } from '../data/interactions.ts';

describe('BPR', () => {
  it('loss matches the hand formula on a tiny case', () => {
    // p=(1,2), qi=(1,0), qj=(0,1): x = 1 − 2 + (bi − bj) = −1 + 0.5; loss = ln(1+e^{0.5}) + reg/2·Σsq
    const l = bprLoss([1, 2], [1, 0], [0, 1], 0.5, 0, 0.1);
    expect(l).toBeCloseTo(Math.log(1 + Math.exp(0.5)) + 0.05 * (1 + 4 + 1 + 1 + 0.25), 12);
    expect(softplus(800)).toBe(800);
  });

  it('hand-derived gradient matches finite differences', () => {
    const rng = new Rng(4);
    const d = 6;
    const p = Array.from({ length: d }, () => rng.normal());
    const qi = Array.from({ length: d }, () => rng.normal());
    const qj = Array.from({ length: d }, () => rng.normal());
    const bias = [0.3, -0.2];
    const reg = 0.07;
    const f = (): number => bprLoss(p, qi, qj, bias[0], bias[1], reg);
    const [gp, gi, gj, gbi, gbj] = bprGrad(p, qi, qj, bias[0], bias[1], reg);
    expect(maxRelError(gp, numericGradient(f, p))).toBeLessThan(1e-7);
    expect(maxRelError(gi, numericGradient(f, qi))).toBeLessThan(1e-7);
    expect(maxRelError(gj, numericGradient(f, qj))).toBeLessThan(1e-7);
    expect(maxRelError([gbi, gbj], numericGradient(f, bias))).toBeLessThan(1e-7);
  });

  it("fit's update (bprStep) moves every parameter of the triple by −lr × bprGrad", () => {
    // Tables of 3 users × d and 4 items × d; the step on (u=1, i=2, j=0) must change only p_1,
    // q_2, q_0, b_2, b_0, each to θ − lr·∂ℓ/∂θ (gradients at the old values), rounded to float32.
    const rng = new Rng(8);
    const d = 5;
    const P = Float32Array.from({ length: 3 * d }, () => rng.normal());
    const Q = Float32Array.from({ length: 4 * d }, () => rng.normal());
    const b = Float32Array.from({ length: 4 }, () => rng.normal() * 0.1);
    const [lr, reg] = [0.05, 0.01];
    const row = (t: Float32Array, r: number): number[] => Array.from(t.subarray(r * d, (r + 1) * d));
    const [p0, qi0, qj0, P0, Q0, b0] = [row(P, 1), row(Q, 2), row(Q, 0), P.slice(), Q.slice(), b.slice()];
    const [gp, gi, gj, gbi, gbj] = bprGrad(p0, qi0, qj0, b[2], b[0], reg);
    const loss = bprStep(P, Q, b, 1, 2, 0, d, lr, reg, new Float64Array(d));
    expect(loss).toBeCloseTo(bprLoss(p0, qi0, qj0, b0[2], b0[0], 0), 12);
    expect(row(P, 1)).toEqual(p0.map((v, k) => Math.fround(v - lr * gp[k])));
    expect(row(Q, 2)).toEqual(qi0.map((v, k) => Math.fround(v - lr * gi[k])));
    expect(row(Q, 0)).toEqual(qj0.map((v, k) => Math.fround(v - lr * gj[k])));
    expect(b[2]).toBe(Math.fround(b0[2] - lr * gbi));
    expect(b[0]).toBe(Math.fround(b0[0] - lr * gbj));
    // Nothing else moved.
    expect([row(P, 0), row(P, 2), row(Q, 1), row(Q, 3), b[1], b[3]]).toEqual([row(P0, 0), row(P0, 2), row(Q0, 1), row(Q0, 3), b0[1], b0[3]]);
  });

  it('learns two disjoint communities: own-community items outrank the other community', async () => {
    // Users 0..19 use items 0..4, users 20..39 items 5..9; each user misses one item of their group.
    const seqs = Array.from({ length: 40 }, (_, u) => {
      const base = u < 20 ? 0 : 5;
      return [0, 1, 2, 3, 4].filter((k) => k !== u % 5).map((k) => base + k);
    });
    const train = fromSequences(seqs, 10);
    const m = new Bpr({ dim: 8, epochs: 60, lr: 0.1, reg: 0.001 });
    const report = await m.fit(train, { seed: 3 });
    expect(report.history[report.history.length - 1].loss).toBeLessThan(report.history[0].loss);
    const out = new Float32Array(40 * 10);
    m.scoreUsers(Int32Array.from({ length: 40 }, (_, u) => u), train, out);
    for (let u = 0; u < 40; u++) {
      const own = (u < 20 ? 0 : 5) + (u % 5);
      const other = u < 20 ? [5, 6, 7, 8, 9] : [0, 1, 2, 3, 4];
      for (const o of other) expect(out[u * 10 + own]).toBeGreaterThan(out[u * 10 + o]);
    }
  });

  it('is seeded, stops when onEpoch says so, and saves/loads', async () => {
    const train = randomInteractions(5, 30, 15);
    const a = new Bpr({ dim: 4, epochs: 5 });
    const b = new Bpr({ dim: 4, epochs: 5 });
    const ra = await a.fit(train, { seed: 9, onEpoch: (e) => e.epoch === 3 });
    await b.fit(train, { seed: 9, onEpoch: (e) => e.epoch === 3 });
    expect(ra.epochs).toBe(3);
    expect(Array.from(a.items)).toEqual(Array.from(b.items));
    const dir = await mkdtemp(join(tmpdir(), 'reclab-bpr-'));
    try {
      await a.save(dir);
      const back = await loadModel(dir);
      const x = new Float32Array(15);
      const y = new Float32Array(15);
      a.scoreUsers(Int32Array.of(2), train, x);
      back.scoreUsers(Int32Array.of(2), train, y);
      expect(Array.from(y)).toEqual(Array.from(x));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
