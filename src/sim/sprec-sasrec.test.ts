/**
 * SPRec on SASRec: the DPO loss and its gradient through the SASRec network
 * (SASRecNet.forwardBackwardLast with the DPO head) against central finite differences of an
 * independent float64 reference — SASRec's forward written from the equations one sequence at a
 * time, the log-softmax over *all* items (not the c − r shortcut the head uses), the DPO loss from
 * its definition — for every parameter, on 1 and 2 threads; dropout off as in DPO training.
 * Then: Δ = 0 gives ln 2; a DPO step raises the chosen item over the rejected one; the SFT batch
 * layout by hand; the whole loop on a tiny data set.
 */
import { describe, expect, it } from 'vitest';
import { fromSequences } from '../data/interactions.ts';
import { SASRecNet, parseSASRecConfig, type SASRecConfig } from '../models/sasrec.ts';
import { maxRelError, parameterGradients, weightsByName } from '../nn/gradcheck.ts';
import { Rng } from '../util/rng.ts';
import { categoriesFromLists } from './env.ts';
import type { DpoPair } from './sprec.ts';
import { cloneNet, dpoForwardBackward, dpoHead, referenceLogProbs, runSprecSasrec, sftBatch } from './sprec-sasrec.ts';

type Weights = Map<string, Float64Array>;

const dot = (a: number[], W: Float64Array, row: number, n: number): number => a.reduce((s, v, c) => s + v * W[row * n + c], 0);
const affine = (x: number[], W: Float64Array, b: Float64Array, n: number, r0 = 0): number[] => Array.from({ length: n }, (_, o) => b[r0 + o] + dot(x, W, r0 + o, x.length));
function layerNorm(x: number[], g: Float64Array, b: Float64Array, eps: number): number[] {
  const mu = x.reduce((a, v) => a + v, 0) / x.length;
  const va = x.reduce((a, v) => a + (v - mu) ** 2, 0) / x.length;
  return x.map((v, j) => ((v - mu) / Math.sqrt(va + eps)) * g[j] + b[j]);
}

/** SASRec's final hidden state after the last item of `seq` (internal ids), float64, no dropout. */
function lastState(cfg: SASRecConfig, W: Weights, seq: Int32Array): number[] {
  const d = cfg.hidden, H = cfg.heads, dh = d / H, L = seq.length;
  const w = (n: string): Float64Array => W.get(n)!;
  const E = w('item.weight'), P = w('pos.weight');
  let x = Array.from(seq, (id, j) => Array.from({ length: d }, (_, c) => E[id * d + c] * Math.sqrt(d) + P[(cfg.maxLen - L + j) * d + c]));
  for (let b = 0; b < cfg.blocks; b++) {
    const n = (s: string): Float64Array => w(`blocks.${b}.${s}`);
    const q = x.map((r) => layerNorm(r, n('ln1.weight'), n('ln1.bias'), cfg.lnEps));
    const Q = q.map((r) => affine(r, n('att.in_proj_weight'), n('att.in_proj_bias'), d, 0));
    const K = x.map((r) => affine(r, n('att.in_proj_weight'), n('att.in_proj_bias'), d, d));
    const V = x.map((r) => affine(r, n('att.in_proj_weight'), n('att.in_proj_bias'), d, 2 * d));
    const A = x.map((_, i) => {
      const out = new Array<number>(d).fill(0);
      for (let h = 0; h < H; h++) {
        const lo = h * dh;
        const z = K.slice(0, i + 1).map((k) => k.slice(lo, lo + dh).reduce((s, v, c) => s + v * Q[i][lo + c], 0) / Math.sqrt(dh));
        const m = Math.max(...z), e = z.map((v) => Math.exp(v - m)), sum = e.reduce((s, v) => s + v, 0);
        e.forEach((a, j) => {
          for (let c = lo; c < lo + dh; c++) out[c] += (a / sum) * V[j][c];
        });
      }
      return out;
    });
    const x1 = A.map((r, i) => affine(r, n('att.out_proj.weight'), n('att.out_proj.bias'), d).map((v, c) => v + q[i][c]));
    const x2 = x1.map((r) => layerNorm(r, n('ln2.weight'), n('ln2.bias'), cfg.lnEps));
    x = x2.map((r) => affine(affine(r, n('ff.0.weight'), n('ff.0.bias'), d).map((v) => Math.max(v, 0)), n('ff.3.weight'), n('ff.3.bias'), d).map((v, c) => v + r[c]));
  }
  return layerNorm(x[L - 1], w('ln.weight'), w('ln.bias'), cfg.lnEps);
}

