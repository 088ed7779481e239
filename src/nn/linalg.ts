/**
 * Dense linear algebra on Float64Array, row-major: the Gram matrix of a sparse binary matrix,
 * a blocked in-place inverse of a symmetric positive-definite matrix (EASE needs the whole
 * G⁻¹ of an item×item Gram matrix), and small Cholesky solves (iALS normal equations).
 *
 * Speed without SIMD comes from doing the O(n³) work in one register-tiled kernel over packed,
 * contiguous panels (4×4 tiles: 16 accumulators, 8 loads per 16 multiply-adds), split across
 * threads (worker_threads over SharedArrayBuffer) by bands of rows.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** A sparse binary matrix in CSR form: row r's nonzero column ids are `cols[offsets[r]..offsets[r+1])`, ascending, distinct. */
export interface SparseBinary {
  nRows: number;
  nCols: number;
  offsets: Int32Array;
  cols: Int32Array;
}

/**
 * G = XᵀX for a binary X (nRows × nCols), as a full symmetric nCols × nCols Float64Array.
 * G[i][j] is the number of rows holding both i and j. Computed column by column: for item i,
 * every row containing i adds 1 to G[i][j] for its items j ≥ i — the written row stays in cache,
 * the read rows stream, and no dense X is ever formed.
 */
export function gramBinary(x: SparseBinary): Float64Array {
  const n = x.nCols;
  // Column view: which rows contain item i.
  const colStart = new Int32Array(n + 1);
  for (let p = 0; p < x.cols.length; p++) colStart[x.cols[p] + 1]++;
  for (let i = 0; i < n; i++) colStart[i + 1] += colStart[i];
  const fill = colStart.slice(0, n);
  const rowsOf = new Int32Array(x.cols.length);
  // Also remember where i sits inside each row, so the j ≥ i part is a suffix.
  const posIn = new Int32Array(x.cols.length);
  for (let r = 0; r < x.nRows; r++) {
    for (let p = x.offsets[r]; p < x.offsets[r + 1]; p++) {
      const q = fill[x.cols[p]]++;
      rowsOf[q] = r;
      posIn[q] = p;
    }
  }
  const g = new Float64Array(n * n);
  const acc = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    acc.fill(0, i);
    for (let q = colStart[i]; q < colStart[i + 1]; q++) {
      const end = x.offsets[rowsOf[q] + 1];
      for (let p = posIn[q]; p < end; p++) acc[x.cols[p]]++;
    }
    const row = i * n;
    for (let j = i; j < n; j++) {
      const v = acc[j];
      g[row + j] = v;
      g[j * n + i] = v;
    }
  }
  return g;
}

/** Options for {@link spdInverse}. */
export interface SpdInverseOptions {
  /** Block size of the blocked sweep (default 64: panels stay in L1/L2). */
  block?: number;
  /** Threads for the rank-b updates (default: RECLAB_THREADS, else min(2, cores); 1 below n = 512). */
  threads?: number;
  /** Called after each block with (done, total) columns, for progress bars. */
  onBlock?: (done: number, total: number) => void;
}

/**
 * Inverts a symmetric positive-definite n×n matrix `a` (row-major; only the lower triangle is
 * read). Returns a new full symmetric Float64Array; `a` is not modified.
 *
 * Method: blocked symmetric Gauss–Jordan elimination (the "sweep operator", Goodnight 1979).
 * Sweeping pivot block K with D = A_KK⁻¹ does
 *   A_ij ← A_ij − A_iK D A_Kj  (i, j ∉ K),   A_iK ← A_iK D,   A_KK ← −D,
 * and after sweeping every block A holds −A⁻¹. Pivots are Schur complements of an SPD matrix,
 * hence SPD: no pivoting is needed, and a non-positive pivot means `a` was not SPD. The cost is
 * n³ flops (the same as Cholesky + triangular inverse + product), nearly all in one rank-b
 * update C −= W Uᵀ of the lower triangle, done by {@link rankUpdateLower}.
 */
