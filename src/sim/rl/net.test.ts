/**
 * The RL tracker net against a float64 reference written out here (embeddings, PyTorch-order GRU,
 * heads) and central finite differences of that reference: outputs, values and every parameter
 * gradient for a loss contract(Rq, out) + contract(Rv, value).
 */
import { describe, expect, it } from 'vitest';
import { maxRelError, parameterGradients } from '../../nn/gradcheck.ts';
import { Rng } from '../../util/rng.ts';
import { TrackerNet } from './net.ts';

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

describe('TrackerNet', () => {
  it('forward and backward match a float64 reference and its finite differences', () => {
    const cfg = { nItems: 5, dims: 3, hidden: 4, window: 3, rewardBuckets: 4, value: true, maxBatch: 4, lr: 1e-3, seed: 1 };
    const net = new TrackerNet(cfg);
    const rng = new Rng(5);
    for (const p of net.params.list) for (let i = 0; i < p.size; i++) p.data.a[i] = 0.5 * rng.normal();
    const B = 2, { nItems: n, dims: d, hidden: H, window: L } = cfg;
    const ids = Int32Array.from([0, 2, 1, 5, 3, 3]); // time-major: t0 = [0, 2], t1 = [1, 5], t2 = [3, 3]
    const buckets = Int32Array.from([0, 1, 2, 3, 1, 1]);
    const Rq = Float64Array.from({ length: B * n }, () => rng.normal());
    const Rv = Float64Array.from({ length: B }, () => rng.normal());
    const W = new Map<string, Float64Array<ArrayBufferLike>>(net.params.list.map((p) => [p.name, Float64Array.from(p.data.a)]));

    const ref = (w: Map<string, Float64Array<ArrayBufferLike>>): { out: number[]; value: number[] } => {
      const E = w.get('item_emb.weight')!, R = w.get('reward_emb.weight')!;
      const Wih = w.get('gru.weight_ih')!, Whh = w.get('gru.weight_hh')!, bih = w.get('gru.bias_ih')!, bhh = w.get('gru.bias_hh')!;
      const out: number[] = [], value: number[] = [];
      for (let b = 0; b < B; b++) {
        let h = new Array<number>(H).fill(0);
        for (let t = 0; t < L; t++) {
          const x = Array.from({ length: d }, (_, j) => E[ids[t * B + b] * d + j] + R[buckets[t * B + b] * d + j]);
          const gi = Array.from({ length: 3 * H }, (_, r) => bih[r] + x.reduce((s, xv, j) => s + Wih[r * d + j] * xv, 0));
          const gh = Array.from({ length: 3 * H }, (_, r) => bhh[r] + h.reduce((s, hv, j) => s + Whh[r * H + j] * hv, 0));
          h = h.map((hp, j) => {
            const r = sig(gi[j] + gh[j]), z = sig(gi[H + j] + gh[H + j]);
            const nn = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
            return (1 - z) * nn + z * hp;
          });
        }
        const Wo = w.get('head.weight')!, bo = w.get('head.bias')!, Wv = w.get('value.weight')!, bv = w.get('value.bias')!;
        for (let i = 0; i < n; i++) out.push(bo[i] + h.reduce((s, hv, j) => s + Wo[i * H + j] * hv, 0));
        value.push(bv[0] + h.reduce((s, hv, j) => s + Wv[j] * hv, 0));
      }
      return { out, value };
    };
    const loss = (w: Map<string, Float64Array<ArrayBufferLike>>): number => {
      const r = ref(w);
      return r.out.reduce((s, v, i) => s + v * Rq[i], 0) + r.value.reduce((s, v, i) => s + v * Rv[i], 0);
    };

    const got = net.forward(B, ids, buckets);
    const want = ref(W);
    expect(maxRelError(got.out, want.out, 1e-4)).toBeLessThan(1e-4);
    expect(maxRelError(got.value, want.value, 1e-4)).toBeLessThan(1e-4);
    const g = net.gradients();
    g.dOut.set(Rq);
    g.dValue.set(Rv);
    net.backward();
    for (const { name, analytic, numeric } of parameterGradients(net.params.list, 1, W, loss, 1e-6)) {
      expect(maxRelError(analytic, numeric, 1e-4), name).toBeLessThan(2e-3);
    }
    // padding rows (item 0, bucket 0) get gradient too, as any row; a step moves the parameters
    const before = Float64Array.from(net.head.weight.data.a);
    net.step();
    expect(maxRelError(net.head.weight.data.a, before)).toBeGreaterThan(0);
    expect(() => net.forward(5, ids, buckets)).toThrow(/batch 5 outside 1..4/);
  });
});
