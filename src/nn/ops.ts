/**
 * Shaped tensors and the general (batched, transposed) matrix product on top of the raw gemm
 * kernel. Models mostly call layers; these are for new layers and for code outside the hot loop.
 */
import type { Buf, Engine, Program } from '../kernels/engine.ts';

/** A row-major tensor in engine memory. */
export interface Tensor {
  buf: Buf;
  shape: number[];
}

/** Allocates a zeroed tensor (freed with `owner`, if given). */
export function tensor(engine: Engine, shape: number[], owner?: object): Tensor {
  return { buf: engine.f32(shape.reduce((a, b) => a * b, 1), owner), shape: [...shape] };
}

/** Options of {@link matmul}. */
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** Add into C instead of overwriting. */
  accumulate?: boolean;
  alpha?: number;
}

/**
 * Records C[b] (+)= alpha·op(A[b])·op(B[b]) for every b of a batch: A is [batch, M, K] (or
 * [batch, K, M] with transA), B is [batch, K, N] (or [batch, N, K] with transB), C is
 * [batch, M, N]; a rank-2 operand is shared by the whole batch. transB copies each Bᵀ into
 * `scratch` (≥ K·N floats) first, because the kernel streams B along its rows.
 */
export function matmul(prog: Program, C: Tensor, A: Tensor, B: Tensor, options: MatmulOptions = {}, scratch?: Buf): void {
  const rank = (t: Tensor): number => t.shape.length;
  const last2 = (t: Tensor): [number, number] => [t.shape[rank(t) - 2], t.shape[rank(t) - 1]];
  const batchOf = (t: Tensor): number => (rank(t) === 3 ? t.shape[0] : 1);
  const [a0, a1] = last2(A);
  const [b0, b1] = last2(B);
  const [M, K] = options.transA ? [a1, a0] : [a0, a1];
  const [K2, N] = options.transB ? [b1, b0] : [b0, b1];
  if (K !== K2) throw new Error(`matmul: inner dimensions differ (${K} vs ${K2})`);
  const batch = Math.max(batchOf(A), batchOf(B), batchOf(C));
  for (const [name, t] of [['A', A], ['B', B], ['C', C]] as const) {
    if (rank(t) !== 2 && rank(t) !== 3) throw new Error(`matmul: ${name} must have rank 2 or 3, got [${t.shape}]`);
    if (rank(t) === 3 && t.shape[0] !== batch) throw new Error(`matmul: ${name} has batch ${t.shape[0]}, expected ${batch}`);
  }
  const [c0, c1] = last2(C);
  if (c0 !== M || c1 !== N) throw new Error(`matmul: C is [${c0}, ${c1}], expected [${M}, ${N}]`);
  if (options.transB && (!scratch || scratch.length < K * N)) throw new Error(`matmul: transB needs a scratch of ${K * N} floats`);
  const step = (t: Tensor, size: number): number => (rank(t) === 3 ? 4 * size : 0);
  for (let b = 0; b < batch; b++) {
    const pa = A.buf.ptr + b * step(A, M * K);
    let pb = B.buf.ptr + b * step(B, K * N);
    const pc = C.buf.ptr + b * step(C, M * N);
    if (options.transB) {
      prog.call('transpose', scratch!.ptr, pb, N, K, K, N);
      pb = scratch!.ptr;
    }
    prog.call('gemm', pc, pa, pb, M, N, K, options.transA ? M : K, N, N, options.transA ? 1 : 0, options.accumulate ? 1 : 0, 0, options.alpha ?? 1);
  }
}
