/**
 * The BERT4Rec network on the engine: parameters, the recorded encoder and MLM-head forward and
 * backward passes, the training step on Cloze batches and inference (head output, item logits).
 * The Recommender wrapper (config, Cloze sampler, training loop, scoring of users, save/load) is
 * in ../bert4rec.ts; the network lives here so the numerical code can be read, tested and
 * benchmarked on its own.
 *
 * BERT4Rec — Sequential Recommendation with Bidirectional Encoder Representations from
 * Transformer (Sun et al., CIKM 2019).
 *
 * The paper in one page (and FeiSun/BERT4Rec's `modeling.py`):
 *   Items 1..n, [MASK] = n + 1 (row 0 = padding, never read). For the last maxLen items s₁..s_L
 *   of a user (right-aligned positions, as the left-padded reference):
 *       h⁰_t = Dropout(LN(E[s_t] + P[t]))
 *   Each of b Transformer blocks (post-LN, as BERT), bidirectional — every position attends to
 *   every other position of its sequence:
 *       x = LN₁(h + Dropout(MHA(h)))            (attention weights dropped out, too)
 *       h = LN₂(x + Dropout(W₂·GELU(W₁x + b₁) + b₂))
 *   Output at position t (the MLM head, embedding-tied): g = LN_h(GELU(W_t·h_t + b_t)),
 *       P(v) = softmax_v(g·E[v] + b_v) over items v = 1..n.
 *   Training (Cloze): each position is replaced by [MASK] with probability ρ (at least one per
 *   sequence); the loss is the cross-entropy of the original item at each masked position, over
 *   all items, averaged over masked positions.
 *   Inference: append [MASK] after the history (keeping the last maxLen − 1 items) and rank items
 *   by the output at that position.
 * Init as BERT: every matrix and embedding N(0, 0.02²) truncated at 2σ, biases 0, LN γ = 1, β = 0.
 *
 * On the engine: bidirectional MultiheadAttention (`causal: false`) over ragged sequences, GELU
 * kernels, the chunked full-softmax CE that SASRec's `ce` loss uses; the head runs only on the
 * masked rows (gathered with `embed_fwd`, scattered back with `embed_bwd`).
 */
import type { BERT4RecConfig, ClozeBatch } from '../bert4rec.ts';
import { defaultEngine, type Buf, type Engine, type Program } from '../../kernels/engine.ts';
import { ParamSet, type Param } from '../../nn/params.ts';
import { LayerNorm, Linear, MultiheadAttention, linear, type RaggedLayout } from '../../nn/layers.ts';
import { Adam } from '../../nn/optim.ts';
import { Workspace } from '../../nn/workspace.ts';
import type { Rng } from '../../nn/rng.ts';
import { splitBalanced, type Shard, runShards } from './ragged.ts';
import { inferRows } from './infer.ts';
import { ItemPanels, scoreDot } from '../../kernels/score.ts';

/** Per-step dropout seeds. */
export interface BERTSeeds {
  emb: number;
  att: number[];
  attOut: number[];
  ffOut: number[];
}

interface Block {
  att: MultiheadAttention;
  ln1: LayerNorm;
  ff1: Linear;
  ff2: Linear;
  ln2: LayerNorm;
}

const CE_CHUNK = 512;

/** The BERT4Rec network on the engine. */
export class BERT4RecNet {
  readonly engine: Engine;
  readonly threads: number;
  readonly params: ParamSet;
  readonly item: Param;
  readonly pos: Param;
  readonly embLn: LayerNorm;
  readonly blocks: Block[] = [];
  readonly headT: Linear;
  readonly headLn: LayerNorm;
  readonly outBias: Param;
  readonly adam: Adam;
  readonly d: number;
  /** Internal id of [MASK]. */
  readonly maskId: number;
  /** Dropout on attention weights (config `attentionDropout`, else `dropout`). */
  readonly attentionDropout: number;
  private readonly ws: Workspace[];
  private readonly itemT: Buf;
  private itemTValid = false;

