/**
 * RELIFE, its ablation and the DIN-style re-ranker on the engine: the batch loss (BCE + λ·InfoNCE)
 * and every parameter's float32 gradient against a float64 reference written out in testutil.ts
 * and its central finite differences (nn/gradcheck.ts); the ablation's shape; which feedback each
 * model reads; training on a case whose answer is known.
 */
import { describe, expect, it } from 'vitest';
import { maxRelError, parameterGradients, weightsByName } from '../../nn/gradcheck.ts';
import { Rng } from '../../util/rng.ts';
import { categoriesFromLists } from '../env.ts';
import { DinReranker } from './din.ts';
import type { EngineReranker, RerankInput } from './encoder.ts';
import { Relife } from './relife.ts';
import { dinLossRef, relifeLossRef } from './testutil.ts';
import { evaluate, evaluateModel, trainReranker, type RerankExample } from './train.ts';

const cats = categoriesFromLists([['a'], ['a', 'b'], ['b'], ['c'], ['a', 'c'], ['b'], ['c'], ['a']]);
const cfg = { nItems: 8, dims: 4, hidden: 5, maxList: 4, maxHistory: 3, batch: 4, seed: 2 };
const x: RerankInput = {
  past: [
    { items: Int32Array.from([0, 1, 2]), clicks: Uint8Array.from([1, 0, 0]) },
    { items: Int32Array.from([3, 4, 5]), clicks: Uint8Array.from([0, 1, 1]) },
  ],
  candidates: Int32Array.from([6, 7, 2, 5]),
  scores: Float64Array.from([1, 0.6, 0.3, 0]),
};
/** Users with shifted items and clicks; user 3 has one past list only, user 4 none (no InfoNCE term). */
const ex = (user: number, shift: number, lists = 2): RerankExample => ({
  user,
  past: x.past.slice(0, lists).map((l) => ({ items: l.items.map((i) => (i + shift) % 8), clicks: l.clicks.map((c, k) => (c + k + shift) % 2) })),
  candidates: x.candidates.map((i) => (i + shift) % 8),
  scores: x.scores,
  clicks: Uint8Array.from([1, 0, 1, shift % 2]),
});
const batch = [ex(0, 0), ex(1, 1), ex(2, 3), ex(3, 5, 1)];

/** Weights spread enough that attention is far from uniform and ReLUs are not all on. */
function spread<M extends EngineReranker>(m: M, seed: number): M {
  const rng = new Rng(seed);
  for (const p of m.params.list) for (let i = 0; i < p.size; i++) p.data.a[i] = 0.6 * rng.normal();
  return m;
}

/** Runs the engine's loss and gradient, compares the loss and every parameter's gradient with the reference; returns the parameters with a non-zero gradient. */
function gradCheck(m: EngineReranker, run: () => number, ref: (w: Map<string, Float64Array>) => number): number {
  const W = weightsByName(m.params.list);
  const loss = run();
  expect(loss).toBeCloseTo(ref(W), 5);
  let nonZero = 0;
  for (const g of parameterGradients(m.params.list, 1, W, ref)) {
    expect(maxRelError(g.analytic, g.numeric, 1e-4), g.name).toBeLessThan(2e-3);
    if (g.numeric.some((v) => Math.abs(v) > 1e-6)) nonZero++;
  }
  return nonZero;
}

describe('RELIFE on the engine: gradients of the whole loss by finite differences', () => {
  for (const dis of [true, false]) {
    it(`${dis ? 'RELIFE' : 'RELIFE without the disinterest miner'}: BCE + λ·InfoNCE over a batch, every parameter`, () => {
      const m = spread(new Relife(cfg, cats, dis), 7);
      const n = gradCheck(m, () => m.lossAndGrad(batch, 0.5, 0.2).loss, (w) => relifeLossRef(w, cfg, cats, dis, batch, 0.5, 0.2));
      expect(n).toBe(m.params.list.length);
    });
  }

  it('λ = 0: BCE alone (the pattern of past lists is not computed)', () => {
    const m = spread(new Relife(cfg, cats), 8);
    const r = m.lossAndGrad(batch, 0, 0.2);
    expect(r.nce).toBe(0);
    for (const p of m.params.list) p.grads[0].a.fill(0);
    gradCheck(m, () => m.lossAndGrad(batch, 0, 0.2).loss, (w) => relifeLossRef(w, cfg, cats, true, batch, 0, 0.2));
  });

  it('the InfoNCE term is in the loss and in the gradient', () => {
    const m = spread(new Relife(cfg, cats), 9);
    const a = m.lossAndGrad(batch, 0.5, 0.2);
    expect(a.nce).toBeGreaterThan(0);
    expect(a.loss).toBeCloseTo(a.bce + 0.5 * a.nce, 6);
    const g1 = Float64Array.from(m.wPattern.weight.grads[0].a);
    m.wPattern.weight.grads[0].a.fill(0);
    m.lossAndGrad(batch, 0, 0.2);
    expect(maxRelError(m.wPattern.weight.grads[0].a, g1)).toBeGreaterThan(1e-3);
  });
});

