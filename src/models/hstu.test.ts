/**
 * HSTU against a float64 re-implementation of the paper's equations (written from the equations,
 * not from the engine code): the loss of a tiny network on two ragged sequences, and the gradient
 * of every parameter against central finite differences of that reference. Also: scoring equals
 * cosine similarity of the reference's last state with the normalised item table; a raw sequence
 * scores like the same history; a checkpoint round-trips.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HSTU, HSTUNet, parseHSTUConfig } from './hstu.ts';
import { Rng } from '../nn/rng.ts';
import { maxRelError, numericGrad } from '../nn/gradcheck.ts';
import type { SeqBatch } from './seq/batch.ts';
import { loadModel } from './registry.ts';
import { loadSafetensors, saveSafetensors } from '../nn/safetensors.ts';
import type { Interactions } from '../data/types.ts';

const cfg = parseHSTUConfig({ hidden: 4, blocks: 2, heads: 2, dqk: 3, dv: 2, maxLen: 6, dropout: 0, negatives: 3, temperature: 0.5, threads: 1 });
const nItems = 9;

type W = Map<string, Float64Array>;

const silu = (x: number): number => x / (1 + Math.exp(-x));

function layerNorm(x: number[], eps: number): number[] {
  const m = x.reduce((a, b) => a + b, 0) / x.length;
  const v = x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length;
  return x.map((e) => (e - m) / Math.sqrt(v + eps));
}

function l2(x: number[]): number[] {
  const n = Math.sqrt(x.reduce((a, b) => a + b * b, 0) + 1e-12);
  return x.map((e) => e / n);
}

/** y = x·Wᵀ for W stored [out × in]. */
function matvec(W: Float64Array, x: number[], out: number): number[] {
  const inF = x.length;
  return Array.from({ length: out }, (_, o) => x.reduce((a, xi, i) => a + W[o * inF + i] * xi, 0));
}

/** Final L2-normalised states of one sequence (internal ids), straight from the equations. */
function refStates(w: W, seq: number[]): number[][] {
  const d = cfg.hidden, h = cfg.heads, dqk = cfg.dqk, dv = cfg.dv, n = cfg.maxLen;
  const L = seq.length;
  const E = w.get('item.weight')!, P = w.get('pos.weight')!;
  let X = seq.map((it, t) => Array.from({ length: d }, (_, j) => E[it * d + j] * Math.sqrt(d) + P[t * d + j]));
  for (let b = 0; b < cfg.blocks; b++) {
    const Wuvqk = w.get(`blocks.${b}.uvqk.weight`)!;
    const Wo = w.get(`blocks.${b}.o.weight`)!, bo = w.get(`blocks.${b}.o.bias`)!;
    const rel = w.get(`blocks.${b}.rel_pos`)!;
    const bias = (i: number, j: number): number => rel[i - j];
    const M = X.map((x) => matvec(Wuvqk, layerNorm(x, 1e-6), 2 * h * dv + 2 * h * dqk).map(silu));
    const U = M.map((m) => m.slice(0, h * dv));
    const V = M.map((m) => m.slice(h * dv, 2 * h * dv));
    const Q = M.map((m) => m.slice(2 * h * dv, 2 * h * dv + h * dqk));
    const K = M.map((m) => m.slice(2 * h * dv + h * dqk));
    const A = Array.from({ length: L }, () => new Array<number>(h * dv).fill(0));
    for (let hh = 0; hh < h; hh++) {
      for (let i = 0; i < L; i++) {
        for (let j = 0; j <= i; j++) {
          let s = bias(i, j);
          for (let c = 0; c < dqk; c++) s += Q[i][hh * dqk + c] * K[j][hh * dqk + c];
          const p = silu(s) / n;
          for (let c = 0; c < dv; c++) A[i][hh * dv + c] += p * V[j][hh * dv + c];
        }
      }
    }
    X = X.map((x, t) => {
      const g = layerNorm(A[t], 1e-6).map((a, c) => a * U[t][c]);
      const o = matvec(Wo, g, d);
      return x.map((xi, j) => xi + o[j] + bo[j]);
    });
  }
  return X.map(l2);
}

/** Mean sampled-softmax loss over all positions of the batch. */
function refLoss(w: W, batch: SeqBatch): number {
  const d = cfg.hidden;
  const E = w.get('item.weight')!;
  const row = (id: number): number[] => l2(Array.from(E.subarray(id * d, id * d + d)));
  let total = 0;
  const T = batch.off[batch.off.length - 1];
  for (let s = 0; s + 1 < batch.off.length; s++) {
    const a = batch.off[s], e = batch.off[s + 1];
    const F = refStates(w, Array.from(batch.inputs.subarray(a, e)));
    F.forEach((f, k) => {
      const t = a + k;
      const ids = [batch.targets[t], ...batch.negatives.subarray(t * batch.nNeg, (t + 1) * batch.nNeg)];
      const z = ids.map((id) => row(id).reduce((acc, v, j) => acc + v * f[j], 0) / cfg.temperature);
      const m = Math.max(...z);
      total += m + Math.log(z.reduce((acc, v) => acc + Math.exp(v - m), 0)) - z[0];
    });
  }
  return total / T;
}

function makeNet(seed: number): { net: HSTUNet; w: W } {
  const net = new HSTUNet(cfg, nItems);
  const rng = new Rng(seed);
  net.init(rng);
  // larger random values than the init so every path (bias, gates) carries signal
  for (const p of net.params.list) for (let i = 0; i < p.size; i++) p.data.a[i] = rng.normal() * 0.5;
  net.invalidate();
  const w: W = new Map(net.params.list.map((p) => [p.name, Float64Array.from(p.data.a)]));
  return { net, w };
}

