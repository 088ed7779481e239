/**
 * RELIFE (Weng et al., "Beyond Positive History: Re-ranking with List-level Hybrid Feedback",
 * arXiv 2410.20778; ../shared/METHODS.md §2) on the engine: float32 parameters, forward and
 * hand-written backward through src/nn (SegmentAttention, Linear, InfoNce) and the CTR Mlp.
 *
 * For a candidate list C (n items, ranker order) and the user's past lists (oldest first), with the
 * item encoder e_i of encoder.ts:
 * 1. Disentangled interest miner: target attention (SegmentAttention, candidate e_c as query) over
 *    the clicked past items → r⁺_c, and, with its own parameters, over the shown-and-skipped items
 *    → r⁻_c (0 when the set is empty).
 * 2. Sequential preference mixer: x_j = e_j + F[feedback_j] + A[age_j] over all past items in time
 *    order (age = how many lists ago), one self-attention layer with a residual, Z = X + SA(X); then
 *    target attention of the candidate over Z → r^mix_c (positives read beside negatives).
 * 3. Comparison-aware pattern extractor: within one list, x_p = e_p + F'[feedback_p] + P[p]
 *    (feedback = skip / click for past lists, unknown for the candidate list; P = position),
 *    Y = X + SA(X); the row y_c is the candidate's in-list representation, the list pattern is
 *    g = mean_p(Y)·W_gᵀ.
 * 4. Contrastive alignment: InfoNCE (temperature τ, src/nn/infonce.ts) between the candidate list's
 *    pattern and the mean pattern of the same user's past lists, other users of the batch as
 *    negatives, on L2-normalised vectors.
 * 5. Scorer: MLP([e_c, y_c, r⁺_c, r⁻_c, r^mix_c, g_C, s_c]) → logit (ReLU hidden layer), s_c the
 *    ranker score scaled to [0, 1] within the list. Loss = mean BCE(click) + λ·InfoNCE.
 * The ablation `disinterest: false` drops r⁻ (and its parameters) from the scorer.
 *
 * A batch runs as one stacked computation: every encoded item row (candidates, clicked, skipped,
 * mixer and list items of all lists) in one buffer, each attention one call over ragged segments
 * (one per list or user), so a step is a few hundred kernel calls whatever the batch.
 */
import { defaultEngine, type Buf, type Engine } from '../../kernels/engine.ts';
import { Mlp } from '../../models/ctr/mlp.ts';
import { InfoNce } from '../../nn/infonce.ts';
import { linear, type Linear } from '../../nn/layers.ts';
import { normalInit, ParamSet, xavierNormal, type Param } from '../../nn/params.ts';
import { Rng } from '../../nn/rng.ts';
import { Scratch } from '../../nn/scratch.ts';
import { SegmentAttention } from '../../nn/segment-attention.ts';
import type { ItemCategories } from '../env.ts';
import { ItemEncoder, offsets, pastItems, type BatchLoss, type EngineReranker, type LabelledList, type RerankInput, type RerankNetConfig } from './encoder.ts';
import { meanBceWithLogits } from '../../nn/bce.ts';

/** Feedback types of the embedding tables: skip, click, unknown (the candidate list). */
const UNKNOWN = 2;
const PARTS = ['cand', 'pos', 'neg', 'mix', 'list'] as const;
type Part = (typeof PARTS)[number];

/** The index arrays of one batch. */
interface Plan {
  B: number;
  /** Item id of every encoded row, parts in the order of PARTS. */
  ids: Int32Array;
  /** First encoded row of each part. */
  at: Record<Part, number>;
  /** Row offsets of each example's (or list's) rows within each part. */
  off: Record<Part, Int32Array>;
  mixFb: Int32Array;
  mixAge: Int32Array;
  listFb: Int32Array;
  listPos: Int32Array;
  /** Lists: 0 … B − 1 the candidate lists, then every example's past lists (with patterns). */
  nLists: number;
  /** Examples in InfoNCE and their past lists [l0, l1). */
  nce: { b: number; l0: number; l1: number }[];
  scores: Float64Array;
}