  constructor(readonly cfg: BERT4RecConfig, readonly nItems: number) {
    const threads = cfg.threads || defaultEngine().threads;
    this.threads = threads;
    const e = (this.engine = defaultEngine());
    const d = (this.d = cfg.hidden);
    this.maskId = nItems + 1;
    this.attentionDropout = cfg.attentionDropout ?? cfg.dropout;
    const P = (this.params = new ParamSet(e, threads, this));
    this.item = P.add('item.weight', [nItems + 2, d], { decay: false });
    this.pos = P.add('pos.weight', [cfg.maxLen, d], { decay: false });
    this.embLn = new LayerNorm(P, 'emb_ln', d, cfg.lnEps);
    for (let b = 0; b < cfg.blocks; b++) {
      this.blocks.push({
        att: new MultiheadAttention(P, `blocks.${b}.att`, d, { heads: cfg.heads, causal: false }, this),
        ln1: new LayerNorm(P, `blocks.${b}.ln1`, d, cfg.lnEps),
        ff1: linear(P, `blocks.${b}.ff1`, d, cfg.ffn, true, this),
        ff2: linear(P, `blocks.${b}.ff2`, cfg.ffn, d, true, this),
        ln2: new LayerNorm(P, `blocks.${b}.ln2`, d, cfg.lnEps),
      });
    }
    this.headT = linear(P, 'head.transform', d, d, true, this);
    this.headLn = new LayerNorm(P, 'head.ln', d, cfg.lnEps);
    this.outBias = P.add('head.bias', [nItems], { decay: false });
    this.adam = new Adam(P, { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay, decoupled: true, clipNorm: 0 });
    this.ws = Array.from({ length: threads }, () => new Workspace(e, this));
    this.itemT = e.f32(d * (nItems + 2), this);
  }

  /** Call after changing parameter values from outside. */
  invalidate(): void {
    this.itemTValid = false;
    this.panels?.dispose();
    this.panels = null;
  }

  /** BERT's init: N(0, 0.02²) truncated at 2σ for matrices and embeddings; zero biases. */
  init(rng: Rng): void {
    const trunc = (p: Param): void => {
      for (let i = 0; i < p.size; i++) {
        let z = rng.normal();
        while (Math.abs(z) > 2) z = rng.normal();
        p.data.a[i] = z * 0.02;
      }
    };
    trunc(this.item);
    this.item.data.a.fill(0, 0, this.d);
    trunc(this.pos);
    for (const b of this.blocks) {
      trunc(b.att.inProj);
      trunc(b.att.out.weight);
      trunc(b.ff1.weight);
      trunc(b.ff2.weight);
    }
    trunc(this.headT.weight);
    this.invalidate();
  }

  private layout(sh: Shard, nMasked: number, training: boolean): Record<string, number> {
    const { d, cfg } = this;
    const T = sh.tokens, nSeq = sh.s1 - sh.s0, Td = T * d, F = cfg.ffn;
    const SL = sh.sumL2 * cfg.heads;
    const per = training ? cfg.blocks : 1;
    const drop = training && this.attentionDropout > 0;
    const M = Math.max(nMasked, 1);
    const lay: Record<string, number> = {
      ids: T, posIdx: T, seqOff: nSeq + 1, pOff: nSeq + 1, mIdx: M, y: M,
      Xe: Td, X0: Td, m0: T, r0: T, scratch: (d / cfg.heads) * sh.maxL + sh.maxL * sh.maxL,
      Hm: M * d, Tm: M * d, Gm: M * d, Hh: M * d, mh: M, rh: M,
    };
    for (let b = 0; b < per; b++) {
      Object.assign(lay, {
        [`Q${b}`]: Td, [`KV${b}`]: 2 * Td, [`A${b}`]: Td, [`P${b}`]: SL, [`PD${b}`]: drop ? SL : 0, [`Y${b}`]: Td,
        [`S1${b}`]: Td, [`X1${b}`]: Td, [`m1${b}`]: T, [`r1${b}`]: T, [`F1${b}`]: T * F, [`G1${b}`]: T * F, [`F2${b}`]: Td,
        [`S2${b}`]: Td, [`OUT${b}`]: Td, [`m2${b}`]: T, [`r2${b}`]: T,
      });
    }
    if (training) {
      Object.assign(lay, {
        Z: Math.min(CE_CHUNK, M) * this.nItems, dHh: M * d, dGm: M * d, dHm: M * d, dOut: Td, dCur: Td, dNext: Td,
        g1: Td, gF: T * F, gA: Td, gQ: Td, gKV: 2 * Td, loss: 4,
      });
    }
    return lay;
  }

