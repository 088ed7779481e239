/**
 * SPRec (Gao et al., WWW 2025) on reclab's SASRec (src/models/sasrec.ts), full-softmax ("ce")
 * loss so that π(i | x) = softmax(s(x)/τ)_i is the distribution SFT and DPO act on. The loop is
 * the one of ./sprec.ts (RegionCh/SPRec `shell/SPRec.sh`), with SASRec in place of the
 * mean-pooled model:
 * 0. base: SASRec's own CE training on every user's sequence without its held-out item(s);
 * each round:
 * 1. sample `recordsPerRound` training records (the last `recordsPerUser` positions of each user);
 * 2. pairs: chosen = the record's true next item, rejected = the current model's own top-1
 *    (history excluded; pairs where they coincide are kept, as in the reference code);
 * 3. SFT on the positives: SASRec's CE training on the records' sequences (history + target, the
 *    last maxLen items), `sftEpochs` epochs, a fresh Adam (each SPRec stage is a new trainer);
 * 4. DPO, `dpoEpochs` epochs, a fresh Adam, dropout off (TRL's default), against a frozen
 *    reference π_ref: the round's SFT model (`reference: 'sft'`, what SPRec's dpo.py loads) or the
 *    model at the start of the round (`'round-start'`):
 *      Δ = β·[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))],  loss = −log σ(Δ),
 *    with log π the log-softmax over all items of the scores after the last history item. The
 *    normaliser is shared by c and r, so log π(c) − log π(r) = (s_c − s_r)/τ and ∂loss/∂s is
 *    −β·σ(−Δ)/τ at c and +β·σ(−Δ)/τ at r, 0 elsewhere: SASRecNet.forwardBackwardLast takes these
 *    as sparse score gradients and backpropagates them through the network (checked against
 *    finite differences of a float64 reference with the full log-softmax in the test);
 * 5. the next round starts from the DPO model.
 *
 * `holdout: 'valid'` drops every user's last event first, so the "test" item is the validation
 * item and hyperparameters can be chosen without touching the test items.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fromSequences } from '../data/interactions.ts';
import type { Interactions } from '../data/types.ts';
import { SASRec, SASRecNet } from '../models/sasrec.ts';
import { lastWindow, type SeqBatch } from '../models/seq/batch.ts';
import { Rng } from '../util/rng.ts';
import type { ItemCategories } from './env.ts';
import { topKAllowed } from './policies.ts';
import type { SeqRecord } from './sprec-model.ts';
import { banMask, leaveOneOut, listMetrics, type DpoPair, type ListMetrics } from './sprec.ts';

/** Settings of {@link runSprecSasrec}. */
export interface SprecSasrecOptions {
  rounds: number;
  beta: number;
  recordsPerRound: number;
  recordsPerUser: number;
  k: number;
  seed: number;
  /** SASRec config of the base model (loss is forced to 'ce'). */
  sasrec: Record<string, unknown>;
  sftLr: number;
  dpoLr: number;
  sftEpochs: number;
  dpoEpochs: number;
  /** Records (SFT) or pairs (DPO) per step. */
  batch: number;
  reference: 'sft' | 'round-start';
  holdout: 'test' | 'valid';
  /**
   * A folder where each base model is saved and, when already there, loaded instead of trained
   * (the base is a pure function of the data, the holdout, the SASRec config and the seed, which
   * name its subfolder), so settings of the rounds can be compared on the same base.
   */
  baseCache?: string;
}

export const SPREC_SASREC_DEFAULTS: SprecSasrecOptions = {
  rounds: 3, beta: 0.1, recordsPerRound: 2048, recordsPerUser: 5, k: 10, seed: 0,
  sasrec: { hidden: 50, blocks: 2, heads: 1, maxLen: 50, dropout: 0.2, epochs: 60, batchSize: 128, lr: 1e-3 },
  sftLr: 1e-4, dpoLr: 1e-4, sftEpochs: 1, dpoEpochs: 1, batch: 64, reference: 'sft', holdout: 'test',
};

