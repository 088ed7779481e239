/**
 * RELIFE (Weng et al., "Beyond Positive History: Re-ranking with List-level Hybrid Feedback",
 * arXiv 2410.20778; ../shared/METHODS.md §2) and the DIN-style baseline, on the float64 tape.
 *
 * Shared item encoder: e_i = E[i] + mean_{g ∈ genres(i)} G[g] (d dimensions); the genre part lets
 * items seen in few lists still have a usable representation.
 *
 * RELIFE, for a candidate list C (n items, ranker order) and the user's past lists (oldest first):
 * 1. Disentangled interest miner: target attention (Attention, candidate e_c as query) over the
 *    clicked past items → r⁺_c, and, with its own parameters, over the shown-and-skipped items →
 *    r⁻_c (0 when the set is empty).
 * 2. Sequential preference mixer: x_j = e_j + F[feedback_j] + A[age_j] over all past items in time
 *    order (age = how many lists ago), one self-attention layer with a residual, Z = X + SA(X); then
 *    target attention of the candidate over Z → r^mix_c (positives read beside negatives).
 * 3. Comparison-aware pattern extractor: within one list, x_p = e_p + F'[feedback_p] + P[p]
 *    (feedback = skip / click for past lists, unknown for the candidate list; P = position),
 *    Y = X + SA(X); the row y_c is the candidate's in-list representation, the list pattern is
 *    g = mean_p(Y)·W_g.
 * 4. Contrastive alignment: InfoNCE (temperature τ) between the candidate list's pattern and the mean
 *    pattern of the same user's past lists, other users of the batch as negatives, on
 *    L2-normalised vectors (see `infoNce`).
 * 5. Scorer: MLP([e_c, y_c, r⁺_c, r⁻_c, r^mix_c, g_C, s_c]) → logit, s_c the ranker score scaled to
 *    [0, 1] within the list. Loss = BCE(click) + λ·InfoNCE.
 * The ablation `disinterest: false` drops r⁻ (and its parameters) from the scorer.
 *
 * DIN-style (Zhou et al. 2018, as src/models/ctr/din.ts): clicked past items only; weight
 * a_j = MLP([h_j, e_c, h_j − e_c, h_j ⊙ e_c]) (no softmax), v_c = Σ_j a_j h_j; scorer
 * MLP([e_c, v_c, s_c]).
 */
import { Rng } from '../../util/rng.ts';
import type { ItemCategories } from '../env.ts';
import { Attention, Mlp2, ParamStore } from './params.ts';
import type { Param, Tape, V } from './tape.ts';

/** What a re-ranker reads: the user's past lists with clicks, the candidate list and its ranker scores. */
export interface RerankInput {
  past: { items: Int32Array; clicks: Uint8Array }[];
  candidates: Int32Array;
  /** Ranker score of each candidate, scaled to [0, 1] within the list. */
  scores: Float64Array;
}

/** Shape of the re-rankers. */
export interface RerankNetConfig {
  nItems: number;
  dims: number;
  hidden: number;
  /** Longest list (positions) and most past lists (ages) the position / age tables cover. */
  maxList: number;
  maxHistory: number;
  seed: number;
}

/** Forward of one list: a logit per candidate; RELIFE also gives the patterns InfoNCE aligns. */
export interface RerankOutput {
  logits: V;
  pattern?: V;
  userPattern?: V;
}

/** A trainable re-ranker. */
export interface TapeReranker {
  readonly name: string;
  readonly params: ParamStore;
  /** `patterns` false: logits only (scoring; no InfoNCE term needs the past lists' patterns). */
  forward(t: Tape, x: RerankInput, patterns?: boolean): RerankOutput;
}

/** e_i = E[i] + mean of i's genre embeddings. */
export class ItemEncoder {
  private readonly emb: Param;
  private readonly genre: Param;
  private readonly nGenres: number;

  constructor(ps: ParamStore, private readonly cats: ItemCategories, nItems: number, d: number) {
    if (cats.offsets.length !== nItems + 1) throw new Error(`ItemEncoder: categories for ${cats.offsets.length - 1} items, expected ${nItems}`);
    this.nGenres = Math.max(1, cats.names.length);
    this.emb = ps.add('item.emb', nItems, d, 0.1);
    this.genre = ps.add('item.genre', this.nGenres, d, 0.1);
  }

