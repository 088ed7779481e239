/**
 * The SASRec network on the engine: parameters, per-thread workspaces, the recorded forward and
 * backward passes with every loss, the training step and scoring (plus gBCE's β, which the loss
 * uses). The Recommender wrapper (config, training loop, scoring of users, save/load) is in
 * ../sasrec.ts; the network lives here so the numerical code can be read, tested and benchmarked
 * on its own.
 *
 * SASRec — Self-Attentive Sequential Recommendation (Kang & McAuley, ICDM 2018).
 *
 * The paper in one page:
 *   E ∈ R^{(|I|+1)×d} item embeddings (row 0 = padding, never read here), P ∈ R^{n×d} learned
 *   positions. For a user's last n items s₁..s_L (right-aligned, so the latest item has position
 *   n−1):  x⁰_t = E[s_t]·√d + P[n−L+t−1], then dropout. (Config `positions: start` uses P[t − 1]
 *   instead, as right-padded code does; the two differ only for windows shorter than n.)
 *   Each of b blocks (pre-LayerNorm, as in the authors' code):
 *       q = LN₁(x);  h = Attention(Q = q·W_Q, K = x·W_K, V = x·W_V) with a causal mask;  x = q + h
 *       x = LN₂(x);  x = x + Dropout(W₂·ReLU(Dropout(W₁x + b₁)) + b₂)       (point-wise FFN)
 *   F = LN(x) after the last block. The score of item i after prefix t is r_{i,t} = F_t · E[i]
 *   (the input embedding is shared with the output layer).
 *   Loss (§III-E): binary cross-entropy with one sampled negative per position,
 *       −Σ_t [log σ(r_{o_t,t}) + log(1 − σ(r_{j,t}))],  j ∉ S_u,  averaged over real positions.
 *   Adam, lr 1e-3, β = (0.9, 0.98).
 * Extra losses (config `loss`): gBCE (Petrov & Macdonald, RecSys 2023: σ(s⁺) raised to
 *   β = α(t(1 − 1/α) + 1/α), α = negatives/(|I| − 1)), sampled softmax with temperature, and full
 *   softmax cross-entropy over all items.
 *
 * Differences from the padded reference implementations, on purpose: sequences are ragged — no
 * compute is spent on padding, and padded positions can never be attended to (the authors' TF
 * code masks them as keys too; the common PyTorch port lets them through as bias-only keys).
 *
 * Engine: the network's forward and backward are recorded per thread shard (whole sequences)
 * and run in parallel on the shared WebAssembly memory (src/kernels/engine.ts). Parameter names
 * follow the PyTorch port's state_dict (`item.weight`, `blocks.0.att.in_proj_weight`, …), so a
 * checkpoint's weights.safetensors loads into it with `load_state_dict`.
 */
import { defaultThreads } from '../../util/threads.ts';
import type { SASRecConfig } from '../sasrec.ts';
import { defaultEngine, type Buf, type Engine, type Program } from '../../kernels/engine.ts';
import { ParamSet, normalInit, xavierNormal, type Param } from '../../nn/params.ts';
import { LayerNorm, Linear, MultiheadAttention, linear, type RaggedLayout } from '../../nn/layers.ts';
import { Adam, type TouchedRows } from '../../nn/optim.ts';
import { Workspace } from '../../nn/workspace.ts';
import type { Rng } from '../../nn/rng.ts';
import type { SeqBatch } from './batch.ts';
import { splitBalanced, type Shard, runShards } from './ragged.ts';
import { inferRows } from './infer.ts';
import { ItemPanels, scoreDot } from '../../kernels/score.ts';
import { ItemKnowledgeAdaptor } from './item-knowledge.ts';

interface Block {
  ln1: LayerNorm;
  att: MultiheadAttention;
  ln2: LayerNorm;
  ff1: Linear;
  ff2: Linear;
}

/** Per-step random seeds of the dropout sites. */
export interface Seeds {
  emb: number;
  att: number[];
  ff1: number[];
  ff2: number[];
}

/** Floats of the full-softmax logits chunk per thread (32 MB): tokens per chunk = this / items, in [16, 512]. */
const CE_FLOATS = 8_000_000;

