/**
 * RELIFE and the DIN-style re-ranker: every module's parameter gradients and the whole training
 * loss (BCE + λ·InfoNCE over a batch of users) against central finite differences in float64;
 * forward values checked by hand or by a loop written out here; the ablation's shape; training on a
 * case whose answer is known.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../util/rng.ts';
import { categoriesFromLists } from '../env.ts';
import { ParamStore } from './params.ts';
import { DinReranker, infoNce, pastItems, Relife, type RerankInput } from './relife.ts';
import { Tape } from './tape.ts';
import { checkParamGrads, contractOnTape } from './testutil.ts';
import { batchLoss, evaluate, rerankOrder, trainReranker, type RerankExample } from './train.ts';

const cats = categoriesFromLists([['a'], ['a', 'b'], ['b'], ['c'], ['a', 'c'], ['b'], ['c'], ['a']]);
const cfg = { nItems: 8, dims: 3, hidden: 4, maxList: 4, maxHistory: 3, seed: 2 };
const x: RerankInput = {
  past: [
    { items: Int32Array.from([0, 1, 2]), clicks: Uint8Array.from([1, 0, 0]) },
    { items: Int32Array.from([3, 4, 5]), clicks: Uint8Array.from([0, 1, 1]) },
  ],
  candidates: Int32Array.from([6, 7, 2, 5]),
  scores: Float64Array.from([1, 0.6, 0.3, 0]),
};
const ex = (user: number, shift: number): RerankExample => ({
  user,
  past: x.past.map((l) => ({ items: l.items.map((i) => (i + shift) % 8), clicks: l.clicks.map((c, k) => (c + k + shift) % 2) })),
  candidates: x.candidates,
  scores: x.scores,
  clicks: Uint8Array.from([1, 0, 1, shift % 2]),
});

/** Model with weights spread enough that no ReLU sits at a kink and attention is not uniform. */
function relife(dis = true): Relife {
  const m = new Relife(cfg, cats, dis);
  const rng = new Rng(7);
  for (const p of m.params.list) for (let i = 0; i < p.data.length; i++) p.data[i] = 0.6 * rng.normal();
  return m;
}
const R = (n: number, seed: number): Float64Array => {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
};

describe('RELIFE: gradients by finite differences', () => {
  it('interest and disinterest miners', () => {
    const m = relife();
    const r = R(12, 1);
    expect(checkParamGrads(m.params, (t) => contractOnTape(t, m.miner(t, m.interest, m.items.forward(t, x.candidates), pastItems(x, 1)), r))).toBe(5);
    expect(checkParamGrads(m.params, (t) => contractOnTape(t, m.miner(t, m.disinterest!, m.items.forward(t, x.candidates), pastItems(x, 0)), r))).toBe(5);
  });

  it('sequential preference mixer (feedback-type and age embeddings)', () => {
    const m = relife();
    // item, genre, 2 feedback + age tables, self-attention (3) and target attention (3)
    expect(checkParamGrads(m.params, (t) => contractOnTape(t, m.mixer(t, x, m.items.forward(t, x.candidates)), R(12, 2)))).toBe(10);
  });

  it('comparison-aware pattern extractor: per-item rows and the list pattern', () => {
    const m = relife();
    const r1 = R(9, 3), r2 = R(3, 4);
    const n = checkParamGrads(m.params, (t) => {
      const p = m.pattern(t, x.past[1].items, x.past[1].clicks);
      return t.add(contractOnTape(t, p.rows, r1), contractOnTape(t, p.g, r2));
    });
    expect(n).toBe(8); // item, genre, feedback, position, wq, wk, wv, W_g
  });

  it('InfoNCE alone, and the whole loss BCE + λ·InfoNCE over a batch (every parameter)', () => {
    const ps = new ParamStore(new Rng(1));
    const P = ps.add('P', 3, 4, 1), U = ps.add('U', 3, 4, 1);
    expect(checkParamGrads(ps, (t) => infoNce(t, t.param(P), t.param(U), 0.3))).toBe(2);
    const m = relife();
    const batch = [ex(0, 0), ex(1, 1), ex(2, 3)];
    expect(checkParamGrads(m.params, (t) => batchLoss(m, batch, 0.5, 0.2, t).loss)).toBe(m.params.list.length);
    // the InfoNCE term is really in it: λ changes the gradient
    const t = new Tape();
    expect(batchLoss(m, batch, 0.5, 0.2, t).nce).toBeGreaterThan(0);
  });
});

