// AssemblyScript source: float64 kernels for EASE (Steck 2019) — the Gram matrix XᵀX of a sparse
// binary matrix and the rank-b update at the heart of the blocked SPD inverse (src/nn/linalg.ts).
// Pointers are byte offsets into the shared memory; every matrix is row-major.

// @ts-ignore: decorator
@inline function iptr(base: usize, i: i32): usize { return base + (<usize>i << 2); }
// @ts-ignore: decorator
@inline function dptr(base: usize, i: i32): usize { return base + (<usize>i << 3); }

/** acc + a·b on two f64 lanes (fused in the FMA build). */
// @ts-ignore: decorator
@inline function madd2(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f64x2.relaxed_madd(a, b, acc);
  return f64x2.add(acc, f64x2.mul(a, b));
}

/**
 * Rows i ∈ [i0, i1) of the lower triangle of G = XᵀX (G float64 with row stride ldg; entries j ≤ i written)
 * for a binary X given by columns: column i's entries are q ∈ [colStart[i], colStart[i+1]), each
 * a row of X that starts at cols[rowStart[q]] and holds i at cols[posIn[q]] (rows are ascending,
 * so the items j ≤ i of that row are the prefix up to posIn[q]). `acc` is n int32 of scratch.
 */
export function gram_rows(G: usize, ldg: i32, n: i32, cols: usize, colStart: usize, rowStart: usize, posIn: usize, i0: i32, i1: i32, acc: usize): void {
  for (let i = i0; i < i1; i++) {
    memory.fill(acc, 0, <usize>(i + 1) << 2);
    const qe = load<i32>(iptr(colStart, i + 1));
    for (let q = load<i32>(iptr(colStart, i)); q < qe; q++) {
      const end = load<i32>(iptr(posIn, q));
      for (let p = load<i32>(iptr(rowStart, q)); p <= end; p++) {
        const a = iptr(acc, load<i32>(iptr(cols, p)));
        store<i32>(a, load<i32>(a) + 1);
      }
    }
    const row = dptr(G, i * ldg);
    for (let j = 0; j <= i; j++) store<f64>(dptr(row, j), <f64>load<i32>(iptr(acc, j)));
  }
}

/**
 * C[i][j] −= Σ_p W[i][p]·U[j][p] for rows i ∈ [i0, i1) and columns j ≤ i, in whole 4 × 4 tiles
 * (the diagonal tile also touches a few upper entries, which callers ignore). W and U are packed
 * in groups of 4 rows, p-major inside a group: X[(⌊i/4⌋·b + p)·4 + i mod 4]. C has row stride m;
 * i0, i1 and m are multiples of 4. Each tile row lives in two f64x2 accumulators.
 */
export function rank_update_lower(C: usize, m: i32, b: i32, W: usize, U: usize, i0: i32, i1: i32): void {
  const mb = <usize>m << 3;
  for (let i = i0; i < i1; i += 4) {
    const wb = W + (<usize>((i >> 2) * b) << 5);
    for (let j = 0; j <= i; j += 4) {
      let up = U + (<usize>((j >> 2) * b) << 5);
      let wp = wb;
      let a00 = f64x2.splat(0), a01 = f64x2.splat(0), a10 = f64x2.splat(0), a11 = f64x2.splat(0);
      let a20 = f64x2.splat(0), a21 = f64x2.splat(0), a30 = f64x2.splat(0), a31 = f64x2.splat(0);
      for (let p = 0; p < b; p++) {
        const u01 = v128.load(up), u23 = v128.load(up, 16);
        let w = v128.load64_splat(wp);
        a00 = madd2(w, u01, a00); a01 = madd2(w, u23, a01);
        w = v128.load64_splat(wp, 8);
        a10 = madd2(w, u01, a10); a11 = madd2(w, u23, a11);
        w = v128.load64_splat(wp, 16);
        a20 = madd2(w, u01, a20); a21 = madd2(w, u23, a21);
        w = v128.load64_splat(wp, 24);
        a30 = madd2(w, u01, a30); a31 = madd2(w, u23, a31);
        wp += 32; up += 32;
      }
      let c = dptr(C, i * m + j);
      v128.store(c, f64x2.sub(v128.load(c), a00)); v128.store(c, f64x2.sub(v128.load(c, 16), a01), 16); c += mb;
      v128.store(c, f64x2.sub(v128.load(c), a10)); v128.store(c, f64x2.sub(v128.load(c, 16), a11), 16); c += mb;
      v128.store(c, f64x2.sub(v128.load(c), a20)); v128.store(c, f64x2.sub(v128.load(c, 16), a21), 16); c += mb;
      v128.store(c, f64x2.sub(v128.load(c), a30)); v128.store(c, f64x2.sub(v128.load(c, 16), a31), 16);
    }
  }
}

