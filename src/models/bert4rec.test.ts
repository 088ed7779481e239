/**
 * BERT4Rec against a float64 re-implementation of the paper's equations (post-LN bidirectional
 * blocks, GELU FFN, tied MLM head with output bias, CE over items at masked positions): the loss
 * and finite-difference gradients of every parameter on two ragged sequences; inference at an
 * appended [MASK]; a toy task it must learn; checkpoint round trip; the Cloze sampler's masking.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BERT4Rec, BERT4RecNet, ClozeSampler, parseBERT4RecConfig, type ClozeBatch } from './bert4rec.ts';
import { Rng } from '../nn/rng.ts';
import { maxRelError, numericGrad } from '../nn/gradcheck.ts';
import { loadModel } from './registry.ts';
import type { Interactions } from '../data/types.ts';

const cfg = parseBERT4RecConfig({ hidden: 4, blocks: 2, heads: 2, ffn: 6, maxLen: 6, dropout: 0, threads: 1, lnEps: 1e-5 });
const nItems = 7;
type W = Map<string, Float64Array>;

const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(0.7978845608 * (x + 0.044715 * x ** 3)));

function ln(x: number[], g: Float64Array, b: Float64Array): number[] {
  const m = x.reduce((a, v) => a + v, 0) / x.length;
  const v = x.reduce((a, e) => a + (e - m) ** 2, 0) / x.length;
  return x.map((e, i) => ((e - m) / Math.sqrt(v + cfg.lnEps)) * g[i] + b[i]);
}
/** y = W·x + b with W [out × in] at row offset r0. */
function lin(W: Float64Array, b: Float64Array | null, x: number[], out: number, r0 = 0): number[] {
  return Array.from({ length: out }, (_, o) => x.reduce((a, xi, i) => a + W[(r0 + o) * x.length + i] * xi, b ? b[r0 + o] : 0));
}

/** Head outputs g_t for every position of one sequence (internal ids). */
function refHead(w: W, seq: number[]): number[][] {
  const d = cfg.hidden, h = cfg.heads, dh = d / h, L = seq.length;
  const g = (k: string): Float64Array => w.get(k)!;
  const E = g('item.weight'), P = g('pos.weight');
  let X = seq.map((it, t) => ln(Array.from({ length: d }, (_, j) => E[it * d + j] + P[(cfg.maxLen - L + t) * d + j]), g('emb_ln.weight'), g('emb_ln.bias')));
  for (let b = 0; b < cfg.blocks; b++) {
    const k = `blocks.${b}`;
    const Wi = g(`${k}.att.in_proj_weight`), bi = g(`${k}.att.in_proj_bias`);
    const Q = X.map((x) => lin(Wi, bi, x, d, 0)), K = X.map((x) => lin(Wi, bi, x, d, d)), V = X.map((x) => lin(Wi, bi, x, d, 2 * d));
    const A = X.map((_, i) => {
      const out = new Array<number>(d).fill(0);
      for (let hh = 0; hh < h; hh++) {
        const s = K.map((kk) => kk.slice(hh * dh, hh * dh + dh).reduce((a, v, c) => a + v * Q[i][hh * dh + c], 0) / Math.sqrt(dh));
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((a, v) => a + v, 0);
        e.forEach((p, j) => { for (let c = 0; c < dh; c++) out[hh * dh + c] += (p / z) * V[j][hh * dh + c]; });
      }
      return out;
    });
    const X1 = X.map((x, t) => ln(lin(g(`${k}.att.out_proj.weight`), g(`${k}.att.out_proj.bias`), A[t], d).map((v, j) => v + x[j]), g(`${k}.ln1.weight`), g(`${k}.ln1.bias`)));
    X = X1.map((x) => {
      const f = lin(g(`${k}.ff2.weight`), g(`${k}.ff2.bias`), lin(g(`${k}.ff1.weight`), g(`${k}.ff1.bias`), x, cfg.ffn).map(gelu), d);
      return ln(f.map((v, j) => v + x[j]), g(`${k}.ln2.weight`), g(`${k}.ln2.bias`));
    });
  }
  return X.map((x) => ln(lin(g('head.transform.weight'), g('head.transform.bias'), x, d).map(gelu), g('head.ln.weight'), g('head.ln.bias')));
}

function refLogits(w: W, hvec: number[]): number[] {
  const E = w.get('item.weight')!, bias = w.get('head.bias')!, d = cfg.hidden;
  return Array.from({ length: nItems }, (_, v) => hvec.reduce((a, x, j) => a + x * E[(v + 1) * d + j], bias[v]));
}

