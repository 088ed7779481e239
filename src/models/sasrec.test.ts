/**
 * SASRec on the engine against an independent float64 reference of the paper's network (written
 * here, straight from the equations, one sequence at a time, no padding): the engine's loss
 * must equal the reference loss, and every parameter's gradient must match central finite
 * differences of the reference (dropout off — dropout masks are checked kernel by kernel).
 * Then: thread-split independence, bit-identical reruns, learning a simple pattern, save/load.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SASRec, SASRecNet, parseSASRecConfig, gbceBeta, type SASRecConfig } from './sasrec.ts';
import { BatchSampler, type SeqBatch } from './seq/batch.ts';
import { Rng } from '../nn/rng.ts';
import { maxRelError, parameterGradients, weightsByName } from '../nn/gradcheck.ts';
import { fromSequences } from '../data/interactions.ts';
import { loadSafetensors } from '../nn/safetensors.ts';

type Weights = Map<string, Float64Array>;

const sp = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** y = x·Wᵀ + b for one row, W [out × in] at row offset r0. */
function lin(x: number[], W: Float64Array, b: Float64Array, inF: number, outF: number, r0 = 0): number[] {
  const y: number[] = [];
  for (let o = 0; o < outF; o++) {
    let s = b[r0 + o];
    for (let i = 0; i < inF; i++) s += W[(r0 + o) * inF + i] * x[i];
    y.push(s);
  }
  return y;
}
function ln(x: number[], g: Float64Array, b: Float64Array, eps: number): number[] {
  const mu = x.reduce((a, v) => a + v, 0) / x.length;
  const v = x.reduce((a, z) => a + (z - mu) ** 2, 0) / x.length;
  return x.map((z, j) => ((z - mu) / Math.sqrt(v + eps)) * g[j] + b[j]);
}

/** The paper's SASRec loss for a batch, in float64, without dropout. */
function referenceLoss(cfg: SASRecConfig, nItems: number, W: Weights, batch: SeqBatch, onF?: (s: number, F: number[][]) => void): number {
  const d = cfg.hidden, H = cfg.heads, dh = d / H;
  const w = (n: string): Float64Array => W.get(n)!;
  const E = w('item.weight'), P = w('pos.weight');
  let total = 0;
  const T = batch.off[batch.off.length - 1];
  for (let s = 0; s + 1 < batch.off.length; s++) {
    const a = batch.off[s], L = batch.off[s + 1] - a;
    let x: number[][] = [];
    for (let j = 0; j < L; j++) {
      const id = batch.inputs[a + j], p = cfg.positions === 'start' ? j : cfg.maxLen - L + j;
      x.push(Array.from({ length: d }, (_, c) => E[id * d + c] * Math.sqrt(d) + P[p * d + c]));
    }
    for (let b = 0; b < cfg.blocks; b++) {
      const pre = `blocks.${b}.`;
      const q = x.map((r) => ln(r, w(pre + 'ln1.weight'), w(pre + 'ln1.bias'), cfg.lnEps));
      const Wi = w(pre + 'att.in_proj_weight'), bi = w(pre + 'att.in_proj_bias');
      const Q = q.map((r) => lin(r, Wi, bi, d, d, 0));
      const K = x.map((r) => lin(r, Wi, bi, d, d, d));
      const V = x.map((r) => lin(r, Wi, bi, d, d, 2 * d));
      const A = x.map(() => new Array<number>(d).fill(0));
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < L; i++) {
          const z: number[] = [];
          for (let j = 0; j <= i; j++) {
            let dot = 0;
            for (let c = h * dh; c < (h + 1) * dh; c++) dot += Q[i][c] * K[j][c];
            z.push(dot / Math.sqrt(dh));
          }
          const m = Math.max(...z);
          const e = z.map((v) => Math.exp(v - m));
          const sum = e.reduce((u, v) => u + v, 0);
          for (let c = h * dh; c < (h + 1) * dh; c++) for (let j = 0; j <= i; j++) A[i][c] += (e[j] / sum) * V[j][c];
        }
      }
      const x1 = A.map((r, i) => lin(r, w(pre + 'att.out_proj.weight'), w(pre + 'att.out_proj.bias'), d, d).map((v, c) => v + q[i][c]));
      const x2 = x1.map((r) => ln(r, w(pre + 'ln2.weight'), w(pre + 'ln2.bias'), cfg.lnEps));
      x = x2.map((r) => {
        const hdn = lin(r, w(pre + 'ff.0.weight'), w(pre + 'ff.0.bias'), d, d).map((v) => Math.max(v, 0));
        return lin(hdn, w(pre + 'ff.3.weight'), w(pre + 'ff.3.bias'), d, d).map((v, c) => v + r[c]);
      });
    }
    const F = x.map((r) => ln(r, w('ln.weight'), w('ln.bias'), cfg.lnEps));
    onF?.(s, F);
    for (let j = 0; j < L; j++) {
      const score = (id: number): number => F[j].reduce((u, v, c) => u + v * E[id * d + c], 0);
      const t = a + j;
      const pos = score(batch.targets[t]);
      if (cfg.loss === 'bce' || cfg.loss === 'gbce') {
        const beta = cfg.loss === 'gbce' ? gbceBeta(batch.nNeg, nItems, cfg.gbceT) : 1;
        total += beta * sp(-pos);
        for (let k = 0; k < batch.nNeg; k++) total += sp(score(batch.negatives[t * batch.nNeg + k]));
      } else {
        const cands = cfg.loss === 'ce'
          ? Array.from({ length: nItems }, (_, i) => i + 1)
          : [batch.targets[t], ...batch.negatives.subarray(t * batch.nNeg, (t + 1) * batch.nNeg)];
        const z = cands.map((id) => score(id) / cfg.temperature);
        const m = Math.max(...z);
        const lse = m + Math.log(z.reduce((u, v) => u + Math.exp(v - m), 0));
        total += lse - pos / cfg.temperature;
      }
    }
  }
  return total / T;
}