describe('RELIFE: values', () => {
  it('a miner over one item returns that item\'s value row for every candidate', () => {
    const m = relife();
    const t = new Tape();
    const got = m.miner(t, m.interest, m.items.forward(t, x.candidates), [4]);
    const e = m.items.forward(t, [4]).data;
    const wv = m.params.get('interest.wv').data;
    const want = [0, 1, 2].map((j) => e[0] * wv[j] + e[1] * wv[3 + j] + e[2] * wv[6 + j]);
    for (let c = 0; c < 4; c++) for (let j = 0; j < 3; j++) expect(got.data[c * 3 + j]).toBeCloseTo(want[j], 12);
    // an empty set gives zeros
    expect(Array.from(m.miner(t, m.interest, m.items.forward(t, x.candidates), []).data).every((v) => v === 0)).toBe(true);
  });

  it('item encoder: E[i] + mean of the genre rows', () => {
    const m = relife();
    const t = new Tape();
    const got = m.items.forward(t, [1]).data; // genres a (0) and b (1)
    const E = m.params.get('item.emb').data, G = m.params.get('item.genre').data;
    for (let j = 0; j < 3; j++) expect(got[j]).toBeCloseTo(E[3 + j] + (G[j] + G[3 + j]) / 2, 12);
  });

  it('InfoNCE by hand: P = U = I₂, τ = 1 gives log(1 + e⁻¹)', () => {
    const t = new Tape();
    const I = t.constant(2, 2, [1, 0, 0, 1]);
    expect(infoNce(t, I, I, 1).data[0]).toBeCloseTo(Math.log(1 + Math.exp(-1)), 10);
  });

  it('the ablation has no disinterest miner and a narrower scorer; the full model reads the skips', () => {
    const full = relife(true), abl = relife(false);
    expect(abl.name).toBe('relife-nodis');
    expect(abl.params.list.some((p) => p.name.startsWith('disinterest'))).toBe(false);
    expect(abl.params.get('scorer.w1').rows).toBe(5 * 3 + 1);
    expect(full.params.get('scorer.w1').rows).toBe(6 * 3 + 1);
    // change one skipped item (2 → 3): the full model's scores move
    const y = { ...x, past: [{ items: Int32Array.from([0, 1, 3]), clicks: x.past[0].clicks }, x.past[1]] };
    const a = full.forward(new Tape(), x).logits.data, b = full.forward(new Tape(), y).logits.data;
    expect(a.some((v, i) => Math.abs(v - b[i]) > 1e-9)).toBe(true);
  });
});

describe('DIN-style re-ranker', () => {
  function din(): DinReranker {
    const m = new DinReranker(cfg, cats);
    const rng = new Rng(9);
    for (const p of m.params.list) for (let i = 0; i < p.data.length; i++) p.data[i] = 0.6 * rng.normal();
    return m;
  }

  it('v_c = Σ_j a_j h_j against a loop written out here', () => {
    const m = din();
    const t = new Tape();
    const cand = m.items.forward(t, x.candidates);
    const clicked = pastItems(x, 1); // [0, 4, 5]
    expect(clicked).toEqual([0, 4, 5]);
    const got = m.interest(t, cand, clicked).data;
    const H = m.items.forward(t, clicked).data, Q = cand.data;
    const P = (n: string): Float64Array => m.params.get(n).data;
    const [w1, b1, w2, b2] = [P('attention.w1'), P('attention.b1'), P('attention.w2'), P('attention.b2')];
    for (let c = 0; c < 4; c++) {
      const v = [0, 0, 0];
      for (let j = 0; j < 3; j++) {
        const h = [0, 1, 2].map((k) => H[j * 3 + k]), q = [0, 1, 2].map((k) => Q[c * 3 + k]);
        const inp = [...h, ...q, ...h.map((hv, k) => hv - q[k]), ...h.map((hv, k) => hv * q[k])];
        let a = b2[0];
        for (let u = 0; u < 4; u++) a += w2[u] * Math.max(0, b1[u] + inp.reduce((s, z, i) => s + z * w1[i * 4 + u], 0));
        for (let k = 0; k < 3; k++) v[k] += a * h[k];
      }
      for (let k = 0; k < 3; k++) expect(got[c * 3 + k]).toBeCloseTo(v[k], 12);
    }
  });

  it('attention and the whole loss: gradients by finite differences; skips are never read', () => {
    const m = din();
    expect(checkParamGrads(m.params, (t) => contractOnTape(t, m.interest(t, m.items.forward(t, x.candidates), pastItems(x, 1)), R(12, 5)))).toBe(6);
    expect(checkParamGrads(m.params, (t) => batchLoss(m, [ex(0, 0), ex(1, 1)], 0.5, 0.2, t).loss)).toBe(m.params.list.length);
    const y = { ...x, past: [{ items: Int32Array.from([0, 1, 3]), clicks: x.past[0].clicks }, x.past[1]] };
    expect(Array.from(m.forward(new Tape(), y).logits.data)).toEqual(Array.from(m.forward(new Tape(), x).logits.data));
  });
});

describe('training', () => {
  it('learns a click rule the ranker gets backwards (even items clicked, ranker puts odd first)', () => {
    const items = 8;
    const make = (user: number): RerankExample => {
      const rng = new Rng(100 + user);
      const pick = (): Int32Array => Int32Array.from(rng.shuffle(Array.from({ length: items }, (_, i) => i)).slice(0, 4)).sort((a, b) => (b % 2) - (a % 2) || a - b);
      const lists = [pick(), pick(), pick()];
      const clicks = (l: Int32Array): Uint8Array => Uint8Array.from(l, (i) => (i % 2 === 0 ? 1 : 0));
      return { user, past: lists.slice(0, 2).map((l) => ({ items: l, clicks: clicks(l) })), candidates: lists[2], clicks: clicks(lists[2]), scores: Float64Array.from([1, 0.66, 0.33, 0]) };
    };
    const all = Array.from({ length: 60 }, (_, u) => make(u));
    const train = all.slice(0, 40), valid = all.slice(40, 50), test = all.slice(50);
    const initial = evaluate((e) => Array.from(e.candidates.keys()), test, 2).ndcg;
    for (const m of [new Relife({ ...cfg, seed: 1 }, cats), new DinReranker({ ...cfg, seed: 1 }, cats)]) {
      const rep = trainReranker(m, train, valid, { epochs: 30, patience: 30, batch: 8, lr: 0.01, lambda: 0.1, k: 2 });
      const after = evaluate((e) => rerankOrder(m, e), test, 2).ndcg;
      expect(rep.bestEpoch, m.name).toBeGreaterThan(0);
      expect(after, m.name).toBeGreaterThan(initial + 0.3);
    }
  });
});