/** log π(· | history) over all items (dataset ids), float64. */
function logPolicy(cfg: SASRecConfig, nItems: number, W: Weights, history: Int32Array): number[] {
  const win = history.subarray(Math.max(0, history.length - cfg.maxLen));
  const F = lastState(cfg, W, Int32Array.from(win, (i) => i + 1));
  const z = Array.from({ length: nItems }, (_, i) => dot(F, W.get('item.weight')!, i + 1, cfg.hidden) / cfg.temperature);
  const m = Math.max(...z), lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}

/** The DPO loss from its definition, mean over pairs. */
function referenceDpo(cfg: SASRecConfig, nItems: number, W: Weights, Wref: Weights, pairs: DpoPair[], beta: number): number {
  let total = 0;
  for (const p of pairs) {
    const lp = logPolicy(cfg, nItems, W, p.history), lr = logPolicy(cfg, nItems, Wref, p.history);
    const delta = beta * (lp[p.chosen] - lr[p.chosen] - (lp[p.rejected] - lr[p.rejected]));
    total += Math.log1p(Math.exp(-delta));
  }
  return total / pairs.length;
}


function setup(threads: number, overrides: Record<string, unknown> = {}) {
  const cfg = parseSASRecConfig({ hidden: 8, blocks: 2, heads: 2, maxLen: 5, dropout: 0.3, threads, loss: 'ce', temperature: 0.7, ...overrides });
  const nItems = 9;
  const rng = new Rng(5);
  const net = new SASRecNet(cfg, nItems);
  net.init(rng);
  for (const p of net.params.list) if (p.shape.length === 1) for (let i = 0; i < p.size; i++) p.data.a[i] += 0.1 * rng.normal();
  net.invalidate();
  const ref = cloneNet(net);
  // the reference differs from the policy (otherwise Δ = 0 at the checked point)
  for (const p of ref.params.list) for (let i = 0; i < p.size; i++) p.data.a[i] += 0.05 * Math.sin(3 * i + p.size);
  ref.invalidate();
  const pairs: DpoPair[] = [
    { history: Int32Array.from([0, 1, 2, 3, 4, 5, 6]), chosen: 7, rejected: 8 }, // longer than maxLen: the window
    { history: Int32Array.from([3]), chosen: 2, rejected: 5 },
    { history: Int32Array.from([8, 2, 5]), chosen: 5, rejected: 1 }, // chosen inside the history
    { history: Int32Array.from([4, 6]), chosen: 0, rejected: 0 }, // chosen = rejected: no gradient of its own
  ];
  return { cfg, nItems, net, ref, pairs };
}

