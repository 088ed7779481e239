/**
 * EASE — "Embarrassingly Shallow Autoencoders for Sparse Data" (Steck, WWW 2019).
 *
 * An item×item weight matrix B, learned in closed form:
 *   min_B ‖X − XB‖²_F + λ‖B‖²_F   subject to diag(B) = 0
 * With G = XᵀX + λI and P = G⁻¹ the solution is (Steck, eq. 8)
 *   B = I − P · diag(1 / diag(P)),   i.e. B_ij = −P_ij / P_jj (i ≠ j),  B_jj = 0.
 * A user's score for item j is Σ_{i ∈ history} B_ij — computed from the history row passed in,
 * so a user's newest events count at once.
 *
 * X is the binary train matrix (repeated events count once). The dense item×item matrices limit
 * the catalogue size; beyond it, fit fails with a hint instead of exhausting memory.
 */
import { totalmem } from 'node:os';
import type { Interactions } from '../data/types.ts';
import type { FitOptions, FitReport, Recommender } from './recommender.ts';
import type { ModelEntry } from './registry.ts';
import { readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { binaryRows, checkScoreArgs, secondsSince } from './cf/common.ts';
import { z } from 'zod';
import { parseConfig } from '../util/schema.ts';
import { gramInverse } from '../nn/linalg.ts';
import { progress } from '../util/progress.ts';
import { defaultEngine, type Buf, type Engine } from '../kernels/engine.ts';

/** Hyperparameters of {@link Ease}. */
export const EaseConfigSchema = z
  .object({
    lambda: z.number().positive().default(500).describe('L2 regularisation λ added to the diagonal of XᵀX (Steck uses a few hundred on ML-20M)'),
    maxMemoryGb: z.number().min(0).default(0).describe('largest memory (GiB) fit may use for its dense item×item matrices; 0 = 60% of RAM'),
  })
  .strict();
export type EaseConfig = z.infer<typeof EaseConfigSchema>;

/** Defaults: λ = 500 (the value the ML-1M protocol uses). */
export const EASE_DEFAULTS: EaseConfig = EaseConfigSchema.parse({});

/** Bytes fit needs for n items: G, its padded working copy and P (float64), plus B (float32). */
export function easeMemoryBytes(nItems: number): number {
  return nItems * nItems * (8 * 3 + 4);
}

/** The EASE model. */
export class Ease implements Recommender {
  readonly name = 'ease';
  readonly config: EaseConfig;
  /**
   * B row-major: row i is item i's contribution to every item's score. Kept in the kernel
   * engine's memory when it fits there, so scoring sums rows with the SIMD `add` kernel.
   */
  weights: Float32Array = new Float32Array(0);
  /** `weights` as an engine buffer (undefined when B did not fit in the engine's memory). */
  private engineB?: { engine: Engine; b: Buf; sum: Buf };
  private n = 0;
  private mark = new Int32Array(0);
  private stamp = 0;

  constructor(config: Record<string, unknown> = {}) {
    this.config = parseConfig('ease', EaseConfigSchema, config);
  }

  get nItems(): number {
    return this.n;
  }

  /** Fits B in closed form: Gram matrix from sparse rows, blocked SPD inverse, column scaling. */
  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    const t0 = performance.now();
    const n = train.nItems;
    const limit = this.config.maxMemoryGb > 0 ? this.config.maxMemoryGb * 2 ** 30 : 0.6 * totalmem();
    const need = easeMemoryBytes(n);
    if (need > limit) {
      throw new Error(
        `ease: ${n} items need ${(need / 2 ** 30).toFixed(1)} GiB for dense item×item matrices (limit ${(limit / 2 ** 30).toFixed(1)} GiB). ` +
          'Hint: keep the most popular items (k-core or top-N filtering), raise maxMemoryGb if RAM allows, or use itemknn, which stores a sparse top-k neighbourhood.',
      );
    }
    const bar = progress('ease', n, { enabled: options.progress, unit: 'items' });
    let last = 0;
    // P = (XᵀX + λI)⁻¹, the Gram matrix built straight into the inverse's workspace
    const p = gramInverse(binaryRows(train), this.config.lambda, {
      onBlock: (done) => {
        bar.tick(done - last);
        last = done;
        if (options.signal?.aborted) throw new Error('ease: fit aborted');
      },
    });
    bar.stop();
    const b = new Float32Array(n * n);
    const inv = new Float64Array(n);
    for (let j = 0; j < n; j++) inv[j] = -1 / p[j * n + j];
    for (let i = 0; i < n; i++) {
      const row = i * n;
      for (let j = 0; j < n; j++) b[row + j] = p[row + j] * inv[j];
      b[row + i] = 0;
    }
    this.setWeights(b, n);
    return { epochs: 0, seconds: secondsSince(t0), history: [] };
  }

  private setWeights(b: Float32Array, n: number): void {
    this.weights = b;
    this.engineB = undefined;
    if (n > 0) {
      try {
        const engine = defaultEngine();
        const inEngine = engine.f32(n * n, this);
        inEngine.a.set(b.subarray(0, n * n));
        this.engineB = { engine, b: inEngine, sum: engine.f32(n, this) };
        this.weights = inEngine.a;
      } catch {
        // The engine's memory is bounded (wasm32): a B too large for it is scored in JavaScript.
      }
    }
    this.n = n;
    this.mark = new Int32Array(n);
    this.stamp = 0;
  }

  /** score_j = Σ_{i ∈ distinct history items} B_ij. */
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    checkScoreArgs('ease', this.n, users, history, out);
    const n = this.n;
    const b = this.weights;
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      const o = r * n;
      out.fill(0, o, o + n);
      // A fresh stamp per user makes repeated history items count once, as in the binary X.
      const stamp = ++this.stamp;
      // Distinct history rows, added four at a time so `out` is read and written once per four rows.
      const rows: number[] = [];
      for (let p = history.offsets[u]; p < history.offsets[u + 1]; p++) {
        const i = history.items[p];
        if (this.mark[i] === stamp) continue;
        this.mark[i] = stamp;
        rows.push(i * n);
      }
      const kernel = this.engineB;
      if (kernel) {
        // The same sum of rows with the SIMD kernel (≈ 5× the JS loop on ML-1M's 3,416 items).
        const { engine, b, sum } = kernel;
        engine.k.zero(sum.ptr, n);
        for (const row of rows) engine.k.add(sum.ptr, sum.ptr, b.ptr + 4 * row, n);
        out.set(sum.a.subarray(0, n), o);
        continue;
      }
      let t = 0;
      for (; t + 4 <= rows.length; t += 4) {
        const r0 = rows[t];
        const r1 = rows[t + 1];
        const r2 = rows[t + 2];
        const r3 = rows[t + 3];
        for (let j = 0; j < n; j++) out[o + j] += b[r0 + j] + b[r1 + j] + b[r2 + j] + b[r3 + j];
      }
      for (; t < rows.length; t++) {
        const r0 = rows[t];
        for (let j = 0; j < n; j++) out[o + j] += b[r0 + j];
      }
    }
  }

  async save(dir: string): Promise<void> {
    await writeCheckpoint(dir, { name: this.name, config: this.config, nItems: this.n }, {
      B: { data: this.weights, shape: [this.n, this.n] },
    });
  }

  /** Loads a model written by {@link save}. */
  static async load(dir: string): Promise<Ease> {
    const { meta, tensors } = await readCheckpoint(dir);
    const model = new Ease(meta.config);
    const b = tensors.B;
    const n = meta.nItems;
    if (!b || !(b.data instanceof Float32Array) || b.data.length !== n * n) {
      throw new Error(`${dir}: ease checkpoint lacks a float32 "B" tensor of shape [${n}, ${n}]`);
    }
    model.setWeights(b.data, n);
    return model;
  }
}

/** Registry entry. */
export const easeEntry: ModelEntry = {
  name: 'ease',
  description: 'EASE (Steck 2019): closed-form item×item autoencoder',
  configSchema: EaseConfigSchema,
  sequential: false,
  create: (config) => new Ease(config),
  load: (dir) => Ease.load(dir),
};
