/**
 * Layers of the engine, each with its forward and backward side by side (llm.c style). A layer
 * owns parameters; activations live in buffers the caller passes in (a model's per-thread
 * workspace), so nothing is allocated during a step. Forward and backward *record* kernel calls
 * into a Program (see engine.ts); `thread` picks the gradient buffer the calls accumulate into.
 *
 * Token-major layout everywhere: a batch of ragged sequences is T packed tokens × features.
 */
import type { Buf, Engine, Program } from '../kernels/engine.ts';
import type { Param, ParamSet } from './params.ts';
import { xavierNormal, uniformInit } from './params.ts';
import type { Rng } from './rng.ts';

/** Where a layer reads or writes: a buffer plus a row stride (leading dimension, in floats). */
export interface Mat {
  ptr: number;
  ld: number;
}

/** A matrix view of a buffer (optionally starting `col` floats into each row). */
export function mat(buf: { ptr: number }, ld: number, col = 0): Mat {
  return { ptr: buf.ptr + 4 * col, ld };
}

/**
 * y = x·Wᵀ + b with W stored [out × in] as in torch.nn.Linear. The forward multiplies by a
 * transposed copy of W made once per step by {@link prepare}; the backward uses W as stored.
 * A Linear may be a row slice of a larger parameter (MultiheadAttention's in_proj_weight).
 */
export class Linear {
  private readonly wt: Buf;
  constructor(
    engine: Engine,
    readonly weight: Param,
    readonly bias: Param | null,
    readonly inFeatures: number,
    readonly outFeatures: number,
    /** First row of `weight` (and element of `bias`) this layer uses. */
    readonly row0 = 0,
    owner?: object,
  ) {
    this.wt = engine.f32(inFeatures * outFeatures, owner);
  }

  private get wPtr(): number {
    return this.weight.data.ptr + 4 * this.row0 * this.inFeatures;
  }

  /** Records Wᵀ into the layer's scratch (run once per step, before any forward). */
  prepare(prog: Program): void {
    prog.call('transpose', this.wt.ptr, this.wPtr, this.outFeatures, this.inFeatures, this.inFeatures, this.outFeatures);
  }

  /**
   * Y[T × out] = X[T × in]·Wᵀ + b. With `residual` [T × out]: Y = residual + Dropout(X·Wᵀ + b),
   * the bias, dropout (when `dropout.p` > 0; mask keyed by dropout.base + element index, as the
   * `dropout` kernel) and residual fused into one pass; needs a bias and Y.ld = out.
   */
  forward(prog: Program, X: Mat, Y: Mat, T: number, residual?: number, dropout?: { p: number; seed: number; base: number }): void {
    prog.call('gemm', Y.ptr, X.ptr, this.wt.ptr, T, this.outFeatures, this.inFeatures, X.ld, this.outFeatures, Y.ld, 0, 0, 0, 1);
    if (residual !== undefined) {
      if (!this.bias || Y.ld !== this.outFeatures) throw new Error('Linear.forward: a residual needs a bias and a dense output');
      const b = this.bias.data.ptr + 4 * this.row0;
      if (dropout && dropout.p > 0) prog.call('bias_dropout_residual', Y.ptr, b, residual, T, this.outFeatures, dropout.p, dropout.seed >>> 0, dropout.base);
      else prog.call('add_bias_residual', Y.ptr, b, residual, T, this.outFeatures);
    } else if (this.bias) prog.call('add_bias', Y.ptr, this.bias.data.ptr + 4 * this.row0, T, this.outFeatures, Y.ld);
  }

  /**
   * dW += dYᵀ·X, db += Σ dY (into thread `thread`'s gradients); dX (+)= dY·W when dX is given.
   */
  backward(prog: Program, thread: number, dY: Mat, X: Mat, dX: Mat | null, T: number, accumulateDX: boolean): void {
    const gw = this.weight.grads[thread].ptr + 4 * this.row0 * this.inFeatures;
    prog.call('gemm', gw, dY.ptr, X.ptr, this.outFeatures, this.inFeatures, T, dY.ld, X.ld, this.inFeatures, 1, 1, 0, 1);
    if (this.bias) prog.call('col_sum', this.bias.grads[thread].ptr + 4 * this.row0, dY.ptr, T, this.outFeatures, dY.ld);
    if (dX) prog.call('gemm', dX.ptr, dY.ptr, this.wPtr, T, this.inFeatures, this.outFeatures, dY.ld, this.inFeatures, dX.ld, 0, accumulateDX ? 1 : 0, 0, 1);
  }

  /** PyTorch's default init: Xavier-normal weight is set by the model; bias U(±1/√in). */
  initBias(rng: Rng): void {
    if (this.bias) uniformInit(this.bias, 1 / Math.sqrt(this.inFeatures), rng);
  }
}