function refLoss(w: W, batch: ClozeBatch): number {
  let total = 0;
  for (let s = 0; s + 1 < batch.off.length; s++) {
    const a = batch.off[s], e = batch.off[s + 1];
    const H = refHead(w, Array.from(batch.inputs.subarray(a, e)));
    batch.masked.forEach((t, k) => {
      if (t < a || t >= e) return;
      const z = refLogits(w, H[t - a]);
      const m = Math.max(...z);
      total += m + Math.log(z.reduce((acc, v) => acc + Math.exp(v - m), 0)) - z[batch.labels[k] - 1];
    });
  }
  return total / batch.masked.length;
}

function makeNet(seed: number): { net: BERT4RecNet; w: W } {
  const net = new BERT4RecNet(cfg, nItems);
  const rng = new Rng(seed);
  for (const p of net.params.list) for (let i = 0; i < p.size; i++) p.data.a[i] = rng.normal() * 0.5 + (p.name.endsWith('ln.weight') || /ln\d?\.weight$/.test(p.name) ? 1 : 0);
  net.invalidate();
  return { net, w: new Map(net.params.list.map((p) => [p.name, Float64Array.from(p.data.a)])) };
}

const MASK = nItems + 1;
const batch: ClozeBatch = {
  off: Int32Array.from([0, 4, 9]),
  inputs: Int32Array.from([2, MASK, 5, MASK, 7, 1, MASK, 3, 4]),
  masked: Int32Array.from([1, 3, 6]),
  labels: Int32Array.from([6, 1, 2]),
};

