/**
 * SASRec with item knowledge vectors (issue 21, point 5): the effective item table against a
 * float64 re-computation of Ẽ = E + Σ_e softmax(W_g k + b_g)_e · MLP_e(k); every gradient
 * (adaptor experts, gate, item table, backbone) against central finite differences of the engine's
 * loss; the knowledge table is never changed by training and is saved with the weights.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SASRec, SASRecNet, parseSASRecConfig } from '../sasrec.ts';
import { BatchSampler } from './batch.ts';
import { Rng } from '../../nn/rng.ts';
import { fromSequences } from '../../data/interactions.ts';

const nItems = 9;
const dk = 5;

function knowledgeTable(seed: number, n = nItems): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * dk }, () => rng.normal());
}

function setup(loss: string, threads: number) {
  const cfg = parseSASRecConfig({ hidden: 8, blocks: 1, heads: 2, maxLen: 6, dropout: 0, threads, loss, negatives: 2, knowledgeDim: dk, knowledgeExperts: 2, knowledgeHidden: 4 });
  const rng = new Rng(3);
  const data = fromSequences([[0, 1, 2, 3, 4, 5, 6, 7, 8], [3, 3, 1], [8, 2, 5, 7, 1], [4, 6]], nItems);
  const net = new SASRecNet(cfg, nItems);
  net.init(rng);
  net.knowledge!.setTable(knowledgeTable(11));
  net.invalidate();
  const batch = new BatchSampler(data, cfg.maxLen).sample(5, cfg.loss === 'ce' ? 0 : cfg.negatives, rng);
  return { net, batch };
}

/** Ẽ recomputed in float64 from the parameters, straight from the equations. */
function effectiveReference(net: SASRecNet): Float64Array {
  const k = net.knowledge!;
  const d = net.cfg.hidden;
  const get = (name: string): Float32Array => net.params.get(name).data.a;
  const K = k.table.data.a;
  const E = net.item.data.a;
  const nE = k.cfg.experts;
  const h = k.cfg.hidden;
  const out = new Float64Array((nItems + 1) * d);
  for (let i = 0; i < nItems; i++) {
    const x = Array.from(K.subarray(i * dk, i * dk + dk));
    const gw = get('knowledge.gate.0.weight');
    const gb = get('knowledge.gate.0.bias');
    const z = Array.from({ length: nE }, (_, e) => gb[e] + x.reduce((s, v, c) => s + gw[e * dk + c] * v, 0));
    const m = Math.max(...z);
    const ex = z.map((v) => Math.exp(v - m));
    const sum = ex.reduce((a, b) => a + b, 0);
    for (let j = 0; j < d; j++) out[(i + 1) * d + j] = E[(i + 1) * d + j];
    for (let e = 0; e < nE; e++) {
      const w0 = get(`knowledge.expert.${e}.0.weight`);
      const b0 = get(`knowledge.expert.${e}.0.bias`);
      const w1 = get(`knowledge.expert.${e}.1.weight`);
      const b1 = get(`knowledge.expert.${e}.1.bias`);
      const hid = Array.from({ length: h }, (_, o) => Math.max(0, b0[o] + x.reduce((s, v, c) => s + w0[o * dk + c] * v, 0)));
      for (let j = 0; j < d; j++) {
        const y = b1[j] + hid.reduce((s, v, c) => s + w1[j * h + c] * v, 0);
        out[(i + 1) * d + j] += (ex[e] / sum) * y;
      }
    }
  }
  return out;
}

describe('SASRec item knowledge adaptor', () => {
  it('the effective item table equals E + the gated experts (float64 reference)', () => {
    const { net } = setup('bce', 1);
    const panels = net.itemPanels(); // builds Ẽ
    expect(panels).toBeDefined();
    const ref = effectiveReference(net);
    const eff = net.knowledge!.effective.a;
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(eff[i] - ref[i]));
    expect(worst).toBeLessThan(1e-5);
    // the knowledge part is not negligible, so the check above tests it
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ref[i] - net.item.data.a[i]));
    expect(diff).toBeGreaterThan(0.05);
  });

  for (const [loss, threads] of [['bce', 2], ['sampled-softmax', 1], ['ce', 2]] as const) {
    it(`every gradient matches central finite differences (${loss}, ${threads} thread(s))`, () => {
      const { net, batch } = setup(loss, threads);
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
      let checked = 0;
      const checkedNames = new Set<string>();
      net.params.list.forEach((p, k) => {
        const g = analytic[k];
        if (p.name === 'knowledge.item') {
          // fixed vectors: no gradient is ever written
          expect(g.every((v) => v === 0), p.name).toBe(true);
          return;
        }
        const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 4);
        const scale = Math.abs(g[order[0]]);
        if (scale < 1e-4) return; // below float32 finite-difference resolution
        for (const i of order) {
          const x0 = p.data.a[i];
          p.data.a[i] = x0 + h;
          const up = lossAt();
          p.data.a[i] = x0 - h;
          const down = lossAt();
          p.data.a[i] = x0;
          expect(Math.abs((up - down) / (2 * h) - g[i]) / scale, `${p.name}[${i}]`).toBeLessThan(0.03);
          checked++;
          checkedNames.add(p.name);
        }
      });
      // 2 experts × 2 layers × (weight, bias) + the gate's weight and bias: all measurably checked
      const adaptorNames = net.params.list.map((p) => p.name).filter((name) => name.startsWith('knowledge.expert') || name.startsWith('knowledge.gate'));
      expect(adaptorNames.length).toBe(10);
      expect(adaptorNames.filter((name) => checkedNames.has(name)).length, [...checkedNames].join(' ')).toBeGreaterThanOrEqual(8);
      expect(checkedNames.has('item.weight')).toBe(true);
      expect(checked).toBeGreaterThan(40);
    });
  }
});

