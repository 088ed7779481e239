/**
 * RQ-VAE (residual-quantised variational auto-encoder) item tokeniser, as TIGER uses it (Rajput
 * et al., NeurIPS 2023, §3.1; Zeghidour et al.'s residual quantiser):
 *
 *   z = Enc(x)                               an MLP to a small latent (e.g. 512 → 256 → 128 → 32)
 *   r₀ = z;  for level l = 0..L−1:  c_l = argmin_k ‖r_l − C_l[k]‖²,  e_l = C_l[c_l],  r_{l+1} = r_l − e_l
 *   ẑ = Σ_l e_l  (= z − r_L);   x̂ = Dec(ẑ)   with the straight-through estimator (∂x̂/∂z := ∂x̂/∂ẑ)
 *   loss = ‖x − x̂‖² + Σ_l ( ‖sg[r_l] − e_l‖²  +  β‖r_l − sg[e_l]‖² ),  β = 0.25,  averaged over items
 *
 * The item's semantic ID is (c₀, …, c_{L−1}). The commitment term's gradient reaches the encoder
 * through each residual r_l (the earlier codewords inside r_l are constants there). Codebooks are
 * initialised by k-means on the residuals of the first batch, level by level (TIGER), and a code
 * that no item chose during an epoch is restarted at a random residual of its level (the usual
 * cure for dead codes). The MLPs run on the engine (./mlp.ts); quantisation is a nearest-neighbour
 * search in JS (L × K × latent per item: small).
 */
import { z } from 'zod';
import { defaultEngine, type Buf, type Engine } from '../../kernels/engine.ts';
import { ParamSet, type Param } from '../../nn/params.ts';
import { Adam } from '../../nn/optim.ts';
import { Rng } from '../../util/rng.ts';
import { parseConfig } from '../../util/schema.ts';
import { kmeans, nearest } from './kmeans.ts';
import { Mlp } from './mlp.ts';

/** Hyperparameters (defaults: TIGER's, except the optimiser: Adam instead of Adagrad 0.4). */
export const RQVAEConfigSchema = z.object({
  levels: z.number().int().min(1).max(8).default(3).describe('quantisation levels (codes per ID before the collision level)'),
  codebookSize: z.number().int().min(2).max(4096).default(256).describe('codes per level'),
  latent: z.number().int().positive().default(32).describe('latent width'),
  hidden: z.array(z.number().int().positive()).default([256, 128]).describe('hidden widths of the encoder (the decoder mirrors them)'),
  beta: z.number().min(0).default(0.25).describe('commitment weight β'),
  lr: z.number().positive().default(1e-3).describe('Adam learning rate'),
  epochs: z.number().int().nonnegative().default(200).describe('passes over the items'),
  batchSize: z.number().int().positive().default(1024).describe('items per step'),
  restartDead: z.boolean().default(true).describe('restart codes unused during an epoch at a random residual'),
  kmeansInit: z.boolean().default(true).describe('initialise each codebook by k-means on the first batch\'s residuals'),
}).strict();

/** RQ-VAE hyperparameters with defaults filled in. */
export type RQVAEConfig = z.infer<typeof RQVAEConfigSchema>;

/** Parses a partial config with errors naming the key. */
export function parseRQVAEConfig(config: Record<string, unknown>): RQVAEConfig {
  return parseConfig('rqvae', RQVAEConfigSchema, config);
}

/** One epoch of RQ-VAE training. */
export interface RQVAEEpoch {
  epoch: number;
  /** Mean reconstruction error ‖x − x̂‖² per item. */
  recon: number;
  /** Mean quantisation terms Σ_l (‖r_l − e_l‖²)(1 + β) per item. */
  quant: number;
  /** Codes restarted after this epoch (all levels). */
  restarts: number;
  /** Distinct codes used per level during the epoch. */
  used: number[];
}

/** What the quantiser did on one batch: codes and the values the gradients need. */
export interface Quantised {
  /** n × levels codes. */
  codes: Int32Array;
  /** ẑ = Σ_l e_l, n × latent. */
  zq: Float32Array;
  /** r_l for every level, levels × n × latent. */
  residuals: Float32Array;
}

/** The RQ-VAE on the engine: parameters, training, encoding. */
export class RQVAE {
  readonly cfg: RQVAEConfig;
  readonly engine: Engine;
  readonly params: ParamSet;
  readonly enc: Mlp;
  readonly dec: Mlp;
  readonly codebooks: Param[] = [];
  readonly adam: Adam;
  readonly history: RQVAEEpoch[] = [];
  private readonly xBuf: Buf;
  private readonly zqBuf: Buf;
  private readonly dzqBuf: Buf;
  private readonly dxBuf: Buf;
  private readonly dzBuf: Buf;

