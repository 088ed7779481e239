/**
 * The TIGER-style generative retrieval network on the engine (Rajput et al., NeurIPS 2023):
 *
 *   encoder input   [USER_h(u), c(h₁)₁ … c(h₁)_m, …, c(h_L)₁ … c(h_L)_m]      (m codes per item)
 *   decoder input   [BOS, c(t)₁ … c(t)_{m−1}]   →   targets   c(t)₁ … c(t)_m       (teacher forcing)
 *
 * Token embeddings E (codes of every level with their own ids, user-hash buckets, BOS) are
 * shared by encoder and decoder, scaled by √d, plus learned positions (encoder: token position;
 * decoder: level). Encoder: pre-LN transformer blocks with bidirectional attention, then LN → the
 * memory M. Decoder: pre-LN blocks over the concatenation [M ; decoder tokens] with one causal
 * mask, so each decoder token attends to the whole memory and to the decoder tokens before it —
 * cross-attention and self-attention in one softmax (a prefix-LM decoder; the engine's ragged
 * attention kernel takes one layout for queries and keys, which rules out a separate
 * cross-attention without a new kernel). The memory rows are carried through the decoder blocks
 * (causally among themselves), so they can be computed once per user at inference. Final LN,
 * then a linear head over the code tokens; loss = mean cross-entropy of the m target codes.
 *
 * Layout: every sequence of a batch is ragged (no padding). A thread shard takes whole sequences;
 * its workspace holds the encoder stream (Te tokens) and the concatenated decoder stream
 * (Tc = Te + m·nSeq tokens). Parameter names: `tok.weight`, `pos_enc.weight`, `pos_dec.weight`,
 * `enc.<b>.{ln1,att,ln2,ff1,ff2}`, `enc_ln`, `dec.<b>.…`, `dec_ln`, `head`.
 */
import { defaultThreads } from '../../util/threads.ts';
import { defaultEngine, type Engine, type Program } from '../../kernels/engine.ts';
import { ParamSet, xavierNormal, type Param } from '../../nn/params.ts';
import { LayerNorm, MultiheadAttention, linear, type Linear, type RaggedLayout } from '../../nn/layers.ts';
import { Adam } from '../../nn/optim.ts';
import { Workspace } from '../../nn/workspace.ts';
import type { Rng } from '../../util/rng.ts';
import { splitBalanced, runShards, type Shard } from '../seq/ragged.ts';

/** Shape and training settings the network needs. */
export interface TigerNetConfig {
  hidden: number;
  heads: number;
  ffn: number;
  encBlocks: number;
  decBlocks: number;
  dropout: number;
  lr: number;
  beta2: number;
  weightDecay: number;
  lnEps: number;
  threads: number;
  /** Longest encoder sequence (1 + maxItems·m). */
  maxEncLen: number;
}

/** Vocabulary of the token embedding: code tokens first (they are also the head's classes). */
export interface TigerVocab {
  /** Codes per item ID (the collision level included). */
  m: number;
  /** First token id of each level's codes. */
  levelOffset: number[];
  /** Number of code tokens (Σ cardinalities) = classes of the head. */
  codeTokens: number;
  /** User-hash buckets, from token codeTokens. */
  userBuckets: number;
  /** The BOS token id. */
  bos: number;
  /** Embedding rows. */
  size: number;
}

/** Builds the vocabulary for ID tables with these per-level cardinalities. */
export function tigerVocab(cardinalities: number[], userBuckets: number): TigerVocab {
  const levelOffset: number[] = [];
  let acc = 0;
  for (const c of cardinalities) {
    levelOffset.push(acc);
    acc += c;
  }
  return { m: cardinalities.length, levelOffset, codeTokens: acc, userBuckets, bos: acc + userBuckets, size: acc + userBuckets + 1 };
}

