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
 * How it runs on the engine, and why this way. The engine's fused attention kernel implements
 * SiLU(s/√d)/L with the sequence's own L and no bias; HSTU needs the bias inside the SiLU and a
 * constant n, so attention is composed from general kernels per (sequence, head): the L×L block
 * of a precomputed Toeplitz bias matrix is copied in (`transpose` of its transpose = a strided
 * copy), Q·Kᵀ is accumulated onto it (`gemm` in its causal modes: only the lower triangle is
 * computed, here and in every product of the backward), `silu_fwd` + `scale` + a mask multiply
 * (`relu_dropout_bwd` with p = 0 is exactly X ⊙ [M > 0]) give P, and `gemm` gives P·V. The bias
 * gradient is the sum of dS along each diagonal: viewing dS with row stride L + 1 turns diagonals
 * into columns, so one `col_sum` per (sequence, head) adds them all (entries that wrap into the
 * previous row fall in its masked, exactly-zero upper triangle, or in a zeroed pad).
 * U ⊙ LayerNorm(A) needs an elementwise product, which the engine has no kernel for — but a layer
 * norm of one row with γ = that row of U is exactly it, and its backward returns dU as dγ; so it
 * runs as one `layernorm_fwd`/`layernorm_bwd` call per token.
 * L2 normalisation: LayerNorm of [x, −x] (mean exactly 0, variance ‖x‖²/d) with γ = 1/√d gives
 * x/√(‖x‖² + dε) in the first half, so `gemm` with [I, −I], `layernorm_fwd` and a `gemm` picking
 * the first half normalise rows with existing kernels, and the backward is the same chain
 * reversed. The item table is normalised once per step; each thread back-propagates its own
 * table gradient. Item embeddings use dense Adam (the repo's optimiser is dense, too).
 */
import type { HSTUConfig } from '../hstu.ts';
import { defaultEngine, type Buf, type Engine, type Program } from '../../nn/engine.ts';
import { ParamSet, uniformInit, type Param } from '../../nn/params.ts';
import { Linear, linear } from '../../nn/layers.ts';
import { Adam } from '../../nn/optim.ts';
import { Workspace } from '../../nn/workspace.ts';
import type { Rng } from '../../nn/rng.ts';
import type { SeqBatch } from './batch.ts';
import { splitBalanced, type Shard, runShards } from './ragged.ts';
import { inferRows, scoreRows } from './infer.ts';

interface Block {
  uvqk: Linear;
  o: Linear;
  /** Relative position bias, stored reversed: element c is the bias of offset i − j = maxLen − 1 − c. */
  rel: Param;
  /** Transposed maxLen × maxLen Toeplitz bias matrix of this step (rebuilt by prepare). */
  relT: Buf;
}

/** Per-step dropout seeds. */
export interface HSTUSeeds {
  emb: number;
  lin: number[];
}

/** LayerNorm ε inside the blocks (the repo's default). */
const LN_EPS = 1e-6;

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
  // constants in engine memory
  private readonly ones: Buf;
  private readonly zeros: Buf;
  private readonly gammaL2: Buf;
  private readonly pm: Buf; // [I, −I]  (d × 2d)
  private readonly pmT: Buf; // [I; −I] (2d × d)
  private readonly eye: Buf; // I (d × d)
  private readonly lowerT: Buf; // transposed lower-triangular ones, maxLen × maxLen
  // the normalised item table of this step
  private readonly y2E: Buf;
  private readonly ynE: Buf;
  private readonly mE: Buf;
  private readonly rE: Buf;
  private readonly eHat: Buf;
  private tableValid = false;
  private readonly epsL2: number;

  constructor(readonly cfg: HSTUConfig, readonly nItems: number) {
    const threads = cfg.threads || defaultEngine().threads;
    this.threads = threads;
    const e = (this.engine = defaultEngine(threads));
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
        rel: P.add(`blocks.${b}.rel_pos_rev`, [cfg.maxLen], { decay: false }),
        relT: e.f32(cfg.maxLen * cfg.maxLen, this),
      });
    }
    this.adam = new Adam(P, { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay, decoupled: false, clipNorm: 0 });
    this.ws = Array.from({ length: threads }, () => new Workspace(e, this));
    const wide = Math.max(2 * d, this.hv, d);
    this.ones = e.f32(wide, this);
    this.ones.a.fill(1);
    this.zeros = e.f32(wide, this);
    this.gammaL2 = e.f32(2 * d, this);
    this.gammaL2.a.fill(1 / Math.sqrt(d));
    this.pm = e.f32(2 * d * d, this);
    this.pmT = e.f32(2 * d * d, this);
    this.eye = e.f32(d * d, this);
    for (let i = 0; i < d; i++) {
      this.pm.a[i * 2 * d + i] = 1;
      this.pm.a[i * 2 * d + d + i] = -1;
      this.pmT.a[i * d + i] = 1;
      this.pmT.a[(d + i) * d + i] = -1;
      this.eye.a[i * d + i] = 1;
    }
    const n = cfg.maxLen;
    this.lowerT = e.f32(n * n, this);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) this.lowerT.a[i * n + j] = 1; // (lowerᵀ)[i][j] = lower[j][i] = [i ≤ j]
    const rows = nItems + 1;
    this.y2E = e.f32(rows * 2 * d, this);
    this.ynE = e.f32(rows * 2 * d, this);
    this.mE = e.f32(rows, this);
    this.rE = e.f32(rows, this);
    this.eHat = e.f32(rows * d, this);
    // LN of [x, −x] has variance ‖x‖²/d: ε/d·… reproduces F.normalize's ‖x‖ floor of 1e-6.
    this.epsL2 = 1e-12 / d;
  }

  /** Call after changing parameter values from outside (load, restore, a training step). */
  invalidate(): void {
    this.tableValid = false;
  }

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
      ids: T, posIdx: T, tgt: T, neg: T * Math.max(nNeg, 1), last: nSeq,
      X0: Td, KT: Math.max(cfg.dqk, cfg.dv) * sh.maxL, mask: sh.maxL * sh.maxL,
      Y2: 2 * Td, Yn: 2 * Td, mh: T, rh: T, Hn: Td,
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
        dHn: Td, dYn: 2 * Td, dY2: 2 * Td, dCur: Td, dNext: Td, gXn: Td, dG: T * hv, dA: T * hv, dMa: T * wd, dMp: T * wd,
        dS: cfg.maxLen + sh.maxL * sh.maxL, dummy: 2 * Math.max(2 * d, hv), loss: 4, lossScratch: nNeg + 1,
        dEhat: rows * d, dYnE: rows * 2 * d, dY2E: rows * 2 * d,
      });
    }
    return lay;
  }

  /** Writes a shard's ids and positions into its workspace (positions left-aligned, as in the repo). */
  private fillShard(B: Record<string, number>, sh: Shard, off: Int32Array, inputs: Int32Array, targets: Int32Array | null,
    negatives: Int32Array | null, nNeg: number): void {
    const mem = this.engine.memory.buffer;
    const T = sh.tokens;
    new Int32Array(mem, B.ids, T).set(inputs.subarray(sh.t0, sh.t0 + T));
    const pos = new Int32Array(mem, B.posIdx, T);
    const last = new Int32Array(mem, B.last, sh.s1 - sh.s0);
    for (let s = sh.s0; s < sh.s1; s++) {
      const a = off[s] - sh.t0;
      const L = off[s + 1] - off[s];
      for (let j = 0; j < L; j++) pos[a + j] = j;
      last[s - sh.s0] = a + L - 1;
    }
    if (targets) new Int32Array(mem, B.tgt, T).set(targets.subarray(sh.t0, sh.t0 + T));
    if (negatives) new Int32Array(mem, B.neg, T * nNeg).set(negatives.subarray(sh.t0 * nNeg, (sh.t0 + T) * nNeg));
  }

  /** Rows of `X` [rows × d] → L2-normalised rows in `out` [rows × d], via LN of [x, −x] (see the file comment). */
  private recordL2(prog: Program, X: number, Y2: number, Yn: number, m: number, r: number, out: number, rows: number): void {
    const d = this.d;
    prog.call('gemm', Y2, X, this.pm.ptr, rows, 2 * d, d, d, 2 * d, 2 * d, 0, 0, 0, 1);
    prog.call('layernorm_fwd', Yn, Y2, this.gammaL2.ptr, this.zeros.ptr, m, r, rows, 2 * d, this.epsL2);
    prog.call('gemm', out, Yn, this.eye.ptr, rows, d, d, 2 * d, d, d, 0, 0, 0, 1);
  }

  /** Backward of {@link recordL2}: dX (+)= J·dOut. `dYn`, `dY2` scratch [rows × 2d]; `dummy` ≥ 4d floats. */
  private recordL2Backward(prog: Program, dOut: number, Y2: number, m: number, r: number, dYn: number, dY2: number,
    dX: number, rows: number, accumulate: boolean, dummy: number): void {
    const d = this.d;
    prog.call('zero', dYn, rows * 2 * d);
    prog.call('gemm', dYn, dOut, this.eye.ptr, rows, d, d, d, d, 2 * d, 0, 0, 0, 1);
    prog.call('layernorm_bwd', dY2, dYn, Y2, this.gammaL2.ptr, m, r, dummy, dummy + 8 * d, rows, 2 * d, 0);
    prog.call('gemm', dX, dY2, this.pmT.ptr, rows, d, 2 * d, 2 * d, d, d, 0, accumulate ? 1 : 0, 0, 1);
  }

  /** Records the forward of one shard; the L2-normalised outputs land in Hn [T × d]. */
  private recordForward(prog: Program, B: Record<string, number>, sh: Shard, off: Int32Array, training: boolean,
    seeds: HSTUSeeds | null): void {
    const { d, hv, wd, cfg } = this;
    const T = sh.tokens, t0 = sh.t0;
    const p = training ? cfg.dropout : 0;
    prog.call('embed_fwd', B.X0, this.item.data.ptr, B.ids, this.pos.data.ptr, B.posIdx, T, d, Math.sqrt(d));
    if (p > 0) prog.call('dropout', B.X0, B.X0, T * d, p, seeds!.emb, t0 * d);
    let xin = B.X0;
    for (let b = 0; b < this.blocks.length; b++) {
      const i = training ? b : 0;
      const blk = this.blocks[b];
      prog.call('layernorm_fwd', B[`Xn${i}`], xin, this.ones.ptr, this.zeros.ptr, B[`m1${i}`], B[`r1${i}`], T, d, LN_EPS);
      blk.uvqk.forward(prog, { ptr: B[`Xn${i}`], ld: d }, { ptr: B[`Mp${i}`], ld: wd }, T);
      prog.call('silu_fwd', B[`Ma${i}`], B[`Mp${i}`], T * wd);
      this.recordAttention(prog, B, i, blk, sh, off);
      const G = B[`G${i}`], A = B[`A${i}`], Ma = B[`Ma${i}`];
      for (let t = 0; t < T; t++) {
        // G_t = U_t ⊙ LN(A_t): a one-row layer norm whose γ is U_t
        prog.call('layernorm_fwd', G + 4 * t * hv, A + 4 * t * hv, Ma + 4 * t * wd, this.zeros.ptr, B[`ma${i}`] + 4 * t, B[`ra${i}`] + 4 * t, 1, hv, LN_EPS);
      }
      let Gd = G;
      if (p > 0) {
        Gd = B[`Gd${i}`];
        prog.call('dropout', Gd, G, T * hv, p, seeds!.lin[b], t0 * hv);
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
    this.recordL2(prog, xin, B.Y2, B.Yn, B.mh, B.rh, B.Hn, T);
  }

  /** Pointwise attention of block `i` for every sequence and head of the shard: A = (SiLU(QKᵀ + B)/n ⊙ M)·V. */
  private recordAttention(prog: Program, B: Record<string, number>, i: number, blk: Block, sh: Shard, off: Int32Array): void {
    const { hv, wd, cfg } = this;
    const h = cfg.heads, dqk = cfg.dqk, dv = cfg.dv, n = cfg.maxLen;
    const Ma = B[`Ma${i}`];
    let sOff = 0;
    for (let s = sh.s0; s < sh.s1; s++) {
      const a = off[s] - sh.t0;
      const L = off[s + 1] - off[s];
      const LL = L * L;
      prog.call('transpose', B.mask, this.lowerT.ptr, L, L, n, L);
      for (let hh = 0; hh < h; hh++) {
        const S = B[`S${i}`] + 4 * (sOff + hh * LL);
        const P = B[`P${i}`] + 4 * (sOff + hh * LL);
        const Q = Ma + 4 * (a * wd + 2 * hv + hh * dqk);
        const K = Ma + 4 * (a * wd + 2 * hv + h * dqk + hh * dqk);
        const V = Ma + 4 * (a * wd + hv + hh * dv);
        prog.call('transpose', S, blk.relT.ptr, L, L, n, L); // S = bias block
        prog.call('transpose', B.KT, K, L, dqk, wd, L);
        prog.call('gemm', S, Q, B.KT, L, L, dqk, wd, L, L, 0, 1, 1, 1); // S += Q·Kᵀ, lower triangle
        prog.call('silu_fwd', P, S, LL);
        prog.call('scale', P, LL, 1 / n);
        prog.call('relu_dropout_bwd', P, P, B.mask, LL, 0); // causal mask
        prog.call('gemm', B[`A${i}`] + 4 * (a * hv + hh * dv), P, V, L, dv, L, L, wd, hv, 0, 0, 2, 1); // k ≤ i only
      }
      sOff += h * LL;
    }
  }

  /** Records loss and backward of one shard (after its forward), gradients into thread w's buffers. */
  private recordBackward(prog: Program, w: number, B: Record<string, number>, sh: Shard, off: Int32Array, nNeg: number,
    weight: number, seeds: HSTUSeeds): void {
    const { d, hv, wd, cfg } = this;
    const T = sh.tokens, t0 = sh.t0;
    const p = cfg.dropout;
    const h = cfg.heads, dqk = cfg.dqk, dv = cfg.dv, n = cfg.maxLen;
    const rows = this.nItems + 1;
    prog.call('zero', B.dEhat, rows * d);
    prog.call('sampled_softmax_loss', B.Hn, this.eHat.ptr, B.tgt, B.neg, T, nNeg, d, weight, cfg.temperature, B.dHn, B.dEhat, B.loss, B.lossScratch);
    // through the output normalisation
    const nb = this.blocks.length;
    let dCur = B.dCur, dNext = B.dNext;
    this.recordL2Backward(prog, B.dHn, B.Y2, B.mh, B.rh, B.dYn, B.dY2, dCur, T, false, B.dummy);
    // dS lives n floats into its region; the diagonal sums below read up to L − 1 floats before it
    const dS = B.dS + 4 * n;
    prog.call('zero', B.dS, n);
    for (let b = nb - 1; b >= 0; b--) {
      const blk = this.blocks[b];
      const xin = b === 0 ? B.X0 : B[`OUT${b - 1}`];
      const Ma = B[`Ma${b}`], A = B[`A${b}`];
      // OUT = xin + W_o·Dropout(G) + b_o
      blk.o.backward(prog, w, { ptr: dCur, ld: d }, { ptr: p > 0 ? B[`Gd${b}`] : B[`G${b}`], ld: hv }, { ptr: B.dG, ld: hv }, T, false);
      if (p > 0) prog.call('dropout', B.dG, B.dG, T * hv, p, seeds.lin[b], t0 * hv);
      // G = U ⊙ LN(A): dA from the one-row layer-norm backward, dU as its dγ
      prog.call('zero', B.dMa, T * wd);
      for (let t = 0; t < T; t++) {
        prog.call('layernorm_bwd', B.dA + 4 * t * hv, B.dG + 4 * t * hv, A + 4 * t * hv, Ma + 4 * t * wd, B[`ma${b}`] + 4 * t,
          B[`ra${b}`] + 4 * t, B.dMa + 4 * t * wd, B.dummy, 1, hv, 0);
      }
      // attention, per sequence and head
      let sOff = 0;
      for (let s = sh.s0; s < sh.s1; s++) {
        const a = off[s] - sh.t0;
        const L = off[s + 1] - off[s];
        const LL = L * L;
        prog.call('transpose', B.mask, this.lowerT.ptr, L, L, n, L);
        for (let hh = 0; hh < h; hh++) {
          const S = B[`S${b}`] + 4 * (sOff + hh * LL);
          const P = B[`P${b}`] + 4 * (sOff + hh * LL);
          const qc = a * wd + 2 * hv + hh * dqk, kc = a * wd + 2 * hv + h * dqk + hh * dqk, vc = a * wd + hv + hh * dv;
          const dO = B.dA + 4 * (a * hv + hh * dv);
          prog.call('transpose', B.KT, Ma + 4 * vc, L, dv, wd, L); // Vᵀ
          prog.call('gemm', dS, dO, B.KT, L, L, dv, hv, L, L, 0, 0, 1, 1); // dP = dO·Vᵀ, lower triangle
          prog.call('gemm', B.dMa + 4 * vc, P, dO, L, dv, L, L, hv, wd, 1, 0, 3, 1); // dV = Pᵀ·dO (k ≥ i)
          prog.call('silu_bwd', dS, dS, S, LL, 0);
          prog.call('scale', dS, LL, 1 / n);
          prog.call('relu_dropout_bwd', dS, dS, B.mask, LL, 0);
          // bias: Σ over each diagonal = column sums of dS viewed with row stride L + 1
          prog.call('col_sum', blk.rel.grads[w].ptr + 4 * (n - L), dS - 4 * (L - 1), L, L, L + 1);
          prog.call('gemm', B.dMa + 4 * qc, dS, Ma + 4 * kc, L, dqk, L, L, wd, wd, 0, 0, 2, 1); // dQ = dS·K (k ≤ i)
          prog.call('gemm', B.dMa + 4 * kc, dS, Ma + 4 * qc, L, dqk, L, L, wd, wd, 1, 0, 3, 1); // dK = dSᵀ·Q (k ≥ i)
        }
        sOff += h * LL;
      }
      prog.call('silu_bwd', B.dMp, B.dMa, B[`Mp${b}`], T * wd, 0);
      blk.uvqk.backward(prog, w, { ptr: B.dMp, ld: wd }, { ptr: B[`Xn${b}`], ld: d }, { ptr: B.gXn, ld: d }, T, false);
      // X → Xn = LN(X), plus the residual path
      prog.call('copy', dNext, dCur, T * d);
      prog.call('layernorm_bwd', dNext, B.gXn, xin, this.ones.ptr, B[`m1${b}`], B[`r1${b}`], B.dummy, B.dummy + 4 * d, T, d, 1);
      const t = dCur;
      dCur = dNext;
      dNext = t;
    }
    if (p > 0) prog.call('dropout', dCur, dCur, T * d, p, seeds.emb, t0 * d);
    prog.call('embed_bwd', this.item.grads[w].ptr, this.pos.grads[w].ptr, dCur, B.ids, B.posIdx, T, d, Math.sqrt(d));
    // this thread's share of the item-table gradient, back through the table normalisation
    this.recordL2Backward(prog, B.dEhat, this.y2E.ptr, this.mE.ptr, this.rE.ptr, B.dYnE, B.dY2E, this.item.grads[w].ptr, rows, true, B.dummy);
  }

  /** Per-step preparation: weight transposes, Toeplitz bias matrices, the normalised item table. */
  private prepare(): void {
    const n = this.cfg.maxLen;
    for (const b of this.blocks) {
      // relT[j][i] = bias(i, j) = rel[n − 1 − (i − j)] for i ≥ j (entries above the diagonal are masked anyway)
      const r = b.rel.data.a, t = b.relT.a;
      for (let j = 0; j < n; j++) {
        const row = j * n;
        for (let i = 0; i < n; i++) t[row + i] = i >= j ? r[n - 1 - (i - j)] : 0;
      }
    }
    const prog = this.engine.program();
    for (const b of this.blocks) {
      b.uvqk.prepare(prog);
      b.o.prepare(prog);
    }
    if (!this.tableValid) {
      this.recordL2(prog, this.item.data.ptr, this.y2E.ptr, this.ynE.ptr, this.mE.ptr, this.rE.ptr, this.eHat.ptr, this.nItems + 1);
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
      this.fillShard(B, sh, batch.off, batch.inputs, batch.targets, batch.negatives, nNeg);
      new Float64Array(this.engine.memory.buffer, B.loss, 1)[0] = 0;
      const prog = this.engine.program();
      this.recordForward(prog, B, sh, batch.off, true, seeds);
      this.recordBackward(prog, w, B, sh, batch.off, nNeg, 1 / totalT, seeds);
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
        this.fillShard(B, sh, off, inputs, null, null, 0);
        const program = this.engine.program();
        this.recordForward(program, B, sh, off, false, null);
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
    const d = this.d;
    const n = this.nItems;
    this.prepare();
    const eT = this.engine.f32(d * (n + 1));
    try {
      this.engine.k.transpose(eT.ptr, this.eHat.ptr, n + 1, d, d, n + 1);
      scoreRows(this.engine, eT.ptr + 4, n + 1, n, d, H, rows, out, outOffset);
    } finally {
      this.engine.freeBuf(eT);
    }
  }
}
