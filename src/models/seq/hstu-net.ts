/**
 * The HSTU network on the engine: parameters, the recorded forward and backward passes, the
 * training step and inference (last hidden states, cosine scores). The Recommender wrapper
 * (config, training loop, scoring of users, save/load) is in ../hstu.ts; the network lives
 * here so the numerical code can be read, tested and benchmarked on its own.
 *
 * HSTU — Hierarchical Sequential Transduction Units (Zhai et al., ICML 2024, "Actions Speak
 * Louder than Words: Trillion-Parameter Sequential Transducers for Generative Recommendations").
 *
 * The paper in one page (as in facebookresearch/generative-recommenders, `hstu.py`):
 *   Input: x⁰_t = E[s_t]·√d + P[t] (learned absolute positions, left-aligned: the oldest item of the
 *   window has position 0), then dropout.
 *   Each of b blocks, with h heads of widths d_qk and d_v:
 *       Xn = LayerNorm(X)                                (no affine parameters, ε = 1e-6)
 *       U, V, Q, K = split(SiLU(Xn·W_uvqk))              (W_uvqk ∈ R^{d × (2h·d_v + 2h·d_qk)}, no bias)
 *       A_h = (SiLU(Q_h K_hᵀ + B) / n ⊙ M) · V_h         (pointwise attention: no softmax; B = learned
 *                                                          relative-position bias b[i − j]; M = causal
 *                                                          mask; n = maxLen, a constant, as in the repo)
 *       X ← X + W_o·Dropout(U ⊙ LayerNorm(A)) + b_o     (LayerNorm over all heads' h·d_v, no affine)
 *   The output F_t is L2-normalised; items are scored with L2-normalised embeddings, so the score is
 *   a cosine: r_{i,t} = ⟨F̂_t, Ê_i⟩.
 *   Loss: sampled softmax with temperature τ over the target and N sampled negatives per position,
 *       −log( exp(r_{o_t,t}/τ) / (exp(r_{o_t,t}/τ) + Σ_j exp(r_{j,t}/τ)) ),  averaged over positions.
 *   Relative bias: the repo's RelativeBucketedTimeAndPositionBasedBias has one weight per position
 *   offset (positions are not bucketed; only time gaps are, log-bucketed). ml-1m.txt carries no
 *   timestamps, so only the position part exists here.
 *
 * How it runs on the engine. Attention is one fused kernel call per block and shard
 * (`attn_fwd`/`attn_bwd`, kind 1): per (sequence, head) Q·Kᵀ over the causal triangle only, then
 * x = s + b[i − j] and SiLU(x)/n in one vectorised pass, then P·V; ragged sequences, so padding
 * costs nothing. The forward keeps x (for SiLU's derivative) and the weights; the backward sums
 * the bias gradient per offset inside the same pass. U ⊙ LayerNorm(A) is `gated_norm_fwd` over
 * all tokens (U read as a column slice of SiLU(Xn·W_uvqk)), and L2 normalisation is `l2norm_fwd`
 * (1/√(‖x‖² + 1e-12), F.normalize's floor). The item table is normalised once per step; each
 * thread back-propagates its own share of the table gradient. Item embeddings use dense Adam
 * (the repo's optimiser is dense, too).
 */
import type { HSTUConfig } from '../hstu.ts';
import { defaultEngine, type Buf, type Engine, type Program } from '../../kernels/engine.ts';
import { ParamSet, uniformInit, type Param } from '../../nn/params.ts';
import { Linear, linear, type RaggedLayout } from '../../nn/layers.ts';
import { Adam } from '../../nn/optim.ts';
import { Workspace } from '../../nn/workspace.ts';
import type { Rng } from '../../nn/rng.ts';
import type { SeqBatch } from './batch.ts';
import { splitBalanced, type Shard, runShards } from './ragged.ts';
import { inferRows } from './infer.ts';
import { ItemPanels, scoreDot } from '../../kernels/score.ts';

interface Block {
  uvqk: Linear;
  o: Linear;
  /** Relative position bias, one value per offset: element k is the bias of i − j = k (shared by the heads). */
  rel: Param;
}

/** Per-step dropout seeds. */
export interface HSTUSeeds {
  emb: number;
  lin: number[];
}

/** LayerNorm ε inside the blocks (the repo's default). */
const LN_EPS = 1e-6;
/** L2 normalisation: x/√(‖x‖² + ε), F.normalize's 1e-12 floor. */
const L2_EPS = 1e-12;

