/**
 * Training data and training of the tape re-rankers on list logs.
 *
 * Splits (per user, in time order, so nothing of the test list is seen before the test):
 * - train: past list h (h = 1 … H − 2) as the list to re-rank, past lists 0 … h − 1 as history;
 * - valid: past list H − 1, history 0 … H − 2 (early stopping and hyper-parameters read only this);
 * - test: the candidate list, history = all H past lists.
 * Scores are the ranker's, min-max scaled within each list.
 *
 * Training: Adam on minibatches of distinct users (each epoch takes the users in a fresh order and
 * one of their training lists per pass, so InfoNCE's in-batch negatives are other users); loss =
 * mean BCE over the batch's candidates + λ·InfoNCE over the batch; after each epoch NDCG@10 on
 * valid; the best epoch's weights are kept; stop after `patience` epochs without a gain.
 */
import { Rng } from '../../util/rng.ts';
import { listMetrics, type ListLog } from '../lists.ts';
import { infoNce, type RerankInput, type TapeReranker } from './relife.ts';
import { ADAM } from './params.ts';
import { Tape, type V } from './tape.ts';

/** One list to re-rank, with its clicks (labels in train, hidden truth in valid/test). */
export interface RerankExample extends RerankInput {
  user: number;
  clicks: Uint8Array;
}

/** Ranker scores of items scaled to [0, 1] within the list. */
export function scaledScores(ranker: Float32Array, nItems: number, user: number, items: Int32Array): Float64Array {
  const s = Float64Array.from(items, (i) => ranker[user * nItems + i]);
  let lo = Infinity, hi = -Infinity;
  for (const x of s) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  return s.map((x) => (hi > lo ? (x - lo) / (hi - lo) : 0));
}

/** The train / valid / test examples of a set of logs (see the file comment). */
export function splitLogs(logs: readonly ListLog[], ranker: Float32Array, nItems: number): { train: RerankExample[]; valid: RerankExample[]; test: RerankExample[] } {
  const train: RerankExample[] = [], valid: RerankExample[] = [], test: RerankExample[] = [];
  for (const l of logs) {
    const H = l.past.length;
    if (H < 3) throw new Error(`splitLogs: user ${l.user} has ${H} past lists; training, validation and test need at least 3`);
    const ex = (h: number): RerankExample => ({ user: l.user, past: l.past.slice(0, h), candidates: l.past[h].items, clicks: l.past[h].clicks, scores: scaledScores(ranker, nItems, l.user, l.past[h].items) });
    for (let h = 1; h <= H - 2; h++) train.push(ex(h));
    valid.push(ex(H - 1));
    test.push({ user: l.user, past: l.past, candidates: l.candidates, clicks: l.clicks, scores: scaledScores(ranker, nItems, l.user, l.candidates) });
  }
  return { train, valid, test };
}

/** Settings of {@link trainReranker}. */
export interface TrainOptions {
  epochs: number;
  patience: number;
  batch: number;
  lr: number;
  weightDecay: number;
  /** Weight λ of InfoNCE (models without patterns ignore it). */
  lambda: number;
  tau: number;
  k: number;
  seed: number;
}

export const TRAIN_DEFAULTS: TrainOptions = { epochs: 20, patience: 3, batch: 32, lr: 3e-3, weightDecay: 1e-5, lambda: 0.1, tau: 0.2, k: 10, seed: 0 };