/** The SASRec network on the engine: parameters, per-thread workspaces, training step, scoring. */
export class SASRecNet {
  readonly engine: Engine;
  readonly threads: number;
  readonly params: ParamSet;
  readonly item: Param;
  readonly pos: Param;
  readonly blocks: Block[] = [];
  readonly ln: LayerNorm;
  readonly adam: Adam;
  private readonly ws: Workspace[];
  private readonly itemT: Buf;
  private readonly touched: Buf<Int32Array>;
  private readonly mark: Uint32Array;
  private stamp = 0;
  private readonly d: number;
  /** Tokens per full-softmax logits chunk. */
  private readonly ceChunk: number;
  /** Whether itemT holds the transpose of the current item table (serving scores many times). */
  private itemTValid = false;
  /** Item knowledge (config knowledgeDim > 0): the adaptor whose output is added to the item table. */
  readonly knowledge: ItemKnowledgeAdaptor | null = null;
  /** Whether the knowledge adaptor's Ẽ = E + f̂(K) matches the current weights. */
  private effectiveValid = false;
  /** Set only inside {@link forwardBackwardLast} with seeds null: a training pass with dropout off. */
  private dropoutOff = false;

  /** Call after changing parameter values from outside (load, restore). */
  invalidate(): void {
    this.itemTValid = false;
    this.effectiveValid = false;
    this.panels?.dispose();
    this.panels = null;
  }

  /**
   * The item table every kernel reads (input embedding and output layer): E, or with item
   * knowledge Ẽ = E + f̂(K), rebuilt here once after each change of the weights — so serving a
   * model with knowledge costs the same per request as one without.
   */
  private itemTable(): Buf<Float32Array> {
    const k = this.knowledge;
    if (!k) return this.item.data;
    if (!this.effectiveValid) {
      k.forward(this.item.data.a);
      this.effectiveValid = true;
    }
    return k.effective;
  }

  /** Item vectors of the current weights packed for scoring on the kernel core (rows 1..n: dataset ids). */
  itemPanels(): ItemPanels {
    const d = this.d;
    this.panels ??= new ItemPanels(this.itemTable().a.subarray(d, (this.nItems + 1) * d), this.nItems, d);
    return this.panels;
  }
  private panels: ItemPanels | null = null;

  constructor(readonly cfg: SASRecConfig, readonly nItems: number) {
    const threads = cfg.threads || defaultThreads();
    this.threads = threads;
    this.engine = defaultEngine();
    const d = (this.d = cfg.hidden);
    this.ceChunk = Math.max(16, Math.min(512, Math.floor(CE_FLOATS / Math.max(1, nItems))));
    const P = (this.params = new ParamSet(this.engine, threads, this));
    this.item = P.add('item.weight', [nItems + 1, d], { sparseRow: d, decay: false });
    this.pos = P.add('pos.weight', [cfg.maxLen, d], { decay: false });
    for (let b = 0; b < cfg.blocks; b++) {
      this.blocks.push({
        ln1: new LayerNorm(P, `blocks.${b}.ln1`, d, cfg.lnEps),
        att: new MultiheadAttention(P, `blocks.${b}.att`, d, { heads: cfg.heads, causal: true }, this),
        ln2: new LayerNorm(P, `blocks.${b}.ln2`, d, cfg.lnEps),
        // names of torch.nn.Sequential(Linear, Dropout, ReLU, Linear, Dropout)
        ff1: linear(P, `blocks.${b}.ff.0`, d, d, true, this),
        ff2: linear(P, `blocks.${b}.ff.3`, d, d, true, this),
      });
    }
    this.ln = new LayerNorm(P, 'ln', d, cfg.lnEps);
    if (cfg.knowledgeDim > 0) {
      this.knowledge = new ItemKnowledgeAdaptor(P, { dim: cfg.knowledgeDim, experts: cfg.knowledgeExperts, hidden: cfg.knowledgeHidden }, nItems, d, this);
    }
    this.adam = new Adam(P, {
      lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay,
      decoupled: cfg.decoupledDecay, clipNorm: cfg.clipNorm,
    });
    this.ws = Array.from({ length: threads }, () => new Workspace(this.engine, this));
    this.itemT = this.engine.f32(d * (nItems + 1), this);
    this.touched = this.engine.i32(nItems + 1, this);
    this.mark = new Uint32Array(nItems + 1);
  }

