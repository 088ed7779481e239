/**
 * In-batch InfoNCE (van den Oord et al. 2018) between two sets of B row vectors: row b of P and
 * row b of U are a positive pair, the other rows of U are b's negatives,
 *
 *   L = −(1/B) Σ_b log softmax_c(p̂_b·û_c/τ)[b],   p̂ = p/√(‖p‖² + ε), û likewise,
 *
 * computed and differentiated in one call on the engine (l2norm, gemm and softmax_ce kernels):
 * contrastive losses are only ever needed with their gradient.
 */
import type { Engine } from '../kernels/engine.ts';
import { Scratch } from './scratch.ts';

/** ε under the square root of the L2 normalisation. */
const EPS = 1e-12;

export class InfoNce {
  private readonly s: Scratch;
  private readonly out: { ptr: number; a: Float64Array };

  constructor(private readonly engine: Engine) {
    this.s = new Scratch(engine, this);
    this.out = engine.f64(1, this);
  }

  /**
   * The loss of P, U [B × d] (byte pointers) at temperature τ; writes ∂L/∂P into dP and ∂L/∂U
   * into dU ([B × d] each, overwritten).
   */
  lossAndGrad(P: number, U: number, B: number, d: number, tau: number, dP: number, dU: number): number {
    if (B < 1) throw new Error('InfoNce: an empty batch');
    const k = this.engine.k, s = this.s;
    const Ph = s.get('Ph', B * d), Uh = s.get('Uh', B * d), rp = s.get('rp', B), ru = s.get('ru', B);
    const Ut = s.get('Ut', B * d), Z = s.get('Z', B * B), dPh = s.get('dPh', B * d), dUh = s.get('dUh', B * d);
    const y = s.ints32('y', Int32Array.from({ length: B }, (_, b) => b));
    k.l2norm_fwd(Ph.ptr, P, rp.ptr, B, d, EPS);
    k.l2norm_fwd(Uh.ptr, U, ru.ptr, B, d, EPS);
    // Z = P̂·Ûᵀ/τ, then Z ← (softmax(Z) − onehot)/B = ∂L/∂Z and the loss into out
    k.transpose(Ut.ptr, Uh.ptr, B, d, d, B);
    k.gemm(Z.ptr, Ph.ptr, Ut.ptr, B, B, d, d, B, B, 0, 0, 0, 1 / tau);
    this.out.a[0] = 0;
    k.softmax_ce(Z.ptr, y.ptr, B, B, B, 1 / B, this.out.ptr);
    // ∂L/∂P̂ = ∂Z·Û/τ,  ∂L/∂Û = ∂Zᵀ·P̂/τ
    k.gemm(dPh.ptr, Z.ptr, Uh.ptr, B, d, B, B, d, d, 0, 0, 0, 1 / tau);
    k.gemm(dUh.ptr, Z.ptr, Ph.ptr, B, d, B, B, d, d, 1, 0, 0, 1 / tau);
    k.l2norm_bwd(dP, dPh.ptr, Ph.ptr, rp.ptr, B, d, 0);
    k.l2norm_bwd(dU, dUh.ptr, Uh.ptr, ru.ptr, B, d, 0);
    return this.out.a[0];
  }
}