  /** Writes ids, right-aligned positions, ragged offsets and masked rows of a shard. */
  private fillShard(B: Record<string, number>, sh: Shard, off: Int32Array, inputs: Int32Array, masked: Int32Array,
    labels: Int32Array | null): { lay: RaggedLayout; M: number } {
    const mem = this.engine.memory.buffer;
    const T = sh.tokens, nSeq = sh.s1 - sh.s0;
    new Int32Array(mem, B.ids, T).set(inputs.subarray(sh.t0, sh.t0 + T));
    const pos = new Int32Array(mem, B.posIdx, T);
    const seqOff = new Int32Array(mem, B.seqOff, nSeq + 1);
    const pOff = new Int32Array(mem, B.pOff, nSeq + 1);
    seqOff[0] = 0;
    pOff[0] = 0;
    for (let s = 0; s < nSeq; s++) {
      const a = off[sh.s0 + s] - sh.t0;
      const L = off[sh.s0 + s + 1] - off[sh.s0 + s];
      seqOff[s + 1] = a + L;
      pOff[s + 1] = pOff[s] + L * L;
      for (let j = 0; j < L; j++) pos[a + j] = this.cfg.maxLen - L + j;
    }
    // masked tokens of this shard (masked is ascending)
    let lo = 0;
    while (lo < masked.length && masked[lo] < sh.t0) lo++;
    let hi = lo;
    while (hi < masked.length && masked[hi] < sh.t0 + T) hi++;
    const M = hi - lo;
    const mIdx = new Int32Array(mem, B.mIdx, M);
    for (let k = 0; k < M; k++) mIdx[k] = masked[lo + k] - sh.t0;
    if (labels) {
      const y = new Int32Array(mem, B.y, M);
      for (let k = 0; k < M; k++) y[k] = labels[lo + k] - 1; // logits cover items 1..n
    }
    return { lay: { seqOff: B.seqOff, pOff: B.pOff, nSeq, maxL: sh.maxL, seqBase: sh.s0 }, M };
  }