/** The RELIFE model. */
export class Relife implements EngineReranker {
  readonly name: string;
  readonly engine: Engine;
  readonly params: ParamSet;
  readonly items: ItemEncoder;
  readonly interest: SegmentAttention;
  readonly disinterest: SegmentAttention | null;
  readonly mixSelf: SegmentAttention;
  readonly mixTarget: SegmentAttention;
  readonly listSelf: SegmentAttention;
  readonly fbMix: Param;
  readonly age: Param;
  readonly fbList: Param;
  readonly pos: Param;
  readonly wPattern: Linear;
  readonly scorer: Mlp;
  private readonly width: number;
  private readonly s: Scratch;
  private readonly nceLoss: InfoNce;
  private saved: { p: Plan; ids: Buf<Int32Array>; mixFb: Buf<Int32Array>; mixAge: Buf<Int32Array>; listFb: Buf<Int32Array>; listPos: Buf<Int32Array> } | null = null;

  constructor(readonly config: RerankNetConfig, cats: ItemCategories, readonly disinterestMiner = true) {
    const { dims: d, hidden, maxList, maxHistory } = config;
    this.name = disinterestMiner ? 'relife' : 'relife-nodis';
    const e = (this.engine = defaultEngine());
    const ps = (this.params = new ParamSet(e, 1, this));
    this.items = new ItemEncoder(ps, cats, config.nItems, d);
    this.interest = new SegmentAttention(ps, 'interest', d);
    this.disinterest = disinterestMiner ? new SegmentAttention(ps, 'disinterest', d) : null;
    this.fbMix = ps.add('mixer.feedback', [2, d]);
    this.age = ps.add('mixer.age', [maxHistory, d]);
    this.mixSelf = new SegmentAttention(ps, 'mixer.self', d);
    this.mixTarget = new SegmentAttention(ps, 'mixer.target', d);
    this.fbList = ps.add('pattern.feedback', [3, d]);
    this.pos = ps.add('pattern.position', [maxList, d]);
    this.listSelf = new SegmentAttention(ps, 'pattern.self', d);
    this.wPattern = linear(ps, 'pattern.w', d, d, false, this);
    this.width = (disinterestMiner ? 6 : 5) * d + 1;
    this.scorer = new Mlp(ps, 'scorer', [this.width, hidden, 1], config.batch * maxList);
    this.s = new Scratch(e, this);
    this.nceLoss = new InfoNce(e);
    const rng = new Rng(config.seed);
    this.items.init(rng);
    for (const p of [this.fbMix, this.age, this.fbList, this.pos]) normalInit(p, 0.1, rng);
    for (const a of [this.interest, this.disinterest, this.mixSelf, this.mixTarget, this.listSelf]) a?.init(rng);
    xavierNormal(this.wPattern.weight, rng);
    this.scorer.init(rng);
  }

  /** The index arrays of a batch; past lists' patterns only when `patterns` (InfoNCE needs them). */
  private plan(xs: readonly RerankInput[], patterns: boolean): Plan {
    const { maxList, maxHistory, batch } = this.config;
    if (xs.length > batch) throw new Error(`RELIFE: ${xs.length} lists in one forward, at most ${batch}`);
    const parts: Record<Part, number[]> = { cand: [], pos: [], neg: [], mix: [], list: [] };
    const sizes: Record<Part, number[]> = { cand: [], pos: [], neg: [], mix: [], list: [] };
    const mixFb: number[] = [], mixAge: number[] = [], listFb: number[] = [], listPos: number[] = [];
    const addList = (items: ArrayLike<number>, fb: (k: number) => number): void => {
      if (items.length > maxList) throw new Error(`RELIFE: a list of ${items.length} items, positions cover ${maxList}`);
      for (let k = 0; k < items.length; k++) {
        parts.list.push(items[k]);
        listFb.push(fb(k));
        listPos.push(k);
      }
      sizes.list.push(items.length);
    };
    for (const x of xs) {
      parts.cand.push(...x.candidates);
      sizes.cand.push(x.candidates.length);
      const pos = pastItems(x, 1), neg = this.disinterest ? pastItems(x, 0) : [];
      parts.pos.push(...pos);
      sizes.pos.push(pos.length);
      parts.neg.push(...neg);
      sizes.neg.push(neg.length);
      let m = 0;
      x.past.forEach((l, h) => l.items.forEach((i, k) => {
        parts.mix.push(i);
        mixFb.push(l.clicks[k]);
        mixAge.push(Math.min(x.past.length - 1 - h, maxHistory - 1));
        m++;
      }));
      sizes.mix.push(m);
      addList(x.candidates, () => UNKNOWN);
    }
    const nce: Plan['nce'] = [];
    if (patterns) {
      xs.forEach((x, b) => {
        if (x.past.length === 0) return;
        const l0 = sizes.list.length;
        for (const l of x.past) addList(l.items, (k) => (l.clicks[k] ? 1 : 0));
        nce.push({ b, l0, l1: sizes.list.length });
      });
    }
    const at = {} as Record<Part, number>, off = {} as Record<Part, Int32Array>;
    let row = 0;
    for (const part of PARTS) {
      at[part] = row;
      row += parts[part].length;
      off[part] = offsets(sizes[part]);
    }
    const scores = new Float64Array(parts.cand.length);
    let c = 0;
    for (const x of xs) for (const v of x.scores) scores[c++] = v;
    return {
      B: xs.length, ids: Int32Array.from(PARTS.flatMap((p) => parts[p])), at, off, scores, nce, nLists: sizes.list.length,
      mixFb: Int32Array.from(mixFb), mixAge: Int32Array.from(mixAge), listFb: Int32Array.from(listFb), listPos: Int32Array.from(listPos),
    };
  }

