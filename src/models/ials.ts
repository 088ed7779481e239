/**
 * iALS / WMF — "Collaborative Filtering for Implicit Feedback Datasets" (Hu, Koren & Volinsky,
 * ICDM 2008), with the tuning of "Revisiting the Performance of iALS on Item Recommendation
 * Benchmarks" (Rendle, Krichene, Zhang & Koren, RecSys 2022).
 *
 * Loss (Rendle 2022 eq. 3, with Hu's confidence on observed pairs):
 *   L = Σ_{(u,i)∈S} c_ui (p_u·q_i − 1)²  +  α₀ Σ_u Σ_i (p_u·q_i)²
 *       + λ Σ_u (Σ_{i∈S_u} c_ui + α₀|I|)^ν ‖p_u‖²  +  λ Σ_i (Σ_{u∈S_i} c_ui + α₀|U|)^ν ‖q_i‖²
 * with confidence c_ui = 1 + α·(r_ui − 1) for r_ui repeated events (α = 0: every pair weighs 1),
 * unobserved weight α₀ and frequency-scaled regularisation exponent ν (Rendle: ν = 1).
 *
 * Negative feedback (`FitOptions.negatives`, e.g. dislikes): a disliked pair is an observed 0 —
 * the term c⁻ (p_u·q_i − 0)² with confidence c⁻ = `negativeWeight`, on top of the α₀ term every
 * pair has — instead of an unobserved pair. A pair both clicked and disliked counts as disliked
 * (the explicit "no" wins). So each solve below adds c⁻ q_i q_iᵀ to the matrix and nothing to the
 * right-hand side: every observed pair k carries a target t_k (1 or 0) and the rhs is Σ c_k t_k y_k.
 *
 * Alternating least squares: with Q fixed, each p_u solves the d×d system
 *   (α₀ QᵀQ + Σ_{i∈S_u} c_ui q_i q_iᵀ + λ_u I) p_u = Σ_{i∈S_u} c_ui q_i,
 * where the Gramian QᵀQ is shared by all users (Hu's trick: cost O(|S_u|·d²), not O(|I|·d²)).
 * Solves are exact (Cholesky) or a few warm-started conjugate-gradient steps (Takács et al. 2011),
 * O(|S_u|·d + d²) each. Then the same for items with P fixed. One epoch = one user sweep + one
 * item sweep. Users unseen in training get the same exact solve from their history (fold-in), and
 * so do trained users whose history has changed since training (new feedback is in the very next
 * answer).
 */
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport } from './recommender.ts';
import type { ModelEntry } from './registry.ts';
import { Rng } from '../nn/rng.ts';
import { choleskyInPlace, choleskySolveInPlace } from '../nn/linalg.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import { normalFactors } from './cf/mf.ts';
import { foldInModeSchema, FactorModel } from './cf/factor.ts';
import { trainEpochs } from './cf/train.ts';

/** Hyperparameters of {@link Ials}. */
export const IalsConfigSchema = z
  .object({
    dim: z.number().int().positive().default(64).describe('factor dimension d'),
    epochs: z.number().int().positive().default(10),
    reg: z.number().positive().default(0.005).describe('regularisation λ (scaled by the frequency term when nu > 0)'),
    alpha0: z.number().min(0).default(0.1).describe('weight α₀ of the ŷ² term of every pair, observed or not'),
    alpha: z.number().min(0).default(0).describe('confidence slope α (Hu 2008): c = 1 + α·(repeats − 1)'),
    nu: z.number().min(0).default(1).describe('exponent ν of frequency-scaled regularisation (0 = plain λ)'),
    solver: z.enum(['cg', 'cholesky']).default('cg').describe('conjugate gradient (warm-started) or exact Cholesky solves'),
    cgSteps: z.number().int().positive().default(3).describe('conjugate-gradient steps per solve'),
    initStd: z.number().positive().default(0.1).describe('standard deviation of the initial factors (divided by √d)'),
    negativeWeight: z.number().min(0).default(1).describe('confidence c⁻ of a disliked pair (FitOptions.negatives), fitted towards 0; 0 ignores negatives'),
    foldIn: foldInModeSchema,
  })
  .strict();
export type IalsConfig = z.infer<typeof IalsConfigSchema>;

/** Defaults tuned on ML-1M (leave-one-out, full ranking). */
export const IALS_DEFAULTS: IalsConfig = IalsConfigSchema.parse({});