/** A Linear with its own weight [out × in] and bias [out] named `<name>.weight` / `<name>.bias`. */
export function linear(params: ParamSet, name: string, inF: number, outF: number, bias = true, owner?: object): Linear {
  const w = params.add(`${name}.weight`, [outF, inF]);
  const b = bias ? params.add(`${name}.bias`, [outF], { decay: false }) : null;
  return new Linear(params.engine, w, b, inF, outF, 0, owner);
}

/** Layer normalisation over the feature dimension (contiguous rows of width d). */
export class LayerNorm {
  readonly weight: Param;
  readonly bias: Param;
  constructor(params: ParamSet, name: string, readonly d: number, readonly eps: number) {
    this.weight = params.add(`${name}.weight`, [d], { decay: false });
    this.bias = params.add(`${name}.bias`, [d], { decay: false });
    this.weight.data.a.fill(1);
  }

  /** Y = LN(X); saves per-row mean and 1/σ into `mean`, `rstd` (T floats each). */
  forward(prog: Program, X: number, Y: number, mean: number, rstd: number, T: number): void {
    prog.call('layernorm_fwd', Y, X, this.weight.data.ptr, this.bias.data.ptr, mean, rstd, T, this.d, this.eps);
  }

  /** dX (+)= LN'(X)ᵀ·dY; dγ, dβ accumulate into thread `thread`'s gradients. */
  backward(prog: Program, thread: number, dY: number, X: number, mean: number, rstd: number, dX: number, T: number, accumulate: boolean): void {
    prog.call('layernorm_bwd', dX, dY, X, this.weight.data.ptr, mean, rstd, this.weight.grads[thread].ptr, this.bias.grads[thread].ptr, T, this.d, accumulate ? 1 : 0);
  }
}

/** Ragged sequences of one shard, as the attention kernels read them (buffers in engine memory). */
export interface RaggedLayout {
  /** Token offset of each sequence, length nSeq + 1 (int32). */
  seqOff: number;
  /** Offset of each sequence's L×L score matrix (prefix sums of L²), length nSeq + 1 (int32). */
  pOff: number;
  nSeq: number;
  /** Longest sequence. */
  maxL: number;
  /** Index of this shard's first sequence in the whole batch (keys the dropout masks). */
  seqBase: number;
}

/** Options of {@link MultiheadAttention}. */
export interface AttentionOptions {
  heads: number;
  /** Causal (SASRec, HSTU) or bidirectional (BERT4Rec). */
  causal: boolean;
  /** Score function: 0 = softmax, 1 = SiLU(s + b[i − j])/n (HSTU's pointwise attention). */
  kind?: 0 | 1;
  /**
   * kind 1 only: learn a relative-position bias b (one value per offset i − j < maxLen, per head),
   * parameter `<name>.rel_bias` [heads × maxLen]; causal attention only.
   */
  relativeBias?: { maxLen: number };
  /** kind 1 only: the constant n of SiLU(·)/n (default: each sequence's own length). */
  n?: number;
}

/**
 * torch.nn.MultiheadAttention over ragged sequences: Q = xq·Wqᵀ + bq, K = xkv·Wkᵀ + bk,
 * V = xkv·Wvᵀ + bv, heads attend within their sequence only, out = concat(heads)·Woᵀ + bo.
 * Parameters use PyTorch's names: `<name>.in_proj_weight` [3d × d], `<name>.in_proj_bias`,
 * `<name>.out_proj.weight`, `<name>.out_proj.bias`.
 */
export class MultiheadAttention {
  readonly inProj: Param;
  readonly inBias: Param;
  readonly q: Linear;
  readonly kv: Linear;
  readonly out: Linear;
  readonly dh: number;
  readonly relBias: Param | null;
  constructor(params: ParamSet, name: string, readonly d: number, readonly options: AttentionOptions, owner?: object) {
    if (d % options.heads !== 0) throw new Error(`MultiheadAttention: hidden size ${d} is not divisible by ${options.heads} heads`);
    if (options.relativeBias && (options.kind !== 1 || !options.causal)) throw new Error('MultiheadAttention: a relative bias needs causal SiLU attention (kind 1)');
    this.dh = d / options.heads;
    this.relBias = options.relativeBias ? params.add(`${name}.rel_bias`, [options.heads, options.relativeBias.maxLen], { decay: false }) : null;
    this.inProj = params.add(`${name}.in_proj_weight`, [3 * d, d]);
    this.inBias = params.add(`${name}.in_proj_bias`, [3 * d], { decay: false });
    this.q = new Linear(params.engine, this.inProj, this.inBias, d, d, 0, owner);
    this.kv = new Linear(params.engine, this.inProj, this.inBias, d, 2 * d, d, owner);
    this.out = linear(params, `${name}.out_proj`, d, d, true, owner);
  }