/** Figures of one round (0 = the base model). */
export interface SprecSasrecRound extends ListMetrics {
  round: number;
  /** Mean DPO loss over the round's DPO steps (NaN for round 0). */
  dpo_loss: number;
  /** Share of pairs with chosen = rejected. */
  same_pairs: number;
  /** Mean SFT (CE) loss over the round's SFT steps (round 0: the base model's last epoch). */
  sft_loss: number;
}

/** Every user's sequence without its last `drop` events (the dataset's item count kept). */
export function dropLast(data: Interactions, drop: number): Interactions {
  const seqs: number[][] = [];
  for (let u = 0; u < data.nUsers; u++) seqs.push(Array.from(data.items.subarray(data.offsets[u], Math.max(data.offsets[u], data.offsets[u + 1] - drop))));
  return fromSequences(seqs, data.nItems);
}

/** A frozen copy of a network's weights (the DPO reference); no optimiser state. */
export function cloneNet(net: SASRecNet): SASRecNet {
  const copy = new SASRecNet(net.cfg, net.nItems);
  net.params.list.forEach((p, k) => copy.params.list[k].data.a.set(p.data.a));
  copy.invalidate();
  return copy;
}

/** A fresh optimiser: Adam's moments and step count back to zero. */
function resetAdam(net: SASRecNet): void {
  for (const p of net.params.list) {
    p.m.a.fill(0);
    p.v.a.fill(0);
  }
  net.adam.t = 0;
}

/** Scores (dataset item order) after each history's last `maxLen` items: rows × nItems. */
export function scoreHistories(net: SASRecNet, histories: readonly Int32Array[]): Float32Array {
  const d = net.cfg.hidden, n = net.nItems;
  const out = new Float32Array(histories.length * n);
  const chunk = 256;
  for (let a = 0; a < histories.length; a += chunk) {
    const part = histories.slice(a, a + chunk);
    const H = new Float32Array(part.length * d);
    net.lastHidden(part.map((h) => lastWindow(h, net.cfg.maxLen)), H);
    net.scoreHidden(H, part.length, out, a * n);
  }
  return out;
}

/** Top-K lists (history excluded) of the network for each record. */
export function topLists(net: SASRecNet, records: readonly SeqRecord[], k: number): Int32Array[] {
  const n = net.nItems;
  const scores = scoreHistories(net, records.map((r) => r.history));
  return records.map((r, j) => topKAllowed(scores.subarray(j * n, (j + 1) * n), k, banMask(n, r.history)));
}

/** log-softmax of s/τ at index y, in float64. */
function logSoftmaxAt(s: Float32Array, y: number, tau: number): number {
  let max = -Infinity;
  for (const v of s) if (v / tau > max) max = v / tau;
  let z = 0;
  for (const v of s) z += Math.exp(v / tau - max);
  return s[y] / tau - max - Math.log(z);
}

/** The reference's log π of each pair's chosen and rejected item. */
export function referenceLogProbs(ref: SASRecNet, pairs: readonly DpoPair[], tau: number): { chosen: Float64Array; rejected: Float64Array } {
  const n = ref.nItems;
  const scores = scoreHistories(ref, pairs.map((p) => p.history));
  const chosen = new Float64Array(pairs.length), rejected = new Float64Array(pairs.length);
  pairs.forEach((p, j) => {
    const row = scores.subarray(j * n, (j + 1) * n);
    chosen[j] = logSoftmaxAt(row, p.chosen, tau);
    rejected[j] = logSoftmaxAt(row, p.rejected, tau);
  });
  return { chosen, rejected };
}

/** Ragged batch of the histories' last `maxLen` items (internal ids). */
function raggedHistories(histories: readonly Int32Array[], maxLen: number): { off: Int32Array; inputs: Int32Array } {
  const wins = histories.map((h) => lastWindow(h, maxLen));
  const off = new Int32Array(wins.length + 1);
  wins.forEach((w, s) => (off[s + 1] = off[s] + w.length));
  const inputs = new Int32Array(off[wins.length]);
  wins.forEach((w, s) => inputs.set(w, off[s]));
  return { off, inputs };
}

const logSigmoid = (x: number): number => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * DPO loss (mean over the batch) of `pairs` under `net` (dropout off unless `seeds` given) with
 * the reference log-probabilities, gradients left in the net; returns the loss.
 */
