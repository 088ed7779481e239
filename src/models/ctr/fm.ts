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
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        let sum = 0;
        let sq = 0;
        for (let f = 0; f < slots; f++) {
          const x = X[(r * slots + f) * d + j];
          sum += x;
          sq += x * x;
        }
        s += sum * sum - sq;
      }
      z[r] = 0.5 * s;
    }
    return z;
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