/** A sparse weighted matrix in CSR form (rows → columns with confidences and targets). */
interface WeightedCsr {
  offsets: Int32Array;
  cols: Int32Array;
  conf: Float32Array;
  /** 1 for a positive pair, 0 for a disliked one. */
  target: Float32Array;
}

/**
 * Collapses repeated events into (user, item, confidence, target) entries, in both orientations:
 * positives with c = 1 + α(r − 1) and target 1; `negatives` (when given and `negWeight` > 0) with
 * c = negWeight and target 0, replacing a positive entry of the same pair.
 */
function confidenceMatrices(train: Interactions, alpha: number, negatives?: Interactions, negWeight = 0): { byUser: WeightedCsr; byItem: WeightedCsr } {
  const { nUsers, nItems } = train;
  const offsets = new Int32Array(nUsers + 1);
  const cols: number[] = [];
  const conf: number[] = [];
  const target: number[] = [];
  const count = new Map<number, number>();
  const useNegatives = negatives !== undefined && negWeight > 0;
  for (let u = 0; u < nUsers; u++) {
    count.clear();
    for (let p = train.offsets[u]; p < train.offsets[u + 1]; p++) {
      const i = train.items[p];
      count.set(i, (count.get(i) ?? 0) + 1);
    }
    if (useNegatives && u < negatives.nUsers) {
      // -1 marks a disliked pair (it replaces a positive count of the same item).
      for (let p = negatives.offsets[u]; p < negatives.offsets[u + 1]; p++) count.set(negatives.items[p], -1);
    }
    for (const [i, r] of [...count].sort((a, b) => a[0] - b[0])) {
      cols.push(i);
      conf.push(r < 0 ? negWeight : 1 + alpha * (r - 1));
      target.push(r < 0 ? 0 : 1);
    }
    offsets[u + 1] = cols.length;
  }
  const byUser: WeightedCsr = { offsets, cols: Int32Array.from(cols), conf: Float32Array.from(conf), target: Float32Array.from(target) };
  const io = new Int32Array(nItems + 1);
  for (const i of byUser.cols) io[i + 1]++;
  for (let i = 0; i < nItems; i++) io[i + 1] += io[i];
  const fill = io.slice(0, nItems);
  const ic = new Int32Array(cols.length);
  const iw = new Float32Array(cols.length);
  const it = new Float32Array(cols.length);
  for (let u = 0; u < nUsers; u++) {
    for (let p = offsets[u]; p < offsets[u + 1]; p++) {
      const q = fill[byUser.cols[p]]++;
      ic[q] = u;
      iw[q] = byUser.conf[p];
      it[q] = byUser.target[p];
    }
  }
  return { byUser, byItem: { offsets: io, cols: ic, conf: iw, target: it } };
}