  /** Records the encoder forward and the MLM head on the M masked rows (result in Hh [M × d]). */
  private recordForward(prog: Program, B: Record<string, number>, lay: RaggedLayout, T: number, t0: number, M: number,
    training: boolean, seeds: BERTSeeds | null): void {
    const { d, cfg } = this;
    const p = training ? cfg.dropout : 0;
    const pa = training ? this.attentionDropout : 0;
    const Td = T * d, F = cfg.ffn;
    prog.call('embed_fwd', B.Xe, this.item.data.ptr, B.ids, this.pos.data.ptr, B.posIdx, T, d, 1);
    this.embLn.forward(prog, B.Xe, B.X0, B.m0, B.r0, T);
    if (p > 0) prog.call('dropout', B.X0, B.X0, Td, p, seeds!.emb, t0 * d);
    let xin = B.X0;
    for (let b = 0; b < this.blocks.length; b++) {
      const i = training ? b : 0;
      const blk = this.blocks[b];
      blk.att.forward(prog, lay, T, xin, xin, {
        Q: B[`Q${i}`], KV: B[`KV${i}`], A: B[`A${i}`], P: B[`P${i}`], P2: B[`PD${i}`], Y: B[`Y${i}`], scratch: B.scratch,
      }, pa, seeds ? seeds.att[b] : 0);
      if (p > 0) prog.call('dropout', B[`Y${i}`], B[`Y${i}`], Td, p, seeds!.attOut[b], t0 * d);
      prog.call('add', B[`S1${i}`], xin, B[`Y${i}`], Td);
      blk.ln1.forward(prog, B[`S1${i}`], B[`X1${i}`], B[`m1${i}`], B[`r1${i}`], T);
      blk.ff1.forward(prog, { ptr: B[`X1${i}`], ld: d }, { ptr: B[`F1${i}`], ld: F }, T);
      prog.call('gelu_fwd', B[`G1${i}`], B[`F1${i}`], T * F);
      blk.ff2.forward(prog, { ptr: B[`G1${i}`], ld: F }, { ptr: B[`F2${i}`], ld: d }, T);
      if (p > 0) prog.call('dropout', B[`F2${i}`], B[`F2${i}`], Td, p, seeds!.ffOut[b], t0 * d);
      prog.call('add', B[`S2${i}`], B[`X1${i}`], B[`F2${i}`], Td);
      const out = training ? B[`OUT${i}`] : B.X0 === xin ? B[`OUT${i}`] : B.X0; // inference alternates two buffers
      blk.ln2.forward(prog, B[`S2${i}`], out, B[`m2${i}`], B[`r2${i}`], T);
      xin = out;
    }
    if (M === 0) return;
    prog.call('embed_fwd', B.Hm, xin, B.mIdx, 0, 0, M, d, 1); // gather the masked rows
    this.headT.forward(prog, { ptr: B.Hm, ld: d }, { ptr: B.Tm, ld: d }, M);
    prog.call('gelu_fwd', B.Gm, B.Tm, M * d);
    this.headLn.forward(prog, B.Gm, B.Hh, B.mh, B.rh, M);
  }

