// AssemblyScript source of the engine's matrix multiply (compiled to WebAssembly with SIMD by
// scripts/build-wasm.mjs; see docs/nn.md). Row-major float32 throughout; pointers are byte offsets into the shared memory.
//
// One routine covers every product the engine needs:
//   C[M×N] (+)= alpha · op(A)[M×K] · B[K×N]
// with op(A) = A (A(i,k) at A[i*lda+k]) or Aᵀ (A(i,k) at A[k*lda+i]). B is always read along its
// rows, so the inner loop vectorises over N. Weights stored PyTorch-style as [out×in] are either
// pre-transposed (forward) or used as they are (backward dX = dY·W); dW = dYᵀ·X is the transA case.
//
// Causal modes restrict the work to the lower triangle of attention matrices (no compute spent
// above the diagonal):
//   0: full product;
//   1: only columns j ≤ i are needed (S = Q·Kᵀ) — per row block, N stops after the block's last row;
//   2: op(A) is lower triangular (A(i,k) = 0 for k > i; e.g. O = P·V) — K stops after the block;
//   3: op(A) is upper triangular (A(i,k) = 0 for k < i; e.g. dV = Pᵀ·dO) — K starts at the block.
// Modes 2 and 3 require the zero entries to be stored as zeros within the 4-row block.
//
// Register tiling: 4 rows × 8 columns of C live in 8 v128 accumulators; each k step loads two
// vectors of B and broadcasts four scalars of A. (Measured: 31–36 GFLOP/s of CPU time per thread
// here with mul + add, 37–40 with the relaxed-SIMD FMA build — see `madd`; a 6×8 tile ran 20–30 %
// slower — V8 spills its 12 accumulators.) K is blocked so the
// A and B panels of a long reduction (dW over thousands of tokens) stay in cache across the
// column blocks. Tail columns (N % 4) are computed with a full vector and stored lane by lane, so
// B rows may be read up to 3 floats past their end: every buffer carries 64 bytes of slack (see
// the allocator in src/kernels/engine.ts).

// K block: long reductions (dW over thousands of tokens) use 64-row panels that stay in L1
// (measured +5–20 % vs 256); short ones (attention, K ≤ a few hundred) run unsplit.
const KC_LONG: i32 = 64;
const KC_SHORT: i32 = 256;
// N block (a multiple of 8): wide products (logits over 12,101 items: B = Eᵀ is 3 MB) re-streamed
// B from L3 for every 4 rows of A; 256-column panels (≤ 256 KB) stay in L2 (BERT4Rec Beauty step
// measured 1.9× faster). Products with N ≤ 256 — nearly all — are unchanged.
const NC: i32 = 256;

// @ts-ignore: decorator
@inline function storeTail(p: usize, v: v128, n: i32): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/**
 * acc + a·b. Built twice (package.json build:wasm): with --enable relaxed-simd this is one fused
 * f32x4.relaxed_madd (vfmadd where the CPU has FMA; src/kernels/runtime.ts picks that build),
 * otherwise a multiply and an add.
 */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

// @ts-ignore: decorator
@inline function fin(p: usize, acc: v128, alpha: v128, accumulate: bool): v128 {
  let r = f32x4.mul(acc, alpha);
  if (accumulate) r = f32x4.add(r, v128.load(p));
  return r;
}

/** 4 rows × 8 columns micro-kernel over k in [k0, k1). */
// @ts-ignore: decorator
@inline function block4x8(C: usize, ldc4: usize, pa: usize, rs: usize, ks: usize, pb: usize, ldb4: usize,
  n: i32, alpha: v128, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let p0 = pa, p1 = pa + rs, p2 = pa + 2 * rs, p3 = pa + 3 * rs;
  for (let k = 0; k < n; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(p0);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(p1);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(p2);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(p3);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    p0 += ks; p1 += ks; p2 += ks; p3 += ks; pb += ldb4;
  }
  let pc = C;
  v128.store(pc, fin(pc, c00, alpha, accumulate)); v128.store(pc, fin(pc + 16, c01, alpha, accumulate), 16);
  pc += ldc4;
  v128.store(pc, fin(pc, c10, alpha, accumulate)); v128.store(pc, fin(pc + 16, c11, alpha, accumulate), 16);
  pc += ldc4;
  v128.store(pc, fin(pc, c20, alpha, accumulate)); v128.store(pc, fin(pc + 16, c21, alpha, accumulate), 16);
  pc += ldc4;
  v128.store(pc, fin(pc, c30, alpha, accumulate)); v128.store(pc, fin(pc + 16, c31, alpha, accumulate), 16);
}

