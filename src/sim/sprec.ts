/**
 * SPRec (Gao et al., WWW 2025): self-play against the model's own bias. Each round
 * (RegionCh/SPRec `shell/SPRec.sh`):
 * 1. sample `recordsPerRound` training records;
 * 2. predict with the current model (greedy top-1, history excluded);
 * 3. DPO pairs: prompt = the history, chosen = the true next item, rejected = the model's own
 *    top-1 (pairs where they coincide are kept, as in the reference code — their gradient is 0);
 * 4. SFT on the positives (1 epoch);
 * 5. DPO from the SFT model with the SFT model as the frozen reference (β, 1 epoch);
 * 6. the next round starts from the DPO model.
 * Round 0 is the base model: SFT on every training record for `baseEpochs` epochs.
 *
 * Data (leave-one-out): each user's last item is the test target; training records are the user's
 * earlier positions (the last `recordsPerUser` of them, each predicting its next item).
 *
 * Metrics per round, on the test targets with top-K lists (history excluded):
 * - HR@K, NDCG@K (one relevant item: NDCG = 1 / log2(rank + 1));
 * - DivRatio = distinct items over all lists / (K · #users);
 * - ORRatio = share of all recommendations taken by the 3 most-recommended items;
 * - MGU = mean over genres of |p_rec(g) − p_hist(g)|, DGU = max − min of (p_rec − p_hist), with
 *   p(g) the share of genre g among the genre labels of the recommended (resp. history) items.
 */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { Interactions } from '../data/types.ts';
import { Rng } from '../util/rng.ts';
import type { ItemCategories } from './env.ts';
import { topKAllowed } from './policies.ts';
import { MEAN_SOFTMAX_DEFAULTS, MeanSoftmaxModel, dpoLoss, logSoftmaxAt, sftLoss, type SeqRecord } from './sprec-model.ts';

/** Settings of {@link runSprec}. */
export interface SprecOptions {
  rounds: number;
  beta: number;
  recordsPerRound: number;
  recordsPerUser: number;
  baseEpochs: number;
  k: number;
  dims: number;
  lr: number;
  seed: number;
}

export const SPREC_DEFAULTS: SprecOptions = { rounds: 3, beta: 0.1, recordsPerRound: 2048, recordsPerUser: 5, baseEpochs: 5, k: 10, dims: 32, lr: 2e-3, seed: 0 };

/** Figures of one round (0 = the SFT base): the accuracy and bias figures of {@link ListMetrics} it reports, and the round's DPO. */
export interface SprecRound extends Pick<ListMetrics, 'hr' | 'ndcg' | 'div_ratio' | 'or_ratio' | 'mgu' | 'dgu'> {
  round: number;
  /** Mean DPO loss of the round's epoch (NaN for round 0) and share of pairs with chosen = rejected. */
  dpo_loss: number;
  same_pairs: number;
}

/** One DPO pair (item ids). */
export interface DpoPair {
  history: Int32Array;
  chosen: number;
  rejected: number;
}

/** Training records and test cases from leave-one-out. */
export function leaveOneOut(data: Interactions, recordsPerUser: number): { train: SeqRecord[]; test: SeqRecord[] } {
  const train: SeqRecord[] = [], test: SeqRecord[] = [];
  for (let u = 0; u < data.nUsers; u++) {
    const seq = data.items.subarray(data.offsets[u], data.offsets[u + 1]);
    if (seq.length < 2) continue;
    test.push({ user: u, history: seq.subarray(0, seq.length - 1), target: seq[seq.length - 1] });
    for (let t = Math.max(1, seq.length - 1 - recordsPerUser); t < seq.length - 1; t++) train.push({ user: u, history: seq.subarray(0, t), target: seq[t] });
  }
  return { train, test };
}

/** 1 for every item of `history`: the items a top-K list leaves out. */
export function banMask(nItems: number, history: Int32Array): Uint8Array {
  const m = new Uint8Array(nItems);
  for (const i of history) m[i] = 1;
  return m;
}

/** Accuracy and bias figures of one round's top-K lists. */
export interface ListMetrics {
  hr: number;
  ndcg: number;
  div_ratio: number;
  or_ratio: number;
  mgu: number;
  dgu: number;
  /** Average recommendation popularity: mean training count of the recommended items. */
  arp: number;
  /** Distinct recommended items / catalogue size. */
  coverage: number;
  /** Gini coefficient of the items' recommendation counts over the whole catalogue (0 = even). */
  gini: number;
}

/**
 * Accuracy and bias of top-K lists (`lists[j]` for `test[j]`, history already excluded);
 * `counts` = training events per item (for ARP).
 */