  /** Init as PyTorch's MultiheadAttention after xavier_normal_ of every matrix: biases zero. */
  init(rng: Rng): void {
    xavierNormal(this.inProj, rng);
    xavierNormal(this.out.weight, rng);
    this.inBias.data.a.fill(0);
    this.out.bias!.data.a.fill(0);
  }

  /** Records the per-step weight transposes. */
  prepare(prog: Program): void {
    this.q.prepare(prog);
    this.kv.prepare(prog);
    this.out.prepare(prog);
  }

  /**
   * Where the weights multiplied with V live: P itself for softmax without dropout; P2 otherwise
   * (SiLU attention keeps its pre-activations in P for the backward, so it always needs P2).
   */
  private weightsBuffer(bufs: { P: number; P2: number }, p: number): number {
    return p > 0 || this.options.kind === 1 ? bufs.P2 : bufs.P;
  }

  /** Floats of attention-score storage one sequence set needs (P, and P2 when dropout is on or the attention is SiLU). */
  static scoreFloats(sumL2: number, heads: number): number {
    return sumL2 * heads;
  }

  /**
   * Forward. Buffers: Q [T×d], KV [T×2d], A [T×d] (attention output before out_proj), P and P2
   * score storage (P2 unused by softmax attention when p = 0), Y [T×d] receives out_proj(A) (+ `residual` [T×d] if given).
   * `scratch` ≥ dh·maxL + maxL².
   */
  forward(prog: Program, lay: RaggedLayout, T: number, xq: number, xkv: number, bufs: {
    Q: number; KV: number; A: number; P: number; P2: number; Y: number; scratch: number;
  }, p: number, seed: number, residual?: number): void {
    const d = this.d;
    this.q.forward(prog, { ptr: xq, ld: d }, { ptr: bufs.Q, ld: d }, T);
    this.kv.forward(prog, { ptr: xkv, ld: d }, { ptr: bufs.KV, ld: 2 * d }, T);
    prog.call('attn_fwd', bufs.Q, bufs.KV, bufs.KV + 4 * d, bufs.A, d, 2 * d, 2 * d, d, bufs.P, this.weightsBuffer(bufs, p),
      lay.seqOff, lay.pOff, 0, lay.nSeq, this.options.heads, this.dh, this.dh, this.options.causal ? 1 : 0, this.options.kind ?? 0, p,
      seed >>> 0, lay.seqBase, bufs.scratch, this.relBias ? this.relBias.data.ptr : 0, this.relBias ? this.relBias.shape[1] : 0,
      this.options.n ? 1 / this.options.n : 0, 0);
    this.out.forward(prog, { ptr: bufs.A, ld: d }, { ptr: bufs.Y, ld: d }, T, residual);
  }

  /**
   * Inference shortcut for next-item scoring: the output at the last position of each sequence
   * only. `xqLast` holds one query-input row per sequence [nSeq×d]; keys and values come from all
   * tokens of `xkv` [T×d]. Y receives [nSeq×d]. Buffers: Q [nSeq×d], KV [T×2d], A [nSeq×d],
   * scratch ≥ maxL floats.
   */
  forwardLast(prog: Program, lay: RaggedLayout, T: number, xqLast: number, xkv: number, bufs: {
    Q: number; KV: number; A: number; Y: number; scratch: number;
  }): void {
    const d = this.d;
    const n = lay.nSeq;
    if (this.relBias || this.options.n) throw new Error('MultiheadAttention.forwardLast: relative bias and constant n are not supported');
    this.q.forward(prog, { ptr: xqLast, ld: d }, { ptr: bufs.Q, ld: d }, n);
    this.kv.forward(prog, { ptr: xkv, ld: d }, { ptr: bufs.KV, ld: 2 * d }, T);
    prog.call('attn_last_fwd', bufs.Q, bufs.KV, bufs.KV + 4 * d, bufs.A, d, 2 * d, 2 * d, d, lay.seqOff, 0, n,
      this.options.heads, this.dh, this.options.kind ?? 0, bufs.scratch);
    this.out.forward(prog, { ptr: bufs.A, ld: d }, { ptr: bufs.Y, ld: d }, n);
  }

