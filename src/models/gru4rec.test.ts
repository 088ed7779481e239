/**
 * GRU4Rec against float64 references written from the equations: one session-parallel step's
 * loss and the finite-difference gradients of every parameter (CE and BPR-max), the recurrence at
 * inference, BPR-max's gradient, a toy task, scoring of raw sequences, checkpoint round trip.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GRU4Rec, GRU4RecNet, bprMax, parseGRU4RecConfig, type LaneStep } from './gru4rec.ts';
import { Rng } from '../nn/rng.ts';
import { maxRelError, numericGrad } from '../nn/gradcheck.ts';
import { loadModel } from './registry.ts';
import type { Interactions } from '../data/types.ts';

type W = Map<string, Float64Array>;
const sig = (x: number): number => 1 / (1 + Math.exp(-x));

/** torch.nn.GRUCell in float64 (gate order r, z, n). */
function gruRef(w: W, x: number[], hp: number[]): number[] {
  const H = hp.length, I = x.length;
  const Wi = w.get('gru.weight_ih')!, Wh = w.get('gru.weight_hh')!, bi = w.get('gru.bias_ih')!, bh = w.get('gru.bias_hh')!;
  const gi = (r: number): number => x.reduce((a, v, k) => a + Wi[r * I + k] * v, bi[r]);
  const gh = (r: number): number => hp.reduce((a, v, k) => a + Wh[r * H + k] * v, bh[r]);
  return hp.map((hv, j) => {
    const r = sig(gi(j) + gh(j)), z = sig(gi(H + j) + gh(H + j));
    const n = Math.tanh(gi(2 * H + j) + r * gh(2 * H + j));
    return (1 - z) * n + z * hv;
  });
}

const emb = (w: W, id: number, h: number): number[] => Array.from(w.get('item.weight')!.subarray(id * h, id * h + h));

/** Loss of one step from the equations (no dropout). */
function stepLoss(w: W, step: LaneStep, state: number[][], loss: 'ce' | 'bpr-max', h: number): number {
  const cand = [...step.targets, ...step.extra];
  const b = w.get('out.bias')!;
  const B = step.inputs.length;
  const Z = new Float64Array(B * cand.length);
  let total = 0;
  step.inputs.forEach((it, i) => {
    const hn = gruRef(w, emb(w, it, h), state[i]);
    const z = cand.map((c) => emb(w, c, h).reduce((a, v, k) => a + v * hn[k], b[c]));
    z.forEach((v, j) => (Z[i * cand.length + j] = v));
    const m = Math.max(...z);
    total += m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0)) - z[i];
  });
  if (loss === 'ce') return total / B;
  // BPR-max from its definition, in float64
  let t2 = 0;
  for (let i = 0; i < B; i++) {
    const z = Array.from(Z.subarray(i * cand.length, (i + 1) * cand.length));
    const neg = z.filter((_, j) => j !== i);
    const m = Math.max(...neg);
    const e = neg.map((v) => Math.exp(v - m));
    const se = e.reduce((a, v) => a + v, 0);
    const s = e.map((v) => v / se);
    t2 += -Math.log(s.reduce((a, sj, k) => a + sj * sig(z[i] - neg[k]), 0)) + 0.5 * s.reduce((a, sj, k) => a + sj * neg[k] ** 2, 0);
  }
  return t2 / B;
}

function setup(loss: 'ce' | 'bpr-max'): { net: GRU4RecNet; w: W; step: LaneStep; state: number[][] } {
  const cfg = parseGRU4RecConfig({ hidden: 5, batchSize: 3, negatives: 4, dropoutHidden: 0, loss, bpreg: 0.5 });
  const net = new GRU4RecNet(cfg, 9);
  const rng = new Rng(7);
  for (const p of net.params.list) for (let i = 0; i < p.size; i++) p.data.a[i] = rng.normal() * 0.5;
  for (let i = 0; i < net.state.a.length; i++) net.state.a[i] = rng.normal() * 0.5;
  const state = [0, 1, 2].map((l) => Array.from(net.state.a.subarray(l * 5, l * 5 + 5)));
  const w: W = new Map(net.params.list.map((p) => [p.name, Float64Array.from(p.data.a)]));
  const step: LaneStep = { inputs: Int32Array.from([3, 1, 7]), targets: Int32Array.from([2, 9, 4]), extra: Int32Array.from([5, 6, 2, 8]) };
  return { net, w, step, state };
}