  /**
   * Initialises like the reference (config init xavier): Xavier-normal matrices, LN γ = 1, β = 0,
   * Linear biases U(±1/√d). With init normal, as the Dross code (HF-style `_init_weights`):
   * embeddings, feed-forward and attention-output weights N(0, initStd²), their biases 0; the
   * attention input projection keeps Xavier (PyTorch's MultiheadAttention owns that parameter, so
   * `_init_weights` never reaches it).
   */
  init(rng: Rng): void {
    const normal = this.cfg.init === 'normal';
    const matrix = (p: Param): void => (normal ? normalInit(p, this.cfg.initStd, rng) : xavierNormal(p, rng));
    matrix(this.item);
    this.item.data.a.fill(0, 0, this.d); // padding row
    matrix(this.pos);
    for (const b of this.blocks) {
      b.att.init(rng);
      if (normal) normalInit(b.att.out.weight, this.cfg.initStd, rng);
      matrix(b.ff1.weight);
      matrix(b.ff2.weight);
      if (normal) {
        b.ff1.bias!.data.a.fill(0);
        b.ff2.bias!.data.a.fill(0);
      } else {
        b.ff1.initBias(rng);
        b.ff2.initBias(rng);
      }
    }
    this.knowledge?.init(rng);
    this.invalidate();
  }

  /** Region sizes of one shard's workspace. */
  private layout(sh: Shard, nNeg: number, training: boolean) {
    const { d, cfg } = this;
    const T = sh.tokens, h = cfg.heads, nSeq = sh.s1 - sh.s0;
    const Td = T * d;
    const SL = sh.sumL2 * h;
    const per = training ? cfg.blocks : 1;
    const drop = training && cfg.dropout > 0;
    const lay: Record<string, number> = {
      ids: T, posIdx: T, tgt: T, neg: T * Math.max(nNeg, 1), seqOff: nSeq + 1, pOff: nSeq + 1,
      X0: Td, mf: T, rf: T, HF: Td, tmp: Td,
      scratch: (d / h) * sh.maxL + sh.maxL * sh.maxL,
    };
    for (let b = 0; b < per; b++) {
      Object.assign(lay, {
        [`Qn${b}`]: Td, [`Q${b}`]: Td, [`KV${b}`]: 2 * Td, [`A${b}`]: Td, [`X1${b}`]: Td, [`X2${b}`]: Td,
        [`FA${b}`]: Td, [`OUT${b}`]: training ? Td : 0, [`m1${b}`]: T, [`r1${b}`]: T, [`m2${b}`]: T, [`r2${b}`]: T,
        [`P${b}`]: SL, [`PD${b}`]: drop ? SL : 0,
      });
    }
    if (!training) {
      const nd = nSeq * d;
      Object.assign(lay, { last: nSeq, XL: nd, QLn: nd, QL: nd, AL: nd, X1L: nd, X2L: nd, FAL: nd, OL: nd, tmpL: nd, mL: nSeq, rL: nSeq });
    }
    if (training) {
      Object.assign(lay, {
        dH: Td, dCur: Td, dNext: Td, g1: Td, g2: Td, g3: Td, g4: Td, gKV: 2 * Td, loss: 4,
        lossScratch: nNeg + 1, Z: cfg.loss === 'ce' ? Math.min(this.ceChunk, T) * this.nItems : 0,
      });
    }
    return lay;
  }

  /** Writes a shard's int inputs into its workspace and returns the ragged layout. */
  private fillShard(ptrs: Record<string, number>, sh: Shard, off: Int32Array, inputs: Int32Array,
    targets: Int32Array | null, negatives: Int32Array | null, nNeg: number): RaggedLayout {
    const mem = this.engine.memory.buffer;
    const nSeq = sh.s1 - sh.s0;
    const T = sh.tokens;
    const ids = new Int32Array(mem, ptrs.ids, T);
    const pos = new Int32Array(mem, ptrs.posIdx, T);
    const seqOff = new Int32Array(mem, ptrs.seqOff, nSeq + 1);
    const pOff = new Int32Array(mem, ptrs.pOff, nSeq + 1);
    ids.set(inputs.subarray(sh.t0, sh.t0 + T));
    seqOff[0] = 0;
    pOff[0] = 0;
    for (let s = 0; s < nSeq; s++) {
      const a = off[sh.s0 + s] - sh.t0;
      const L = off[sh.s0 + s + 1] - off[sh.s0 + s];
      seqOff[s + 1] = a + L;
      pOff[s + 1] = pOff[s] + L * L;
      // end: the newest item always at maxLen − 1; start: the oldest at 0 (see config `positions`)
      const first = this.cfg.positions === 'start' ? 0 : this.cfg.maxLen - L;
      for (let j = 0; j < L; j++) pos[a + j] = first + j;
    }
    if (targets) {
      const tgt = new Int32Array(mem, ptrs.tgt, T);
      tgt.set(targets.subarray(sh.t0, sh.t0 + T));
      if (this.cfg.loss === 'ce') {
        const y = new Int32Array(mem, ptrs.neg, T);
        for (let t = 0; t < T; t++) y[t] = tgt[t] - 1; // logits cover items 1..n
      } else if (negatives) {
        new Int32Array(mem, ptrs.neg, T * nNeg).set(negatives.subarray(sh.t0 * nNeg, (sh.t0 + T) * nNeg));
      }
    }
    if (ptrs.last !== undefined) {
      const last = new Int32Array(mem, ptrs.last, nSeq);
      for (let s = 0; s < nSeq; s++) last[s] = seqOff[s + 1] - 1;
    }
    return { seqOff: ptrs.seqOff, pOff: ptrs.pOff, nSeq, maxL: sh.maxL, seqBase: sh.s0 };
  }

