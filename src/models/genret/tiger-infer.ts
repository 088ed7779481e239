/**
 * Inference of the TIGER network in plain JS (float32 arrays, one user at a time), so beam search
 * can decode a few tokens per beam without re-running the whole sequence: the encoder and the
 * decoder's memory rows are computed once per user (their keys and values cached per decoder
 * block), then each beam's decoder rows attend to that cache and to themselves. The same math as
 * the engine's recorded forward in ./tiger-net.ts (which the tests check it against).
 */
import type { TigerNet } from './tiger-net.ts';

/** y[r] = b[r] + Σ_c W[r, c]·x[c] for W [out × in] at row offset `row0` (a row slice of a larger matrix). */
function affine(W: Float32Array, b: Float32Array | null, row0: number, out: number, inF: number, x: Float32Array, xo: number, y: Float32Array, yo: number): void {
  for (let r = 0; r < out; r++) {
    let s = b ? b[row0 + r] : 0;
    const wo = (row0 + r) * inF;
    for (let c = 0; c < inF; c++) s += W[wo + c] * x[xo + c];
    y[yo + r] = s;
  }
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function layerNorm(x: Float32Array, xo: number, d: number, g: Float32Array, b: Float32Array, eps: number, y: Float32Array, yo: number): void {
  let mu = 0;
  for (let j = 0; j < d; j++) mu += x[xo + j];
  mu /= d;
  let v = 0;
  for (let j = 0; j < d; j++) v += (x[xo + j] - mu) ** 2;
  const r = 1 / Math.sqrt(v / d + eps);
  for (let j = 0; j < d; j++) y[yo + j] = (x[xo + j] - mu) * r * g[j] + b[j];
}

/** Block weights as plain arrays. */
interface BlockW {
  ln1g: Float32Array; ln1b: Float32Array; inW: Float32Array; inB: Float32Array; outW: Float32Array; outB: Float32Array;
  ln2g: Float32Array; ln2b: Float32Array; f1W: Float32Array; f1B: Float32Array; f2W: Float32Array; f2B: Float32Array;
}

/** Keys and values of the memory rows for each decoder block (L × d each). */
export interface TigerMemory {
  L: number;
  K: Float32Array[];
  V: Float32Array[];
}

/** A decoded prefix: each decoder block's keys and values of its rows [BOS, c₁, …] (rows × d each). */
export interface DecoderState {
  rows: number;
  K: Float32Array[];
  V: Float32Array[];
}

/** The JS decoder bound to a network's current weights (make a new one after training steps). */
export class TigerDecoder {
  private readonly d: number;
  private readonly dh: number;
  private readonly enc: BlockW[];
  private readonly dec: BlockW[];

  constructor(private readonly net: TigerNet) {
    this.d = net.cfg.hidden;
    this.dh = this.d / net.cfg.heads;
    const w = (b: TigerNet['enc'][number]): BlockW => ({
      ln1g: b.ln1.weight.data.a, ln1b: b.ln1.bias.data.a, inW: b.att.inProj.data.a, inB: b.att.inBias.data.a,
      outW: b.att.out.weight.data.a, outB: b.att.out.bias!.data.a, ln2g: b.ln2.weight.data.a, ln2b: b.ln2.bias.data.a,
      f1W: b.ff1.weight.data.a, f1B: b.ff1.bias!.data.a, f2W: b.ff2.weight.data.a, f2B: b.ff2.bias!.data.a,
    });
    this.enc = net.enc.map(w);
    this.dec = net.dec.map(w);
  }

  private embed(ids: ArrayLike<number>, pos: Float32Array, posIdx: ArrayLike<number>): Float32Array {
    const d = this.d, E = this.net.tok.data.a, s = Math.sqrt(d);
    const X = new Float32Array(ids.length * d);
    for (let t = 0; t < ids.length; t++) for (let j = 0; j < d; j++) X[t * d + j] = E[ids[t] * d + j] * s + pos[posIdx[t] * d + j];
    return X;
  }

  /**
   * Attention of query rows (Q, n × d) over keys/values (K, V, nk × d); query row i sees keys
   * 0..visible(i)−1. Output A (n × d, heads concatenated).
   */
  private attend(Q: Float32Array, n: number, K: Float32Array[], V: Float32Array[], visible: (i: number) => number): Float32Array {
    const { d, dh } = this;
    const heads = d / dh, scale = 1 / Math.sqrt(dh);
    const A = new Float32Array(n * d);
    const lens = K.map((k) => k.length / d);
    const total = lens.reduce((a, b) => a + b, 0);
    const s = new Float64Array(total);
    for (let i = 0; i < n; i++) {
      const vis = visible(i);
      for (let h = 0; h < heads; h++) {
        const qo = i * d + h * dh;
        let mx = -Infinity, j = 0;
        for (let part = 0; part < K.length && j < vis; part++) {
          const Kp = K[part];
          for (let r = 0; r < lens[part] && j < vis; r++, j++) {
            let dot = 0;
            for (let c = 0; c < dh; c++) dot += Q[qo + c] * Kp[r * d + h * dh + c];
            s[j] = dot * scale;
            if (s[j] > mx) mx = s[j];
          }
        }
        let sum = 0;
        for (let t = 0; t < vis; t++) sum += s[t] = Math.exp(s[t] - mx);
        j = 0;
        for (let part = 0; part < V.length && j < vis; part++) {
          const Vp = V[part];
          for (let r = 0; r < lens[part] && j < vis; r++, j++) {
            const wgt = s[j] / sum;
            for (let c = 0; c < dh; c++) A[qo + c] += wgt * Vp[r * d + h * dh + c];
          }
        }
      }
    }
    return A;
  }

  /**
   * One pre-LN block over rows X (n × d, updated in place). Keys/values: `prefixK/V` (cached
   * rows before these) followed by these rows' own; row i sees all prefix rows and own rows 0..i
   * when `causal`, every row otherwise. Returns this block's K and V of the rows. `skipOutput`:
   * only K and V are needed (the last decoder block over memory rows).
   */
  private block(w: BlockW, X: Float32Array, n: number, prefixK: Float32Array[], prefixV: Float32Array[], causal: boolean,
    skipOutput = false): { K: Float32Array; V: Float32Array } {
    const d = this.d, f = this.net.cfg.ffn, eps = this.net.cfg.lnEps;
    const H = new Float32Array(n * d), Q = new Float32Array(n * d), K = new Float32Array(n * d), V = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      layerNorm(X, i * d, d, w.ln1g, w.ln1b, eps, H, i * d);
      affine(w.inW, w.inB, d, d, d, H, i * d, K, i * d);
      affine(w.inW, w.inB, 2 * d, d, d, H, i * d, V, i * d);
    }
    if (skipOutput) return { K, V };
    for (let i = 0; i < n; i++) affine(w.inW, w.inB, 0, d, d, H, i * d, Q, i * d);
    const pl = prefixK.reduce((a, k) => a + k.length / d, 0);
    const A = this.attend(Q, n, [...prefixK, K], [...prefixV, V], (i) => (causal ? pl + i + 1 : pl + n));
    const t = new Float32Array(d), h2 = new Float32Array(d), hid = new Float32Array(f);
    for (let i = 0; i < n; i++) {
      affine(w.outW, w.outB, 0, d, d, A, i * d, t, 0);
      for (let j = 0; j < d; j++) X[i * d + j] += t[j];
      layerNorm(X, i * d, d, w.ln2g, w.ln2b, eps, h2, 0);
      affine(w.f1W, w.f1B, 0, f, d, h2, 0, hid, 0);
      for (let j = 0; j < f; j++) if (hid[j] < 0) hid[j] = 0;
      affine(w.f2W, w.f2B, 0, d, f, hid, 0, t, 0);
      for (let j = 0; j < d; j++) X[i * d + j] += t[j];
    }
    return { K, V };
  }

  /** Runs the encoder over one encoder token sequence and the decoder blocks over its memory rows. */
  memory(encIds: ArrayLike<number>): TigerMemory {
    const d = this.d, net = this.net;
    const L = encIds.length;
    const X = this.embed(encIds, net.posEnc.data.a, Array.from({ length: L }, (_, i) => i));
    for (const w of this.enc) this.block(w, X, L, [], [], false);
    const M = new Float32Array(L * d);
    for (let i = 0; i < L; i++) layerNorm(X, i * d, d, net.encLn.weight.data.a, net.encLn.bias.data.a, net.cfg.lnEps, M, i * d);
    const K: Float32Array[] = [], V: Float32Array[] = [];
    this.dec.forEach((w, b) => {
      const kv = this.block(w, M, L, [], [], true, b === this.dec.length - 1);
      K.push(kv.K);
      V.push(kv.V);
    });
    return { L, K, V };
  }

  /**
   * Extends a decoded prefix (`parent`, null for the empty one) by decoder token `token`: the new
   * row attends to the memory, the parent's cached rows and itself in every block. Returns the head
   * logits after it (the prediction of the next code) and the extended state. The incremental form
   * of {@link nextLogits}: beam search computes each beam's new row once.
   */
  extend(mem: TigerMemory, parent: DecoderState | null, token: number): { logits: Float32Array; state: DecoderState } {
    const d = this.d, net = this.net;
    const row = parent ? parent.rows : 0;
    const X = this.embed([token], net.posDec.data.a, [row]);
    const state: DecoderState = { rows: row + 1, K: [], V: [] };
    this.dec.forEach((w, b) => {
      // keys/values before this row: the memory's, then the parent's rows
      const kv = this.block(w, X, 1, parent ? [mem.K[b], parent.K[b]] : [mem.K[b]], parent ? [mem.V[b], parent.V[b]] : [mem.V[b]], true);
      state.K.push(parent ? concat(parent.K[b], kv.K) : kv.K);
      state.V.push(parent ? concat(parent.V[b], kv.V) : kv.V);
    });
    const h = new Float32Array(d);
    layerNorm(X, 0, d, net.decLn.weight.data.a, net.decLn.bias.data.a, net.cfg.lnEps, h, 0);
    const z = new Float32Array(net.vocab.codeTokens);
    affine(net.head.weight.data.a, net.head.bias!.data.a, 0, net.vocab.codeTokens, d, h, 0, z, 0);
    return { logits: z, state };
  }

  /**
   * Head logits (codeTokens) after the decoder tokens `dec` = [BOS, c₁, …, c_j] (token ids), given
   * the user's memory: the prediction of code j+1.
   */
  nextLogits(mem: TigerMemory, dec: ArrayLike<number>): Float32Array {
    const d = this.d, net = this.net;
    const n = dec.length;
    const X = this.embed(dec, net.posDec.data.a, Array.from({ length: n }, (_, i) => i));
    this.dec.forEach((w, b) => this.block(w, X, n, [mem.K[b]], [mem.V[b]], true));
    const h = new Float32Array(d);
    layerNorm(X, (n - 1) * d, d, net.decLn.weight.data.a, net.decLn.bias.data.a, net.cfg.lnEps, h, 0);
    const V = net.vocab.codeTokens;
    const z = new Float32Array(V);
    affine(net.head.weight.data.a, net.head.bias!.data.a, 0, V, d, h, 0, z, 0);
    return z;
  }
}