/** 4 rows × 4 columns (the last `cols` ≤ 4 of them stored) micro-kernel. */
// @ts-ignore: decorator
@inline function block4x4(C: usize, ldc4: usize, pa: usize, rs: usize, ks: usize, pb: usize, ldb4: usize,
  n: i32, alpha: v128, accumulate: bool, cols: i32): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let p0 = pa, p1 = pa + rs, p2 = pa + 2 * rs, p3 = pa + 3 * rs;
  for (let k = 0; k < n; k++) {
    const b0 = v128.load(pb);
    c0 = madd(v128.load32_splat(p0), b0, c0);
    c1 = madd(v128.load32_splat(p1), b0, c1);
    c2 = madd(v128.load32_splat(p2), b0, c2);
    c3 = madd(v128.load32_splat(p3), b0, c3);
    p0 += ks; p1 += ks; p2 += ks; p3 += ks; pb += ldb4;
  }
  let pc = C;
  if (cols == 4) {
    v128.store(pc, fin(pc, c0, alpha, accumulate)); pc += ldc4;
    v128.store(pc, fin(pc, c1, alpha, accumulate)); pc += ldc4;
    v128.store(pc, fin(pc, c2, alpha, accumulate)); pc += ldc4;
    v128.store(pc, fin(pc, c3, alpha, accumulate));
  } else {
    storeTail(pc, fin(pc, c0, alpha, accumulate), cols); pc += ldc4;
    storeTail(pc, fin(pc, c1, alpha, accumulate), cols); pc += ldc4;
    storeTail(pc, fin(pc, c2, alpha, accumulate), cols); pc += ldc4;
    storeTail(pc, fin(pc, c3, alpha, accumulate), cols);
  }
}

/** 1 row × 4 columns (the first `cols` ≤ 4 stored) micro-kernel, for leftover rows. */
// @ts-ignore: decorator
@inline function block1x4(C: usize, pa: usize, ks: usize, pb: usize, ldb4: usize,
  n: i32, alpha: v128, accumulate: bool, cols: i32): void {
  let c0 = f32x4.splat(0);
  for (let k = 0; k < n; k++) {
    c0 = madd(v128.load32_splat(pa), v128.load(pb), c0);
    pa += ks; pb += ldb4;
  }
  if (cols == 4) v128.store(C, fin(C, c0, alpha, accumulate));
  else storeTail(C, fin(C, c0, alpha, accumulate), cols);
}

/**
 * C[M×N] (+)= alpha · op(A) · B. See the file comment for the layout and the causal modes.
 * `accumulate` = 1 adds into C, 0 overwrites it.
 */
export function gemm(C: usize, A: usize, B: usize, M: i32, N: i32, K: i32, lda: i32, ldb: i32, ldc: i32,
  transA: i32, accumulate: i32, causal: i32, alpha: f32): void {
  const av = f32x4.splat(alpha);
  const lda4 = <usize>lda << 2, ldb4 = <usize>ldb << 2, ldc4 = <usize>ldc << 2;
  // Row step and k step of A's elements, in bytes.
  const rs: usize = transA ? 4 : lda4;
  const ks: usize = transA ? lda4 : 4;
  const kEnd = K > 0 ? K : 1; // K = 0 still has to write (zeros or C unchanged)
  const KC = K > 1024 ? KC_LONG : KC_SHORT;
  for (let kb = 0; kb < kEnd; kb += KC) {
    const kbe = min(K, kb + KC);
    const acc = accumulate != 0 || kb > 0;
    // Column blocks of NC: the B panel (≤ KC × NC floats) stays in L2 while every row of A passes.
    for (let jb = 0; jb < N; jb += NC) {
      const jbe = min(N, jb + NC);
      for (let i0 = 0; i0 < M; i0 += 4) {
        const mr = min(4, M - i0);
        let k0 = kb, k1 = kbe;
        if (causal == 2) k1 = min(k1, i0 + mr);
        else if (causal == 3) k0 = max(k0, i0);
        if (k1 < k0) k1 = k0;
        const nk = k1 - k0;
        const jl = causal == 1 ? min(jbe, i0 + mr) : jbe;
        const pa = A + <usize>k0 * ks + <usize>i0 * rs;
        const pbk = B + <usize>k0 * ldb4;
        if (mr == 4) {
          let j = jb;
          for (; j + 8 <= jl; j += 8) {
            block4x8(C + <usize>i0 * ldc4 + (<usize>j << 2), ldc4, pa, rs, ks, pbk + (<usize>j << 2), ldb4, nk, av, acc);
          }
          for (; j < jl; j += 4) {
            block4x4(C + <usize>i0 * ldc4 + (<usize>j << 2), ldc4, pa, rs, ks, pbk + (<usize>j << 2), ldb4, nk, av, acc, min(4, N - j));
          }
        } else {
          for (let r = 0; r < mr; r++) {
            const i = i0 + r;
            const jr = causal == 1 ? min(jbe, i + 1) : jl;
            for (let j = jb; j < jr; j += 4) {
              block1x4(C + <usize>i * ldc4 + (<usize>j << 2), pa + <usize>r * rs, ks, pbk + (<usize>j << 2), ldb4, nk, av, acc, min(4, N - j));
            }
          }
        }
      }
    }
  }
}

/** Out[N×M] = In[M×N]ᵀ (strided: element (i,j) of In at In[i*ldi+j], of Out at Out[j*ldo+i]). */
export function transpose(Out: usize, In: usize, M: i32, N: i32, ldi: i32, ldo: i32): void {
  // 8×8 tiles keep both the reads and the writes within a few cache lines.
  for (let i0 = 0; i0 < M; i0 += 8) {
    const i1 = min(M, i0 + 8);
    for (let j0 = 0; j0 < N; j0 += 8) {
      const j1 = min(N, j0 + 8);
      for (let i = i0; i < i1; i++) {
        const src = In + (<usize>(i * ldi) << 2);
        for (let j = j0; j < j1; j++) store<f32>(Out + (<usize>(j * ldo + i) << 2), load<f32>(src + (<usize>j << 2)));
      }
    }
  }
}