  /**
   * Records the forward pass of one shard. Training: every position, activations kept per block
   * for the backward, final hidden states F in HF [T×d]. Inference: blocks overwrite one set of
   * buffers, and the last block runs only for each sequence's last position (all that next-item
   * scoring needs; keys and values still come from every position): F in HF [nSeq×d].
   */
  private recordForward(prog: Program, B: Record<string, number>, lay: RaggedLayout, T: number, t0: number,
    training: boolean, seeds: Seeds | null): void {
    const { d, cfg } = this;
    const p = training && !this.dropoutOff ? cfg.dropout : 0;
    const Td = T * d;
    prog.call('embed_fwd', B.X0, this.itemTable().ptr, B.ids, this.pos.data.ptr, B.posIdx, T, d, Math.sqrt(d));
    if (p > 0) prog.call('dropout', B.X0, B.X0, Td, p, seeds!.emb, t0 * d);
    let xin = B.X0;
    const nb = this.blocks.length;
    for (let b = 0; b < nb; b++) {
      const blk = this.blocks[b];
      if (!training && b === nb - 1) {
        this.recordLastBlock(prog, blk, B, lay, T, xin);
        return;
      }
      const i = training ? b : 0;
      const out = training ? B[`OUT${i}`] : B.X0; // inference: overwrite the input in place
      blk.ln1.forward(prog, xin, B[`Qn${i}`], B[`m1${i}`], B[`r1${i}`], T);
      blk.att.forward(prog, lay, T, B[`Qn${i}`], xin, {
        Q: B[`Q${i}`], KV: B[`KV${i}`], A: B[`A${i}`], P: B[`P${i}`], P2: B[`PD${i}`], Y: B[`X1${i}`], scratch: B.scratch,
      }, p, seeds ? seeds.att[b] : 0, B[`Qn${i}`]); // + residual from LN₁(x), as in the reference
      blk.ln2.forward(prog, B[`X1${i}`], B[`X2${i}`], B[`m2${i}`], B[`r2${i}`], T);
      blk.ff1.forward(prog, { ptr: B[`X2${i}`], ld: d }, { ptr: B.tmp, ld: d }, T);
      prog.call('relu_dropout_fwd', B[`FA${i}`], B.tmp, Td, p, seeds ? seeds.ff1[b] : 0, t0 * d);
      // out = X2 + Dropout(FA·W₂ᵀ + b₂), epilogue fused
      blk.ff2.forward(prog, { ptr: B[`FA${i}`], ld: d }, { ptr: out, ld: d }, T, B[`X2${i}`],
        { p, seed: seeds ? seeds.ff2[b] : 0, base: t0 * d });
      xin = out;
    }
    this.ln.forward(prog, xin, B.HF, B.mf, B.rf, T);
  }