export function listMetrics(lists: readonly Int32Array[], test: readonly SeqRecord[], cats: ItemCategories, k: number, counts: ArrayLike<number>): ListMetrics {
  const n = counts.length, G = cats.names.length;
  const recCount = new Float64Array(n);
  const pRec = new Float64Array(G), pHist = new Float64Array(G);
  let hr = 0, ndcg = 0, pop = 0;
  const addGenres = (i: number, into: Float64Array): void => {
    for (let c = cats.offsets[i]; c < cats.offsets[i + 1]; c++) into[cats.values[c]]++;
  };
  test.forEach((r, j) => {
    const list = lists[j];
    const rank = list.indexOf(r.target);
    if (rank >= 0) {
      hr++;
      ndcg += 1 / Math.log2(rank + 2);
    }
    for (const i of list) {
      recCount[i]++;
      pop += counts[i];
      addGenres(i, pRec);
    }
    for (const i of r.history) addGenres(i, pHist);
  });
  const norm = (p: Float64Array): void => {
    const s = p.reduce((a, b) => a + b, 0);
    if (s > 0) for (let g = 0; g < p.length; g++) p[g] /= s;
  };
  norm(pRec);
  norm(pHist);
  const diff = Array.from(pRec, (v, g) => v - pHist[g]);
  const total = test.length * k;
  const sorted = Array.from(recCount).sort((a, b) => a - b);
  const top3 = sorted.slice(-3).reduce((a, b) => a + b, 0);
  // Gini = Σ_i (2i − n − 1)·x_(i) / (n·Σx) over the ascending counts (i = 1 … n)
  const sum = sorted.reduce((a, b) => a + b, 0);
  const gini = sum > 0 ? sorted.reduce((a, x, i) => a + (2 * (i + 1) - n - 1) * x, 0) / (n * sum) : 0;
  const distinct = recCount.filter((c) => c > 0).length;
  return {
    hr: hr / test.length,
    ndcg: ndcg / test.length,
    div_ratio: distinct / total,
    or_ratio: top3 / total,
    mgu: diff.reduce((a, v) => a + Math.abs(v), 0) / G,
    dgu: Math.max(...diff) - Math.min(...diff),
    arp: pop / total,
    coverage: distinct / n,
    gini,
  };
}

/** Accuracy and bias of a model's top-K lists on `test` (history excluded). */
export function evaluateRound(model: MeanSoftmaxModel, test: readonly SeqRecord[], cats: ItemCategories, k: number, counts?: ArrayLike<number>): Omit<SprecRound, 'round' | 'dpo_loss' | 'same_pairs'> {
  const n = model.config.nItems;
  const z = new Float64Array(n);
  const lists = test.map((r) => topKAllowed(model.logits(r.history, z), k, banMask(n, r.history)));
  const m = listMetrics(lists, test, cats, k, counts ?? new Float64Array(n));
  return { hr: m.hr, ndcg: m.ndcg, div_ratio: m.div_ratio, or_ratio: m.or_ratio, mgu: m.mgu, dgu: m.dgu };
}

/** One SFT epoch over `records` in a seeded order. */
export function sftEpoch(model: MeanSoftmaxModel, records: readonly SeqRecord[], rng: Rng): number {
  const n = model.config.nItems, B = model.config.batch;
  const z = new Float64Array(n), dz = new Float64Array(n);
  const order = rng.shuffle(Int32Array.from(records.keys()));
  let loss = 0;
  for (let b0 = 0; b0 < order.length; b0 += B) {
    const end = Math.min(order.length, b0 + B);
    for (let j = b0; j < end; j++) {
      const r = records[order[j]];
      model.logits(r.history, z);
      loss += sftLoss(z, r.target, dz);
      model.backward(r.history, dz, null);
    }
    model.step(end - b0);
  }
  return loss / order.length;
}

/** One DPO epoch over `pairs` against the frozen `reference`. */
export function dpoEpoch(model: MeanSoftmaxModel, reference: MeanSoftmaxModel, pairs: readonly DpoPair[], beta: number, rng: Rng): number {
  const n = model.config.nItems, B = model.config.batch;
  const z = new Float64Array(n), zr = new Float64Array(n), dz = new Float64Array(n);
  const order = rng.shuffle(Int32Array.from(pairs.keys()));
  let loss = 0;
  for (let b0 = 0; b0 < order.length; b0 += B) {
    const end = Math.min(order.length, b0 + B);
    for (let j = b0; j < end; j++) {
      const p = pairs[order[j]];
      reference.logits(p.history, zr);
      const rc = logSoftmaxAt(zr, p.chosen), rr = logSoftmaxAt(zr, p.rejected);
      model.logits(p.history, z);
      loss += dpoLoss(z, p.chosen, p.rejected, rc, rr, beta, dz);
      model.backward(p.history, dz, [p.chosen, p.rejected]);
    }
    model.step(end - b0);
  }
  return loss / order.length;
}