/** The HSTU network on the engine. */
export class HSTUNet {
  readonly engine: Engine;
  readonly threads: number;
  readonly params: ParamSet;
  readonly item: Param;
  readonly pos: Param;
  readonly blocks: Block[] = [];
  readonly adam: Adam;
  /** Widths: d, h·d_v, row width of U|V|Q|K. */
  readonly d: number;
  readonly hv: number;
  readonly wd: number;
  private readonly ws: Workspace[];
  // constants in engine memory (LayerNorm without affine parameters)
  private readonly ones: Buf;
  private readonly zeros: Buf;
  // the normalised item table of this step, and its rows' 1/‖e‖
  private readonly rE: Buf;
  private readonly eHat: Buf;
  private tableValid = false;

  constructor(readonly cfg: HSTUConfig, readonly nItems: number) {
    const threads = cfg.threads || defaultEngine().threads;
    this.threads = threads;
    const e = (this.engine = defaultEngine());
    const d = (this.d = cfg.hidden);
    this.hv = cfg.heads * cfg.dv;
    this.wd = 2 * cfg.heads * cfg.dv + 2 * cfg.heads * cfg.dqk;
    const P = (this.params = new ParamSet(e, threads, this));
    this.item = P.add('item.weight', [nItems + 1, d], { decay: false });
    this.pos = P.add('pos.weight', [cfg.maxLen, d], { decay: false });
    for (let b = 0; b < cfg.blocks; b++) {
      this.blocks.push({
        uvqk: linear(P, `blocks.${b}.uvqk`, d, this.wd, false, this),
        o: linear(P, `blocks.${b}.o`, this.hv, d, true, this),
        rel: P.add(`blocks.${b}.rel_pos`, [cfg.maxLen], { decay: false }),
      });
    }
    this.adam = new Adam(P, { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay, decoupled: false, clipNorm: 0 });
    this.ws = Array.from({ length: threads }, () => new Workspace(e, this));
    const wide = Math.max(d, this.hv);
    this.ones = e.f32(wide, this);
    this.ones.a.fill(1);
    this.zeros = e.f32(wide, this);
    const rows = nItems + 1;
    this.rE = e.f32(rows, this);
    this.eHat = e.f32(rows * d, this);
  }

  /** Call after changing parameter values from outside (load, restore, a training step). */
  invalidate(): void {
    this.tableValid = false;
    this.panels?.dispose();
    this.panels = null;
  }

  /** The normalised item vectors packed for scoring on the kernel core (rows 1..n: dataset ids). */
  itemPanels(): ItemPanels {
    if (!this.panels) {
      this.prepare();
      const d = this.d;
      this.panels = new ItemPanels(this.eHat.a.subarray(d, (this.nItems + 1) * d), this.nItems, d);
    }
    return this.panels;
  }
  private panels: ItemPanels | null = null;

  /**
   * Init as the repo: item embeddings N(0, 0.02²) truncated at 2σ, positions N(0, 1/d) truncated,
   * W_uvqk N(0, 0.02²), W_o Xavier-uniform with PyTorch's default bias, relative bias N(0, 0.02²).
   */
  init(rng: Rng): void {
    const trunc = (p: Param, std: number): void => {
      for (let i = 0; i < p.size; i++) {
        let z = rng.normal();
        while (Math.abs(z) > 2) z = rng.normal();
        p.data.a[i] = z * std;
      }
    };
    trunc(this.item, 0.02);
    this.item.data.a.fill(0, 0, this.d);
    trunc(this.pos, Math.sqrt(1 / this.d));
    for (const b of this.blocks) {
      for (let i = 0; i < b.uvqk.weight.size; i++) b.uvqk.weight.data.a[i] = rng.normal() * 0.02;
      const bound = Math.sqrt(6 / (this.hv + this.d));
      uniformInit(b.o.weight, bound, rng);
      b.o.initBias(rng);
      for (let i = 0; i < b.rel.size; i++) b.rel.data.a[i] = rng.normal() * 0.02;
    }
    this.invalidate();
  }