  private rows(p: Plan, part: Part): number {
    return p.off[part][p.off[part].length - 1];
  }

  /** The forward of a batch: a logit per candidate (all lists, stacked); keeps what the backward needs. */
  private forward(p: Plan): Float32Array {
    const e = this.engine, k = e.k, d = this.config.dims, S = this.s;
    const N = p.ids.length, Tc = this.rows(p, 'cand'), Tm = this.rows(p, 'mix'), Tl = this.rows(p, 'list'), nL = p.nLists;
    const sv = (this.saved = { p, ids: S.ints32('ids', p.ids), mixFb: S.ints32('mixFb', p.mixFb), mixAge: S.ints32('mixAge', p.mixAge), listFb: S.ints32('listFb', p.listFb), listPos: S.ints32('listPos', p.listPos) });
    const E = S.get('E', N * d);
    const at = (part: Part): number => E.ptr + 4 * d * p.at[part];
    this.items.forward(e, sv.ids, N, E);
    // 1. interest and disinterest miners
    const rPos = S.get('rPos', Tc * d), rNeg = S.get('rNeg', Tc * d), rMix = S.get('rMix', Tc * d);
    this.interest.forward(at('cand'), at('pos'), { q: p.off.cand, k: p.off.pos }, rPos.ptr);
    this.disinterest?.forward(at('cand'), at('neg'), { q: p.off.cand, k: p.off.neg }, rNeg.ptr);
    // 2. sequential preference mixer
    const Xm = S.get('Xm', Tm * d), Zm = S.get('Zm', Tm * d);
    k.embed_fwd(Xm.ptr, this.fbMix.data.ptr, sv.mixFb.ptr, this.age.data.ptr, sv.mixAge.ptr, Tm, d, 1);
    k.add(Xm.ptr, Xm.ptr, at('mix'), Tm * d);
    this.mixSelf.forward(Xm.ptr, Xm.ptr, { q: p.off.mix, k: p.off.mix }, Zm.ptr);
    k.add(Zm.ptr, Zm.ptr, Xm.ptr, Tm * d);
    this.mixTarget.forward(at('cand'), Zm.ptr, { q: p.off.cand, k: p.off.mix }, rMix.ptr);
    // 3. pattern extractor over every list at once; list b < B is example b's candidate list
    const Xl = S.get('Xl', Tl * d), Y = S.get('Y', Tl * d), G0 = S.get('G0', nL * d), g = S.get('g', nL * d);
    k.embed_fwd(Xl.ptr, this.fbList.data.ptr, sv.listFb.ptr, this.pos.data.ptr, sv.listPos.ptr, Tl, d, 1);
    k.add(Xl.ptr, Xl.ptr, at('list'), Tl * d);
    this.listSelf.forward(Xl.ptr, Xl.ptr, { q: p.off.list, k: p.off.list }, Y.ptr);
    k.add(Y.ptr, Y.ptr, Xl.ptr, Tl * d);
    G0.a.fill(0, 0, nL * d);
    for (let l = 0; l < nL; l++) {
      const r0 = p.off.list[l], r1 = p.off.list[l + 1];
      for (let r = r0; r < r1; r++) for (let j = 0; j < d; j++) G0.a[l * d + j] += Y.a[r * d + j] / (r1 - r0);
    }
    const prog = e.program();
    this.wPattern.prepare(prog);
    this.wPattern.forward(prog, { ptr: G0.ptr, ld: d }, { ptr: g.ptr, ld: d }, nL);
    e.run(prog);
    // 5. scorer input [e_c, y_c, r⁺, (r⁻), r^mix, g_C, s_c]; candidate rows c of E and of Y coincide
    const w = this.width, Sin = S.get('Sin', Tc * w);
    const blocks: { src: Float32Array; row: (c: number, b: number) => number }[] = [
      { src: E.a, row: (c) => c }, { src: Y.a, row: (c) => c }, { src: rPos.a, row: (c) => c },
      ...(this.disinterest ? [{ src: rNeg.a, row: (c: number) => c }] : []), { src: rMix.a, row: (c) => c }, { src: g.a, row: (_c, b) => b },
    ];
    for (let b = 0; b < p.B; b++) {
      for (let c = p.off.cand[b]; c < p.off.cand[b + 1]; c++) {
        blocks.forEach((bl, q) => Sin.a.set(bl.src.subarray(bl.row(c, b) * d, bl.row(c, b) * d + d), c * w + q * d));
        Sin.a[c * w + w - 1] = p.scores[c];
      }
    }
    const out = this.scorer.forward(Sin.ptr, Tc);
    return new Float32Array(e.memory.buffer, out, Tc).slice();
  }