  constructor(config: Record<string, unknown>, readonly inDim: number) {
    this.cfg = parseRQVAEConfig(config);
    if (!(inDim >= 1)) throw new Error(`rqvae: input width must be ≥ 1, got ${inDim}`);
    const c = this.cfg;
    this.engine = defaultEngine();
    this.params = new ParamSet(this.engine, 1, this);
    const rows = c.batchSize;
    this.enc = new Mlp(this.params, 'encoder', [inDim, ...c.hidden, c.latent], rows, this);
    this.dec = new Mlp(this.params, 'decoder', [c.latent, ...[...c.hidden].reverse(), inDim], rows, this);
    for (let l = 0; l < c.levels; l++) this.codebooks.push(this.params.add(`codebook.${l}`, [c.codebookSize, c.latent], { decay: false }));
    this.adam = new Adam(this.params, { lr: c.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, clipNorm: 0 });
    const e = this.engine;
    this.xBuf = e.f32(rows * inDim, this);
    this.zqBuf = e.f32(rows * c.latent, this);
    this.dzqBuf = e.f32(rows * c.latent, this);
    this.dxBuf = e.f32(rows * inDim, this);
    this.dzBuf = e.f32(rows * c.latent, this);
  }

  /** Random init of the MLPs; codebooks random normal·0.1 until k-means replaces them. */
  init(rng: Rng): void {
    this.enc.init(rng);
    this.dec.init(rng);
    for (const C of this.codebooks) for (let i = 0; i < C.size; i++) C.data.a[i] = 0.1 * rng.normal();
  }

  /** z = Enc(x) for rows `rows` of `x` (n × inDim); returns a copy (n × latent). */
  encode(x: Float32Array, rows: Int32Array): Float32Array {
    const { latent } = this.cfg;
    const out = new Float32Array(rows.length * latent);
    const prog = this.engine.program();
    this.enc.prepare(prog);
    this.engine.run(prog);
    for (let s = 0; s < rows.length; s += this.cfg.batchSize) {
      const n = Math.min(this.cfg.batchSize, rows.length - s);
      this.load(x, rows.subarray(s, s + n));
      const p = this.engine.program();
      this.enc.forward(p, this.xBuf.ptr, n);
      this.engine.run(p);
      out.set(this.enc.output.a.subarray(0, n * latent), s * latent);
    }
    return out;
  }

  /** Residual quantisation of `n` latent rows with the current codebooks. */
  quantise(zs: Float32Array, n: number): Quantised {
    const { levels, latent, codebookSize } = this.cfg;
    const codes = new Int32Array(n * levels);
    const residuals = new Float32Array(levels * n * latent);
    const r = zs.slice(0, n * latent);
    for (let l = 0; l < levels; l++) {
      const C = this.codebooks[l].data.a;
      residuals.set(r, l * n * latent);
      for (let i = 0; i < n; i++) {
        const k = nearest(r, i, C, codebookSize, latent).index;
        codes[i * levels + l] = k;
        for (let t = 0; t < latent; t++) r[i * latent + t] -= C[k * latent + t];
      }
    }
    const zq = new Float32Array(n * latent);
    for (let i = 0; i < n * latent; i++) zq[i] = zs[i] - r[i];
    return { codes, zq, residuals };
  }

  /**
   * Loss of one batch (rows of x) and its gradients, left in each parameter's grads[0] (added to
   * what is there). Returns the mean reconstruction and quantisation terms and what was quantised.
   */
  lossAndGrads(x: Float32Array, rows: Int32Array): { recon: number; quant: number; q: Quantised } {
    const { latent, levels, beta } = this.cfg;
    const n = rows.length;
    const d = this.inDim;
    if (n > this.cfg.batchSize) throw new Error(`rqvae: batch of ${n} rows exceeds batchSize ${this.cfg.batchSize}`);
    this.load(x, rows);
    const e = this.engine;
    let prog = e.program();
    this.enc.prepare(prog);
    this.dec.prepare(prog);
    this.enc.forward(prog, this.xBuf.ptr, n);
    e.run(prog);
    const zs = this.enc.output.a.slice(0, n * latent);
    const q = this.quantise(zs, n);
    this.zqBuf.a.set(q.zq);
    prog = e.program();
    this.dec.forward(prog, this.zqBuf.ptr, n);
    e.run(prog);
    // reconstruction: mean over items of ‖x − x̂‖²
    const xh = this.dec.output.a, xb = this.xBuf.a, dx = this.dxBuf.a;
    let recon = 0;
    for (let i = 0; i < n * d; i++) {
      const diff = xh[i] - xb[i];
      recon += diff * diff;
      dx[i] = (2 * diff) / n;
    }
    prog = e.program();
    this.dec.backward(prog, this.zqBuf.ptr, this.dxBuf.ptr, this.dzqBuf.ptr, n);
    e.run(prog);
    // quantisation terms; dz = dẑ (straight-through) + Σ_l 2β(r_l − e_l)/n
    const dz = this.dzBuf.a;
    dz.set(this.dzqBuf.a.subarray(0, n * latent));
    let quant = 0;
    for (let l = 0; l < levels; l++) {
      const C = this.codebooks[l].data.a, gC = this.codebooks[l].grads[0].a;
      for (let i = 0; i < n; i++) {
        const k = q.codes[i * levels + l];
        const rOff = (l * n + i) * latent;
        for (let t = 0; t < latent; t++) {
          const diff = q.residuals[rOff + t] - C[k * latent + t]; // r_l − e_l
          quant += (1 + beta) * diff * diff;
          gC[k * latent + t] -= (2 * diff) / n;
          dz[i * latent + t] += (2 * beta * diff) / n;
        }
      }
    }
    prog = e.program();
    this.enc.backward(prog, this.xBuf.ptr, this.dzBuf.ptr, null, n);
    e.run(prog);
    return { recon: recon / n, quant: quant / n, q };
  }

