/**
 * Optimizers and schedules: Adam / AdamW (PyTorch semantics) with lazy row updates for embedding
 * tables, global-norm gradient clipping, linear warm-up + cosine decay. The optimizer also owns
 * the reduction of per-thread gradients (thread 0 + thread 1 + …, always in that order).
 */
import type { Buf } from '../kernels/engine.ts';
import type { Param, ParamSet } from './params.ts';

/** Adam hyperparameters. */
export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Weight decay (0 = none). Applied to parameters with `decay` only. */
  weightDecay: number;
  /** true = AdamW (decoupled decay p ← p − lr·wd·p); false = L2 added to the gradient (torch Adam). */
  decoupled: boolean;
  /** Clip the global gradient norm to this value (0 = no clipping). */
  clipNorm: number;
}

/** Defaults: torch.optim.Adam's, with SASRec's β₂ = 0.98. */
export const ADAM_DEFAULTS: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0, decoupled: false, clipNorm: 0 };

/** Rows touched this step of a lazily-updated table (sorted, distinct), in engine memory. */
export interface TouchedRows {
  rows: Buf<Int32Array>;
  count: number;
}

/** Adam over a {@link ParamSet}. */
export class Adam {
  /** Steps taken (the t of the bias corrections). */
  t = 0;
  constructor(private readonly params: ParamSet, readonly config: AdamConfig) {}

  /**
   * Reduces the per-thread gradients of `threadsUsed` threads, clips, updates every parameter
   * with learning rate `lr`, and zeroes the gradients. Sparse tables update only `touched` rows.
   * Returns the global gradient norm (before clipping).
   */
  step(lr: number, threadsUsed: number, touched: Map<Param, TouchedRows>): number {
    const k = this.params.engine.k;
    const c = this.config;
    this.t++;
    const bc1 = 1 - c.beta1 ** this.t;
    const bc2 = 1 - c.beta2 ** this.t;
    let sq = 0;
    for (const p of this.params.list) {
      const g0 = p.grads[0];
      const tr = p.sparseRow ? touched.get(p) : undefined;
      if (p.sparseRow && !tr) throw new Error(`Adam.step: no touched rows given for sparse parameter ${p.name}`);
      for (let w = 1; w < threadsUsed; w++) {
        if (tr) {
          k.add_rows(g0.ptr, p.grads[w].ptr, tr.rows.ptr, tr.count, p.sparseRow);
          k.zero_rows(p.grads[w].ptr, tr.rows.ptr, tr.count, p.sparseRow);
        } else {
          k.axpy(g0.ptr, p.grads[w].ptr, p.size, 1);
          k.zero(p.grads[w].ptr, p.size);
        }
      }
      sq += tr ? k.sumsq_rows(g0.ptr, tr.rows.ptr, tr.count, p.sparseRow) : k.sumsq(g0.ptr, p.size);
    }
    const norm = Math.sqrt(sq);
    const clip = c.clipNorm > 0 && norm > c.clipNorm ? c.clipNorm / (norm + 1e-6) : 1;
    for (const p of this.params.list) {
      const g0 = p.grads[0];
      const tr = p.sparseRow ? touched.get(p)! : undefined;
      const wd = p.decay ? c.weightDecay : 0;
      const mode = c.decoupled ? 1 : 0;
      if (tr) {
        if (clip !== 1) k.scale_rows(g0.ptr, tr.rows.ptr, tr.count, p.sparseRow, clip);
        k.adam_rows(p.data.ptr, g0.ptr, p.m.ptr, p.v.ptr, tr.rows.ptr, tr.count, p.sparseRow, lr, c.beta1, c.beta2, c.eps, wd, mode, bc1, bc2);
        k.zero_rows(g0.ptr, tr.rows.ptr, tr.count, p.sparseRow);
      } else {
        if (clip !== 1) k.scale(g0.ptr, p.size, clip);
        k.adam(p.data.ptr, g0.ptr, p.m.ptr, p.v.ptr, p.size, lr, c.beta1, c.beta2, c.eps, wd, mode, bc1, bc2);
        k.zero(g0.ptr, p.size);
      }
    }
    return norm;
  }
}

/** Learning-rate schedule: linear warm-up from 0 over `warmup` steps, then cosine decay to `minRatio`·base at `total`. */
export function warmupCosine(base: number, warmup: number, total: number, minRatio = 0): (step: number) => number {
  return (step: number): number => {
    if (warmup > 0 && step < warmup) return (base * (step + 1)) / warmup;
    if (total <= warmup) return base;
    const progress = Math.min(1, (step - warmup) / (total - warmup));
    return base * (minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
  };
}

/** Constant learning rate. */
export function constantLr(base: number): (step: number) => number {
  return () => base;
}