/** A tiny random model and batch. */
function setup(overrides: Record<string, unknown>, threads = 1) {
  const cfg = parseSASRecConfig({ hidden: 8, blocks: 2, heads: 2, maxLen: 6, dropout: 0, threads, ...overrides });
  const nItems = 9;
  const rng = new Rng(3);
  const seqs = [[0, 1, 2, 3, 4, 5, 6, 7, 8], [3, 3, 1], [8, 2, 5, 7, 1], [4, 6]];
  const data = fromSequences(seqs, nItems);
  const net = new SASRecNet(cfg, nItems);
  net.init(rng);
  // non-trivial LN and bias values so their gradients are exercised
  for (const p of net.params.list) if (p.shape.length === 1) for (let i = 0; i < p.size; i++) p.data.a[i] += 0.1 * rng.normal();
  const sampler = new BatchSampler(data, cfg.maxLen);
  const batch = sampler.sample(5, cfg.loss === 'ce' ? 0 : cfg.negatives, rng);
  return { cfg, nItems, net, batch };
}

describe('SASRec network vs a float64 reference', () => {
  for (const overrides of [
    { loss: 'bce' },
    { loss: 'gbce', negatives: 3 },
    { loss: 'sampled-softmax', negatives: 3, temperature: 0.5 },
    { loss: 'ce', temperature: 2 },
    { loss: 'bce', heads: 1, blocks: 1, threads: 2 },
    { loss: 'ce', positions: 'start' },
  ]) {
    it(`loss and every gradient match (${JSON.stringify(overrides)})`, () => {
      const { cfg, nItems, net, batch } = setup(overrides, (overrides as { threads?: number }).threads ?? 1);
      const W = weightsByName(net.params.list);
      const { loss, threadsUsed } = net.forwardBackward(batch, net.drawSeeds(new Rng(1)));
      expect(loss).toBeCloseTo(referenceLoss(cfg, nItems, W, batch), 5);
      for (const g of parameterGradients(net.params.list, threadsUsed, W, (w) => referenceLoss(cfg, nItems, w, batch))) {
        // float32 forward/backward vs float64 differences: agree to ~1e-4 of the largest entry
        expect(maxRelError(g.analytic, g.numeric, 1e-3), g.name).toBeLessThan(2e-3);
      }
    });
  }
});