  /** InfoNCE inputs: each example's candidate-list pattern (P) and the mean of its past lists' (U). */
  private patternPairs(p: Plan): { P: Buf; U: Buf } {
    const d = this.config.dims, g = this.s.get('g', 0).a, n = p.nce.length;
    const P = this.s.get('P', n * d), U = this.s.get('U', n * d);
    U.a.fill(0, 0, n * d);
    p.nce.forEach(({ b, l0, l1 }, i) => {
      P.a.set(g.subarray(b * d, b * d + d), i * d);
      for (let l = l0; l < l1; l++) for (let j = 0; j < d; j++) U.a[i * d + j] += g[l * d + j] / (l1 - l0);
    });
    return { P, U };
  }

  /** The backward of the last forward from ∂L/∂logits, and ∂L/∂P, ∂L/∂U of InfoNCE (already times λ) when given. */
  private backward(dLogits: Float32Array, nce: { dP: Buf; dU: Buf } | null): void {
    const sv = this.saved!, p = sv.p;
    const e = this.engine, k = e.k, d = this.config.dims, S = this.s, w = this.width;
    const N = p.ids.length, Tc = this.rows(p, 'cand'), Tm = this.rows(p, 'mix'), Tl = this.rows(p, 'list'), nL = p.nLists;
    const dZ = S.get('dZ', Tc), dSin = S.get('dSin', Tc * w), Sin = S.get('Sin', 0);
    dZ.a.set(dLogits);
    this.scorer.backward(Sin.ptr, dZ.ptr, dSin.ptr, Tc, false);
    const dE = S.get('dE', N * d), dY = S.get('dY', Tl * d), dg = S.get('dg', nL * d);
    k.zero(dE.ptr, N * d);
    k.zero(dY.ptr, Tl * d);
    k.zero(dg.ptr, nL * d);
    const dRpos = S.get('dRpos', Tc * d), dRneg = S.get('dRneg', Tc * d), dRmix = S.get('dRmix', Tc * d);
    const dat = (part: Part): number => dE.ptr + 4 * d * p.at[part];
    const targets: { dst: Float32Array; row: (c: number, b: number) => number; add: boolean }[] = [
      { dst: dE.a, row: (c) => c, add: true }, { dst: dY.a, row: (c) => c, add: true }, { dst: dRpos.a, row: (c) => c, add: false },
      ...(this.disinterest ? [{ dst: dRneg.a, row: (c: number) => c, add: false }] : []), { dst: dRmix.a, row: (c) => c, add: false }, { dst: dg.a, row: (_c, b) => b, add: true },
    ];
    for (let b = 0; b < p.B; b++) {
      for (let c = p.off.cand[b]; c < p.off.cand[b + 1]; c++) {
        targets.forEach((t, q) => {
          const o = t.row(c, b) * d, i = c * w + q * d;
          for (let j = 0; j < d; j++) t.dst[o + j] = (t.add ? t.dst[o + j] : 0) + dSin.a[i + j];
        });
      }
    }
    // 4. InfoNCE into the patterns: P is the candidate list's, U the mean of the past lists'
    if (nce) {
      p.nce.forEach(({ b, l0, l1 }, i) => {
        for (let j = 0; j < d; j++) dg.a[b * d + j] += nce.dP.a[i * d + j];
        for (let l = l0; l < l1; l++) for (let j = 0; j < d; j++) dg.a[l * d + j] += nce.dU.a[i * d + j] / (l1 - l0);
      });
    }
    // 3. pattern extractor
    const G0 = S.get('G0', 0), dG0 = S.get('dG0', nL * d), dXl = S.get('dXl', Tl * d);
    const prog = e.program();
    this.wPattern.backward(prog, 0, { ptr: dg.ptr, ld: d }, { ptr: G0.ptr, ld: d }, { ptr: dG0.ptr, ld: d }, nL, false);
    e.run(prog);
    for (let l = 0; l < nL; l++) {
      const r0 = p.off.list[l], r1 = p.off.list[l + 1];
      for (let r = r0; r < r1; r++) for (let j = 0; j < d; j++) dY.a[r * d + j] += dG0.a[l * d + j] / (r1 - r0);
    }
    k.copy(dXl.ptr, dY.ptr, Tl * d);
    this.listSelf.backward(dY.ptr, dXl.ptr, dXl.ptr);
    k.embed_bwd(this.fbList.grads[0].ptr, this.pos.grads[0].ptr, dXl.ptr, sv.listFb.ptr, sv.listPos.ptr, Tl, d, 1);
    k.axpy(dat('list'), dXl.ptr, Tl * d, 1);
    // 2. mixer
    const dZm = S.get('dZm', Tm * d), dXm = S.get('dXm', Tm * d);
    k.zero(dZm.ptr, Tm * d);
    this.mixTarget.backward(dRmix.ptr, dat('cand'), dZm.ptr);
    k.copy(dXm.ptr, dZm.ptr, Tm * d);
    this.mixSelf.backward(dZm.ptr, dXm.ptr, dXm.ptr);
    k.embed_bwd(this.fbMix.grads[0].ptr, this.age.grads[0].ptr, dXm.ptr, sv.mixFb.ptr, sv.mixAge.ptr, Tm, d, 1);
    k.axpy(dat('mix'), dXm.ptr, Tm * d, 1);
    // 1. miners
    this.interest.backward(dRpos.ptr, dat('cand'), dat('pos'));
    this.disinterest?.backward(dRneg.ptr, dat('cand'), dat('neg'));
    this.items.backward(e, sv.ids, N, dE);
  }