describe('RELIFE: structure', () => {
  it('the ablation has no disinterest miner and a narrower scorer; the full model reads the skips', () => {
    const full = spread(new Relife(cfg, cats, true), 3), abl = spread(new Relife(cfg, cats, false), 3);
    expect(abl.name).toBe('relife-nodis');
    expect(abl.params.list.some((p) => p.name.startsWith('disinterest'))).toBe(false);
    expect(abl.params.get('scorer.0.weight').shape).toEqual([cfg.hidden, 5 * cfg.dims + 1]);
    expect(full.params.get('scorer.0.weight').shape).toEqual([cfg.hidden, 6 * cfg.dims + 1]);
    // change one skipped item (2 → 3): the full model's scores move
    const y = { ...x, past: [{ items: Int32Array.from([0, 1, 3]), clicks: x.past[0].clicks }, x.past[1]] };
    const a = full.logits([x])[0].slice(), b = full.logits([y])[0];
    expect(a.some((v, i) => Math.abs(v - b[i]) > 1e-6)).toBe(true);
    // lists scored together or one at a time give the same logits
    const both = full.logits([x, y]);
    expect(maxRelError(both[0], a)).toBeLessThan(1e-6);
    expect(() => full.logits([x, x, x, x, x])).toThrow(/at most 4/);
  });
});

describe('DIN-style re-ranker on the engine', () => {
  it('BCE over a batch: every parameter by finite differences', () => {
    const m = spread(new DinReranker(cfg, cats), 9);
    const n = gradCheck(m, () => m.lossAndGrad(batch).loss, (w) => dinLossRef(w, cfg, cats, batch));
    expect(n).toBe(m.params.list.length);
  });

  it('skips are never read', () => {
    const m = spread(new DinReranker(cfg, cats), 4);
    const y = { ...x, past: [{ items: Int32Array.from([0, 1, 3]), clicks: x.past[0].clicks }, x.past[1]] };
    expect(Array.from(m.logits([y])[0])).toEqual(Array.from(m.logits([x])[0]));
  });
});

describe('training', () => {
  it('learns a click rule the ranker gets backwards (even items clicked, ranker puts odd first; its scores are noise, so reversing them does not help)', () => {
    const items = 8;
    const make = (user: number): RerankExample => {
      const rng = new Rng(100 + user);
      const pick = (): Int32Array => Int32Array.from(rng.shuffle(Array.from({ length: items }, (_, i) => i)).slice(0, 4)).sort((a, b) => (b % 2) - (a % 2) || a - b);
      const lists = [pick(), pick(), pick()];
      const clicks = (l: Int32Array): Uint8Array => Uint8Array.from(l, (i) => (i % 2 === 0 ? 1 : 0));
      return { user, past: lists.slice(0, 2).map((l) => ({ items: l, clicks: clicks(l) })), candidates: lists[2], clicks: clicks(lists[2]), scores: Float64Array.from(rng.shuffle([1, 0.66, 0.33, 0])) };
    };
    const all = Array.from({ length: 60 }, (_, u) => make(u));
    const train = all.slice(0, 40), valid = all.slice(40, 50), test = all.slice(50);
    const initial = evaluate((e) => Array.from(e.candidates.keys()), test, 2).ndcg;
    const c = { ...cfg, batch: 8, seed: 1 };
    for (const m of [new Relife(c, cats), new Relife(c, cats, false), new DinReranker(c, cats)]) {
      const rep = trainReranker(m, train, valid, { epochs: 30, patience: 30, batch: 8, lr: 0.01, lambda: 0.1, k: 2 });
      const after = evaluateModel(m, test, 2).ndcg;
      expect(rep.bestEpoch, m.name).toBeGreaterThan(0);
      expect(after, m.name).toBeGreaterThan(initial + 0.3);
    }
  });
});
