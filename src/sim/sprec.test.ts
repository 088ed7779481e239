/**
 * SPRec: SFT and DPO gradients of the model against finite differences of the losses, the DPO
 * pair quirk (chosen = rejected gives no gradient), leave-one-out records and round metrics by
 * hand, the JSONL export validated against its schema (and a broken file named by line and field),
 * and DPO moving probability from the model's own top-1 to the truth.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxRelError, numericGrad } from '../nn/gradcheck.ts';
import { Rng } from '../util/rng.ts';
import { fromSequences } from '../data/interactions.ts';
import { categoriesFromLists } from './env.ts';
import { MeanSoftmaxModel, dpoLoss, logSoftmaxAt, sftLoss } from './sprec-model.ts';
import { dpoEpoch, evaluateRound, leaveOneOut, pairRecords, selfPlayPairs, validatePairsJsonl, writePairsJsonl } from './sprec.ts';

const cfg = { nItems: 6, dims: 3, maxHistory: 3, lr: 1e-2, batch: 4, seed: 3 };
const hist = Int32Array.from([4, 0, 2, 5]); // window: the last 3 = [0, 2, 5]

function fdCheck(model: MeanSoftmaxModel, loss: (m: MeanSoftmaxModel) => number, analytic: () => void): void {
  model.grads.fill(0);
  analytic();
  const num = numericGrad((x) => loss(new MeanSoftmaxModel(cfg, x)), Float64Array.from(model.params));
  expect(maxRelError(model.grads, num, 1e-6)).toBeLessThan(1e-5);
}

describe('SPRec model gradients', () => {
  const model = new MeanSoftmaxModel(cfg);
  const rng = new Rng(2);
  for (let k = 0; k < model.params.length; k++) model.params[k] = 0.5 * rng.normal();
  const z = new Float64Array(6), dz = new Float64Array(6);

  it('SFT: −log π(y | x) against finite differences', () => {
    fdCheck(model, (m) => -logSoftmaxAt(m.logits(hist, new Float64Array(6)), 1), () => {
      sftLoss(model.logits(hist, z), 1, dz);
      model.backward(hist, dz, null);
    });
  });

  it('DPO: −log σ(β·Δ) against finite differences; reference fixed', () => {
    const ref = new MeanSoftmaxModel(cfg, model.params.map((v, k) => v + 0.1 * Math.sin(k)));
    const zr = ref.logits(hist, new Float64Array(6));
    const rc = logSoftmaxAt(zr, 3), rr = logSoftmaxAt(zr, 1);
    const loss = (m: MeanSoftmaxModel): number => dpoLoss(m.logits(hist, new Float64Array(6)), 3, 1, rc, rr, 0.7, new Float64Array(6));
    fdCheck(model, loss, () => {
      dpoLoss(model.logits(hist, z), 3, 1, rc, rr, 0.7, dz);
      model.backward(hist, dz, [3, 1]);
    });
    // by hand at Δ = 0 (model = reference): loss = ln 2
    expect(dpoLoss(zr, 3, 1, rc, rr, 0.7, dz)).toBeCloseTo(Math.log(2), 12);
    // chosen = rejected: Δ = 0 and no gradient (SPRec keeps such pairs)
    dpoLoss(model.logits(hist, z), 2, 2, 0, 0, 0.7, dz);
    expect(Array.from(dz).every((v) => v === 0)).toBe(true);
  });
});

describe('SPRec data and metrics', () => {
  it('leave-one-out: last item is the test target; earlier positions train', () => {
    const data = fromSequences([[0, 1, 2, 3], [4, 5], [1]], 6);
    const { train, test } = leaveOneOut(data, 10);
    expect(test.map((r) => [r.user, Array.from(r.history), r.target])).toEqual([[0, [0, 1, 2], 3], [1, [4], 5]]);
    expect(train.map((r) => [r.user, Array.from(r.history), r.target])).toEqual([[0, [0], 1], [0, [0, 1], 2]]);
    expect(leaveOneOut(data, 1).train.map((r) => r.target)).toEqual([2]);
  });

  it('round metrics by hand with a fixed ranking (bias only)', () => {
    const m = new MeanSoftmaxModel(cfg);
    m.params.fill(0);
    [5, 4, 3, 2, 1, 0].forEach((s, i) => (m.params[m.offB + i] = s)); // ranking 0 > 1 > … > 5
    const cats = categoriesFromLists([['a'], ['a'], ['b'], ['b'], ['c'], ['c']]);
    const test = [
      { user: 0, history: Int32Array.from([0]), target: 2 }, // list [1, 2]: hit at rank 2
      { user: 1, history: Int32Array.from([4]), target: 5 }, // list [0, 1]: miss
    ];
    const r = evaluateRound(m, test, cats, 2);
    expect(r.hr).toBe(0.5);
    expect(r.ndcg).toBeCloseTo(0.5 / Math.log2(3), 12);
    expect(r.div_ratio).toBe(3 / 4); // items 0, 1, 2 over 2·2 slots
    expect(r.or_ratio).toBe(1); // the top-3 items take all 4 slots
    // p_rec: a 3/4, b 1/4, c 0; p_hist: a 1/2, c 1/2 → |diff| = 1/4, 1/4, 1/2
    expect(r.mgu).toBeCloseTo((0.25 + 0.25 + 0.5) / 3, 12);
    expect(r.dgu).toBeCloseTo(0.25 - -0.5, 12);
  });
});

describe('SPRec pairs', () => {
  it('DPO on self-play pairs lowers the model’s own top-1 and raises the truth', () => {
    const m = new MeanSoftmaxModel({ ...cfg, lr: 0.05 });
    const records = [{ user: 0, history: hist, target: 1 }];
    const pairs = selfPlayPairs(m, records);
    const z0 = m.logits(hist, new Float64Array(6));
    const before = { chosen: logSoftmaxAt(z0, 1), rejected: logSoftmaxAt(z0, pairs[0].rejected) };
    expect(hist.includes(pairs[0].rejected)).toBe(false);
    dpoEpoch(m, m.clone(), Array.from({ length: 8 }, () => pairs[0]), 0.5, new Rng(1));
    const z1 = m.logits(hist, new Float64Array(6));
    if (pairs[0].rejected !== 1) {
      expect(logSoftmaxAt(z1, 1)).toBeGreaterThan(before.chosen);
      expect(logSoftmaxAt(z1, pairs[0].rejected)).toBeLessThan(before.rejected);
    }
  });

  it('JSONL export passes its schema; a bad file is named by line and field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sprec-'));
    const path = join(dir, 'pairs.jsonl');
    const titles = ['Toy Story (1995)', 'GoldenEye (1995)', 'Say "Anything" (1989)', 'D', 'E', 'F'];
    const recs = pairRecords([{ history: Int32Array.from([0, 2]), chosen: 1, rejected: 2 }], titles);
    expect(recs[0].chosen).toBe('"GoldenEye (1995)"');
    expect(recs[0].rejected).toBe('"Say \'Anything\' (1989)"');
    expect(recs[0].prompt).toContain('"Toy Story (1995)", "Say \'Anything\' (1989)"');
    writePairsJsonl(path, recs);
    expect(validatePairsJsonl(path, readFileSync(path, 'utf8'))).toBe(1);
    writeFileSync(path, `${JSON.stringify(recs[0])}\n${JSON.stringify({ ...recs[0], rejected: 'GoldenEye' })}\n`);
    expect(() => validatePairsJsonl(path, readFileSync(path, 'utf8'))).toThrow(/pairs.jsonl:2: field rejected: a title in double quotes/);
    expect(() => validatePairsJsonl(path, '{"prompt":')).toThrow(/pairs.jsonl:1: not JSON/);
  });
});