  /** Region sizes of one shard's workspace (floats). */
  private layout(sh: Shard, nNeg: number, training: boolean): Record<string, number> {
    const { d, hv, wd, cfg } = this;
    const T = sh.tokens, h = cfg.heads, nSeq = sh.s1 - sh.s0;
    const Td = T * d;
    const SL = sh.sumL2 * h;
    const per = training ? cfg.blocks : 1;
    const rows = this.nItems + 1;
    const lay: Record<string, number> = {
      ids: T, posIdx: T, tgt: T, neg: T * Math.max(nNeg, 1), last: nSeq, seqOff: nSeq + 1, pOff: nSeq + 1,
      scratch: Math.max(cfg.dqk, cfg.dv) * sh.maxL + sh.maxL * sh.maxL,
      X0: Td, rh: T, Hn: Td,
    };
    for (let b = 0; b < per; b++) {
      Object.assign(lay, {
        [`Xn${b}`]: Td, [`m1${b}`]: T, [`r1${b}`]: T, [`Mp${b}`]: T * wd, [`Ma${b}`]: T * wd, [`S${b}`]: SL, [`P${b}`]: SL,
        [`A${b}`]: T * hv, [`ma${b}`]: T, [`ra${b}`]: T, [`G${b}`]: T * hv, [`Gd${b}`]: training && cfg.dropout > 0 ? T * hv : 0,
        [`OUT${b}`]: Td,
      });
    }
    if (training) {
      Object.assign(lay, {
        dHn: Td, dCur: Td, dNext: Td, gXn: Td, dG: T * hv, dA: T * hv, dMa: T * wd, dMp: T * wd,
        loss: 4, lossScratch: nNeg + 1, dEhat: rows * d, dummy: 2 * d,
      });
    }
    return lay;
  }

  /** Writes a shard's ids, positions (left-aligned, as in the repo) and ragged layout into its workspace. */
  private fillShard(B: Record<string, number>, sh: Shard, off: Int32Array, inputs: Int32Array, targets: Int32Array | null,
    negatives: Int32Array | null, nNeg: number): RaggedLayout {
    const mem = this.engine.memory.buffer;
    const T = sh.tokens, nSeq = sh.s1 - sh.s0;
    new Int32Array(mem, B.ids, T).set(inputs.subarray(sh.t0, sh.t0 + T));
    const pos = new Int32Array(mem, B.posIdx, T);
    const last = new Int32Array(mem, B.last, nSeq);
    const seqOff = new Int32Array(mem, B.seqOff, nSeq + 1);
    const pOff = new Int32Array(mem, B.pOff, nSeq + 1);
    seqOff[0] = 0;
    pOff[0] = 0;
    for (let s = sh.s0; s < sh.s1; s++) {
      const a = off[s] - sh.t0;
      const L = off[s + 1] - off[s];
      for (let j = 0; j < L; j++) pos[a + j] = j;
      last[s - sh.s0] = a + L - 1;
      seqOff[s - sh.s0 + 1] = a + L;
      pOff[s - sh.s0 + 1] = pOff[s - sh.s0] + L * L;
    }
    if (targets) new Int32Array(mem, B.tgt, T).set(targets.subarray(sh.t0, sh.t0 + T));
    if (negatives) new Int32Array(mem, B.neg, T * nNeg).set(negatives.subarray(sh.t0 * nNeg, (sh.t0 + T) * nNeg));
    return { seqOff: B.seqOff, pOff: B.pOff, nSeq, maxL: sh.maxL, seqBase: sh.s0 };
  }

  /** Column offsets (floats) of U, V, Q, K inside a row of SiLU(Xn·W_uvqk). */
  private get cols(): { u: number; v: number; q: number; k: number } {
    const { hv, cfg } = this;
    return { u: 0, v: hv, q: 2 * hv, k: 2 * hv + cfg.heads * cfg.dqk };
  }

  /** Records the forward of one shard; the L2-normalised outputs land in Hn [T × d]. */
  private recordForward(prog: Program, B: Record<string, number>, sh: Shard, lay: RaggedLayout, training: boolean,
    seeds: HSTUSeeds | null): void {
    const { d, hv, wd, cfg } = this;
    const T = sh.tokens, t0 = sh.t0;
    const p = training ? cfg.dropout : 0;
    const c = this.cols;
    prog.call('embed_fwd', B.X0, this.item.data.ptr, B.ids, this.pos.data.ptr, B.posIdx, T, d, Math.sqrt(d));
    if (p > 0) prog.call('dropout', B.X0, B.X0, T * d, p, seeds!.emb, t0 * d);
    let xin = B.X0;
    for (let b = 0; b < this.blocks.length; b++) {
      const i = training ? b : 0;
      const blk = this.blocks[b];
      const Ma = B[`Ma${i}`];
      prog.call('layernorm_fwd', B[`Xn${i}`], xin, this.ones.ptr, this.zeros.ptr, B[`m1${i}`], B[`r1${i}`], T, d, LN_EPS);
      blk.uvqk.forward(prog, { ptr: B[`Xn${i}`], ld: d }, { ptr: B[`Mp${i}`], ld: wd }, T);
      prog.call('silu_fwd', Ma, B[`Mp${i}`], B[`Mp${i}`], T * wd); // Mp now holds σ, for the backward
      // A = (SiLU(Q·Kᵀ + b) / n ⊙ M)·V: S keeps the pre-activations, P the weights
      prog.call('attn_fwd', Ma + 4 * c.q, Ma + 4 * c.k, Ma + 4 * c.v, B[`A${i}`], wd, wd, wd, hv, B[`S${i}`], B[`P${i}`],
        lay.seqOff, lay.pOff, 0, lay.nSeq, cfg.heads, cfg.dqk, cfg.dv, 1, 1, 0, 0, lay.seqBase, B.scratch,
        blk.rel.data.ptr, 0, 1 / cfg.maxLen, 1);
      // G = U ⊙ LayerNorm(A)
      prog.call('gated_norm_fwd', B[`G${i}`], B[`A${i}`], Ma + 4 * c.u, wd, B[`ma${i}`], B[`ra${i}`], T, hv, LN_EPS);
      let Gd = B[`G${i}`];
      if (p > 0) {
        Gd = B[`Gd${i}`];
        prog.call('dropout', Gd, B[`G${i}`], T * hv, p, seeds!.lin[b], t0 * hv);
      }
      const out = B[`OUT${i}`];
      if (!training && b > 0) {
        // inference keeps one set of block buffers: the residual input is the previous output
        prog.call('copy', B.X0, xin, T * d);
        xin = B.X0;
      }
      blk.o.forward(prog, { ptr: Gd, ld: hv }, { ptr: out, ld: d }, T, xin);
      xin = out;
    }
    prog.call('l2norm_fwd', B.Hn, xin, B.rh, T, d, L2_EPS);
  }

