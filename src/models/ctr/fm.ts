/**
 * Factorization machine (Rendle 2010) over field embeddings:
 *
 *   z = b + Σ_f w[id_f] + Σ_{f<f'} ⟨x_f, x_f'⟩,   Σ_{f<f'} ⟨x_f, x_f'⟩ = ½ Σ_j [(Σ_f x_fj)² − Σ_f x_fj²]
 *
 * (Rendle's O(kn) identity). Fields are every slot of X: single-valued features, the genre bag,
 * the pooled history and, with knowledge, r̂_u and f̂_i. ∂/∂x_fj = Σ_f' x_f'j − x_fj.
 */
import type { Buf } from '../../kernels/engine.ts';
import type { CtrBatch } from './batch.ts';
import type { CtrHead, HeadContext } from './net.ts';

/** The FM pairwise term of each row of X [n × slots × d], and its gradient. */
export class FmInteraction {
  constructor(readonly slots: number, readonly d: number) {}

  forward(X: Float32Array, n: number): Float32Array {
    const { slots, d } = this;
    const z = new Float32Array(n);
    const sum = this.sums();
    for (let r = 0; r < n; r++) {
      const sq = this.fieldSums(X, r, slots, sum);
      let s = 0;
      for (let j = 0; j < d; j++) s += sum[j] * sum[j];
      z[r] = 0.5 * (s - sq);
    }
    return z;
  }

  /**
   * The FM term when two more fields u_r, v_r (rows of `U`, `V` [· × d] picked by `ui`, `vi`)
   * join the first `used` slots of each row of X (row stride `slots`):
   * FM(X ∪ {u, v}) = FM(X) + ⟨u + v, Σ_f x_f⟩ + ⟨u, v⟩ — what serving with pre-stored knowledge computes.
   */
  forwardWith(X: Float32Array, n: number, used: number, U: Float32Array, ui: Int32Array, V: Float32Array, vi: Int32Array): Float32Array {
    const { d } = this;
    const z = new Float32Array(n);
    const sum = this.sums();
    for (let r = 0; r < n; r++) {
      const sq = this.fieldSums(X, r, used, sum);
      const ou = ui[r] * d;
      const ov = vi[r] * d;
      let s = 0;
      for (let j = 0; j < d; j++) {
        const u = U[ou + j];
        const v = V[ov + j];
        s += 0.5 * sum[j] * sum[j] + (u + v) * sum[j] + u * v;
      }
      z[r] = s - 0.5 * sq;
    }
    return z;
  }

  /**
   * Σ_f x_f over the first `fields` slots of row r into `sum`, and returns Σ_f ‖x_f‖². Field-major,
   * so X is read in memory order.
   */
  private fieldSums(X: Float32Array, r: number, fields: number, sum: Float64Array): number {
    const { slots, d } = this;
    sum.fill(0);
    let sq = 0;
    for (let f = 0; f < fields; f++) {
      const o = (r * slots + f) * d;
      for (let j = 0; j < d; j++) {
        const x = X[o + j];
        sum[j] += x;
        sq += x * x;
      }
    }
    return sq;
  }

  private sumBuf: Float64Array | null = null;
  private sums(): Float64Array {
    return (this.sumBuf ??= new Float64Array(this.d));
  }

  /** dX += dz · (Σ_f' x_f' − x_f). */
  backward(X: Float32Array, dZ: Float32Array, dX: Float32Array, n: number): void {
    const { slots, d } = this;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < d; j++) {
        let sum = 0;
        for (let f = 0; f < slots; f++) sum += X[(r * slots + f) * d + j];
        for (let f = 0; f < slots; f++) {
          const k = (r * slots + f) * d + j;
          dX[k] += dZ[r] * (sum - X[k]);
        }
      }
    }
  }
}

export class FmHead implements CtrHead {
  readonly usesFirstOrder = true;
  readonly poolsHistory = true;
  private readonly fm: FmInteraction;

  constructor(ctx: HeadContext) {
    this.fm = new FmInteraction(ctx.slots, ctx.d);
  }

  init(): void {}

  forward(b: CtrBatch, X: Buf, n: number): Float32Array {
    return this.fm.forward(X.a, n);
  }

  backward(b: CtrBatch, dZ: Float32Array, X: Buf, dX: Buf): void {
    this.fm.backward(X.a, dZ, dX.a, b.n);
  }
}