/** The loss of one batch on a tape (a fresh one by default): mean BCE + λ·InfoNCE. Returns the tape, the loss and its parts. */
export function batchLoss(model: TapeReranker, batch: readonly RerankExample[], lambda: number, tau: number, t = new Tape()): { tape: Tape; loss: V; bce: number; nce: number } {
  const bces: V[] = [], P: V[] = [], U: V[] = [];
  let n = 0;
  for (const x of batch) {
    const out = model.forward(t, x, lambda > 0);
    bces.push(t.bceWithLogits(out.logits, x.clicks));
    n += x.clicks.length;
    if (out.pattern && out.userPattern) {
      P.push(out.pattern);
      U.push(out.userPattern);
    }
  }
  const bce = t.scale(t.meanRows(t.stackRows(bces)), bces.length / n);
  if (lambda === 0 || P.length < 2) return { tape: t, loss: bce, bce: bce.data[0], nce: 0 };
  const nce = infoNce(t, t.stackRows(P), t.stackRows(U), tau);
  return { tape: t, loss: t.add(bce, t.scale(nce, lambda)), bce: bce.data[0], nce: nce.data[0] };
}

/** Positions of a list's candidates by descending logit (ties: ranker order). */
export function rerankOrder(model: TapeReranker, x: RerankInput): number[] {
  const z = model.forward(new Tape(), x, false).logits.data;
  return Array.from(x.candidates.keys()).sort((a, b) => z[b] - z[a] || a - b);
}

/** Mean NDCG@k, MAP@k, clicks@k of a model's orders over examples. */
export function evaluate(order: (x: RerankExample) => number[], xs: readonly RerankExample[], k: number): { ndcg: number; map: number; clicks: number } {
  let ndcg = 0, map = 0, clicks = 0;
  for (const x of xs) {
    const m = listMetrics(order(x), x.clicks, k);
    ndcg += m.ndcg;
    map += m.map;
    clicks += m.clicks;
  }
  return { ndcg: ndcg / xs.length, map: map / xs.length, clicks: clicks / xs.length };
}

/** What training reports. */
export interface TrainReport {
  bestEpoch: number;
  bestValidNdcg: number;
  /** Per epoch: mean BCE, mean InfoNCE, valid NDCG@k. */
  epochs: { bce: number; nce: number; validNdcg: number }[];
}

/** Trains in place; the model ends with its best-on-validation weights. */
export function trainReranker(model: TapeReranker, train: readonly RerankExample[], valid: readonly RerankExample[], options: Partial<TrainOptions> = {}): TrainReport {
  const o = { ...TRAIN_DEFAULTS, ...options };
  const rng = new Rng(o.seed);
  const byUser = new Map<number, RerankExample[]>();
  for (const x of train) byUser.set(x.user, [...(byUser.get(x.user) ?? []), x]);
  const users = [...byUser.keys()];
  const slot = new Map(users.map((u, k) => [u, k]));
  const adam = { ...ADAM, lr: o.lr, weightDecay: o.weightDecay };
  const report: TrainReport = { bestEpoch: 0, bestValidNdcg: evaluate((x) => rerankOrder(model, x), valid, o.k).ndcg, epochs: [] };
  let best = model.params.snapshot();
  for (let e = 1; e <= o.epochs; e++) {
    const passes = Math.max(...[...byUser.values()].map((xs) => xs.length));
    const order = users.map((u) => rng.shuffle([...byUser.get(u)!]));
    let bceSum = 0, nceSum = 0, steps = 0;
    for (let p = 0; p < passes; p++) {
      const us = rng.shuffle([...users]).filter((u) => byUser.get(u)!.length > p);
      for (let b = 0; b < us.length; b += o.batch) {
        const batch = us.slice(b, b + o.batch).map((u) => order[slot.get(u)!][p]);
        const { tape, loss, bce, nce } = batchLoss(model, batch, o.lambda, o.tau);
        tape.backward(loss);
        model.params.step(adam);
        bceSum += bce;
        nceSum += nce;
        steps++;
      }
    }
    const validNdcg = evaluate((x) => rerankOrder(model, x), valid, o.k).ndcg;
    report.epochs.push({ bce: bceSum / steps, nce: nceSum / steps, validNdcg });
    if (validNdcg > report.bestValidNdcg) {
      report.bestValidNdcg = validNdcg;
      report.bestEpoch = e;
      best = model.params.snapshot();
    } else if (e - report.bestEpoch >= o.patience) break;
  }
  model.params.restore(best);
  return report;
}