  private recordBackward(prog: Program, w: number, B: Record<string, number>, lay: RaggedLayout, T: number, t0: number,
    M: number, weight: number, seeds: BERTSeeds): void {
    const { d, cfg } = this;
    const n = this.nItems;
    const p = cfg.dropout;
    const Td = T * d, F = cfg.ffn;
    const gE = this.item.grads[w].ptr;
    // full softmax over items 1..n on the masked rows, in chunks: Z = Hh·Eᵀ + b, dZ, dHh = dZ·E, dE += dZᵀ·Hh
    for (let c = 0; c < M; c += CE_CHUNK) {
      const m = Math.min(CE_CHUNK, M - c);
      prog.call('gemm', B.Z, B.Hh + 4 * c * d, this.itemT.ptr + 4, m, n, d, d, n + 2, n, 0, 0, 0, 1);
      prog.call('add_bias', B.Z, this.outBias.data.ptr, m, n, n);
      prog.call('softmax_ce', B.Z, B.y + 4 * c, m, n, n, weight, B.loss);
      prog.call('col_sum', this.outBias.grads[w].ptr, B.Z, m, n, n);
      prog.call('gemm', B.dHh + 4 * c * d, B.Z, this.item.data.ptr + 4 * d, m, d, n, n, d, d, 0, 0, 0, 1);
      prog.call('gemm', gE + 4 * d, B.Z, B.Hh + 4 * c * d, n, d, m, n, d, d, 1, 1, 0, 1);
    }
    this.headLn.backward(prog, w, B.dHh, B.Gm, B.mh, B.rh, B.dGm, M, false);
    prog.call('gelu_bwd', B.dGm, B.dGm, B.Tm, M * d, 0);
    this.headT.backward(prog, w, { ptr: B.dGm, ld: d }, { ptr: B.Hm, ld: d }, { ptr: B.dHm, ld: d }, M, false);
    let dCur = B.dCur, dNext = B.dNext;
    prog.call('zero', dCur, Td);
    prog.call('embed_bwd', dCur, 0, B.dHm, B.mIdx, 0, M, d, 1); // scatter back to the masked rows
    for (let b = this.blocks.length - 1; b >= 0; b--) {
      const blk = this.blocks[b];
      const xin = b === 0 ? B.X0 : B[`OUT${b - 1}`];
      // OUT = LN₂(S2), S2 = X1 + Dropout(F2)
      blk.ln2.backward(prog, w, dCur, B[`S2${b}`], B[`m2${b}`], B[`r2${b}`], B.g1, T, false); // g1 = dS2 = dX1 (residual)
      if (p > 0) prog.call('dropout', dNext, B.g1, Td, p, seeds.ffOut[b], t0 * d);
      else prog.call('copy', dNext, B.g1, Td);
      blk.ff2.backward(prog, w, { ptr: dNext, ld: d }, { ptr: B[`G1${b}`], ld: F }, { ptr: B.gF, ld: F }, T, false);
      prog.call('gelu_bwd', B.gF, B.gF, B[`F1${b}`], T * F, 0);
      blk.ff1.backward(prog, w, { ptr: B.gF, ld: F }, { ptr: B[`X1${b}`], ld: d }, { ptr: B.g1, ld: d }, T, true);
      // X1 = LN₁(S1), S1 = xin + Dropout(MHA(xin))
      blk.ln1.backward(prog, w, B.g1, B[`S1${b}`], B[`m1${b}`], B[`r1${b}`], dNext, T, false); // dNext = dS1
      if (p > 0) prog.call('dropout', B.g1, dNext, Td, p, seeds.attOut[b], t0 * d);
      else prog.call('copy', B.g1, dNext, Td);
      blk.att.backward(prog, w, lay, T, xin, xin, {
        Q: B[`Q${b}`], KV: B[`KV${b}`], A: B[`A${b}`], P: B[`P${b}`], P2: B[`PD${b}`], scratch: B.scratch,
      }, B.g1, { dA: B.gA, dQ: B.gQ, dKV: B.gKV }, dNext, dNext, true, this.attentionDropout, seeds.att[b]);
      const t = dCur;
      dCur = dNext;
      dNext = t;
    }
    if (p > 0) prog.call('dropout', dCur, dCur, Td, p, seeds.emb, t0 * d);
    this.embLn.backward(prog, w, dCur, B.Xe, B.m0, B.r0, dNext, T, false);
    prog.call('embed_bwd', gE, this.pos.grads[w].ptr, dNext, B.ids, B.posIdx, T, d, 1);
  }

  private prepare(withItemT: boolean): void {
    const prog = this.engine.program();
    for (const b of this.blocks) {
      b.att.prepare(prog);
      b.ff1.prepare(prog);
      b.ff2.prepare(prog);
    }
    this.headT.prepare(prog);
    if (withItemT && !this.itemTValid) {
      prog.call('transpose', this.itemT.ptr, this.item.data.ptr, this.nItems + 2, this.d, this.d, this.nItems + 2);
      this.itemTValid = true;
    }
    this.engine.run(prog);
  }

  /** Draws one step's dropout seeds. */
  drawSeeds(rng: Rng): BERTSeeds {
    const u = (): number => rng.nextUint32();
    return { emb: u(), att: this.blocks.map(u), attOut: this.blocks.map(u), ffOut: this.blocks.map(u) };
  }