  /** Records loss and backward of one shard (after its forward), gradients into thread w's buffers. */
  private recordBackward(prog: Program, w: number, B: Record<string, number>, sh: Shard, lay: RaggedLayout, nNeg: number,
    weight: number, seeds: HSTUSeeds): void {
    const { d, hv, wd, cfg } = this;
    const T = sh.tokens, t0 = sh.t0;
    const p = cfg.dropout;
    const c = this.cols;
    const rows = this.nItems + 1;
    prog.call('zero', B.dEhat, rows * d);
    prog.call('sampled_softmax_loss', B.Hn, this.eHat.ptr, B.tgt, B.neg, T, nNeg, d, weight, cfg.temperature, B.dHn, B.dEhat, B.loss, B.lossScratch);
    let dCur = B.dCur, dNext = B.dNext;
    // through the output normalisation
    prog.call('l2norm_bwd', dCur, B.dHn, B.Hn, B.rh, T, d, 0);
    for (let b = this.blocks.length - 1; b >= 0; b--) {
      const blk = this.blocks[b];
      const xin = b === 0 ? B.X0 : B[`OUT${b - 1}`];
      const Ma = B[`Ma${b}`], dMa = B.dMa;
      // OUT = xin + W_o·Dropout(G) + b_o
      blk.o.backward(prog, w, { ptr: dCur, ld: d }, { ptr: p > 0 ? B[`Gd${b}`] : B[`G${b}`], ld: hv }, { ptr: B.dG, ld: hv }, T, false);
      if (p > 0) prog.call('dropout', B.dG, B.dG, T * hv, p, seeds.lin[b], t0 * hv);
      // G = U ⊙ LN(A): dA, and dU written into its columns of dMa
      prog.call('gated_norm_bwd', B.dA, dMa + 4 * c.u, B.dG, B[`A${b}`], Ma + 4 * c.u, wd, B[`ma${b}`], B[`ra${b}`], T, hv, 0);
      // attention: dQ, dK, dV written into their columns of dMa; the bias gradient summed per offset
      prog.call('attn_bwd', Ma + 4 * c.q, Ma + 4 * c.k, Ma + 4 * c.v, B.dA, dMa + 4 * c.q, dMa + 4 * c.k, dMa + 4 * c.v,
        wd, wd, wd, hv, B[`S${b}`], B[`P${b}`], lay.seqOff, lay.pOff, 0, lay.nSeq, cfg.heads, cfg.dqk, cfg.dv, 1, 1, 0, 0,
        lay.seqBase, B.scratch, lay.maxL, 0, 1 / cfg.maxLen, blk.rel.grads[w].ptr, 1);
      prog.call('silu_bwd', B.dMp, dMa, Ma, B[`Mp${b}`], T * wd, 0);
      blk.uvqk.backward(prog, w, { ptr: B.dMp, ld: wd }, { ptr: B[`Xn${b}`], ld: d }, { ptr: B.gXn, ld: d }, T, false);
      // X → Xn = LN(X), plus the residual path
      prog.call('copy', dNext, dCur, T * d);
      prog.call('layernorm_bwd', dNext, B.gXn, xin, this.ones.ptr, B[`m1${b}`], B[`r1${b}`], B.dummy, B.dummy + 4 * d, T, d, 1); // no affine: dγ, dβ discarded
      const t = dCur;
      dCur = dNext;
      dNext = t;
    }
    if (p > 0) prog.call('dropout', dCur, dCur, T * d, p, seeds.emb, t0 * d);
    prog.call('embed_bwd', this.item.grads[w].ptr, this.pos.grads[w].ptr, dCur, B.ids, B.posIdx, T, d, Math.sqrt(d));
    // this thread's share of the item-table gradient, back through the table normalisation
    prog.call('l2norm_bwd', this.item.grads[w].ptr, B.dEhat, this.eHat.ptr, this.rE.ptr, rows, d, 1);
  }

