/**
 * The feature embedding of every CTR model: one table E [nFeatures × d] for all fields (global
 * feature ids), one first-order weight table w [nFeatures] and a global bias. It fills the field
 * matrix X [n × fields × d] of a batch:
 *
 *   slot f < F:   E[id_f]                                  (single-valued fields)
 *   slot F:       mean_{g ∈ genres} E[g]                   (multi-valued genres, an embedding bag)
 *   slot F + 1:   mean_j (E[item_j] + E[rating_j])         (behaviour sequence; zeros when empty;
 *                                                           DIN fills this slot itself)
 *   slots F + 2…: filled by the caller (knowledge vectors through the adaptor)
 *
 * and the first-order term lin = b + Σ_{f<F} w[id_f] + mean_g w[g]. Tables are updated lazily
 * (only rows a batch touched, as torch's SparseAdam); `l2` adds λ·E[row] to each touched row's
 * gradient once per step (DeepCTR's embedding regulariser).
 */
import type { Buf } from '../../kernels/engine.ts';
import type { Param, ParamSet } from '../../nn/params.ts';
import type { TouchedRows } from '../../nn/optim.ts';
import type { Rng } from '../../nn/rng.ts';
import type { CtrBatch, CtrSchema } from './batch.ts';

export class FieldEmbedding {
  readonly table: Param;
  readonly w: Param;
  readonly bias: Param;
  private readonly rowsE: Buf<Int32Array>;
  private readonly rowsW: Buf<Int32Array>;
  private readonly mark: Uint8Array;
  private readonly touched: number[] = [];

  constructor(params: ParamSet, readonly schema: CtrSchema, readonly d: number, readonly slots: number, readonly l2: number) {
    this.table = params.add('embedding.weight', [schema.nFeatures, d], { sparseRow: d, decay: false });
    this.w = params.add('linear.weight', [schema.nFeatures, 1], { sparseRow: 1, decay: false });
    this.bias = params.add('linear.bias', [1], { decay: false });
    this.rowsE = params.engine.i32(schema.nFeatures, this);
    this.rowsW = params.engine.i32(schema.nFeatures, this);
    this.mark = new Uint8Array(schema.nFeatures);
  }

  /** N(0, std²) embeddings (DeepCTR's init, std 1e-4 … 1e-2); zero first-order weights. */
  init(rng: Rng, std: number): void {
    const a = this.table.data.a;
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
  }

  /** Fills slots 0 … F (+ F+1 when `poolHistory`) of X [n × slots × d] and the first-order term `lin` [n]. */
  forward(b: CtrBatch, X: Float32Array, lin: Float32Array, poolHistory: boolean): void {
    const { d, slots } = this;
    const F = this.schema.nSingle;
    const E = this.table.data.a;
    const w = this.w.data.a;
    const b0 = this.bias.data.a[0];
    for (let r = 0; r < b.n; r++) {
      const row = r * slots * d;
      let s = b0;
      for (let f = 0; f < F; f++) {
        const id = b.cat[r * F + f];
        X.set(E.subarray(id * d, id * d + d), row + f * d);
        s += w[id];
      }
      const g0 = b.genreOff[r];
      const g1 = b.genreOff[r + 1];
      const xg = row + F * d;
      X.fill(0, xg, xg + d);
      if (g1 > g0) {
        const inv = 1 / (g1 - g0);
        for (let k = g0; k < g1; k++) {
          const id = b.genres[k];
          for (let j = 0; j < d; j++) X[xg + j] += E[id * d + j] * inv;
          s += w[id] * inv;
        }
      }
      lin[r] = s;
      if (poolHistory) {
        const h0 = b.histOff[r];
        const h1 = b.histOff[r + 1];
        const xh = row + (F + 1) * d;
        X.fill(0, xh, xh + d);
        if (h1 > h0) {
          const inv = 1 / (h1 - h0);
          for (let k = h0; k < h1; k++) {
            const it = b.histItem[k] * d;
            const rt = b.histRating[k] * d;
            for (let j = 0; j < d; j++) X[xh + j] += (E[it + j] + E[rt + j]) * inv;
          }
        }
      }
    }
  }

  /** Adds `scale`·g[0…d) to the gradient of embedding row `id`. */
  addRowGrad(id: number, g: Float32Array, goff: number, scale: number): void {
    const G = this.table.grads[0].a;
    const d = this.d;
    for (let j = 0; j < d; j++) G[id * d + j] += scale * g[goff + j];
    this.touch(id);
  }

  private touch(id: number): void {
    if (!this.mark[id]) {
      this.mark[id] = 1;
      this.touched.push(id);
    }
  }

  /** Back-propagates dX (slots 0 … F, and F+1 when the history was pooled here) and dLin into the tables. */
  backward(b: CtrBatch, dX: Float32Array, dLin: Float32Array, poolHistory: boolean): void {
    const { d, slots } = this;
    const F = this.schema.nSingle;
    const gw = this.w.grads[0].a;
    let db = 0;
    for (let r = 0; r < b.n; r++) {
      const row = r * slots * d;
      db += dLin[r];
      for (let f = 0; f < F; f++) {
        const id = b.cat[r * F + f];
        this.addRowGrad(id, dX, row + f * d, 1);
        gw[id] += dLin[r];
      }
      const g0 = b.genreOff[r];
      const g1 = b.genreOff[r + 1];
      for (let k = g0; k < g1; k++) {
        const inv = 1 / (g1 - g0);
        this.addRowGrad(b.genres[k], dX, row + F * d, inv);
        gw[b.genres[k]] += dLin[r] * inv;
      }
      if (poolHistory) {
        const h0 = b.histOff[r];
        const h1 = b.histOff[r + 1];
        for (let k = h0; k < h1; k++) {
          const inv = 1 / (h1 - h0);
          this.addRowGrad(b.histItem[k], dX, row + (F + 1) * d, inv);
          this.addRowGrad(b.histRating[k], dX, row + (F + 1) * d, inv);
        }
      }
    }
    this.bias.grads[0].a[0] += db;
  }

  /**
   * The touched rows of both tables for Adam (sorted), after adding the L2 term to them; resets the
   * marks. The first-order table is touched on the same rows.
   */
  touchedRows(): Map<Param, TouchedRows> {
    const rows = this.touched.sort((x, y) => x - y);
    const n = rows.length;
    if (this.l2 > 0) {
      const E = this.table.data.a;
      const G = this.table.grads[0].a;
      const d = this.d;
      for (const id of rows) for (let j = 0; j < d; j++) G[id * d + j] += this.l2 * E[id * d + j];
    }
    this.rowsE.a.set(rows);
    this.rowsW.a.set(rows);
    for (const id of rows) this.mark[id] = 0;
    this.touched.length = 0;
    return new Map<Param, TouchedRows>([
      [this.table, { rows: this.rowsE, count: n }],
      [this.w, { rows: this.rowsW, count: n }],
    ]);
  }
}