describe('SASRec with item knowledge: training, serving, save/load', () => {
  const n = 20;
  const seqs = Array.from({ length: 40 }, (_, u) => Array.from({ length: 6 + (u % 4) }, (_, j) => (u + j) % n));
  const data = fromSequences(seqs, n);
  const config = { hidden: 8, blocks: 1, heads: 1, maxLen: 8, dropout: 0.1, batchSize: 16, epochs: 3, lr: 1e-2, threads: 2, knowledgeDim: dk, knowledgeExperts: 2, knowledgeHidden: 4 };

  it('refuses knowledgeDim without vectors, and vectors without knowledgeDim', async () => {
    await expect(new SASRec(config).fit(data, { seed: 1, progress: false })).rejects.toThrow(/no item knowledge was given/);
    expect(() => new SASRec({ ...config, knowledgeDim: 0 }).setItemKnowledge(new Float32Array(10))).toThrow(/knowledgeDim > 0/);
    const m = new SASRec(config);
    m.setItemKnowledge(new Float32Array(3 * dk));
    await expect(m.fit(data, { seed: 1, progress: false })).rejects.toThrow(/need 20 items × 5/);
  });

  it('trains the adaptor, leaves the vectors unchanged, and serves the same scores after save/load without them', async () => {
    const K = knowledgeTable(5, n);
    const m = new SASRec(config);
    m.setItemKnowledge(K);
    const r = await m.fit(data, { seed: 4, progress: false });
    expect(r.epochs).toBe(3);
    expect(Array.from(m.network.knowledge!.table.data.a)).toEqual(Array.from(K));
    const fresh = new SASRecNet(parseSASRecConfig(config), n);
    fresh.init(new Rng(4).fork());
    const moved = m.network.params.get('knowledge.expert.0.0.weight').data.a.some((v, i) => v !== fresh.params.get('knowledge.expert.0.0.weight').data.a[i]);
    expect(moved).toBe(true);
    const users = Int32Array.from([0, 3, 17]);
    const out = new Float32Array(users.length * n);
    m.scoreUsers(users, data, out);
    const dir = mkdtempSync(join(tmpdir(), 'sasrec-knowledge-'));
    try {
      await m.save(dir);
      const loaded = await SASRec.load(dir);
      const out2 = new Float32Array(users.length * n);
      loaded.scoreUsers(users, data, out2);
      expect(Array.from(out2)).toEqual(Array.from(out));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resumes from a checkpoint bit-identically (2 epochs, stop, a new model to 4 = 4 straight)', async () => {
    const K = knowledgeTable(6, n);
    const cfg = { ...config, threads: 1, epochs: 4 };
    const root = mkdtempSync(join(tmpdir(), 'sasrec-knowledge-resume-'));
    try {
      const straight = new SASRec(cfg);
      straight.setItemKnowledge(K);
      await straight.fit(data, { seed: 8, progress: false });
      const first = new SASRec({ ...cfg, epochs: 2 });
      first.setItemKnowledge(K);
      await first.fit(data, { seed: 8, progress: false, checkpoint: { dir: join(root, 'ckpt') } });
      const resumed = new SASRec(cfg);
      resumed.setItemKnowledge(K);
      const r = await resumed.fit(data, { seed: 8, progress: false, checkpoint: { dir: join(root, 'ckpt') } });
      expect(r.history.length).toBe(4);
      for (const p of straight.network.params.list) {
        expect(Array.from(resumed.network.params.get(p.name).data.a), p.name).toEqual(Array.from(p.data.a));
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