describe('SASRec inference', () => {
  for (const blocks of [1, 2]) {
    it(`last-position hidden states (inference shortcut, ${blocks} block(s), 2 threads) match the reference`, () => {
      const { cfg, nItems, net, batch } = setup({ blocks }, 2);
      const expected: number[][] = [];
      referenceLoss(cfg, nItems, weightsByName(net.params.list), batch, (s, F) => (expected[s] = F[F.length - 1]));
      const seqs = Array.from({ length: batch.off.length - 1 }, (_, s) => batch.inputs.slice(batch.off[s], batch.off[s + 1]));
      const H = new Float32Array(seqs.length * cfg.hidden);
      net.lastHidden(seqs, H);
      expect(maxRelError(H, expected.flat())).toBeLessThan(1e-5);
    });
  }
});

describe('SASRec with dropout on', () => {
  it('gradients match finite differences of the engine loss with the same dropout masks (float32, coarse)', () => {
    // No float64 reference reproduces four dropout sites, so difference the engine's own loss
    // (fixed seeds ⇒ a deterministic function of the weights). Float32 loss noise ~1e-7 over a
    // step of 1e-3 gives ~1e-4 absolute error: compare the largest gradient entries of each
    // parameter at 5 % of that parameter's largest gradient.
    const { net, batch } = setup({ dropout: 0.3, loss: 'bce' }, 2);
    const seeds = net.drawSeeds(new Rng(12));
    const { threadsUsed } = net.forwardBackward(batch, seeds);
    const analytic = net.params.list.map((p) => {
      const g = new Float64Array(p.size);
      for (let t = 0; t < threadsUsed; t++) for (let i = 0; i < p.size; i++) g[i] += p.grads[t].a[i];
      return g;
    });
    const lossAt = (): number => {
      const l = net.forwardBackward(batch, seeds).loss;
      for (const p of net.params.list) for (const g of p.grads) g.a.fill(0);
      return l;
    };
    const h = 1e-3;
    net.params.list.forEach((p, k) => {
      const g = analytic[k];
      const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 4);
      const scale = Math.abs(g[order[0]]);
      if (scale < 1e-4) return; // nothing measurable at float32 precision
      for (const i of order) {
        const x0 = p.data.a[i];
        p.data.a[i] = x0 + h;
        const up = lossAt();
        p.data.a[i] = x0 - h;
        const down = lossAt();
        p.data.a[i] = x0;
        expect(Math.abs((up - down) / (2 * h) - g[i]) / scale, `${p.name}[${i}]`).toBeLessThan(0.05);
      }
    });
  });
});

describe('SASRec workspaces', () => {
  it('never read stale memory: a step on NaN-poisoned workspaces gives the same loss and gradients', () => {
    const { net, batch } = setup({ dropout: 0.2 }, 2);
    const seeds = net.drawSeeds(new Rng(8));
    const first = net.forwardBackward(batch, seeds);
    const grads = net.params.list.map((p) => p.grads.map((g) => g.a.slice()));
    for (const p of net.params.list) for (const g of p.grads) g.a.fill(0);
    type Poisonable = { ws: { block: { a: Float32Array } | null }[] };
    for (const w of (net as unknown as Poisonable).ws) w.block?.a.fill(NaN);
    const second = net.forwardBackward(batch, seeds);
    expect(second.loss).toBe(first.loss);
    net.params.list.forEach((p, i) => p.grads.forEach((g, t) => expect(Array.from(g.a), p.name).toEqual(Array.from(grads[i][t]))));
  });
});