describe('DPO through SASRec vs a float64 reference', () => {
  for (const threads of [1, 2]) {
    it(`loss and every parameter's gradient match finite differences (${threads} thread(s), τ = 0.7, β = 0.5)`, () => {
      const { cfg, nItems, net, ref, pairs } = setup(threads);
      const W = weightsByName(net.params.list), Wref = weightsByName(ref.params.list);
      const beta = 0.5;
      const lp = referenceLogProbs(ref, pairs, cfg.temperature);
      const { loss, threadsUsed } = dpoForwardBackward(net, pairs, lp, beta);
      expect(threadsUsed).toBe(Math.min(threads, pairs.length));
      const expected = referenceDpo(cfg, nItems, W, Wref, pairs, beta);
      expect(Math.abs(loss - expected)).toBeLessThan(1e-5);
      expect(Math.abs(expected - Math.log(2))).toBeGreaterThan(1e-3); // a point away from Δ = 0
      for (const g of parameterGradients(net.params.list, threadsUsed, W, (w) => referenceDpo(cfg, nItems, w, Wref, pairs, beta))) {
        // the padding row and positions no window reaches have zero gradient on both sides
        expect(maxRelError(g.analytic, g.numeric, 1e-4), g.name).toBeLessThan(2e-3);
      }
    });
  }

  it('Δ = 0 (policy = reference) gives ln 2; chosen = rejected alone gives no gradient', () => {
    const { cfg, net, pairs } = setup(1);
    const same = cloneNet(net);
    const lp = referenceLogProbs(same, pairs, cfg.temperature);
    expect(dpoForwardBackward(net, pairs, lp, 0.3).loss).toBeCloseTo(Math.log(2), 5);
    for (const p of net.params.list) p.grads[0].a.fill(0);
    dpoForwardBackward(net, [pairs[3]], referenceLogProbs(same, [pairs[3]], cfg.temperature), 0.3);
    for (const p of net.params.list) expect(p.grads[0].a.every((v) => v === 0), p.name).toBe(true);
  });

  it('DPO steps raise log π(chosen) − log π(rejected) of the trained pair; the loss falls below ln 2', () => {
    const { cfg, net, pairs } = setup(1, { dropout: 0 });
    const pair = [pairs[1]];
    const lp = referenceLogProbs(cloneNet(net), pair, cfg.temperature);
    const gap = (): number => {
      const l = referenceLogProbs(net, pair, cfg.temperature);
      return l.chosen[0] - l.rejected[0];
    };
    const before = gap();
    let loss = NaN;
    for (let s = 0; s < 5; s++) loss = net.trainStepLast(Int32Array.from([0, 1]), Int32Array.from([4]), dpoHead(net, pair, lp, 0.5), 1e-2, null);
    expect(gap()).toBeGreaterThan(before + 0.1);
    expect(loss).toBeLessThan(Math.log(2));
  });
});

describe('SPRec (SASRec) data and loop', () => {
  it('SFT batch: history + target, the last maxLen + 1 items, shifted by one (internal ids)', () => {
    const b = sftBatch([{ user: 0, history: Int32Array.from([0, 1, 2, 3]), target: 4 }, { user: 1, history: Int32Array.from([7]), target: 8 }], 3);
    expect(Array.from(b.off)).toEqual([0, 3, 4]);
    expect(Array.from(b.inputs)).toEqual([2, 3, 4, 8]);
    expect(Array.from(b.targets)).toEqual([3, 4, 5, 9]);
  });

  it('runs base + rounds on a tiny data set: rounds, metrics in range, pairs from the model', async () => {
    const rng = new Rng(1);
    const seqs = Array.from({ length: 40 }, () => Array.from({ length: 8 }, () => rng.int(12)));
    const data = fromSequences(seqs, 12);
    const cats = categoriesFromLists(Array.from({ length: 12 }, (_, i) => [i % 3 === 0 ? 'a' : 'b']));
    const seen: DpoPair[][] = [];
    const rounds = await runSprecSasrec(data, cats, {
      rounds: 2, recordsPerRound: 30, k: 3, batch: 16, seed: 2,
      sasrec: { hidden: 8, blocks: 1, heads: 1, maxLen: 6, epochs: 2, batchSize: 16, threads: 1 },
    }, (_, pairs) => seen.push(pairs));
    expect(rounds.map((r) => r.round)).toEqual([0, 1, 2]);
    expect(seen.map((p) => p.length)).toEqual([0, 30, 30]);
    for (const r of rounds) {
      expect(r.hr).toBeGreaterThanOrEqual(0);
      expect(r.hr).toBeLessThanOrEqual(1);
      expect(r.coverage).toBeLessThanOrEqual(1);
      expect(r.div_ratio).toBeLessThanOrEqual(1);
    }
    // a rejected item is never in its own history (top-1 with the history excluded)
    for (const p of seen[1]) expect(p.history.includes(p.rejected)).toBe(false);
    expect(Number.isFinite(rounds[1].dpo_loss)).toBe(true);
  });
});