  /** Inference: the last block at each sequence's last position only; F into HF [nSeq×d]. */
  private recordLastBlock(prog: Program, blk: Block, B: Record<string, number>, lay: RaggedLayout, T: number, xin: number): void {
    const d = this.d;
    const n = lay.nSeq;
    const nd = n * d;
    prog.call('embed_fwd', B.XL, xin, B.last, 0, 0, n, d, 1); // gather the last rows
    blk.ln1.forward(prog, B.XL, B.QLn, B.mL, B.rL, n);
    blk.att.forwardLast(prog, lay, T, B.QLn, xin, { Q: B.QL, KV: B.KV0, A: B.AL, Y: B.X1L, scratch: B.scratch });
    prog.call('add', B.X1L, B.X1L, B.QLn, nd);
    blk.ln2.forward(prog, B.X1L, B.X2L, B.mL, B.rL, n);
    blk.ff1.forward(prog, { ptr: B.X2L, ld: d }, { ptr: B.tmpL, ld: d }, n);
    prog.call('relu_fwd', B.FAL, B.tmpL, nd);
    blk.ff2.forward(prog, { ptr: B.FAL, ld: d }, { ptr: B.tmpL, ld: d }, n);
    prog.call('add', B.OL, B.X2L, B.tmpL, nd);
    this.ln.forward(prog, B.OL, B.HF, B.mL, B.rL, n);
  }

  /** Records the loss and the backward pass of one shard (gradients into thread `w`'s buffers). */
  private recordBackward(prog: Program, w: number, B: Record<string, number>, lay: RaggedLayout, T: number, t0: number,
    nNeg: number, weight: number, seeds: Seeds): void {
    const { d, cfg } = this;
    const gE = this.item.grads[w].ptr;
    // ---- loss → dF
    if (cfg.loss === 'bce' || cfg.loss === 'gbce') {
      const beta = cfg.loss === 'gbce' ? gbceBeta(nNeg, this.nItems, cfg.gbceT) : 1;
      prog.call('bce_neg_loss', B.HF, this.itemTable().ptr, B.tgt, B.neg, T, nNeg, d, weight, beta, B.dH, gE, B.loss);
    } else if (cfg.loss === 'sampled-softmax') {
      prog.call('sampled_softmax_loss', B.HF, this.itemTable().ptr, B.tgt, B.neg, T, nNeg, d, weight, cfg.temperature, B.dH, gE, B.loss, B.lossScratch);
    } else {
      // full softmax over items 1..n, in chunks of tokens: Z = F·Eᵀ/τ, dZ, dF = dZ·E/τ, dE += dZᵀ·F/τ
      const n = this.nItems;
      const tau = cfg.temperature;
      for (let c = 0; c < T; c += this.ceChunk) {
        const m = Math.min(this.ceChunk, T - c);
        prog.call('gemm', B.Z, B.HF + 4 * c * d, this.itemT.ptr + 4, m, n, d, d, n + 1, n, 0, 0, 0, 1 / tau);
        prog.call('softmax_ce', B.Z, B.neg + 4 * c, m, n, n, weight, B.loss);
        prog.call('gemm', B.dH + 4 * c * d, B.Z, this.itemTable().ptr + 4 * d, m, d, n, n, d, d, 0, 0, 0, 1 / tau);
        prog.call('gemm', gE + 4 * d, B.Z, B.HF + 4 * c * d, n, d, m, n, d, d, 1, 1, 0, 1 / tau);
      }
    }
    this.recordBackwardFromH(prog, w, B, lay, T, t0, seeds);
  }

  /** Records the backward pass of one shard from ∂loss/∂F in B.dH [T×d] down to the embeddings. */
  private recordBackwardFromH(prog: Program, w: number, B: Record<string, number>, lay: RaggedLayout, T: number, t0: number, seeds: Seeds): void {
    const d = this.d;
    const p = this.dropoutOff ? 0 : this.cfg.dropout;
    const Td = T * d;
    const nb = this.blocks.length;
    let dCur = B.dCur;
    let dNext = B.dNext;
    this.ln.backward(prog, w, B.dH, B[`OUT${nb - 1}`], B.mf, B.rf, dCur, T, false);
    for (let b = nb - 1; b >= 0; b--) {
      const blk = this.blocks[b];
      const xin = b === 0 ? B.X0 : B[`OUT${b - 1}`];
      // out = X2 + Dropout(FFN(X2))
      prog.call('dropout', B.g1, dCur, Td, p, seeds.ff2[b], t0 * d);
      blk.ff2.backward(prog, w, { ptr: B.g1, ld: d }, { ptr: B[`FA${b}`], ld: d }, { ptr: B.g2, ld: d }, T, false);
      prog.call('relu_dropout_bwd', B.g2, B.g2, B[`FA${b}`], Td, p);
      blk.ff1.backward(prog, w, { ptr: B.g2, ld: d }, { ptr: B[`X2${b}`], ld: d }, { ptr: B.g1, ld: d }, T, false);
      prog.call('add', B.g1, B.g1, dCur, Td);
      // X2 = LN₂(X1)
      blk.ln2.backward(prog, w, B.g1, B[`X1${b}`], B[`m2${b}`], B[`r2${b}`], B.g2, T, false);
      // X1 = Qn + MHA(Qn, xin, xin); g2 holds dX1 = the residual part of dQn
      blk.att.backward(prog, w, lay, T, B[`Qn${b}`], xin, {
        Q: B[`Q${b}`], KV: B[`KV${b}`], A: B[`A${b}`], P: B[`P${b}`], P2: B[`PD${b}`], scratch: B.scratch,
      }, B.g2, { dA: B.g3, dQ: B.g4, dKV: B.gKV }, B.g2, dNext, false, p, seeds.att[b]);
      // Qn = LN₁(xin)
      blk.ln1.backward(prog, w, B.g2, xin, B[`m1${b}`], B[`r1${b}`], dNext, T, true);
      const t = dCur;
      dCur = dNext;
      dNext = t;
    }
    if (p > 0) prog.call('dropout', dCur, dCur, Td, p, seeds.emb, t0 * d);
    prog.call('embed_bwd', this.item.grads[w].ptr, this.pos.grads[w].ptr, dCur, B.ids, B.posIdx, T, d, Math.sqrt(d));
  }