  forward(t: Tape, items: ArrayLike<number>): V {
    const n = items.length, g = this.nGenres;
    const m = new Float64Array(n * g);
    for (let r = 0; r < n; r++) {
      const a = this.cats.offsets[items[r]], b = this.cats.offsets[items[r] + 1];
      for (let k = a; k < b; k++) m[r * g + this.cats.values[k]] += 1 / (b - a);
    }
    return t.add(t.gather(t.param(this.emb), items), t.matmul(t.constant(n, g, m), t.param(this.genre)));
  }
}

const repeatRow = (t: Tape, row: V, n: number): V => t.gather(row, new Int32Array(n));

/** Feedback types of the embedding tables: skip, click, unknown (the candidate list). */
const SKIP = 0, UNKNOWN = 2;

/** Items of the past lists with a given click value, oldest first. */
export function pastItems(x: RerankInput, click: number): number[] {
  const out: number[] = [];
  for (const l of x.past) l.items.forEach((i, k) => l.clicks[k] === click && out.push(i));
  return out;
}

/** The RELIFE model (module by module, each usable alone for its gradient check). */
export class Relife implements TapeReranker {
  readonly name: string;
  readonly params: ParamStore;
  readonly items: ItemEncoder;
  readonly interest: Attention;
  readonly disinterest: Attention | null;
  readonly mixSelf: Attention;
  readonly mixTarget: Attention;
  readonly listSelf: Attention;
  private readonly fbMix: Param;
  private readonly age: Param;
  private readonly fbList: Param;
  private readonly pos: Param;
  private readonly wPattern: Param;
  readonly scorer: Mlp2;

  constructor(readonly config: RerankNetConfig, cats: ItemCategories, readonly disinterestMiner = true) {
    const { dims: d, hidden, maxList, maxHistory } = config;
    this.name = disinterestMiner ? 'relife' : 'relife-nodis';
    const ps = (this.params = new ParamStore(new Rng(config.seed)));
    this.items = new ItemEncoder(ps, cats, config.nItems, d);
    this.interest = new Attention(ps, 'interest', d);
    this.disinterest = disinterestMiner ? new Attention(ps, 'disinterest', d) : null;
    this.fbMix = ps.add('mixer.feedback', 2, d, 0.1);
    this.age = ps.add('mixer.age', maxHistory, d, 0.1);
    this.mixSelf = new Attention(ps, 'mixer.self', d);
    this.mixTarget = new Attention(ps, 'mixer.target', d);
    this.fbList = ps.add('pattern.feedback', 3, d, 0.1);
    this.pos = ps.add('pattern.position', maxList, d, 0.1);
    this.listSelf = new Attention(ps, 'pattern.self', d);
    this.wPattern = ps.weight('pattern.w', d, d);
    this.scorer = new Mlp2(ps, 'scorer', (disinterestMiner ? 6 : 5) * d + 1, hidden, 1);
  }

  /** Target attention of the candidates over a set of items (zeros when the set is empty). */
  miner(t: Tape, att: Attention, cand: V, set: number[]): V {
    if (set.length === 0) return t.constant(cand.rows, cand.cols, new Float64Array(cand.rows * cand.cols));
    return att.forward(t, cand, this.items.forward(t, set));
  }

  /** Sequential preference mixer: r^mix for every candidate. */
  mixer(t: Tape, x: RerankInput, cand: V): V {
    const items: number[] = [], fb: number[] = [], ages: number[] = [];
    x.past.forEach((l, h) => l.items.forEach((i, k) => {
      items.push(i);
      fb.push(l.clicks[k]);
      ages.push(Math.min(x.past.length - 1 - h, this.config.maxHistory - 1));
    }));
    if (items.length === 0) return t.constant(cand.rows, cand.cols, new Float64Array(cand.rows * cand.cols));
    const X = t.add(t.add(this.items.forward(t, items), t.gather(t.param(this.fbMix), fb)), t.gather(t.param(this.age), ages));
    const Z = t.add(X, this.mixSelf.forward(t, X, X));
    return this.mixTarget.forward(t, cand, Z);
  }