describe('GRU4Rec on the engine', () => {
  for (const loss of ['ce', 'bpr-max'] as const) {
    it(`one session-parallel step matches the float64 reference (${loss}): loss, every gradient, next state`, () => {
      const { net, w, step, state } = setup(loss);
      const got = net.forwardBackward(step, 1);
      expect(Math.abs(got - stepLoss(w, step, state, loss, 5))).toBeLessThan(2e-5 * Math.max(1, got));
      for (const p of net.params.list) {
        const x = w.get(p.name)!;
        const num = numericGrad((z) => {
          w.set(p.name, z);
          return stepLoss(w, step, state, loss, 5);
        }, x, 1e-5);
        w.set(p.name, x);
        expect(maxRelError(p.grads[0].a.subarray(0, p.size), num, 1e-4), `${loss} ${p.name}`).toBeLessThan(2e-3);
      }
      const want = step.inputs.reduce<number[]>((acc, it, i) => acc.concat(gruRef(w, emb(w, it, 5), state[i])), []);
      expect(maxRelError(net.state.a.subarray(0, 15), want)).toBeLessThan(1e-5);
    });
  }

  it('BPR-max gradient matches finite differences of its own loss', () => {
    const rng = new Rng(2);
    const B = 3, NC = 7;
    const z0 = Float64Array.from({ length: B * NC }, () => rng.normal());
    const f = (z: Float64Array): number => bprMax(Float32Array.from(z), B, NC, 0.7);
    const num = numericGrad(f, z0, 1e-3);
    const g = Float32Array.from(z0);
    bprMax(g, B, NC, 0.7);
    expect(maxRelError(g, num)).toBeLessThan(2e-3);
  });

  it('runs the recurrence over ragged sequences at inference (longest first, any order back)', () => {
    const { net, w } = setup('ce');
    const seqs = [Int32Array.from([3, 1]), Int32Array.from([2, 5, 7, 1]), Int32Array.from([9])];
    const out = new Float32Array(15);
    net.lastHidden(seqs, out);
    seqs.forEach((s, i) => {
      let hcur = new Array<number>(5).fill(0);
      for (const it of s) hcur = gruRef(w, emb(w, it, 5), hcur);
      expect(maxRelError(out.subarray(i * 5, i * 5 + 5), hcur)).toBeLessThan(1e-5);
    });
  });

  it('learns a toy task, scores histories and raw sequences alike, and round-trips a checkpoint', async () => {
    const nU = 60, n = 8, len = 12;
    const offsets = Int32Array.from({ length: nU + 1 }, (_, u) => u * len);
    const items = new Int32Array(nU * len);
    for (let u = 0; u < nU; u++) for (let k = 0; k < len; k++) items[u * len + k] = (u + k) % n;
    const data = { nUsers: nU, nItems: n, offsets, items } as unknown as Interactions;
    const model = new GRU4Rec({ hidden: 16, batchSize: 8, negatives: 4, epochs: 15, lr: 0.02, dropoutHidden: 0 });
    const rep = await model.fit(data, { seed: 3 });
    // 8 lanes over 8 items: in-batch targets repeat, so CE cannot go far below log 2 — the loss
    // falls, and the ranking below is the real check
    expect(rep.history.at(-1)!.loss).toBeLessThan(rep.history[0].loss);
    const out = new Float32Array(2 * n);
    model.scoreUsers(Int32Array.from([0, 3]), data, out);
    expect(out.subarray(0, n).indexOf(Math.max(...out.subarray(0, n)))).toBe(4);
    expect(out.subarray(n).indexOf(Math.max(...out.subarray(n)))).toBe(7);
    const one = new Float32Array(n);
    model.scoreSequence(items.subarray(0, len), one);
    expect(maxRelError(one, out.subarray(0, n))).toBeLessThan(1e-6);
    const dir = mkdtempSync(join(tmpdir(), 'gru4rec-'));
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