  /** Records the per-step preparation (weight transposes) shared by all shards. */
  private prepare(withItemT: boolean): Program {
    const prog = this.engine.program();
    for (const b of this.blocks) {
      b.att.prepare(prog);
      b.ff1.prepare(prog);
      b.ff2.prepare(prog);
    }
    if (withItemT && !this.itemTValid) {
      prog.call('transpose', this.itemT.ptr, this.itemTable().ptr, this.nItems + 1, this.d, this.d, this.nItems + 1);
      this.itemTValid = true;
    }
    return prog;
  }

  /** Draws the dropout seeds of one step. */
  drawSeeds(rng: Rng): Seeds {
    const u32 = (): number => rng.nextUint32();
    return { emb: u32(), att: this.blocks.map(u32), ff1: this.blocks.map(u32), ff2: this.blocks.map(u32) };
  }

  /**
   * Forward + backward of a batch: the loss (mean over real positions) and per-thread gradients
   * left in each parameter's grads[w] for w < `threadsUsed` (the optimizer reduces them).
   */
  forwardBackward(batch: SeqBatch, seeds: Seeds): { loss: number; threadsUsed: number } {
    const { cfg } = this;
    const nNeg = cfg.loss === 'ce' ? 0 : batch.nNeg;
    const shards = splitBalanced(batch.off, this.threads, 6 * this.d);
    const totalT = batch.off[batch.off.length - 1];
    if (totalT === 0) return { loss: 0, threadsUsed: 0 };
    if (this.knowledge) this.invalidate(); // Ẽ and the adaptor's saved activations from exactly these weights
    this.engine.run(this.prepare(cfg.loss === 'ce'));
    const programs: Program[] = [];
    const lossPtrs: number[] = [];
    shards.forEach((sh, w) => {
      const B = this.ws[w].carve(this.layout(sh, nNeg, true));
      const lay = this.fillShard(B, sh, batch.off, batch.inputs, batch.targets, batch.negatives, nNeg);
      new Float64Array(this.engine.memory.buffer, B.loss, 1)[0] = 0;
      const prog = this.engine.program();
      this.recordForward(prog, B, lay, sh.tokens, sh.t0, true, seeds);
      this.recordBackward(prog, w, B, lay, sh.tokens, sh.t0, nNeg, 1 / totalT, seeds);
      programs.push(prog);
      lossPtrs.push(B.loss);
    });
    const loss = runShards(this.engine, programs, lossPtrs);
    // the kernels accumulated dẼ into the item table's gradients; Ẽ = E + f̂(K) passes it to E as is and to the adaptor
    this.knowledge?.backward(this.item.grads, shards.length);
    return { loss, threadsUsed: shards.length };
  }