  /**
   * Backward from dY (gradient of the output). Writes dA, dQ, dKV scratch buffers; adds the
   * gradient w.r.t. xq into dXq (accumulate) and writes or accumulates the one w.r.t. xkv into dXkv.
   * xq and xkv may be the same input: pass the same buffer for dXq and dXkv then.
   */
  backward(prog: Program, thread: number, lay: RaggedLayout, T: number, xq: number, xkv: number, bufs: {
    Q: number; KV: number; A: number; P: number; P2: number; scratch: number;
  }, dY: number, grads: { dA: number; dQ: number; dKV: number }, dXq: number, dXkv: number, accumulateXkv: boolean,
  p: number, seed: number): void {
    const d = this.d;
    this.out.backward(prog, thread, { ptr: dY, ld: d }, { ptr: bufs.A, ld: d }, { ptr: grads.dA, ld: d }, T, false);
    prog.call('attn_bwd', bufs.Q, bufs.KV, bufs.KV + 4 * d, grads.dA, grads.dQ, grads.dKV, grads.dKV + 4 * d, d, 2 * d, 2 * d, d,
      bufs.P, this.weightsBuffer(bufs, p), lay.seqOff, lay.pOff, 0, lay.nSeq, this.options.heads, this.dh, this.dh, this.options.causal ? 1 : 0,
      this.options.kind ?? 0, p, seed >>> 0, lay.seqBase, bufs.scratch, lay.maxL,
      this.relBias ? this.relBias.shape[1] : 0, this.options.n ? 1 / this.options.n : 0, this.relBias ? this.relBias.grads[thread].ptr : 0, 0);
    this.kv.backward(prog, thread, { ptr: grads.dKV, ld: 2 * d }, { ptr: xkv, ld: d }, { ptr: dXkv, ld: d }, T, accumulateXkv);
    this.q.backward(prog, thread, { ptr: grads.dQ, ld: d }, { ptr: xq, ld: d }, { ptr: dXq, ld: d }, T, true);
  }
}

/**
 * torch.nn.GRUCell: h' = (1 − z) ⊙ n + z ⊙ h with r = σ(W_ir x + b_ir + W_hr h + b_hr),
 * z = σ(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)).
 * Parameters `<name>.weight_ih` [3H × in], `<name>.weight_hh` [3H × H], `<name>.bias_ih`,
 * `<name>.bias_hh` (gate order r, z, n, as PyTorch). One call steps B rows (e.g. B sessions at
 * the same time step); a sequence model loops over steps, keeping each step's buffers.
 */
export class GRUCell {
  readonly ih: Linear;
  readonly hh: Linear;
  constructor(params: ParamSet, name: string, readonly inFeatures: number, readonly hidden: number, owner?: object) {
    const H3 = 3 * hidden;
    const wih = params.add(`${name}.weight_ih`, [H3, inFeatures]);
    const whh = params.add(`${name}.weight_hh`, [H3, hidden]);
    const bih = params.add(`${name}.bias_ih`, [H3], { decay: false });
    const bhh = params.add(`${name}.bias_hh`, [H3], { decay: false });
    this.ih = new Linear(params.engine, wih, bih, inFeatures, H3, 0, owner);
    this.hh = new Linear(params.engine, whh, bhh, hidden, H3, 0, owner);
  }

  /** PyTorch's init: every weight and bias U(±1/√H). */
  init(rng: Rng): void {
    const bound = 1 / Math.sqrt(this.hidden);
    for (const p of [this.ih.weight, this.hh.weight, this.ih.bias!, this.hh.bias!]) uniformInit(p, bound, rng);
  }

  /** Records the per-step weight transposes. */
  prepare(prog: Program): void {
    this.ih.prepare(prog);
    this.hh.prepare(prog);
  }

  /** Hout [B×H] from X [B×in] and Hprev [B×H]; Gi, Gh scratch [B×3H], Saved [B×4H] kept for the backward. */
  forward(prog: Program, X: Mat, Hprev: number, Hout: number, bufs: { Gi: number; Gh: number; saved: number }, B: number): void {
    const H = this.hidden;
    this.ih.forward(prog, X, { ptr: bufs.Gi, ld: 3 * H }, B);
    this.hh.forward(prog, { ptr: Hprev, ld: H }, { ptr: bufs.Gh, ld: 3 * H }, B);
    prog.call('gru_fwd', Hout, bufs.Gi, bufs.Gh, Hprev, bufs.saved, B, H);
  }

  /**
   * From dHout: adds into dHprev (which must hold the gradient from elsewhere, or zeros) and
   * writes or accumulates dX; weight gradients into thread `thread`. dGi, dGh: scratch [B×3H].
   */
  backward(prog: Program, thread: number, X: Mat, Hprev: number, dHout: number, dHprev: number, dX: Mat | null,
    bufs: { dGi: number; dGh: number; saved: number }, B: number, accumulateDX: boolean): void {
    const H = this.hidden;
    prog.call('gru_bwd', bufs.dGi, bufs.dGh, dHprev, dHout, Hprev, bufs.saved, B, H);
    this.hh.backward(prog, thread, { ptr: bufs.dGh, ld: 3 * H }, { ptr: Hprev, ld: H }, { ptr: dHprev, ld: H }, B, true);
    this.ih.backward(prog, thread, { ptr: bufs.dGi, ld: 3 * H }, X, dX, B, accumulateDX);
  }
}