describe('BERT4Rec on the engine', () => {
  it('matches the float64 reference loss and finite-difference gradients of every parameter', () => {
    const { net, w } = makeNet(4);
    const { loss } = net.forwardBackward(batch, { emb: 1, att: [2, 3], attOut: [4, 5], ffOut: [6, 7] });
    expect(Math.abs(loss - refLoss(w, batch))).toBeLessThan(2e-5 * Math.max(1, loss));
    for (const p of net.params.list) {
      const x = w.get(p.name)!;
      const num = numericGrad((z) => {
        w.set(p.name, z);
        return refLoss(w, batch);
      }, x, 1e-5);
      w.set(p.name, x);
      expect(maxRelError(p.grads[0].a.subarray(0, p.size), num, 1e-4), p.name).toBeLessThan(3e-3);
    }
  });

  it('drops out attention weights at attentionDropout, hidden units at dropout, with consistent gradients', () => {
    const seeds = { emb: 1, att: [2, 3], attOut: [4, 5], ffOut: [6, 7] };
    const lossOf = (over: Record<string, unknown>): { net: BERT4RecNet; loss: number } => {
      const net = new BERT4RecNet(parseBERT4RecConfig({ ...cfg, ...over }), nItems);
      const { w } = makeNet(4);
      for (const p of net.params.list) p.data.a.set(w.get(p.name)!);
      net.invalidate();
      return { net, loss: net.forwardBackward(batch, seeds).loss };
    };
    const plain = lossOf({}).loss;
    const attOnly = lossOf({ attentionDropout: 0.5 });
    const hiddenOnly = lossOf({ dropout: 0.5, attentionDropout: 0 }).loss;
    const both = lossOf({ dropout: 0.5 }).loss; // attentionDropout absent = dropout
    expect(lossOf({ dropout: 0.5, attentionDropout: 0.5 }).loss).toBe(both);
    for (const [a, b] of [[attOnly.loss, plain], [hiddenOnly, plain], [hiddenOnly, both], [attOnly.loss, both]]) expect(a).not.toBe(b);
    // the attention-only run's gradient against central differences of its own (fixed-seed) loss
    const { net } = attOnly;
    for (const name of ['blocks.0.att.in_proj_weight', 'blocks.1.att.out_proj.weight', 'item.weight']) {
      const p = net.params.list.find((q) => q.name === name)!;
      const analytic = Float64Array.from(p.grads[0].a.subarray(0, p.size));
      const x = Float64Array.from(p.data.a.subarray(0, p.size));
      const num = numericGrad((z) => {
        p.data.a.set(z);
        net.invalidate();
        for (const q of net.params.list) q.grads[0].a.fill(0);
        return net.forwardBackward(batch, seeds).loss;
      }, x, 1e-2);
      expect(maxRelError(analytic, num, 1e-3), name).toBeLessThan(2e-2);
    }
  });

  it('scores the next item from a [MASK] appended to the sequence', () => {
    const { net, w } = makeNet(6);
    const seq = [3, 1, 4, 1, 5, 2, 6]; // dataset ids; only the last maxLen − 1 = 5 are read
    const H = new Float32Array(cfg.hidden);
    net.lastHidden([Int32Array.from([...seq.slice(-5).map((x) => x + 1), MASK])], H);
    const want = refHead(w, [...seq.slice(-5).map((x) => x + 1), MASK]).at(-1)!;
    expect(maxRelError(H, want)).toBeLessThan(1e-5);
    const out = new Float32Array(nItems);
    net.scoreHidden(H, 1, out);
    expect(maxRelError(out, refLogits(w, want))).toBeLessThan(1e-5);
  });

  it('masks with probability ρ and at least once per sequence', () => {
    const nU = 50, len = 40;
    const offsets = Int32Array.from({ length: nU + 1 }, (_, u) => u * len);
    const items = Int32Array.from({ length: nU * len }, (_, i) => i % 30);
    const data = { nUsers: nU, nItems: 30, offsets, items } as unknown as Interactions;
    const b = new ClozeSampler(data, 20, 0.25).sample(400, new Rng(3));
    const rate = b.masked.length / b.inputs.length;
    expect(Math.abs(rate - 0.25)).toBeLessThan(0.02); // 8,000 tokens: σ ≈ 0.005
    for (let k = 0; k < b.masked.length; k++) expect(b.inputs[b.masked[k]]).toBe(31);
    const tiny = new ClozeSampler(data, 3, 0.01).sample(20, new Rng(1));
    expect(tiny.masked.length).toBeGreaterThanOrEqual(20);
  });

  it('masks only the last item of the lastMaskProb share of sequences', () => {
    const nU = 40, len = 12;
    const offsets = Int32Array.from({ length: nU + 1 }, (_, u) => u * len);
    const items = Int32Array.from({ length: nU * len }, (_, i) => (i * 7) % 30);
    const data = { nUsers: nU, nItems: 30, offsets, items } as unknown as Interactions;
    const all = new ClozeSampler(data, 10, 0.5, 1).sample(100, new Rng(5));
    expect(all.masked.length).toBe(100);
    for (let s = 0; s < 100; s++) {
      const last = all.off[s + 1] - 1;
      expect(all.masked[s]).toBe(last);
      expect(all.inputs[last]).toBe(31);
      for (let t = all.off[s]; t < last; t++) expect(all.inputs[t]).not.toBe(31);
    }
    // the user drawn for sequence s is recoverable from its unmasked prefix: the label is that user's last item
    for (let s = 0; s < 100; s++) {
      const t = all.off[s];
      const u = offsets.findIndex((o, k) => k < nU && items[o + len - 10] + 1 === all.inputs[t] && items[o + len - 9] + 1 === all.inputs[t + 1]);
      expect(all.labels[s]).toBe(items[offsets[u] + len - 1] + 1);
    }
    // a share of 0.25: sequences whose only masked token is the last one ≈ 25 % (plus the few Cloze ones that happen to be)
    const mixed = new ClozeSampler(data, 10, 0.5, 0.25).sample(2000, new Rng(6));
    let lastOnly = 0;
    for (let s = 0, k = 0; s < 2000; s++) {
      let n = 0;
      while (k < mixed.masked.length && mixed.masked[k] < mixed.off[s + 1]) { n++; k++; }
      if (n === 1 && mixed.inputs[mixed.off[s + 1] - 1] === 31) lastOnly++;
    }
    const clozeLastOnly = 0.5 * 0.5 ** 9; // Cloze masking that picks the last position alone
    expect(Math.abs(lastOnly / 2000 - (0.25 + 0.75 * clozeLastOnly))).toBeLessThan(0.03); // σ ≈ 0.01
  });

  it('learns a toy task, scores histories and raw sequences alike, and round-trips a checkpoint', async () => {
    const nU = 40, n = 8, len = 12;
    const offsets = Int32Array.from({ length: nU + 1 }, (_, u) => u * len);
    const items = new Int32Array(nU * len);
    for (let u = 0; u < nU; u++) for (let k = 0; k < len; k++) items[u * len + k] = (u + k) % n;
    const data = { nUsers: nU, nItems: n, offsets, items } as unknown as Interactions;
    const model = new BERT4Rec({ hidden: 16, blocks: 1, heads: 2, ffn: 32, maxLen: 10, dropout: 0, maskProb: 0.3, epochs: 40, batchSize: 16, lr: 0.01, threads: 1 });
    const rep = await model.fit(data, { seed: 2 });
    expect(rep.history.at(-1)!.loss).toBeLessThan(rep.history[0].loss * 0.5);
    const out = new Float32Array(2 * n);
    model.scoreUsers(Int32Array.from([0, 3]), data, out);
    expect(out.subarray(0, n).indexOf(Math.max(...out.subarray(0, n)))).toBe(4);
    expect(out.subarray(n).indexOf(Math.max(...out.subarray(n)))).toBe(7);
    const one = new Float32Array(n);
    model.scoreSequence(items.subarray(0, len), one);
    expect(maxRelError(one, out.subarray(0, n))).toBeLessThan(1e-6);
    const dir = mkdtempSync(join(tmpdir(), 'bert4rec-'));
    try {
      await model.save(dir);
      const again = await loadModel(dir);
      const out2 = new Float32Array(2 * n);
      again.scoreUsers(Int32Array.from([0, 3]), data, out2);
      expect(maxRelError(out2, out)).toBeLessThan(1e-7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