/** The model's own top-1 (history excluded) for each record: the rejected items. */
export function selfPlayPairs(model: MeanSoftmaxModel, records: readonly SeqRecord[]): DpoPair[] {
  const n = model.config.nItems, z = new Float64Array(n);
  return records.map((r) => ({ history: r.history, chosen: r.target, rejected: topKAllowed(model.logits(r.history, z), 1, banMask(n, r.history))[0] }));
}

/** Runs the base SFT and `rounds` SPRec rounds; `onRound` sees each round's figures and pairs. */
export function runSprec(data: Interactions, cats: ItemCategories, options: Partial<SprecOptions> = {}, onRound?: (r: SprecRound, pairs: DpoPair[]) => void): SprecRound[] {
  const o = { ...SPREC_DEFAULTS, ...options };
  const { train, test } = leaveOneOut(data, o.recordsPerUser);
  if (train.length === 0) throw new Error('SPRec: no training records (every user needs at least 3 events)');
  const rng = new Rng(o.seed);
  let model = new MeanSoftmaxModel({ nItems: data.nItems, ...MEAN_SOFTMAX_DEFAULTS, dims: o.dims, lr: o.lr, seed: o.seed });
  for (let e = 0; e < o.baseEpochs; e++) sftEpoch(model, train, rng);
  const rounds: SprecRound[] = [{ round: 0, ...evaluateRound(model, test, cats, o.k), dpo_loss: NaN, same_pairs: NaN }];
  onRound?.(rounds[0], []);
  for (let round = 1; round <= o.rounds; round++) {
    const sample = rng.shuffle(train.slice()).slice(0, Math.min(o.recordsPerRound, train.length));
    const pairs = selfPlayPairs(model, sample);
    sftEpoch(model, sample, rng);
    const reference = model.clone();
    const sft = model;
    model = new MeanSoftmaxModel(sft.config, sft.params);
    const loss = dpoEpoch(model, reference, pairs, o.beta, rng);
    const r: SprecRound = { round, ...evaluateRound(model, test, cats, o.k), dpo_loss: loss, same_pairs: pairs.filter((p) => p.chosen === p.rejected).length / pairs.length };
    rounds.push(r);
    onRound?.(r, pairs);
  }
  return rounds;
}

/** The schema of one exported DPO pair (titles in double quotes, as SPRec's records). */
export const DpoPairSchema = z
  .object({
    prompt: z.string().min(1),
    chosen: z.string().regex(/^".+"$/, 'a title in double quotes'),
    rejected: z.string().regex(/^".+"$/, 'a title in double quotes'),
  })
  .strict();
export type DpoPairRecord = z.infer<typeof DpoPairSchema>;

const quote = (t: string): string => `"${t.replace(/"/g, "'")}"`;

/** DPO pairs as SPRec-style records: the history's titles (last 20) in the prompt, titles quoted. */
export function pairRecords(pairs: readonly DpoPair[], titles: readonly string[]): DpoPairRecord[] {
  return pairs.map((p) => ({
    prompt: `The user has watched the following movies in order: ${Array.from(p.history.subarray(Math.max(0, p.history.length - 20)), (i) => quote(titles[i])).join(', ')}. Recommend the next movie the user will watch.`,
    chosen: quote(titles[p.chosen]),
    rejected: quote(titles[p.rejected]),
  }));
}

/** Writes records as JSONL after checking each against the schema. */
export function writePairsJsonl(path: string, records: readonly DpoPairRecord[]): void {
  records.forEach((r, i) => {
    const res = DpoPairSchema.safeParse(r);
    if (!res.success) throw new Error(`${path}: record ${i + 1}: field ${res.error.issues[0].path.join('.') || '(record)'}: ${res.error.issues[0].message}`);
  });
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/** Validates a JSONL file of pairs; throws naming the file, line and field of the first problem. */
export function validatePairsJsonl(path: string, text: string): number {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  lines.forEach((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}:${i + 1}: not JSON (${(error as Error).message})`);
    }
    const res = DpoPairSchema.safeParse(value);
    if (!res.success) {
      const issue = res.error.issues[0];
      throw new Error(`${path}:${i + 1}: field ${issue.path.join('.') || '(record)'}: ${issue.message}`);
    }
  });
  return lines.length;
}