/**
 * W = U·D for the sweep's packed panels: U and W hold m rows of b values in groups of 4 rows,
 * p-major inside a group (X[(g·b + p)·4 + r]), D is b × b row-major. Two f64x2 accumulators per
 * (group, column) hold the group's 4 rows; all-zero U groups (rows of the pivot block) give zero.
 */
export function panel_times(W: usize, U: usize, D: usize, m: i32, b: i32): void {
  const gs = <usize>(b << 5); // bytes per group: b × 4 doubles
  for (let g = 0; g < (m >> 2); g++) {
    const ug = U + <usize>g * gs, wg = W + <usize>g * gs;
    for (let q = 0; q < b; q++) {
      let a01 = f64x2.splat(0), a23 = f64x2.splat(0);
      let up = ug, dp = dptr(D, q);
      for (let p = 0; p < b; p++) {
        const d = v128.load64_splat(dp);
        a01 = madd2(d, v128.load(up), a01);
        a23 = madd2(d, v128.load(up, 16), a23);
        up += 32; dp += <usize>b << 3;
      }
      const w = wg + (<usize>q << 5);
      v128.store(w, a01);
      v128.store(w, a23, 16);
    }
  }
}

/**
 * The sweep's panel of pivot block K = [k, k + b) (A lower-stored, row stride m): U gets column
 * block K of the symmetric matrix in 4-row groups (U[(⌊j/4⌋·b + p)·4 + j mod 4] = A_{j,k+p}),
 * read along rows — rows j < k from A's rows k..k+b, rows j ≥ k + b from their own row —
 * and zeros for the rows inside K.
 */
export function sweep_pack(U: usize, A: usize, m: i32, k: i32, b: i32): void {
  memory.fill(U, 0, <usize>(m * b) << 3);
  for (let p = 0; p < b; p++) {
    const row = dptr(A, (k + p) * m);
    for (let j = 0; j < k; j++) store<f64>(dptr(U, ((j >> 2) * b + p) * 4 + (j & 3)), load<f64>(dptr(row, j)));
  }
  for (let j = k + b; j < m; j++) {
    const row = dptr(A, j * m + k), base = ((j >> 2) * b) * 4 + (j & 3);
    for (let p = 0; p < b; p++) store<f64>(dptr(U, base + 4 * p), load<f64>(dptr(row, p)));
  }
}

/** Writes the panel W back into A's lower storage: the inverse of {@link sweep_pack}'s reads (rows inside K untouched). */
export function sweep_unpack(A: usize, W: usize, m: i32, k: i32, b: i32): void {
  for (let p = 0; p < b; p++) {
    const row = dptr(A, (k + p) * m);
    for (let j = 0; j < k; j++) store<f64>(dptr(row, j), load<f64>(dptr(W, ((j >> 2) * b + p) * 4 + (j & 3))));
  }
  for (let j = k + b; j < m; j++) {
    const row = dptr(A, j * m + k), base = ((j >> 2) * b) * 4 + (j & 3);
    for (let p = 0; p < b; p++) store<f64>(dptr(row, p), load<f64>(dptr(W, base + 4 * p)));
  }
}

/**
 * Out (n × n, full) = −A for the symmetric A held in the lower triangle of A (row stride m), in
 * 32 × 32 tiles so the mirrored writes stay in cache.
 */
export function neg_sym_from_lower(Out: usize, A: usize, n: i32, m: i32): void {
  for (let i0 = 0; i0 < n; i0 += 32) {
    const i1 = min(n, i0 + 32);
    for (let j0 = 0; j0 <= i0; j0 += 32) {
      for (let i = i0; i < i1; i++) {
        const j1 = min(i + 1, j0 + 32);
        for (let j = j0; j < j1; j++) {
          const v = -load<f64>(dptr(A, i * m + j));
          store<f64>(dptr(Out, i * n + j), v);
          store<f64>(dptr(Out, j * n + i), v);
        }
      }
    }
  }
}