/** A ragged batch of (history, target) examples, already tokenised. */
export interface TigerBatch {
  nSeq: number;
  /** Encoder token offsets per sequence (nSeq + 1). */
  encOff: Int32Array;
  /** Encoder token ids and positions. */
  encIds: Int32Array;
  encPos: Int32Array;
  /** Decoder input tokens, m per sequence: BOS then the target's first m−1 code tokens. */
  decIds: Int32Array;
  /** Target classes (code-token ids), m per sequence. */
  targets: Int32Array;
}

interface Block {
  ln1: LayerNorm;
  att: MultiheadAttention;
  ln2: LayerNorm;
  ff1: Linear;
  ff2: Linear;
}

/** Per-step dropout seeds. */
interface Seeds {
  emb: number;
  dec: number;
  att: number[];
  ff1: number[];
  ff2: number[];
}

/** One stream (encoder or decoder) of a shard: its token count and ragged layout. */
interface Stream {
  T: number;
  t0: number;
  lay: RaggedLayout;
  sumL2: number;
  maxL: number;
}

/** The network: parameters, a training step, and the weights the JS decoder reads (./tiger-infer.ts). */
export class TigerNet {
  readonly engine: Engine;
  readonly threads: number;
  readonly params: ParamSet;
  readonly tok: Param;
  readonly posEnc: Param;
  readonly posDec: Param;
  readonly enc: Block[] = [];
  readonly dec: Block[] = [];
  readonly encLn: LayerNorm;
  readonly decLn: LayerNorm;
  readonly head: Linear;
  readonly adam: Adam;
  private readonly ws: Workspace[];
  /** Bumped whenever the weights change (training step, load, restore): caches keyed on it go stale. */
  version = 0;

  constructor(readonly cfg: TigerNetConfig, readonly vocab: TigerVocab, readonly nItems: number) {
    this.threads = cfg.threads || defaultThreads();
    this.engine = defaultEngine();
    const d = cfg.hidden;
    const P = (this.params = new ParamSet(this.engine, this.threads, this));
    this.tok = P.add('tok.weight', [vocab.size, d], { decay: false });
    this.posEnc = P.add('pos_enc.weight', [cfg.maxEncLen, d], { decay: false });
    this.posDec = P.add('pos_dec.weight', [vocab.m, d], { decay: false });
    const block = (name: string, causal: boolean): Block => ({
      ln1: new LayerNorm(P, `${name}.ln1`, d, cfg.lnEps),
      att: new MultiheadAttention(P, `${name}.att`, d, { heads: cfg.heads, causal }, this),
      ln2: new LayerNorm(P, `${name}.ln2`, d, cfg.lnEps),
      ff1: linear(P, `${name}.ff1`, d, cfg.ffn, true, this),
      ff2: linear(P, `${name}.ff2`, cfg.ffn, d, true, this),
    });
    for (let b = 0; b < cfg.encBlocks; b++) this.enc.push(block(`enc.${b}`, false));
    this.encLn = new LayerNorm(P, 'enc_ln', d, cfg.lnEps);
    for (let b = 0; b < cfg.decBlocks; b++) this.dec.push(block(`dec.${b}`, true));
    this.decLn = new LayerNorm(P, 'dec_ln', d, cfg.lnEps);
    this.head = linear(P, 'head', d, vocab.codeTokens, true, this);
    this.adam = new Adam(P, { lr: cfg.lr, beta1: 0.9, beta2: cfg.beta2, eps: 1e-8, weightDecay: cfg.weightDecay, decoupled: true, clipNorm: 1 });
    this.ws = Array.from({ length: this.threads }, () => new Workspace(this.engine, this));
  }

  /** Xavier-normal matrices and embeddings, zero attention biases, PyTorch-default Linear biases. */
  init(rng: Rng): void {
    xavierNormal(this.tok, rng);
    xavierNormal(this.posEnc, rng);
    xavierNormal(this.posDec, rng);
    for (const b of [...this.enc, ...this.dec]) {
      b.att.init(rng);
      xavierNormal(b.ff1.weight, rng);
      xavierNormal(b.ff2.weight, rng);
      b.ff1.initBias(rng);
      b.ff2.initBias(rng);
    }
    xavierNormal(this.head.weight, rng);
    this.head.initBias(rng);
  }