export function spdInverse(a: Float64Array, n: number, options: SpdInverseOptions = {}): Float64Array {
  if (a.length < n * n) throw new Error(`spdInverse: matrix has ${a.length} values, need ${n}×${n}`);
  const bs = Math.max(4, Math.min(options.block ?? 64, 256)) & ~3;
  // Pad to a multiple of 4 with an identity tail so 4×4 tiles never need edge cases.
  const m = (n + 3) & ~3;
  const threads = n < 512 ? 1 : Math.max(1, Math.floor(options.threads ?? defaultThreads()));
  // Shared memory so helper threads update their rows of A in place.
  const shared = (len: number): Float64Array => new Float64Array(threads > 1 ? new SharedArrayBuffer(len * 8) : new ArrayBuffer(len * 8));
  const A = shared(m * m);
  for (let i = 0; i < n; i++) A.set(a.subarray(i * n, i * n + i + 1), i * m);
  for (let i = n; i < m; i++) A[i * m + i] = 1;
  const W = shared(m * bs);
  const U = shared(m * bs);
  const D = new Float64Array(bs * bs);
  const pool = threads > 1 ? new UpdatePool(threads, A, W, U, m) : null;
  try {
    for (let k = 0; k < m; k += bs) {
      const ke = Math.min(m, k + bs);
      const b = ke - k;
      // D = A_KK⁻¹ (small, unblocked).
      for (let p = 0; p < b; p++) {
        for (let q = 0; q <= p; q++) {
          const v = A[(k + p) * m + k + q];
          D[p * b + q] = v;
          D[q * b + p] = v;
        }
      }
      sweepSmall(D, b, k);
      // U = A_{·K} read from lower storage, in 4-row interleaved panels: U[(g·b + p)·4 + r].
      // Rows inside K are zero so the update leaves them alone (they are rewritten below).
      U.fill(0);
      for (let j = 0; j < m; j++) {
        if (j >= k && j < ke) continue;
        const base = (j >> 2) * b * 4 + (j & 3);
        if (j >= ke) {
          const row = j * m + k;
          for (let p = 0; p < b; p++) U[base + 4 * p] = A[row + p];
        } else {
          for (let p = 0; p < b; p++) U[base + 4 * p] = A[(k + p) * m + j];
        }
      }
      // W = U D, same packing.
      for (let g = 0; g < m; g += 4) {
        const base = (g >> 2) * b * 4;
        for (let r = 0; r < 4; r++) {
          for (let q = 0; q < b; q++) {
            let s = 0;
            for (let p = 0; p < b; p++) s += U[base + 4 * p + r] * D[p * b + q];
            W[base + 4 * q + r] = s;
          }
        }
      }
      if (pool) pool.run(b);
      else rankUpdateLower(A, m, b, W, U, 0, m);
      // A_iK ← A_iK D (rows below K); A_Kj ← D A_Kj (columns left of K), both equal W rows.
      for (let j = 0; j < m; j++) {
        if (j >= k && j < ke) continue;
        const base = (j >> 2) * b * 4 + (j & 3);
        if (j >= ke) {
          const row = j * m + k;
          for (let p = 0; p < b; p++) A[row + p] = W[base + 4 * p];
        } else {
          for (let p = 0; p < b; p++) A[(k + p) * m + j] = W[base + 4 * p];
        }
      }
      for (let p = 0; p < b; p++) for (let q = 0; q <= p; q++) A[(k + p) * m + k + q] = -D[p * b + q];
      options.onBlock?.(Math.min(ke, n), n);
    }
  } finally {
    pool?.close();
  }
  // A holds −A⁻¹ in its lower triangle: negate, drop the padding and mirror.
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = -A[i * m + j];
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
  return out;
}