  /** Per-step preparation: weight transposes and the normalised item table. */
  private prepare(): void {
    const prog = this.engine.program();
    for (const b of this.blocks) {
      b.uvqk.prepare(prog);
      b.o.prepare(prog);
    }
    if (!this.tableValid) {
      prog.call('l2norm_fwd', this.eHat.ptr, this.item.data.ptr, this.rE.ptr, this.nItems + 1, this.d, L2_EPS);
      this.tableValid = true;
    }
    this.engine.run(prog);
  }

  /** Draws the dropout seeds of one step. */
  drawSeeds(rng: Rng): HSTUSeeds {
    return { emb: rng.nextUint32(), lin: this.blocks.map(() => rng.nextUint32()) };
  }

  /** Forward + backward of a batch: mean loss over positions; gradients left per thread. */
  forwardBackward(batch: SeqBatch, seeds: HSTUSeeds): { loss: number; threadsUsed: number } {
    const nNeg = batch.nNeg;
    const totalT = batch.off[batch.off.length - 1];
    if (totalT === 0) return { loss: 0, threadsUsed: 0 };
    this.prepare();
    const shards = splitBalanced(batch.off, this.threads, 4 * this.wd);
    const programs: Program[] = [];
    const lossPtrs: number[] = [];
    shards.forEach((sh, w) => {
      const B = this.ws[w].carve(this.layout(sh, nNeg, true));
      const lay = this.fillShard(B, sh, batch.off, batch.inputs, batch.targets, batch.negatives, nNeg);
      new Float64Array(this.engine.memory.buffer, B.loss, 1)[0] = 0;
      const prog = this.engine.program();
      this.recordForward(prog, B, sh, lay, true, seeds);
      this.recordBackward(prog, w, B, sh, lay, nNeg, 1 / totalT, seeds);
      programs.push(prog);
      lossPtrs.push(B.loss);
    });
    return { loss: runShards(this.engine, programs, lossPtrs), threadsUsed: shards.length };
  }

  /** One Adam step on a batch; returns the mean loss. */
  trainStep(batch: SeqBatch, lr: number, rng: Rng): number {
    const { loss, threadsUsed } = this.forwardBackward(batch, this.drawSeeds(rng));
    if (threadsUsed > 0) this.adam.step(lr, threadsUsed, new Map());
    this.invalidate();
    return loss;
  }

  /** L2-normalised final state after the last item of each sequence (internal ids) into `out` [nSeq × d]. */
  lastHidden(seqs: Int32Array[], out: Float32Array): void {
    const d = this.d;
    this.prepare();
    inferRows({
      engine: this.engine, threads: this.threads, d, maxLen: this.cfg.maxLen, name: 'hstu', linearWeight: 4 * this.wd,
      shard: (sh, w, off, inputs) => {
        const B = this.ws[w].carve(this.layout(sh, 0, false));
        const lay = this.fillShard(B, sh, off, inputs, null, null, 0);
        const program = this.engine.program();
        this.recordForward(program, B, sh, lay, false, null);
        return {
          program,
          collect: (dst, at) => {
            const mem = this.engine.memory.buffer;
            const last = new Int32Array(mem, B.last, sh.s1 - sh.s0);
            const Hn = new Float32Array(mem, B.Hn, sh.tokens * d);
            for (let s = 0; s < sh.s1 - sh.s0; s++) dst.set(Hn.subarray(last[s] * d, last[s] * d + d), at + s * d);
          },
        };
      },
    }, seqs, out);
  }

  /** Cosine scores of every item (dataset ids 0..n−1) for each normalised row of H: out[i·n + j] = ⟨H_i, Ê_{j+1}⟩. */
  scoreHidden(H: Float32Array, rows: number, out: Float32Array, outOffset = 0): void {
    scoreDot(this.itemPanels(), H, rows, out.subarray(outOffset, outOffset + rows * this.nItems));
  }

}