  logits(xs: readonly RerankInput[]): Float32Array[] {
    const p = this.plan(xs, false);
    const z = this.forward(p);
    return xs.map((_, b) => z.subarray(p.off.cand[b], p.off.cand[b + 1]));
  }

  lossAndGrad(batch: readonly LabelledList[], lambda: number, tau: number): BatchLoss {
    const p = this.plan(batch, lambda > 0);
    const z = this.forward(p);
    const y = new Uint8Array(z.length);
    batch.forEach((x, b) => y.set(x.clicks, p.off.cand[b]));
    const dZ = new Float32Array(z.length);
    const bce = meanBceWithLogits(z, y, dZ);
    if (lambda === 0 || p.nce.length < 2) {
      this.backward(dZ, null);
      return { loss: bce, bce, nce: 0 };
    }
    const d = this.config.dims, n = p.nce.length;
    const { P, U } = this.patternPairs(p);
    const dP = this.s.get('dP', n * d), dU = this.s.get('dU', n * d);
    const nce = this.nceLoss.lossAndGrad(P.ptr, U.ptr, n, d, tau, dP.ptr, dU.ptr);
    this.engine.k.scale(dP.ptr, n * d, lambda);
    this.engine.k.scale(dU.ptr, n * d, lambda);
    this.backward(dZ, { dP, dU });
    return { loss: bce + lambda * nce, bce, nce };
  }
}