/** Threads for dense kernels: RECLAB_THREADS, else min(2, available cores). */
export function defaultThreads(): number {
  const env = Number(process.env.RECLAB_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : Math.min(2, availableParallelism());
}

/**
 * Helper threads for {@link rankUpdateLower}: each owns a contiguous band of rows of A (bands
 * balanced for the triangular shape: row i costs ∝ i). The caller posts a block and does the
 * first band itself, then waits (Atomics), so spdInverse stays synchronous. The helpers run the
 * very same function, sent as source text.
 */
class UpdatePool {
  private readonly workers: Worker[] = [];
  private readonly ctl: Int32Array;
  private readonly bands: number[];
  private seq = 0;

  constructor(threads: number, A: Float64Array, W: Float64Array, U: Float64Array, private readonly m: number) {
    this.ctl = new Int32Array(new SharedArrayBuffer(4 * 4 * threads));
    // Band t covers rows [bands[t], bands[t+1]): equal areas of the lower triangle.
    this.bands = [0];
    for (let t = 1; t < threads; t++) this.bands.push(Math.round((m * Math.sqrt(t / threads)) / 4) * 4);
    this.bands.push(m);
    const source = `
const { workerData } = require('node:worker_threads');
const { A, W, U, m, ctl, slot, i0, i1 } = workerData;
${rankUpdateLower.toString()}
let seq = 0;
for (;;) {
  Atomics.wait(ctl, slot, seq);
  seq = Atomics.load(ctl, slot);
  if (seq < 0) break;
  rankUpdateLower(A, m, ctl[slot + 2], W, U, i0, i1);
  Atomics.store(ctl, slot + 1, seq);
  Atomics.notify(ctl, slot + 1);
}`;
    for (let t = 1; t < threads; t++) {
      const w = new Worker(source, { eval: true, workerData: { A, W, U, m, ctl: this.ctl, slot: 4 * t, i0: this.bands[t], i1: this.bands[t + 1] } });
      w.unref();
      this.workers.push(w);
    }
    this.A = A;
    this.W = W;
    this.U = U;
  }

  private readonly A: Float64Array;
  private readonly W: Float64Array;
  private readonly U: Float64Array;

  /** One rank-b update of the whole lower triangle, split across the threads. */
  run(b: number): void {
    const seq = ++this.seq;
    for (let t = 1; t <= this.workers.length; t++) {
      this.ctl[4 * t + 2] = b;
      Atomics.store(this.ctl, 4 * t, seq);
      Atomics.notify(this.ctl, 4 * t);
    }
    rankUpdateLower(this.A, this.m, b, this.W, this.U, this.bands[0], this.bands[1]);
    for (let t = 1; t <= this.workers.length; t++) {
      while (Atomics.load(this.ctl, 4 * t + 1) !== seq) Atomics.wait(this.ctl, 4 * t + 1, Atomics.load(this.ctl, 4 * t + 1));
    }
  }

  /** Stops the helpers. */
  close(): void {
    for (let t = 1; t <= this.workers.length; t++) {
      Atomics.store(this.ctl, 4 * t, -1);
      Atomics.notify(this.ctl, 4 * t);
    }
    for (const w of this.workers) void w.terminate();
  }
}

/**
 * In-place inverse of a small full symmetric positive-definite b×b matrix by the unblocked
 * sweep operator. `offset` only labels the error message (global index of row 0).
 */
function sweepSmall(d: Float64Array, b: number, offset: number): void {
  for (let k = 0; k < b; k++) {
    const piv = d[k * b + k];
    if (!(piv > 0)) throw new Error(`spdInverse: matrix is not positive definite (pivot ${piv} at row ${offset + k})`);
    const inv = 1 / piv;
    for (let i = 0; i < b; i++) {
      if (i === k) continue;
      const aik = d[i * b + k];
      if (aik === 0) continue;
      const f = aik * inv;
      for (let j = 0; j < b; j++) if (j !== k) d[i * b + j] -= f * d[k * b + j];
    }
    for (let i = 0; i < b; i++) {
      if (i === k) continue;
      d[i * b + k] *= inv;
      d[k * b + i] *= inv;
    }
    d[k * b + k] = -inv;
  }
  // The sweep leaves −D⁻¹.
  for (let i = 0; i < b * b; i++) d[i] = -d[i];
}

/**
 * C[i][j] −= Σ_p W[i][p]·U[j][p] for rows i in [i0, i1) and columns j ≤ i (whole 4×4 tiles; the
 * tile on the diagonal also touches a few upper-triangle entries, which callers ignore).
 * W and U are packed in 4-row groups, p-major inside a group: X[(⌊i/4⌋·b + p)·4 + i mod 4].
 * C has row stride `m`; i0, i1 and m are multiples of 4.
 */
export function rankUpdateLower(C: Float64Array, m: number, b: number, W: Float64Array, U: Float64Array, i0: number, i1: number): void {
  for (let i = i0; i < i1; i += 4) {
    const wb = (i >> 2) * b * 4;
    for (let j = 0; j <= i; j += 4) {
      const ub = (j >> 2) * b * 4;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let p = 0; p < b; p++) {
        const uu = ub + 4 * p;
        const ww = wb + 4 * p;
        const u0 = U[uu], u1 = U[uu + 1], u2 = U[uu + 2], u3 = U[uu + 3];
        let w = W[ww];
        c00 += w * u0; c01 += w * u1; c02 += w * u2; c03 += w * u3;
        w = W[ww + 1];
        c10 += w * u0; c11 += w * u1; c12 += w * u2; c13 += w * u3;
        w = W[ww + 2];
        c20 += w * u0; c21 += w * u1; c22 += w * u2; c23 += w * u3;
        w = W[ww + 3];
        c30 += w * u0; c31 += w * u1; c32 += w * u2; c33 += w * u3;
      }
      let r = i * m + j;
      C[r] -= c00; C[r + 1] -= c01; C[r + 2] -= c02; C[r + 3] -= c03;
      r += m;
      C[r] -= c10; C[r + 1] -= c11; C[r + 2] -= c12; C[r + 3] -= c13;
      r += m;
      C[r] -= c20; C[r + 1] -= c21; C[r + 2] -= c22; C[r + 3] -= c23;
      r += m;
      C[r] -= c30; C[r + 1] -= c31; C[r + 2] -= c32; C[r + 3] -= c33;
    }
  }
}