  private prepare(): Program {
    const prog = this.engine.program();
    for (const b of [...this.enc, ...this.dec]) {
      b.att.prepare(prog);
      b.ff1.prepare(prog);
      b.ff2.prepare(prog);
    }
    this.head.prepare(prog);
    return prog;
  }

  private layout(enc: Stream, cat: Stream, nSeq: number): Record<string, number> {
    const { hidden: d, ffn: f, heads: h, dropout } = this.cfg;
    const m = this.vocab.m;
    const Te = enc.T, Tc = cat.T, Td = m * nSeq;
    const drop = dropout > 0;
    const lay: Record<string, number> = {
      encIds: Te, encPos: Te, decIds: Td, decPos: Td, y: Td,
      encSeqOff: nSeq + 1, encPOff: nSeq + 1, catSeqOff: nSeq + 1, catPOff: nSeq + 1,
      X0: Te * d, M: Te * d, mM: Te, rM: Te, Xd: Td * d, C0: Tc * d, F: Tc * d, mF: Tc, rF: Tc, Fd: Td * d,
      Z: Td * this.vocab.codeTokens, loss: 2,
      scratch: (d / h) * cat.maxL + cat.maxL * cat.maxL,
      tmp: Tc * f, dCur: Tc * d, g1: Tc * d, g2: Tc * f, g3: Tc * d, g4: Tc * d, gKV: 2 * Tc * d, dFd: Td * d,
    };
    const blockBufs = (pre: string, T: number, SL: number): void => {
      Object.assign(lay, {
        [`${pre}H1`]: T * d, [`${pre}Q`]: T * d, [`${pre}KV`]: 2 * T * d, [`${pre}A`]: T * d, [`${pre}X1`]: T * d,
        [`${pre}H2`]: T * d, [`${pre}FA`]: T * f, [`${pre}OUT`]: T * d,
        [`${pre}m1`]: T, [`${pre}r1`]: T, [`${pre}m2`]: T, [`${pre}r2`]: T, [`${pre}P`]: SL, [`${pre}PD`]: drop ? SL : 0,
      });
    };
    this.enc.forEach((_, b) => blockBufs(`e${b}`, Te, enc.sumL2 * h));
    this.dec.forEach((_, b) => blockBufs(`d${b}`, Tc, cat.sumL2 * h));
    return lay;
  }

  /** Forward of one pre-LN block: OUT = X1 + FFN(LN₂(X1)), X1 = X + Attn(LN₁(X)). */
  private blockForward(prog: Program, blk: Block, B: Record<string, number>, pre: string, s: Stream, x: number,
    p: number, seeds: { att: number; ff1: number; ff2: number }): void {
    const { hidden: d, ffn: f } = this.cfg;
    const T = s.T;
    blk.ln1.forward(prog, x, B[`${pre}H1`], B[`${pre}m1`], B[`${pre}r1`], T);
    blk.att.forward(prog, s.lay, T, B[`${pre}H1`], B[`${pre}H1`], {
      Q: B[`${pre}Q`], KV: B[`${pre}KV`], A: B[`${pre}A`], P: B[`${pre}P`], P2: B[`${pre}PD`], Y: B[`${pre}X1`], scratch: B.scratch,
    }, p, seeds.att, x);
    blk.ln2.forward(prog, B[`${pre}X1`], B[`${pre}H2`], B[`${pre}m2`], B[`${pre}r2`], T);
    blk.ff1.forward(prog, { ptr: B[`${pre}H2`], ld: d }, { ptr: B.tmp, ld: f }, T);
    prog.call('relu_dropout_fwd', B[`${pre}FA`], B.tmp, T * f, p, seeds.ff1, s.t0 * f);
    blk.ff2.forward(prog, { ptr: B[`${pre}FA`], ld: f }, { ptr: B[`${pre}OUT`], ld: d }, T, B[`${pre}X1`], { p, seed: seeds.ff2, base: s.t0 * d });
  }