export function dpoForwardBackward(net: SASRecNet, pairs: readonly DpoPair[], ref: { chosen: ArrayLike<number>; rejected: ArrayLike<number> }, beta: number): { loss: number; threadsUsed: number } {
  const { off, inputs } = raggedHistories(pairs.map((p) => p.history), net.cfg.maxLen);
  return net.forwardBackwardLast(off, inputs, null, dpoHead(net, pairs, ref, beta));
}

/** The DPO head for SASRecNet.forwardBackwardLast (see the file comment): mean loss over `pairs`. */
export function dpoHead(net: SASRecNet, pairs: readonly DpoPair[], ref: { chosen: ArrayLike<number>; rejected: ArrayLike<number> }, beta: number) {
  const d = net.cfg.hidden, tau = net.cfg.temperature, B = pairs.length;
  return (F: Float32Array): { loss: number; seq: Int32Array; item: Int32Array; grad: Float64Array } => {
    const E = net.item.data.a;
    const score = (s: number, i: number): number => {
      let v = 0;
      for (let c = 0; c < d; c++) v += F[s * d + c] * E[(i + 1) * d + c];
      return v;
    };
    const seq = new Int32Array(2 * B), item = new Int32Array(2 * B), grad = new Float64Array(2 * B);
    let loss = 0;
    pairs.forEach((p, s) => {
      const delta = beta * ((score(s, p.chosen) - score(s, p.rejected)) / tau - (ref.chosen[s] - ref.rejected[s]));
      loss -= logSigmoid(delta);
      const g = (-beta * sigmoid(-delta)) / tau / B;
      seq[2 * s] = s;
      item[2 * s] = p.chosen;
      grad[2 * s] = g;
      seq[2 * s + 1] = s;
      item[2 * s + 1] = p.rejected;
      grad[2 * s + 1] = -g;
    });
    return { loss: loss / B, seq, item, grad };
  };
}

/** SASRec's SFT batch from records: each record's history + target, the last maxLen + 1 items. */
export function sftBatch(records: readonly SeqRecord[], maxLen: number): SeqBatch {
  const off = new Int32Array(records.length + 1);
  const wins = records.map((r) => {
    const full = new Int32Array(r.history.length + 1);
    full.set(r.history);
    full[r.history.length] = r.target;
    return lastWindow(full, maxLen + 1);
  });
  wins.forEach((w, s) => (off[s + 1] = off[s] + w.length - 1));
  const inputs = new Int32Array(off[records.length]), targets = new Int32Array(off[records.length]);
  wins.forEach((w, s) => {
    inputs.set(w.subarray(0, w.length - 1), off[s]);
    targets.set(w.subarray(1), off[s]);
  });
  return { off, inputs, targets, negatives: new Int32Array(0), nNeg: 0, users: Int32Array.from(records, (r) => r.user) };
}

/** `epochs` passes over `items` in seeded order, `batch` at a time; the mean of `step`'s losses. */
function epochsOver<T>(items: readonly T[], epochs: number, batch: number, rng: Rng, step: (part: T[]) => number): number {
  let sum = 0, n = 0;
  for (let e = 0; e < epochs; e++) {
    const order = rng.shuffle(Int32Array.from(items.keys()));
    for (let a = 0; a < order.length; a += batch) {
      const loss = step(Array.from(order.subarray(a, a + batch), (j) => items[j]));
      if (!Number.isFinite(loss)) throw new Error(`SPRec (SASRec): loss became ${loss} (lower the learning rate)`);
      sum += loss;
      n++;
    }
  }
  return n ? sum / n : NaN;
}

/** Training events per item. */
function itemCounts(data: Interactions): Float64Array {
  const c = new Float64Array(data.nItems);
  for (const i of data.items) c[i]++;
  return c;
}