describe('SASRec training', () => {
  it('dropout masks do not depend on the thread split: the first-step loss is the same on 1 and 2 threads', () => {
    const a = setup({ dropout: 0.3 }, 1);
    const b = setup({ dropout: 0.3 }, 2);
    const la = a.net.forwardBackward(a.batch, a.net.drawSeeds(new Rng(5))).loss;
    const lb = b.net.forwardBackward(b.batch, b.net.drawSeeds(new Rng(5))).loss;
    expect(Math.abs(la - lb)).toBeLessThan(1e-9); // only the order of the per-thread loss sums differs
    const c = setup({ dropout: 0 }, 1);
    expect(Math.abs(la - c.net.forwardBackward(c.batch, c.net.drawSeeds(new Rng(5))).loss)).toBeGreaterThan(1e-4);
  });

  // next item = item + 1 (mod n): after training, the top-scored unseen item after a sequence is its
  // successor. (Seen items are excluded, as in evaluation: negatives are never drawn from a
  // user's history, so the model is not trained to rank the successor above them.)
  const n = 20;
  const seqs = Array.from({ length: 60 }, (_, u) => Array.from({ length: 8 + (u % 5) }, (_, j) => (u + j) % n));
  const data = fromSequences(seqs, n);
  const config = { hidden: 16, blocks: 1, heads: 1, maxLen: 10, dropout: 0.1, batchSize: 32, epochs: 80, lr: 1e-2, threads: 2 };

  it('learns a deterministic successor pattern, bit-identically for the same seed', async () => {
    const m1 = new SASRec(config);
    const r1 = await m1.fit(data, { seed: 9, progress: false });
    expect(r1.history.length).toBe(80);
    expect(r1.history.at(-1)!.loss).toBeLessThan(r1.history[0].loss);
    const out = new Float32Array(n);
    let hits = 0;
    for (let start = 0; start < n; start++) {
      const seq = Int32Array.from({ length: 5 }, (_, j) => (start + j) % n);
      m1.scoreSequence(seq, out);
      let best = -1;
      for (let i = 0; i < n; i++) if (!seq.includes(i) && (best < 0 || out[i] > out[best])) best = i;
      if (best === (start + 5) % n) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(18); // chance level is 1 in 15
    const m2 = new SASRec(config);
    await m2.fit(data, { seed: 9, progress: false });
    for (const p of m1.network.params.list) {
      expect(Buffer.compare(Buffer.from(p.data.a.buffer.slice(p.data.a.byteOffset, p.data.a.byteOffset + p.data.a.byteLength)),
        Buffer.from(m2.network.params.get(p.name).data.a.slice().buffer)), p.name).toBe(0);
    }
  });

  it('early stopping through onEpoch, snapshot/restore, scoreUsers = scoreSequence, save/load round trip', async () => {
    const m = new SASRec({ ...config, epochs: 10 });
    let snap: unknown;
    const r = await m.fit(data, {
      seed: 1,
      progress: false,
      onEpoch: (e) => {
        if (e.epoch === 2) snap = m.snapshot();
        return e.epoch === 4;
      },
    });
    expect(r.epochs).toBe(4);
    const users = Int32Array.from([0, 7, 59]);
    const out = new Float32Array(users.length * n);
    m.scoreUsers(users, data, out);
    const one = new Float32Array(n);
    users.forEach((u, i) => {
      m.scoreSequence(data.items.subarray(data.offsets[u], data.offsets[u + 1]), one);
      for (let j = 0; j < n; j++) expect(out[i * n + j]).toBeCloseTo(one[j], 5);
    });
    const dir = mkdtempSync(join(tmpdir(), 'sasrec-'));
    try {
      await m.save(dir);
      expect(existsSync(join(dir, 'model.json'))).toBe(true);
      const { tensors } = await loadSafetensors(join(dir, 'weights.safetensors'));
      expect(tensors['blocks.0.att.in_proj_weight'].shape).toEqual([48, 16]);
      expect(tensors['item.weight'].shape).toEqual([n + 1, 16]);
      const loaded = await SASRec.load(dir);
      expect(loaded.nItems).toBe(n);
      const out2 = new Float32Array(users.length * n);
      loaded.scoreUsers(users, data, out2);
      expect(Array.from(out2)).toEqual(Array.from(out));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    m.restore(snap);
    const out3 = new Float32Array(users.length * n);
    m.scoreUsers(users, data, out3);
    expect(Array.from(out3)).not.toEqual(Array.from(out));
  });

  it('stops between steps when its AbortSignal fires (from a timer, i.e. while fit is running)', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 5);
    await expect(new SASRec({ ...config, epochs: 100000 }).fit(data, { seed: 1, signal: ac.signal })).rejects.toThrow(/aborted/);
  });

  it('rejects unknown or invalid config keys with the key named', async () => {
    expect(() => new SASRec({ hiden: 3 })).toThrow(/hiden|Unrecognized/);
    const m = new SASRec({ ...config, epochs: 1 });
    await m.fit(data, { seed: 1 });
    expect(() => m.scoreUsers(Int32Array.from([60]), data, new Float32Array(n))).toThrow(/user 60 outside/);
    expect(() => m.scoreSequence(Int32Array.from([3, 20]), new Float32Array(n))).toThrow(/item 20 outside/);
    expect(() => new SASRec({ dropout: 2 })).toThrow(/dropout/);
    await expect(new SASRec({ hidden: 10, heads: 3 }).fit(data, { seed: 1 })).rejects.toThrow(/divisible/);
  });
});