  /** Forward + backward of a Cloze batch: mean CE over masked positions; per-thread gradients left in place. */
  forwardBackward(batch: ClozeBatch, seeds: BERTSeeds): { loss: number; threadsUsed: number } {
    const total = batch.masked.length;
    if (total === 0) return { loss: 0, threadsUsed: 0 };
    this.prepare(true);
    const shards = splitBalanced(batch.off, this.threads, 8 * this.d);
    const programs: Program[] = [];
    const lossPtrs: number[] = [];
    shards.forEach((sh, w) => {
      let M = 0;
      for (const t of batch.masked) if (t >= sh.t0 && t < sh.t0 + sh.tokens) M++;
      const B = this.ws[w].carve(this.layout(sh, M, true));
      const { lay } = this.fillShard(B, sh, batch.off, batch.inputs, batch.masked, batch.labels);
      new Float64Array(this.engine.memory.buffer, B.loss, 1)[0] = 0;
      const prog = this.engine.program();
      this.recordForward(prog, B, lay, sh.tokens, sh.t0, M, true, seeds);
      // a shard without masked tokens contributes no gradient (its buffers stay zero)
      if (M > 0) this.recordBackward(prog, w, B, lay, sh.tokens, sh.t0, M, 1 / total, seeds);
      programs.push(prog);
      lossPtrs.push(B.loss);
    });
    return { loss: runShards(this.engine, programs, lossPtrs), threadsUsed: shards.length };
  }

  /** One Adam step; returns the mean loss. */
  trainStep(batch: ClozeBatch, lr: number, rng: Rng): number {
    const { loss, threadsUsed } = this.forwardBackward(batch, this.drawSeeds(rng));
    if (threadsUsed > 0) this.adam.step(lr, threadsUsed, new Map());
    this.invalidate();
    return loss;
  }

  /**
   * Head output g at the last position of each sequence (internal ids; the caller appends
   * [MASK]), into `out` [nSeq × d].
   */
  lastHidden(seqs: Int32Array[], out: Float32Array): void {
    this.prepare(false);
    inferRows({
      engine: this.engine, threads: this.threads, d: this.d, maxLen: this.cfg.maxLen, name: 'bert4rec', linearWeight: 8 * this.d,
      shard: (sh, w, off, inputs) => {
        const M = sh.s1 - sh.s0;
        const lastTok = Int32Array.from({ length: M }, (_, i) => off[sh.s0 + i + 1] - 1); // this shard's [MASK] tokens
        const B = this.ws[w].carve(this.layout(sh, M, false));
        const { lay } = this.fillShard(B, sh, off, inputs, lastTok, null);
        const program = this.engine.program();
        this.recordForward(program, B, lay, sh.tokens, sh.t0, M, false, null);
        return { program, collect: (dst, at) => dst.set(new Float32Array(this.engine.memory.buffer, B.Hh, M * this.d), at) };
      },
    }, seqs, out);
  }

  /**
   * The output layer as dot products for the kernel core: item j's vector is [E[j+1], b_j] (the
   * tied embedding and the output bias as one more column); a head row g is scored as [g, 1].
   */
  itemPanels(): ItemPanels {
    if (!this.panels) {
      const d = this.d, n = this.nItems;
      const v = new Float32Array(n * (d + 1));
      const E = this.item.data.a, b = this.outBias.data.a;
      for (let j = 0; j < n; j++) {
        v.set(E.subarray((j + 1) * d, (j + 2) * d), j * (d + 1));
        v[j * (d + 1) + d] = b[j];
      }
      this.panels = new ItemPanels(v, n, d + 1);
    }
    return this.panels;
  }
  private panels: ItemPanels | null = null;

  /** Logits of items (dataset ids 0..n−1) for each head row: out[i·n + j] = g_i·E[j+1] + b_j. */
  scoreHidden(H: Float32Array, rows: number, out: Float32Array, outOffset = 0): void {
    const d = this.d;
    const G = new Float32Array(rows * (d + 1));
    for (let r = 0; r < rows; r++) {
      G.set(H.subarray(r * d, r * d + d), r * (d + 1));
      G[r * (d + 1) + d] = 1;
    }
    scoreDot(this.itemPanels(), G, rows, out.subarray(outOffset, outOffset + rows * this.nItems));
  }

}