  /**
   * Forward + backward of a batch whose loss reads only the scores after each sequence's last
   * item (objectives on the next-item distribution, e.g. SPRec's DPO; src/sim/sprec-sasrec.ts).
   * Sequences: internal ids (dataset id + 1), non-empty, at most maxLen, at [off[s], off[s+1]) of
   * `inputs`. `head` receives the final hidden states F [nSeq × d] of the last positions and
   * returns the loss and ∂loss/∂score as sparse triples (sequence, item as dataset id, gradient),
   * with score_i = F·E[i + 1] (what scoreHidden computes); the net adds the output layer's share
   * of the item table's gradient, g·F, and backpropagates ∂loss/∂F = Σ g·E[i + 1] through the
   * blocks. `seeds` null runs the pass with dropout off (as TRL's DPO trainer does by default).
   * Gradients are left per thread as {@link forwardBackward} leaves them. No item knowledge.
   */
  forwardBackwardLast(off: Int32Array, inputs: Int32Array, seeds: Seeds | null, head: LastPositionHead): { loss: number; threadsUsed: number } {
    if (this.knowledge) throw new Error('sasrec: forwardBackwardLast does not support item knowledge (knowledgeDim > 0)');
    const d = this.d, nSeq = off.length - 1;
    for (let s = 0; s < nSeq; s++) {
      const L = off[s + 1] - off[s];
      if (L < 1 || L > this.cfg.maxLen) throw new Error(`sasrec: forwardBackwardLast: sequence ${s} has ${L} items (need 1..${this.cfg.maxLen})`);
    }
    if (nSeq === 0) return { loss: 0, threadsUsed: 0 };
    const shards = splitBalanced(off, this.threads, 6 * d);
    const owner = new Int32Array(nSeq);
    shards.forEach((sh, w) => owner.fill(w, sh.s0, sh.s1));
    const used = seeds ?? { emb: 0, att: this.blocks.map(() => 0), ff1: this.blocks.map(() => 0), ff2: this.blocks.map(() => 0) };
    this.dropoutOff = seeds === null;
    try {
      this.engine.run(this.prepare(false));
      const bufs = shards.map((sh, w) => this.ws[w].carve(this.layout(sh, 0, true)));
      const lays = shards.map((sh, w) => this.fillShard(bufs[w], sh, off, inputs, null, null, 0));
      this.engine.runParallel(shards.map((sh, w) => {
        const prog = this.engine.program();
        this.recordForward(prog, bufs[w], lays[w], sh.tokens, sh.t0, true, seeds === null ? null : used);
        return prog;
      }));
      // the last position's row of F for each sequence
      const rowOf = (s: number): number => off[s + 1] - 1 - shards[owner[s]].t0;
      const F = new Float32Array(nSeq * d);
      for (let s = 0; s < nSeq; s++) {
        F.set(new Float32Array(this.engine.memory.buffer, bufs[owner[s]].HF + 4 * rowOf(s) * d, d), s * d);
      }
      const out = head(F, nSeq);
      // views taken after the head ran (it may have grown the engine memory)
      const mem = this.engine.memory.buffer;
      const E = this.item.data.a;
      const dH = shards.map((sh, w) => new Float32Array(mem, bufs[w].dH, sh.tokens * d).fill(0));
      // repeated (sequence, item) entries are summed first, so +g and −g on one item cancel exactly
      const sums = new Map<number, number>();
      for (let k = 0; k < out.grad.length; k++) {
        const s = out.seq[k], i = out.item[k];
        if (!(s >= 0 && s < nSeq) || !(i >= 0 && i < this.nItems)) throw new RangeError(`sasrec: forwardBackwardLast: head returned sequence ${s}, item ${i}`);
        const key = s * this.nItems + i;
        sums.set(key, (sums.get(key) ?? 0) + out.grad[k]);
      }
      for (const [key, g] of sums) {
        if (g === 0) continue;
        const s = Math.floor(key / this.nItems), i = (key % this.nItems) + 1;
        const w = owner[s], r = rowOf(s) * d;
        const gE = this.item.grads[w].a;
        for (let c = 0; c < d; c++) {
          dH[w][r + c] += g * E[i * d + c];
          gE[i * d + c] += g * F[s * d + c];
        }
      }
      this.engine.runParallel(shards.map((sh, w) => {
        const prog = this.engine.program();
        this.recordBackwardFromH(prog, w, bufs[w], lays[w], sh.tokens, sh.t0, used);
        return prog;
      }));
      return { loss: out.loss, threadsUsed: shards.length };
    } finally {
      this.dropoutOff = false;
    }
  }