describe('SASRec init', () => {
  /** Sample standard deviation of a parameter's values. */
  const std = (a: Float32Array): number => {
    let s = 0, s2 = 0;
    for (const x of a) { s += x; s2 += x * x; }
    const m = s / a.length;
    return Math.sqrt(s2 / a.length - m * m);
  };
  it('init normal: N(0, initStd²) embeddings, feed-forward and attention-output weights, zero biases; input projection Xavier', () => {
    const cfg = parseSASRecConfig({ hidden: 64, blocks: 1, maxLen: 200, init: 'normal', initStd: 0.02, threads: 1 });
    const net = new SASRecNet(cfg, 3000);
    net.init(new Rng(1));
    const p = (name: string): Float32Array => net.params.list.find((q) => q.name === name)!.data.a;
    expect(std(p('item.weight').subarray(64))).toBeCloseTo(0.02, 3);
    expect(std(p('pos.weight'))).toBeCloseTo(0.02, 3);
    expect(std(p('blocks.0.ff.0.weight'))).toBeCloseTo(0.02, 2);
    expect(std(p('blocks.0.att.out_proj.weight'))).toBeCloseTo(0.02, 2);
    for (const b of ['blocks.0.ff.0.bias', 'blocks.0.ff.3.bias', 'blocks.0.att.out_proj.bias']) expect(Math.max(...p(b).map(Math.abs))).toBe(0);
    // Xavier over [3d × d]: √(2 / (d + 3d)) = 0.0884
    expect(std(p('blocks.0.att.in_proj_weight'))).toBeCloseTo(Math.sqrt(2 / 256), 2);
    const xavier = new SASRecNet(parseSASRecConfig({ hidden: 64, blocks: 1, maxLen: 200, threads: 1 }), 3000);
    xavier.init(new Rng(1));
    const q = (name: string): Float32Array => xavier.params.list.find((r) => r.name === name)!.data.a;
    expect(std(q('pos.weight'))).toBeCloseTo(Math.sqrt(2 / 264), 2);
    expect(std(q('blocks.0.ff.0.weight'))).toBeCloseTo(Math.sqrt(2 / 128), 2);
  });
});