  /** Backward of {@link blockForward}: `dOut` (T×d) is turned in place into the gradient of the block's input. */
  private blockBackward(prog: Program, w: number, blk: Block, B: Record<string, number>, pre: string, s: Stream, x: number,
    dOut: number, p: number, seeds: { att: number; ff2: number }): void {
    const { hidden: d, ffn: f } = this.cfg;
    const T = s.T;
    prog.call('dropout', B.g1, dOut, T * d, p, seeds.ff2, s.t0 * d);
    blk.ff2.backward(prog, w, { ptr: B.g1, ld: d }, { ptr: B[`${pre}FA`], ld: f }, { ptr: B.g2, ld: f }, T, false);
    prog.call('relu_dropout_bwd', B.g2, B.g2, B[`${pre}FA`], T * f, p);
    blk.ff1.backward(prog, w, { ptr: B.g2, ld: f }, { ptr: B[`${pre}H2`], ld: d }, { ptr: B.g3, ld: d }, T, false);
    blk.ln2.backward(prog, w, B.g3, B[`${pre}X1`], B[`${pre}m2`], B[`${pre}r2`], dOut, T, true); // dOut := dX1
    blk.att.backward(prog, w, s.lay, T, B[`${pre}H1`], B[`${pre}H1`], {
      Q: B[`${pre}Q`], KV: B[`${pre}KV`], A: B[`${pre}A`], P: B[`${pre}P`], P2: B[`${pre}PD`], scratch: B.scratch,
    }, dOut, { dA: B.g1, dQ: B.g3, dKV: B.gKV }, B.g4, B.g4, false, p, seeds.att);
    blk.ln1.backward(prog, w, B.g4, x, B[`${pre}m1`], B[`${pre}r1`], dOut, T, true); // dOut := dX
  }

  /** Splits a batch into shards and fills each shard's integer inputs; returns what recording needs. */
  private shards(batch: TigerBatch): { sh: Shard; enc: Stream; cat: Stream; B: Record<string, number> }[] {
    const m = this.vocab.m;
    const catOff = batch.encOff.map((o, s) => o + s * m);
    return splitBalanced(catOff, this.threads, 12 * this.cfg.hidden).map((sh, w) => {
      const nSeq = sh.s1 - sh.s0;
      const te0 = batch.encOff[sh.s0];
      let encL2 = 0, encMax = 0;
      for (let s = sh.s0; s < sh.s1; s++) {
        const L = batch.encOff[s + 1] - batch.encOff[s];
        encL2 += L * L;
        encMax = Math.max(encMax, L);
      }
      const Te = batch.encOff[sh.s1] - te0;
      const enc: Stream = { T: Te, t0: te0, sumL2: encL2, maxL: encMax, lay: null as unknown as RaggedLayout };
      const cat: Stream = { T: sh.tokens, t0: sh.t0, sumL2: sh.sumL2, maxL: sh.maxL, lay: null as unknown as RaggedLayout };
      const B = this.ws[w].carve(this.layout(enc, cat, nSeq));
      const mem = this.engine.memory.buffer; // after carving: the memory may have grown
      const i32 = (name: string, n: number): Int32Array => new Int32Array(mem, B[name], n);
      i32('encIds', Te).set(batch.encIds.subarray(te0, te0 + Te));
      i32('encPos', Te).set(batch.encPos.subarray(te0, te0 + Te));
      i32('decIds', m * nSeq).set(batch.decIds.subarray(sh.s0 * m, sh.s1 * m));
      i32('y', m * nSeq).set(batch.targets.subarray(sh.s0 * m, sh.s1 * m));
      const decPos = i32('decPos', m * nSeq);
      for (let i = 0; i < m * nSeq; i++) decPos[i] = i % m;
      const eo = i32('encSeqOff', nSeq + 1), ep = i32('encPOff', nSeq + 1), co = i32('catSeqOff', nSeq + 1), cp = i32('catPOff', nSeq + 1);
      eo[0] = ep[0] = co[0] = cp[0] = 0;
      for (let s = 0; s < nSeq; s++) {
        const L = batch.encOff[sh.s0 + s + 1] - batch.encOff[sh.s0 + s];
        eo[s + 1] = eo[s] + L;
        ep[s + 1] = ep[s] + L * L;
        co[s + 1] = co[s] + L + m;
        cp[s + 1] = cp[s] + (L + m) * (L + m);
      }
      enc.lay = { seqOff: B.encSeqOff, pOff: B.encPOff, nSeq, maxL: encMax, seqBase: sh.s0 };
      cat.lay = { seqOff: B.catSeqOff, pOff: B.catPOff, nSeq, maxL: sh.maxL, seqBase: sh.s0 };
      return { sh, enc, cat, B };
    });
  }

