/**
 * Parameters of the tape re-rankers: named float64 matrices, their initialisation, Adam, and
 * snapshots (the best-on-validation weights are kept while training).
 */
import { Rng } from '../../util/rng.ts';
import type { Param, Tape, V } from './tape.ts';

/** Adam settings (Kingma & Ba). */
export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 penalty added to the gradient (coupled, as torch.optim.Adam's weight_decay). */
  weightDecay: number;
}

export const ADAM: AdamOptions = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** A model's parameters. */
export class ParamStore {
  readonly list: Param[] = [];
  private readonly byName = new Map<string, Param>();
  private m: Float64Array[] = [];
  private v: Float64Array[] = [];
  private t = 0;

  constructor(private readonly rng: Rng) {}

  /** A new [rows × cols] parameter, N(0, std²) (std 0: zeros). */
  add(name: string, rows: number, cols: number, std: number): Param {
    if (this.byName.has(name)) throw new Error(`ParamStore: ${name} twice`);
    const p: Param = { name, rows, cols, data: Float64Array.from({ length: rows * cols }, () => (std > 0 ? std * this.rng.normal() : 0)), grad: new Float64Array(rows * cols) };
    this.list.push(p);
    this.byName.set(name, p);
    this.m.push(new Float64Array(rows * cols));
    this.v.push(new Float64Array(rows * cols));
    return p;
  }

  /** A weight matrix with Xavier-normal init (std √(2/(in + out))). */
  weight(name: string, inF: number, outF: number): Param {
    return this.add(name, inF, outF, Math.sqrt(2 / (inF + outF)));
  }

  get(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new Error(`ParamStore: no parameter ${name}`);
    return p;
  }

  zeroGrad(): void {
    for (const p of this.list) p.grad.fill(0);
  }

  /** One Adam step on the accumulated gradients, which it then zeroes. */
  step(o: AdamOptions): void {
    this.t++;
    const c1 = 1 - o.beta1 ** this.t, c2 = 1 - o.beta2 ** this.t;
    this.list.forEach((p, k) => {
      const m = this.m[k], v = this.v[k];
      for (let i = 0; i < p.data.length; i++) {
        const g = p.grad[i] + o.weightDecay * p.data[i];
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
        p.data[i] -= (o.lr * m[i] / c1) / (Math.sqrt(v[i] / c2) + o.eps);
      }
    });
    this.zeroGrad();
  }

  /** Copies of every parameter's values. */
  snapshot(): Float64Array[] {
    return this.list.map((p) => p.data.slice());
  }

  restore(s: Float64Array[]): void {
    this.list.forEach((p, k) => p.data.set(s[k]));
  }
}

/** x·W + b for a [rows × in] x, with W [in × out] and b [1 × out]. */
export function affine(t: Tape, x: V, w: Param, b: Param): V {
  return t.add(t.matmul(x, t.param(w)), t.param(b));
}

/** A two-layer perceptron (ReLU hidden) mapping [rows × in] to [rows × out]. */
export class Mlp2 {
  private readonly w1: Param;
  private readonly b1: Param;
  private readonly w2: Param;
  private readonly b2: Param;

  constructor(ps: ParamStore, name: string, inF: number, hidden: number, outF: number) {
    this.w1 = ps.weight(`${name}.w1`, inF, hidden);
    this.b1 = ps.add(`${name}.b1`, 1, hidden, 0);
    this.w2 = ps.weight(`${name}.w2`, hidden, outF);
    this.b2 = ps.add(`${name}.b2`, 1, outF, 0);
  }

  forward(t: Tape, x: V): V {
    return affine(t, t.relu(affine(t, x, this.w1, this.b1)), this.w2, this.b2);
  }
}

/**
 * Scaled dot-product attention of queries over keys (single head): softmax(Q·Wq·(K·Wk)ᵀ/√d)·K·Wv.
 * Target attention when Q are the candidates and K a set of history items; self-attention when
 * Q = K.
 */
export class Attention {
  private readonly wq: Param;
  private readonly wk: Param;
  private readonly wv: Param;

  constructor(ps: ParamStore, name: string, readonly d: number) {
    this.wq = ps.weight(`${name}.wq`, d, d);
    this.wk = ps.weight(`${name}.wk`, d, d);
    this.wv = ps.weight(`${name}.wv`, d, d);
  }

  forward(t: Tape, q: V, k: V): V {
    const s = t.scale(t.matmulBT(t.matmul(q, t.param(this.wq)), t.matmul(k, t.param(this.wk))), 1 / Math.sqrt(this.d));
    return t.matmul(t.softmaxRows(s), t.matmul(k, t.param(this.wv)));
  }
}