  /**
   * One optimisation step with a last-position loss (see {@link forwardBackwardLast}); every row
   * of the item table takes the Adam step (as full-softmax training does). Returns the loss.
   */
  trainStepLast(off: Int32Array, inputs: Int32Array, head: LastPositionHead, lr: number, seeds: Seeds | null): number {
    const { loss, threadsUsed } = this.forwardBackwardLast(off, inputs, seeds, head);
    if (threadsUsed > 0) {
      const rows = this.touched.a;
      for (let i = 0; i < this.nItems; i++) rows[i] = i + 1;
      this.adam.step(lr, threadsUsed, new Map([[this.item, { rows: this.touched, count: this.nItems }]]));
    }
    this.invalidate();
    return loss;
  }

  /** One optimisation step on a sampled batch with learning rate `lr`; returns the mean loss. */
  trainStep(batch: SeqBatch, lr: number, rng: Rng): number {
    const { loss, threadsUsed } = this.forwardBackward(batch, this.drawSeeds(rng));
    if (threadsUsed > 0) {
      const touched = new Map([[this.item, this.touchedRows(batch, batch.nNeg)]]);
      if (this.knowledge) touched.set(this.knowledge.table, { rows: this.touched, count: 0 }); // fixed vectors
      this.adam.step(lr, threadsUsed, touched);
    }
    this.invalidate();
    return loss;
  }

  /** Distinct embedding rows a batch touched (inputs, targets, negatives); all rows for full CE. */
  touchedRows(batch: SeqBatch, nNeg: number): TouchedRows {
    const rows = this.touched.a;
    if (this.cfg.loss === 'ce') {
      for (let i = 0; i < this.nItems; i++) rows[i] = i + 1;
      return { rows: this.touched, count: this.nItems };
    }
    if (++this.stamp === 0xffffffff) {
      this.mark.fill(0);
      this.stamp = 1;
    }
    const s = this.stamp;
    let count = 0;
    const visit = (a: Int32Array, n: number): void => {
      for (let i = 0; i < n; i++) {
        const r = a[i];
        if (this.mark[r] !== s) {
          this.mark[r] = s;
          rows[count++] = r;
        }
      }
    };
    const T = batch.off[batch.off.length - 1];
    visit(batch.inputs, T);
    visit(batch.targets, T);
    visit(batch.negatives, T * nNeg);
    return { rows: this.touched, count };
  }

  /**
   * Final hidden state after the last item of each sequence (internal ids, non-empty, at most
   * maxLen long), into `out` (nSeq × d). Runs in parallel over threads, in bounded chunks.
   */
  lastHidden(seqs: Int32Array[], out: Float32Array): void {
    this.engine.run(this.prepare(false));
    inferRows({
      engine: this.engine, threads: this.threads, d: this.d, maxLen: this.cfg.maxLen, name: 'sasrec', linearWeight: 6 * this.d,
      shard: (sh, w, off, inputs) => {
        const B = this.ws[w].carve(this.layout(sh, 0, false));
        const lay = this.fillShard(B, sh, off, inputs, null, null, 0);
        const program = this.engine.program();
        this.recordForward(program, B, lay, sh.tokens, sh.t0, false, null);
        // inference leaves one row of F per sequence
        return { program, collect: (dst, at) => dst.set(new Float32Array(this.engine.memory.buffer, B.HF, (sh.s1 - sh.s0) * this.d), at) };
      },
    }, seqs, out);
  }

  /** Scores every item (dataset ids 0..n-1) for each hidden row: out[i·n + j] = H_i · E[j + 1]. */
  scoreHidden(H: Float32Array, rows: number, out: Float32Array, outOffset = 0): void {
    scoreDot(this.itemPanels(), H, rows, out.subarray(outOffset, outOffset + rows * this.nItems));
  }

}

/**
 * A loss on the scores after each sequence's last item: given the final hidden states F [nSeq × d],
 * the loss and its gradient with respect to the scores as sparse triples (seq[k], item[k] as a
 * dataset id, grad[k]); repeated (seq, item) pairs add up.
 */
export type LastPositionHead = (F: Float32Array, nSeq: number) => { loss: number; seq: ArrayLike<number>; item: ArrayLike<number>; grad: ArrayLike<number> };

/** gBCE's β = α·(t·(1 − 1/α) + 1/α) with α = negatives / (items − 1). */
export function gbceBeta(negatives: number, nItems: number, t: number): number {
  const alpha = negatives / Math.max(1, nItems - 1);
  return alpha * (t * (1 - 1 / alpha) + 1 / alpha);
}