  /**
   * Records the forward of one shard up to the decoder's final hidden rows of the decoder tokens
   * (Fd, m·nSeq × d). With `p` = 0 and no seeds this is inference (the reference the JS decoder is
   * tested against).
   */
  private recordForward(prog: Program, B: Record<string, number>, enc: Stream, cat: Stream, encOff: Int32Array, s0: number,
    p: number, seeds: Seeds | null): void {
    const d = this.cfg.hidden, m = this.vocab.m;
    const nSeq = enc.lay.nSeq;
    const Td = m * nSeq;
    const z = { att: 0, ff1: 0, ff2: 0 };
    prog.call('embed_fwd', B.X0, this.tok.data.ptr, B.encIds, this.posEnc.data.ptr, B.encPos, enc.T, d, Math.sqrt(d));
    if (p > 0) prog.call('dropout', B.X0, B.X0, enc.T * d, p, seeds!.emb, enc.t0 * d);
    let x = B.X0;
    this.enc.forEach((blk, b) => {
      this.blockForward(prog, blk, B, `e${b}`, enc, x, p, seeds ? { att: seeds.att[b], ff1: seeds.ff1[b], ff2: seeds.ff2[b] } : z);
      x = B[`e${b}OUT`];
    });
    this.encLn.forward(prog, x, B.M, B.mM, B.rM, enc.T);
    prog.call('embed_fwd', B.Xd, this.tok.data.ptr, B.decIds, this.posDec.data.ptr, B.decPos, Td, d, Math.sqrt(d));
    if (p > 0) prog.call('dropout', B.Xd, B.Xd, Td * d, p, seeds!.dec, s0 * m * d);
    // C0 = [M_s ; Xd_s] per sequence
    const e0 = encOff[s0];
    for (let s = 0; s < nSeq; s++) {
      const a = encOff[s0 + s] - e0, L = encOff[s0 + s + 1] - encOff[s0 + s];
      const c = a + s * m;
      prog.call('copy', B.C0 + 4 * c * d, B.M + 4 * a * d, L * d);
      prog.call('copy', B.C0 + 4 * (c + L) * d, B.Xd + 4 * s * m * d, m * d);
    }
    x = B.C0;
    const ne = this.enc.length;
    this.dec.forEach((blk, b) => {
      const i = ne + b;
      this.blockForward(prog, blk, B, `d${b}`, cat, x, p, seeds ? { att: seeds.att[i], ff1: seeds.ff1[i], ff2: seeds.ff2[i] } : z);
      x = B[`d${b}OUT`];
    });
    this.decLn.forward(prog, x, B.F, B.mF, B.rF, cat.T);
    for (let s = 0; s < nSeq; s++) {
      const a = encOff[s0 + s] - e0, L = encOff[s0 + s + 1] - encOff[s0 + s];
      prog.call('copy', B.Fd + 4 * s * m * d, B.F + 4 * (a + s * m + L) * d, m * d);
    }
  }