/** Gramian FᵀF (d×d, float64) of an n×d factor table. */
export function gramian(f: Float32Array, n: number, d: number): Float64Array {
  const g = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    const o = r * d;
    for (let a = 0; a < d; a++) {
      const fa = f[o + a];
      if (fa === 0) continue;
      for (let b = 0; b <= a; b++) g[a * d + b] += fa * f[o + b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) g[b * d + a] = g[a * d + b];
  return g;
}

/**
 * Solves one row's normal equations (A = α₀G + Σ c_k y_k y_kᵀ + λ_r I, rhs Σ c_k t_k y_k) for the
 * row's observed columns `cols[start..end)`, writing the solution into `x` (initial guess for CG).
 */
export class RowSolver {
  private readonly a: Float64Array;
  private readonly rhs: Float64Array;
  private readonly r: Float64Array;
  private readonly p: Float64Array;
  private readonly ap: Float64Array;

  constructor(private readonly d: number) {
    this.a = new Float64Array(d * d);
    this.rhs = new Float64Array(d);
    this.r = new Float64Array(d);
    this.p = new Float64Array(d);
    this.ap = new Float64Array(d);
  }

  /** A·v for the implicit matrix, into `out`. */
  private apply(v: Float64Array, out: Float64Array, g: Float64Array, alpha0: number, lam: number, y: Float32Array, m: WeightedCsr, start: number, end: number): void {
    const d = this.d;
    for (let a = 0; a < d; a++) {
      let s = 0;
      for (let b = 0; b < d; b++) s += g[a * d + b] * v[b];
      out[a] = alpha0 * s + lam * v[a];
    }
    for (let q = start; q < end; q++) {
      const o = m.cols[q] * d;
      let dot = 0;
      for (let k = 0; k < d; k++) dot += y[o + k] * v[k];
      dot *= m.conf[q];
      for (let k = 0; k < d; k++) out[k] += dot * y[o + k];
    }
  }

  /** Solves for one row; `x` (length d, row `xr` of `xs`) is read as the CG start and overwritten. */
  solve(
    xs: Float32Array,
    xr: number,
    y: Float32Array,
    g: Float64Array,
    m: WeightedCsr,
    start: number,
    end: number,
    alpha0: number,
    lam: number,
    solver: 'cg' | 'cholesky',
    cgSteps: number,
  ): void {
    const d = this.d;
    const { rhs, r, p, ap, a } = this;
    rhs.fill(0);
    for (let q = start; q < end; q++) {
      const o = m.cols[q] * d;
      const c = m.conf[q] * m.target[q];
      if (c === 0) continue;
      for (let k = 0; k < d; k++) rhs[k] += c * y[o + k];
    }
    const xo = xr * d;
    if (solver === 'cholesky') {
      for (let k = 0; k < d * d; k++) a[k] = alpha0 * g[k];
      for (let k = 0; k < d; k++) a[k * d + k] += lam;
      for (let q = start; q < end; q++) {
        const o = m.cols[q] * d;
        const c = m.conf[q];
        for (let s = 0; s < d; s++) {
          const ys = c * y[o + s];
          for (let t = 0; t <= s; t++) a[s * d + t] += ys * y[o + t];
        }
      }
      choleskyInPlace(a, d);
      choleskySolveInPlace(a, d, rhs);
      for (let k = 0; k < d; k++) xs[xo + k] = rhs[k];
      return;
    }
    // Conjugate gradient from the current x.
    const x = this.a; // reuse as a float64 copy of x (first d slots)
    for (let k = 0; k < d; k++) x[k] = xs[xo + k];
    this.apply(x, ap, g, alpha0, lam, y, m, start, end);
    let rr = 0;
    for (let k = 0; k < d; k++) {
      r[k] = rhs[k] - ap[k];
      p[k] = r[k];
      rr += r[k] * r[k];
    }
    for (let it = 0; it < cgSteps && rr > 1e-20; it++) {
      this.apply(p, ap, g, alpha0, lam, y, m, start, end);
      let pap = 0;
      for (let k = 0; k < d; k++) pap += p[k] * ap[k];
      const step = rr / pap;
      let rrNew = 0;
      for (let k = 0; k < d; k++) {
        x[k] += step * p[k];
        r[k] -= step * ap[k];
        rrNew += r[k] * r[k];
      }
      const beta = rrNew / rr;
      for (let k = 0; k < d; k++) p[k] = r[k] + beta * p[k];
      rr = rrNew;
    }
    for (let k = 0; k < d; k++) xs[xo + k] = x[k];
  }
}

/** iALS matrix factorisation. */
export class Ials extends FactorModel<IalsConfig> {
  readonly name = 'ials';
  /** Item Gramian, cached for fold-in. */
  private itemGram: Float64Array | null = null;
  /** Float32 scratch for fold-in solves (the solver writes float32 rows, as in training). */
  private foldVec = new Float32Array(0);

  constructor(config: Record<string, unknown> = {}) {
    super(parseConfig('ials', IalsConfigSchema, config));
  }

  /** λ_r = λ (Σ c + α₀ · other-side count)^ν. */
  private rowReg(confSum: number, otherCount: number): number {
    return this.config.reg * (confSum + this.config.alpha0 * otherCount) ** this.config.nu;
  }

  /** Alternating exact/CG solves; the reported loss is L / number of observed pairs. */
  protected async fitFactors(train: Interactions, options: FitOptions): Promise<FitReport> {
    const { dim: d, epochs, alpha0, alpha, solver, cgSteps, initStd } = this.config;
    const rng = new Rng(options.seed);
    const nU = train.nUsers;
    const nI = train.nItems;
    this.begin(train);
    // Rendle 2022 initialises with small normal noise scaled by 1/√d.
    this.users = normalFactors(rng, nU, d, initStd / Math.sqrt(d));
    this.items = normalFactors(rng, nI, d, initStd / Math.sqrt(d));
    const { byUser, byItem } = confidenceMatrices(train, alpha, options.negatives, this.config.negativeWeight);
    const rowConf = (m: WeightedCsr, r: number): number => {
      let s = 0;
      for (let q = m.offsets[r]; q < m.offsets[r + 1]; q++) s += m.conf[q];
      return s;
    };
    const userReg = Float64Array.from({ length: nU }, (_, u) => this.rowReg(rowConf(byUser, u), nI));
    const itemReg = Float64Array.from({ length: nI }, (_, i) => this.rowReg(rowConf(byItem, i), nU));
    const solverRow = new RowSolver(d);
    const nObs = Math.max(1, byUser.cols.length);
    const report = await trainEpochs('ials', epochs, options, () => {
      const gq = gramian(this.items, nI, d);
      for (let u = 0; u < nU; u++) {
        solverRow.solve(this.users, u, this.items, gq, byUser, byUser.offsets[u], byUser.offsets[u + 1], alpha0, userReg[u], solver, cgSteps);
      }
      const gp = gramian(this.users, nU, d);
      for (let i = 0; i < nI; i++) {
        solverRow.solve(this.items, i, this.users, gp, byItem, byItem.offsets[i], byItem.offsets[i + 1], alpha0, itemReg[i], solver, cgSteps);
      }
      return this.loss(byUser, userReg, itemReg) / nObs;
    });
    this.itemGram = null;
    return report;
  }

  /** The full objective L (Gramian form for the α₀ term: α₀ Σ_u p_uᵀ (QᵀQ) p_u). */
  private loss(m: WeightedCsr, userReg: Float64Array, itemReg: Float64Array): number {
    const d = this.config.dim;
    const { alpha0 } = this.config;
    const nU = userReg.length;
    const gq = gramian(this.items, this.n, d);
    let l = 0;
    for (let u = 0; u < nU; u++) {
      const o = u * d;
      let quad = 0;
      let norm = 0;
      for (let a = 0; a < d; a++) {
        let s = 0;
        for (let b = 0; b < d; b++) s += gq[a * d + b] * this.users[o + b];
        quad += this.users[o + a] * s;
        norm += this.users[o + a] ** 2;
      }
      l += alpha0 * quad + userReg[u] * norm;
      for (let q = m.offsets[u]; q < m.offsets[u + 1]; q++) {
        let y = 0;
        const io = m.cols[q] * d;
        for (let k = 0; k < d; k++) y += this.users[o + k] * this.items[io + k];
        l += m.conf[q] * (y - m.target[q]) ** 2;
      }
    }
    for (let i = 0; i < this.n; i++) {
      let norm = 0;
      for (let k = 0; k < d; k++) norm += this.items[i * d + k] ** 2;
      l += itemReg[i] * norm;
    }
    return l;
  }

  /** Users unseen in training get the exact least-squares fold-in from their history. */
  protected override foldInUnseen(history: Interactions, u: number, vec: Float64Array): void {
    if (this.foldVec.length !== this.config.dim) this.foldVec = new Float32Array(this.config.dim);
    this.foldIn(history, u, this.foldVec);
    vec.set(this.foldVec);
  }

  /** A trained user with new events: the same exact solve (Hu 2008, eq. 4), from the history given. */
  protected foldInKnown(history: Interactions, u: number, vec: Float64Array): void {
    this.foldInUnseen(history, u, vec);
  }

  /** Exact solve of the user's normal equations given the item factors (Hu 2008, eq. 4). */
  foldIn(history: Interactions, u: number, vec: Float32Array): void {
    const d = this.config.dim;
    const single: Interactions = {
      nUsers: 1,
      nItems: this.n,
      offsets: Int32Array.of(0, history.offsets[u + 1] - history.offsets[u]),
      items: history.items.subarray(history.offsets[u], history.offsets[u + 1]),
      times: history.times.subarray(history.offsets[u], history.offsets[u + 1]),
    };
    const { byUser } = confidenceMatrices(single, this.config.alpha);
    let confSum = 0;
    for (let q = 0; q < byUser.cols.length; q++) confSum += byUser.conf[q];
    this.itemGram ??= gramian(this.items, this.n, d);
    vec.fill(0);
    new RowSolver(d).solve(vec, 0, this.items, this.itemGram, byUser, 0, byUser.cols.length, this.config.alpha0, this.rowReg(confSum, this.n), 'cholesky', 1);
  }

  protected override restored(): void {
    this.itemGram = null;
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<Ials> {
    return FactorModel.loadInto(dir, (config) => new Ials(config));
  }
}

/** Registry entry. */
export const ialsEntry: ModelEntry = {
  name: 'ials',
  description: 'iALS / WMF (Hu 2008; Rendle 2022 tuning): weighted ALS with CG or exact solves',
  configSchema: IalsConfigSchema,
  sequential: false,
  create: (config) => new Ials(config),
  load: (dir) => Ials.load(dir),
};