/** The base SASRec: trained on `trainData`, or loaded from (and saved to) `o.baseCache`. */
async function baseModel(trainData: Interactions, o: SprecSasrecOptions): Promise<{ model: SASRec; lastLoss: number }> {
  const key = createHash('sha256').update(JSON.stringify([o.holdout, o.seed, o.sasrec, trainData.nUsers, trainData.nItems, trainData.items.length])).digest('hex').slice(0, 16);
  const dir = o.baseCache ? join(o.baseCache, `base-${o.holdout}-seed${o.seed}-${key}`) : null;
  if (dir && existsSync(join(dir, 'model.json'))) {
    const model = await SASRec.load(dir);
    if (model.nItems !== trainData.nItems) throw new Error(`${dir}: cached base scores ${model.nItems} items, the data has ${trainData.nItems}`);
    return { model, lastLoss: NaN };
  }
  const model = new SASRec(o.sasrec);
  const report = await model.fit(trainData, { seed: o.seed, progress: false });
  if (dir) await model.save(dir);
  return { model, lastLoss: report.history.at(-1)?.loss ?? NaN };
}

/**
 * Runs the base SASRec and `rounds` SPRec rounds on `data` (every user's whole sequence; the
 * last event is the test target, or with holdout 'valid' the one before it); `onRound` sees each
 * round's figures and pairs as soon as they exist.
 */
export async function runSprecSasrec(data: Interactions, cats: ItemCategories, options: Partial<SprecSasrecOptions> = {},
  onRound?: (r: SprecSasrecRound, pairs: DpoPair[]) => void): Promise<SprecSasrecRound[]> {
  const o = { ...SPREC_SASREC_DEFAULTS, ...options, sasrec: { ...SPREC_SASREC_DEFAULTS.sasrec, ...options.sasrec, loss: 'ce' } };
  if (!(o.beta > 0)) throw new Error(`SPRec (SASRec): beta must be positive, got ${o.beta}`);
  const view = o.holdout === 'valid' ? dropLast(data, 1) : data;
  const { train, test } = leaveOneOut(view, o.recordsPerUser);
  if (train.length === 0) throw new Error('SPRec (SASRec): no training records (every user needs at least 3 events)');
  const trainData = dropLast(view, 1);
  const counts = itemCounts(trainData);
  const { model, lastLoss } = await baseModel(trainData, o);
  const net = model.network;
  const tau = net.cfg.temperature;
  const rng = new Rng(o.seed + 1);
  const evaluate = (): ListMetrics => listMetrics(topLists(net, test, o.k), test, cats, o.k, counts);
  const rounds: SprecSasrecRound[] = [{ round: 0, ...evaluate(), dpo_loss: NaN, same_pairs: NaN, sft_loss: lastLoss }];
  onRound?.(rounds[0], []);
  for (let round = 1; round <= o.rounds; round++) {
    const sample = rng.shuffle(train.slice()).slice(0, Math.min(o.recordsPerRound, train.length));
    const tops = topLists(net, sample, 1);
    const pairs: DpoPair[] = sample.map((r, j) => ({ history: r.history, chosen: r.target, rejected: tops[j][0] }));
    const start = o.reference === 'round-start' ? cloneNet(net) : null;
    resetAdam(net);
    const sftLoss = epochsOver(sample, o.sftEpochs, o.batch, rng, (part) => net.trainStep(sftBatch(part, net.cfg.maxLen), o.sftLr, rng));
    const ref = start ?? cloneNet(net);
    const logp = referenceLogProbs(ref, pairs, tau);
    const index = new Map(pairs.map((p, j) => [p, j]));
    resetAdam(net);
    const dpoLoss = epochsOver(pairs, o.dpoEpochs, o.batch, rng, (part) => {
      const js = part.map((p) => index.get(p)!);
      const head = { chosen: js.map((j) => logp.chosen[j]), rejected: js.map((j) => logp.rejected[j]) };
      const { off, inputs } = raggedHistories(part.map((p) => p.history), net.cfg.maxLen);
      return net.trainStepLast(off, inputs, dpoHead(net, part, head, o.beta), o.dpoLr, null);
    });
    const r: SprecSasrecRound = { round, ...evaluate(), dpo_loss: dpoLoss, same_pairs: pairs.filter((p) => p.chosen === p.rejected).length / pairs.length, sft_loss: sftLoss };
    rounds.push(r);
    onRound?.(r, pairs);
  }
  return rounds;
}