  /** Records loss and backward of one shard (gradients into thread `w`). */
  private recordBackward(prog: Program, w: number, B: Record<string, number>, enc: Stream, cat: Stream, encOff: Int32Array,
    s0: number, weight: number, p: number, seeds: Seeds): void {
    const d = this.cfg.hidden, m = this.vocab.m, V = this.vocab.codeTokens;
    const nSeq = enc.lay.nSeq;
    const Td = m * nSeq;
    this.head.forward(prog, { ptr: B.Fd, ld: d }, { ptr: B.Z, ld: V }, Td);
    prog.call('softmax_ce', B.Z, B.y, Td, V, V, weight, B.loss); // Z := dZ
    this.head.backward(prog, w, { ptr: B.Z, ld: V }, { ptr: B.Fd, ld: d }, { ptr: B.dFd, ld: d }, Td, false);
    // dF: zero on memory rows, dFd on decoder rows
    prog.call('zero', B.g1, cat.T * d);
    const e0 = encOff[s0];
    for (let s = 0; s < nSeq; s++) {
      const a = encOff[s0 + s] - e0, L = encOff[s0 + s + 1] - encOff[s0 + s];
      prog.call('copy', B.g1 + 4 * (a + s * m + L) * d, B.dFd + 4 * s * m * d, m * d);
    }
    const nd = this.dec.length, ne = this.enc.length;
    this.decLn.backward(prog, w, B.g1, nd ? B[`d${nd - 1}OUT`] : B.C0, B.mF, B.rF, B.dCur, cat.T, false);
    for (let b = nd - 1; b >= 0; b--) {
      const x = b === 0 ? B.C0 : B[`d${b - 1}OUT`];
      this.blockBackward(prog, w, this.dec[b], B, `d${b}`, cat, x, B.dCur, p, { att: seeds.att[ne + b], ff2: seeds.ff2[ne + b] });
    }
    // split dC0 into dM (g1, Te×d) and dXd (dFd, Td×d)
    for (let s = 0; s < nSeq; s++) {
      const a = encOff[s0 + s] - e0, L = encOff[s0 + s + 1] - encOff[s0 + s];
      const c = a + s * m;
      prog.call('copy', B.g1 + 4 * a * d, B.dCur + 4 * c * d, L * d);
      prog.call('copy', B.dFd + 4 * s * m * d, B.dCur + 4 * (c + L) * d, m * d);
    }
    if (p > 0) prog.call('dropout', B.dFd, B.dFd, Td * d, p, seeds.dec, s0 * m * d);
    prog.call('embed_bwd', this.tok.grads[w].ptr, this.posDec.grads[w].ptr, B.dFd, B.decIds, B.decPos, Td, d, Math.sqrt(d));
    this.encLn.backward(prog, w, B.g1, ne ? B[`e${ne - 1}OUT`] : B.X0, B.mM, B.rM, B.dCur, enc.T, false);
    for (let b = ne - 1; b >= 0; b--) {
      const x = b === 0 ? B.X0 : B[`e${b - 1}OUT`];
      this.blockBackward(prog, w, this.enc[b], B, `e${b}`, enc, x, B.dCur, p, { att: seeds.att[b], ff2: seeds.ff2[b] });
    }
    if (p > 0) prog.call('dropout', B.dCur, B.dCur, enc.T * d, p, seeds.emb, enc.t0 * d);
    prog.call('embed_bwd', this.tok.grads[w].ptr, this.posEnc.grads[w].ptr, B.dCur, B.encIds, B.encPos, enc.T, d, Math.sqrt(d));
  }

  private drawSeeds(rng: Rng): Seeds {
    const n = this.enc.length + this.dec.length;
    const u = (): number => rng.nextUint32();
    return { emb: u(), dec: u(), att: Array.from({ length: n }, u), ff1: Array.from({ length: n }, u), ff2: Array.from({ length: n }, u) };
  }