const batch: SeqBatch = {
  off: Int32Array.from([0, 3, 8]),
  inputs: Int32Array.from([1, 4, 2, 7, 3, 9, 5, 2]),
  targets: Int32Array.from([4, 2, 8, 3, 9, 5, 2, 6]),
  negatives: Int32Array.from([5, 6, 7, 1, 9, 3, 3, 6, 1, 1, 2, 4, 5, 8, 1, 7, 4, 8, 9, 1, 3, 4, 7, 1]),
  nNeg: 3,
  users: Int32Array.from([0, 1]),
};

describe('HSTU on the engine', () => {
  it('matches the float64 reference loss and its finite-difference gradients for every parameter', () => {
    const { net, w } = makeNet(3);
    const { loss } = net.forwardBackward(batch, { emb: 1, lin: [2, 3] });
    expect(Math.abs(loss - refLoss(w, batch))).toBeLessThan(2e-5 * Math.max(1, Math.abs(loss)));
    for (const p of net.params.list) {
      const x = w.get(p.name)!;
      const num = numericGrad((z) => {
        w.set(p.name, z);
        return refLoss(w, batch);
      }, x, 1e-5);
      w.set(p.name, x);
      const got = p.grads[0].a.subarray(0, p.size);
      expect(maxRelError(got, num, 1e-4), p.name).toBeLessThan(2e-3);
    }
  });

  it('scores next items by cosine with the reference final state; raw sequences score like histories', () => {
    const { net, w } = makeNet(5);
    const seq = [3, 1, 4, 1, 5, 9, 2, 6]; // longer than maxLen: only the last 6 are read
    const H = new Float32Array(cfg.hidden);
    net.lastHidden([Int32Array.from(seq.slice(-cfg.maxLen))], H);
    const f = refStates(w, seq.slice(-cfg.maxLen)).at(-1)!;
    expect(maxRelError(H, f)).toBeLessThan(1e-5);
    const out = new Float32Array(nItems);
    net.scoreHidden(H, 1, out);
    const E = w.get('item.weight')!;
    const want = Array.from({ length: nItems }, (_, j) => {
      const e = Array.from(E.subarray((j + 1) * cfg.hidden, (j + 2) * cfg.hidden));
      const en = Math.sqrt(e.reduce((a, b) => a + b * b, 0));
      return e.reduce((a, v, k) => a + (v / en) * f[k], 0);
    });
    expect(maxRelError(out, want)).toBeLessThan(1e-5);
  });

  it('trains on a toy task (loss falls), scores users and raw sequences alike, and round-trips a checkpoint', async () => {
    // every user cycles through items 0→1→2→…→7→0: the next item is a function of the last one
    const nU = 40, n = 8, len = 12;
    const offsets = new Int32Array(nU + 1);
    const items = new Int32Array(nU * len);
    for (let u = 0; u < nU; u++) {
      offsets[u + 1] = (u + 1) * len;
      for (let k = 0; k < len; k++) items[u * len + k] = (u + k) % n;
    }
    const data = { nUsers: nU, nItems: n, offsets, items } as unknown as Interactions;
    const model = new HSTU({ hidden: 8, blocks: 1, heads: 1, dqk: 8, dv: 8, maxLen: 10, dropout: 0, negatives: 4, temperature: 0.1, epochs: 30, batchSize: 16, lr: 0.01, threads: 1 });
    const rep = await model.fit(data, { seed: 1 });
    expect(rep.history.at(-1)!.loss).toBeLessThan(rep.history[0].loss * 0.5);
    const out = new Float32Array(2 * n);
    model.scoreUsers(Int32Array.from([0, 3]), data, out);
    // user 0's last item is 11 % 8 = 3, so the next is 4; user 3's last is 14 % 8 = 6 → 7
    expect(out.subarray(0, n).indexOf(Math.max(...out.subarray(0, n)))).toBe(4);
    expect(out.subarray(n).indexOf(Math.max(...out.subarray(n)))).toBe(7);
    const one = new Float32Array(n);
    model.scoreSequence(items.subarray(0, len), one);
    expect(maxRelError(one, out.subarray(0, n))).toBeLessThan(1e-6);
    const dir = mkdtempSync(join(tmpdir(), 'hstu-'));
    try {
      await model.save(dir);
      const again = await loadModel(dir);
      const out2 = new Float32Array(2 * n);
      again.scoreUsers(Int32Array.from([0, 3]), data, out2);
      expect(maxRelError(out2, out)).toBeLessThan(1e-7);
      // a checkpoint of the earlier layout (bias stored reversed as rel_pos_rev) loads to the same model
      const file = join(dir, 'weights.safetensors');
      const { tensors, metadata } = await loadSafetensors(file);
      const rel = tensors['blocks.0.rel_pos'];
      delete tensors['blocks.0.rel_pos'];
      tensors['blocks.0.rel_pos_rev'] = { ...rel, data: (rel.data as Float32Array).slice().reverse() };
      await saveSafetensors(file, tensors, metadata);
      const old = await loadModel(dir);
      const out3 = new Float32Array(2 * n);
      old.scoreUsers(Int32Array.from([0, 3]), data, out3);
      expect(maxRelError(out3, out)).toBeLessThan(1e-7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