  /** k-means initialisation of every codebook on the residuals of `rows`, level by level. */
  initCodebooks(x: Float32Array, rows: Int32Array, rng: Rng): void {
    const { latent, levels, codebookSize } = this.cfg;
    const n = rows.length;
    const r = this.encode(x, rows);
    for (let l = 0; l < levels; l++) {
      const km = kmeans(r, n, latent, codebookSize, rng, 25);
      this.codebooks[l].data.a.set(km.centroids);
      for (let i = 0; i < n; i++) {
        const k = km.assign[i];
        for (let t = 0; t < latent; t++) r[i * latent + t] -= km.centroids[k * latent + t];
      }
    }
  }

  /**
   * Trains on the `n` rows of `x` (n × inDim). `onEpoch` sees each epoch's record (progress,
   * logging). Deterministic for a given seed.
   */
  fit(x: Float32Array, n: number, seed: number, onEpoch?: (e: RQVAEEpoch) => void): RQVAEEpoch[] {
    if (x.length !== n * this.inDim) throw new Error(`rqvae: expected ${n}×${this.inDim} input values, got ${x.length}`);
    const c = this.cfg;
    const rng = new Rng(seed);
    this.init(rng);
    const order = Int32Array.from({ length: n }, (_, i) => i);
    rng.shuffle(order);
    if (c.kmeansInit) this.initCodebooks(x, order.subarray(0, Math.min(n, c.batchSize)), rng);
    for (let epoch = 1; epoch <= c.epochs; epoch++) {
      rng.shuffle(order);
      const counts = this.codebooks.map(() => new Int32Array(c.codebookSize));
      let recon = 0, quant = 0;
      let last: { q: Quantised; n: number } | null = null;
      for (let s = 0; s < n; s += c.batchSize) {
        const rows = order.subarray(s, Math.min(n, s + c.batchSize));
        const out = this.lossAndGrads(x, rows);
        this.adam.step(c.lr, 1, new Map());
        recon += out.recon * rows.length;
        quant += out.quant * rows.length;
        for (let i = 0; i < rows.length; i++) for (let l = 0; l < c.levels; l++) counts[l][out.q.codes[i * c.levels + l]]++;
        last = { q: out.q, n: rows.length };
      }
      const used = counts.map((cnt) => cnt.reduce((a, v) => a + (v > 0 ? 1 : 0), 0));
      const restarts = c.restartDead && last && epoch < c.epochs ? this.restartDead(counts, last.q, last.n, rng) : 0;
      const rec: RQVAEEpoch = { epoch, recon: recon / n, quant: quant / n, restarts, used };
      this.history.push(rec);
      onEpoch?.(rec);
    }
    return this.history;
  }

  /** Moves every code no item chose to a random residual of its level (from the last batch); resets its Adam moments. */
  private restartDead(counts: Int32Array[], q: Quantised, n: number, rng: Rng): number {
    const { latent } = this.cfg;
    let restarts = 0;
    counts.forEach((cnt, l) => {
      const C = this.codebooks[l];
      for (let k = 0; k < cnt.length; k++) {
        if (cnt[k] > 0) continue;
        const i = rng.int(n);
        C.data.a.set(q.residuals.subarray((l * n + i) * latent, (l * n + i + 1) * latent), k * latent);
        C.m.a.fill(0, k * latent, (k + 1) * latent);
        C.v.a.fill(0, k * latent, (k + 1) * latent);
        restarts++;
      }
    });
    return restarts;
  }

  /** Codes (n × levels) of all `n` rows of `x`, and the mean squared quantisation error of the latent. */
  codesOf(x: Float32Array, n: number): { codes: Int32Array; latentError: number } {
    const rows = Int32Array.from({ length: n }, (_, i) => i);
    const zs = this.encode(x, rows);
    const q = this.quantise(zs, n);
    let err = 0;
    for (let i = 0; i < zs.length; i++) err += (zs[i] - q.zq[i]) ** 2;
    return { codes: q.codes, latentError: err / n };
  }

  private load(x: Float32Array, rows: Int32Array): void {
    const d = this.inDim, xb = this.xBuf.a;
    for (let i = 0; i < rows.length; i++) xb.set(x.subarray(rows[i] * d, (rows[i] + 1) * d), i * d);
  }
}