  /** Forward + backward of a batch; per-thread gradients left for the optimiser. Returns the mean loss per target code. */
  forwardBackward(batch: TigerBatch, rng: Rng | null): { loss: number; threadsUsed: number } {
    const n = this.enc.length + this.dec.length;
    const seeds = rng ? this.drawSeeds(rng) : { emb: 0, dec: 0, att: new Array<number>(n).fill(0), ff1: new Array<number>(n).fill(0), ff2: new Array<number>(n).fill(0) };
    const p = rng ? this.cfg.dropout : 0;
    const Td = this.vocab.m * batch.nSeq;
    this.engine.run(this.prepare());
    const shards = this.shards(batch);
    const programs: Program[] = [];
    const lossPtrs: number[] = [];
    shards.forEach(({ sh, enc, cat, B }, w) => {
      new Float64Array(this.engine.memory.buffer, B.loss, 1)[0] = 0;
      const prog = this.engine.program();
      this.recordForward(prog, B, enc, cat, batch.encOff, sh.s0, p, rng ? seeds : null);
      this.recordBackward(prog, w, B, enc, cat, batch.encOff, sh.s0, 1 / Td, p, seeds);
      programs.push(prog);
      lossPtrs.push(B.loss);
    });
    return { loss: runShards(this.engine, programs, lossPtrs), threadsUsed: shards.length };
  }

  /** One Adam step on a batch; returns the mean loss. */
  trainStep(batch: TigerBatch, lr: number, rng: Rng): number {
    const { loss, threadsUsed } = this.forwardBackward(batch, rng);
    if (threadsUsed > 0) this.adam.step(lr, threadsUsed, new Map());
    this.version++;
    return loss;
  }

  /** Call after changing weights from outside (load, restore). */
  invalidate(): void {
    this.version++;
  }

  /**
   * The memory keys and values of every decoder block for each sequence of `batch` (inference, no
   * dropout), computed on the engine for the whole batch at once, threads in parallel: what the
   * JS beam decoder (./tiger-infer.ts) needs per user. The batch's decoder tokens do not matter
   * (memory rows come first under the causal mask).
   */
  memories(batch: TigerBatch): { L: number; K: Float32Array[]; V: Float32Array[] }[] {
    const d = this.cfg.hidden, m = this.vocab.m;
    this.engine.run(this.prepare());
    const shards = this.shards(batch);
    this.engine.runParallel(shards.map(({ sh, enc, cat, B }) => {
      const prog = this.engine.program();
      this.recordForward(prog, B, enc, cat, batch.encOff, sh.s0, 0, null);
      return prog;
    }));
    const out: { L: number; K: Float32Array[]; V: Float32Array[] }[] = [];
    for (const { sh, B } of shards) {
      const mem = this.engine.memory.buffer;
      const e0 = batch.encOff[sh.s0];
      for (let s = sh.s0; s < sh.s1; s++) {
        const L = batch.encOff[s + 1] - batch.encOff[s];
        const c = batch.encOff[s] - e0 + (s - sh.s0) * m; // first memory row in the shard's decoder stream
        const K: Float32Array[] = [], V: Float32Array[] = [];
        this.dec.forEach((_, b) => {
          const kv = new Float32Array(mem, B[`d${b}KV`] + 4 * c * 2 * d, L * 2 * d);
          const k = new Float32Array(L * d), v = new Float32Array(L * d);
          for (let r = 0; r < L; r++) {
            k.set(kv.subarray(r * 2 * d, r * 2 * d + d), r * d);
            v.set(kv.subarray(r * 2 * d + d, (r + 1) * 2 * d), r * d);
          }
          K.push(k);
          V.push(v);
        });
        out.push({ L, K, V });
      }
    }
    return out;
  }

  /**
   * Head logits of the decoder tokens of every sequence (m·nSeq × codeTokens), no dropout: the
   * engine's inference reference (tests compare the JS decoder with it).
   */
  logits(batch: TigerBatch): Float32Array {
    const d = this.cfg.hidden, V = this.vocab.codeTokens, m = this.vocab.m;
    this.engine.run(this.prepare());
    const out = new Float32Array(m * batch.nSeq * V);
    for (const { sh, enc, cat, B } of this.shards(batch)) {
      const prog = this.engine.program();
      this.recordForward(prog, B, enc, cat, batch.encOff, sh.s0, 0, null);
      const Td = m * (sh.s1 - sh.s0);
      this.head.forward(prog, { ptr: B.Fd, ld: d }, { ptr: B.Z, ld: V }, Td);
      this.engine.run(prog);
      out.set(new Float32Array(this.engine.memory.buffer, B.Z, Td * V), sh.s0 * m * V);
    }
    return out;
  }
}