  /** Comparison-aware pattern extractor on one list: per-item rows Y and the pattern g [1 × d]. */
  pattern(t: Tape, items: ArrayLike<number>, feedback: ArrayLike<number>): { rows: V; g: V } {
    const n = items.length;
    if (n > this.config.maxList) throw new Error(`RELIFE: a list of ${n} items, positions cover ${this.config.maxList}`);
    const X = t.add(t.add(this.items.forward(t, items), t.gather(t.param(this.fbList), feedback)), t.gather(t.param(this.pos), Int32Array.from({ length: n }, (_, p) => p)));
    const Y = t.add(X, this.listSelf.forward(t, X, X));
    return { rows: Y, g: t.matmul(t.meanRows(Y), t.param(this.wPattern)) };
  }

  forward(t: Tape, x: RerankInput, patterns = true): RerankOutput {
    const n = x.candidates.length;
    const cand = this.items.forward(t, x.candidates);
    const rPos = this.miner(t, this.interest, cand, pastItems(x, 1));
    const rNeg = this.disinterest ? this.miner(t, this.disinterest, cand, pastItems(x, 0)) : null;
    const rMix = this.mixer(t, x, cand);
    const c = this.pattern(t, x.candidates, new Int32Array(n).fill(UNKNOWN));
    const parts = [cand, c.rows, rPos, ...(rNeg ? [rNeg] : []), rMix, repeatRow(t, c.g, n), t.constant(n, 1, x.scores)];
    const logits = this.scorer.forward(t, t.concatCols(parts));
    if (!patterns || x.past.length === 0) return { logits, pattern: c.g };
    const past = x.past.map((l) => this.pattern(t, l.items, Int32Array.from(l.clicks, (k) => (k ? 1 : SKIP))).g);
    return { logits, pattern: c.g, userPattern: t.meanRows(t.stackRows(past)) };
  }
}

/**
 * InfoNCE over a batch: rows b of P (candidate-list patterns) and U (the same users' past-list
 * patterns) are positives, other rows negatives; −(1/B)·Σ_b log softmax_c(p̂_b·û_c/τ)[b] on
 * L2-normalised rows.
 */
export function infoNce(t: Tape, P: V, U: V, tau: number): V {
  const logits = t.scale(t.matmulBT(t.l2NormalizeRows(P), t.l2NormalizeRows(U)), 1 / tau);
  return t.scale(t.softmaxCrossEntropy(logits, Int32Array.from({ length: P.rows }, (_, b) => b)), 1 / P.rows);
}

/** The DIN-style re-ranker: attention over clicked items only (no negative feedback). */
export class DinReranker implements TapeReranker {
  readonly name = 'din';
  readonly params: ParamStore;
  readonly items: ItemEncoder;
  readonly att: Mlp2;
  readonly scorer: Mlp2;

  constructor(readonly config: RerankNetConfig, cats: ItemCategories) {
    const d = config.dims;
    const ps = (this.params = new ParamStore(new Rng(config.seed)));
    this.items = new ItemEncoder(ps, cats, config.nItems, d);
    this.att = new Mlp2(ps, 'attention', 4 * d, config.hidden, 1);
    this.scorer = new Mlp2(ps, 'scorer', 2 * d + 1, config.hidden, 1);
  }

  /** v_c = Σ_j a_j(h_j, e_c) h_j over the clicked past items, for every candidate: [n × d]. */
  interest(t: Tape, cand: V, clicked: number[]): V {
    const n = cand.rows, m = clicked.length, d = cand.cols;
    if (m === 0) return t.constant(n, d, new Float64Array(n * d));
    const H = this.items.forward(t, clicked);
    // row c·m + j pairs candidate c with clicked item j
    const Hr = t.gather(H, Int32Array.from({ length: n * m }, (_, r) => r % m));
    const Qr = t.gather(cand, Int32Array.from({ length: n * m }, (_, r) => Math.floor(r / m)));
    const a = this.att.forward(t, t.concatCols([Hr, Qr, t.sub(Hr, Qr), t.mul(Hr, Qr)]));
    return t.matmul(t.reshape(a, n, m), H);
  }

  forward(t: Tape, x: RerankInput): RerankOutput {
    const n = x.candidates.length;
    const cand = this.items.forward(t, x.candidates);
    const v = this.interest(t, cand, pastItems(x, 1));
    return { logits: this.scorer.forward(t, t.concatCols([cand, v, t.constant(n, 1, x.scores)])) };
  }
}