/**
 * In-place Cholesky factorisation of a small SPD k×k matrix (row-major): on return the lower
 * triangle holds L with A = L Lᵀ. Throws when A is not positive definite.
 */
export function choleskyInPlace(a: Float64Array, k: number): void {
  for (let j = 0; j < k; j++) {
    let d = a[j * k + j];
    for (let p = 0; p < j; p++) d -= a[j * k + p] * a[j * k + p];
    if (!(d > 0)) throw new Error(`cholesky: matrix is not positive definite (pivot ${d} at row ${j})`);
    const ljj = Math.sqrt(d);
    a[j * k + j] = ljj;
    for (let i = j + 1; i < k; i++) {
      let s = a[i * k + j];
      for (let p = 0; p < j; p++) s -= a[i * k + p] * a[j * k + p];
      a[i * k + j] = s / ljj;
    }
  }
}

/** Solves L Lᵀ x = b in place (`b` becomes x), with L from {@link choleskyInPlace}. */
export function choleskySolveInPlace(l: Float64Array, k: number, b: Float64Array): void {
  for (let i = 0; i < k; i++) {
    let s = b[i];
    for (let p = 0; p < i; p++) s -= l[i * k + p] * b[p];
    b[i] = s / l[i * k + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    let s = b[i];
    for (let p = i + 1; p < k; p++) s -= l[p * k + i] * b[p];
    b[i] = s / l[i * k + i];
  }
}
