/**
 * Training data and training of the engine re-rankers on list logs.
 *
 * Splits (per user, in time order, so nothing of the test list is seen before the test):
 * - train: past list h (h = 1 … H − 2) as the list to re-rank, past lists 0 … h − 1 as history;
 * - valid: past list H − 1, history 0 … H − 2 (early stopping and hyper-parameters read only this);
 * - test: the candidate list, history = all H past lists.
 * Scores are the ranker's, min-max scaled within each list.
 *
 * Training: Adam (src/nn/optim.ts; L2 weight decay as torch.optim.Adam) on minibatches of distinct
 * users (each epoch takes the users in a fresh order and one of their training lists per pass, so
 * InfoNCE's in-batch negatives are other users); loss =
 * mean BCE over the batch's candidates + λ·InfoNCE over the batch; after each epoch NDCG@10 on
 * valid; the best epoch's weights are kept; stop after `patience` epochs without a gain.
 */
import { Adam, type AdamConfig } from '../../nn/optim.ts';
import { Rng } from '../../util/rng.ts';
import { listMetrics, type ListLog } from '../lists.ts';
import type { EngineReranker, LabelledList, RerankInput } from './encoder.ts';

/** One list to re-rank, with its clicks (labels in train, hidden truth in valid/test). */
export interface RerankExample extends LabelledList {
  user: number;
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

/** Positions of each list's candidates by descending logit (ties: ranker order), lists scored in chunks of the model's batch. */
export function rerankOrders(model: EngineReranker, xs: readonly RerankInput[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < xs.length; i += model.config.batch) {
    const chunk = xs.slice(i, i + model.config.batch);
    model.logits(chunk).forEach((z, b) => out.push(Array.from(chunk[b].candidates.keys()).sort((p, q) => z[q] - z[p] || p - q)));
  }
  return out;
}

/** Mean NDCG@k, MAP@k, clicks@k of orders (positions into each list's candidates) over examples. */
export function evaluateOrders(orders: readonly number[][], xs: readonly RerankExample[], k: number): { ndcg: number; map: number; clicks: number } {
  let ndcg = 0, map = 0, clicks = 0;
  xs.forEach((x, i) => {
    const m = listMetrics(orders[i], x.clicks, k);
    ndcg += m.ndcg;
    map += m.map;
    clicks += m.clicks;
  });
  return { ndcg: ndcg / xs.length, map: map / xs.length, clicks: clicks / xs.length };
}

/** Mean NDCG@k, MAP@k, clicks@k of an order function over examples. */
export function evaluate(order: (x: RerankExample) => number[], xs: readonly RerankExample[], k: number): { ndcg: number; map: number; clicks: number } {
  return evaluateOrders(xs.map(order), xs, k);
}

/** A model's figures on examples. */
export function evaluateModel(model: EngineReranker, xs: readonly RerankExample[], k: number): { ndcg: number; map: number; clicks: number } {
  return evaluateOrders(rerankOrders(model, xs), xs, k);
}

/** What training reports. */
export interface TrainReport {
  bestEpoch: number;
  bestValidNdcg: number;
  /** Per epoch: mean BCE, mean InfoNCE, valid NDCG@k, wall seconds of the epoch's training steps. */
  epochs: { bce: number; nce: number; validNdcg: number; seconds: number }[];
}

/** Trains in place; the model ends with its best-on-validation weights. */
export function trainReranker(model: EngineReranker, train: readonly RerankExample[], valid: readonly RerankExample[], options: Partial<TrainOptions> = {}): TrainReport {
  const o = { ...TRAIN_DEFAULTS, ...options };
  if (o.batch > model.config.batch) throw new Error(`trainReranker: batches of ${o.batch} lists, the model holds ${model.config.batch}`);
  const rng = new Rng(o.seed);
  const byUser = new Map<number, RerankExample[]>();
  for (const x of train) byUser.set(x.user, [...(byUser.get(x.user) ?? []), x]);
  const users = [...byUser.keys()];
  const slot = new Map(users.map((u, k) => [u, k]));
  const adam: AdamConfig = { lr: o.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay, decoupled: false, clipNorm: 0 };
  const opt = new Adam(model.params, adam);
  const report: TrainReport = { bestEpoch: 0, bestValidNdcg: evaluateModel(model, valid, o.k).ndcg, epochs: [] };
  let best = model.params.snapshot();
  for (let e = 1; e <= o.epochs; e++) {
    const t0 = performance.now();
    const passes = Math.max(...[...byUser.values()].map((xs) => xs.length));
    const order = users.map((u) => rng.shuffle([...byUser.get(u)!]));
    let bceSum = 0, nceSum = 0, steps = 0;
    for (let p = 0; p < passes; p++) {
      const us = rng.shuffle([...users]).filter((u) => byUser.get(u)!.length > p);
      for (let b = 0; b < us.length; b += o.batch) {
        const batch = us.slice(b, b + o.batch).map((u) => order[slot.get(u)!][p]);
        const { bce, nce } = model.lossAndGrad(batch, o.lambda, o.tau);
        opt.step(o.lr, 1, new Map());
        bceSum += bce;
        nceSum += nce;
        steps++;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const validNdcg = evaluateModel(model, valid, o.k).ndcg;
    report.epochs.push({ bce: bceSum / steps, nce: nceSum / steps, validNdcg, seconds });
    if (validNdcg > report.bestValidNdcg) {
      report.bestValidNdcg = validNdcg;
      report.bestEpoch = e;
      best = model.params.snapshot();
    } else if (e - report.bestEpoch >= o.patience) break;
  }
  model.params.restore(best);
  return report;
}
