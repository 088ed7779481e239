/**
 * Dense linear algebra on Float64Array, row-major: the Gram matrix of a sparse binary matrix,
 * a blocked in-place inverse of a symmetric positive-definite matrix (EASE needs the whole
 * G⁻¹ of an item×item Gram matrix), and small Cholesky solves (iALS normal equations).
 *
 * The O(n³) and O(nnz·len) work runs in the kernel core (src/kernels/asm/linalg.ts): the rank-b
 * update of the sweep as 4×4 float64 tiles of SIMD (fused) multiply-adds over packed panels, and
 * the Gram rows, both on the engine's shared memory and split across its worker pool by bands of
 * rows. This file keeps the algorithms: banding, packing, the small pivot blocks.
 */
import { defaultEngine, type Engine, type Program } from '../kernels/engine.ts';
import { defaultThreads } from '../util/threads.ts';

/** A sparse binary matrix in CSR form: row r's nonzero column ids are `cols[offsets[r]..offsets[r+1])`, ascending, distinct. */
export interface SparseBinary {
  nRows: number;
  nCols: number;
  offsets: Int32Array;
  cols: Int32Array;
}

/** Options for {@link gramBinary}. */
export interface GramOptions {
  /** Fill only the lower triangle (j ≤ i) — all that {@link spdInverse} reads; skips the strided mirror. */
  lower?: boolean;
  /** Threads (default: the thread policy, RECLAB_THREADS else the cores; 1 for small inputs, where a thread costs more than it saves). */
  threads?: number;
}

/**
 * G = XᵀX for a binary X (nRows × nCols), as an nCols × nCols Float64Array (full and symmetric,
 * or only its lower triangle with `lower`). G[i][j] is the number of rows holding both i and j.
 * Computed item by item: for item i, every row containing i adds 1 to G[i][j] for its items
 * j ≤ i (a prefix of the row, whose columns are ascending) — the written row stays in cache, the
 * read rows stream, and no dense X is ever formed. Items are split into bands of equal work
 * (Σ of those prefix lengths) across threads; each thread writes only its own rows of G.
 */
export function gramBinary(x: SparseBinary, options: GramOptions = {}): Float64Array {
  const n = x.nCols;
  const e = defaultEngine();
  const g = e.f64(n * n);
  try {
    gramInto(x, g.ptr, n, options.threads);
    const out = g.a.slice();
    if (!options.lower) {
      for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[j * n + i] = out[i * n + j];
    }
    return out;
  } finally {
    e.freeBuf(g);
  }
}

/** The lower triangle of XᵀX into engine memory at byte offset `gPtr`, row stride `ldg` (see {@link gramBinary}). */
function gramInto(x: SparseBinary, gPtr: number, ldg: number, threadsOption?: number): void {
  const n = x.nCols;
  const nnz = x.cols.length;
  // Work ≈ Σ_rows len²/2 increments; below that a second thread costs more than it saves.
  let work = 0;
  for (let r = 0; r < x.nRows; r++) work += ((x.offsets[r + 1] - x.offsets[r]) ** 2) / 2;
  const threads = work < 2e7 ? 1 : Math.max(1, Math.floor(threadsOption ?? defaultThreads()));
  const e = defaultEngine();
  // Column view: which rows contain item i, and where i sits in each (so j ≤ i is a prefix).
  const colStart = e.i32(n + 1), rowStart = e.i32(nnz), posIn = e.i32(nnz), cols = e.i32(nnz);
  const acc = Array.from({ length: threads }, () => e.i32(n));
  try {
    cols.a.set(x.cols);
    const cs = colStart.a;
    for (let p = 0; p < nnz; p++) cs[x.cols[p] + 1]++;
    for (let i = 0; i < n; i++) cs[i + 1] += cs[i];
    const fill = cs.slice(0, n);
    const cost = new Float64Array(n + 1);
    for (let r = 0; r < x.nRows; r++) {
      const s = x.offsets[r];
      for (let p = s; p < x.offsets[r + 1]; p++) {
        const c = x.cols[p];
        const q = fill[c]++;
        rowStart.a[q] = s;
        posIn.a[q] = p;
        cost[c + 1] += p - s + 1;
      }
    }
    // Bands of equal work (prefix lengths plus the written row).
    for (let i = 0; i < n; i++) cost[i + 1] += cost[i] + i + 1;
    const bands = [0];
    for (let t = 1; t < threads; t++) {
      const goal = (cost[n] * t) / threads;
      let i = bands[t - 1];
      while (i < n && cost[i] < goal) i++;
      bands.push(i);
    }
    bands.push(n);
    e.runParallel(bands.slice(0, -1).map((i0, t) => {
      const prog = e.program();
      prog.call('gram_rows', gPtr, ldg, n, cols.ptr, colStart.ptr, rowStart.ptr, posIn.ptr, i0, bands[t + 1], acc[t].ptr);
      return prog;
    }));
  } finally {
    for (const b of [colStart, rowStart, posIn, cols, ...acc]) e.freeBuf(b);
  }
}

/** Options for {@link spdInverse}. */
export interface SpdInverseOptions {
  /** Block size of the blocked sweep (default 32: fastest on ML-1M, 16–64 within 10 %; panels stay in cache). */
  block?: number;
  /** Threads for the rank-b updates (default: the thread policy; 1 below n = 512). */
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
 * update C −= W Uᵀ of the lower triangle, done by the core's `rank_update_lower`.
 */
export function spdInverse(a: Float64Array, n: number, options: SpdInverseOptions = {}): Float64Array {
  if (a.length < n * n) throw new Error(`spdInverse: matrix has ${a.length} values, need ${n}×${n}`);
  const ws = sweepWorkspace(n, options);
  for (let i = 0; i < n; i++) ws.A.set(a.subarray(i * n, i * n + i + 1), i * ws.m);
  return sweepInverse(ws, n, options);
}

/**
 * (XᵀX + ridge·I)⁻¹ for a binary X — EASE's P — without a separate Gram matrix: the Gram rows are
 * written straight into the sweep's workspace, saving an n × n allocation and two copies of it.
 * Same result as spdInverse(gramBinary(x) + ridge·I).
 */
export function gramInverse(x: SparseBinary, ridge: number, options: SpdInverseOptions & GramOptions = {}): Float64Array {
  const n = x.nCols;
  const ws = sweepWorkspace(n, options);
  try {
    gramInto(x, ws.aPtr, ws.m, options.threads);
  } catch (e) {
    ws.close();
    throw e;
  }
  for (let i = 0; i < n; i++) ws.A[i * ws.m + i] += ridge;
  return sweepInverse(ws, n, options);
}

function sweepWorkspace(n: number, options: SpdInverseOptions): SweepWorkspace {
  const bs = Math.max(4, Math.min(options.block ?? 32, 256)) & ~3;
  // Pad to a multiple of 4 with an identity tail so 4×4 tiles never need edge cases.
  const m = (n + 3) & ~3;
  const threads = n < 512 ? 1 : Math.max(1, Math.floor(options.threads ?? defaultThreads()));
  return new SweepWorkspace(m, bs, threads);
}

/** The blocked sweep over a workspace whose A holds the matrix's lower triangle; closes the workspace. */
function sweepInverse(ws: SweepWorkspace, n: number, options: SpdInverseOptions): Float64Array {
  const { A, D, m, bs } = ws;
  for (let i = n; i < m; i++) A[i * m + i] = 1;
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
      // U = A_{·K} read from lower storage, in 4-row interleaved panels: U[(g·b + p)·4 + r]
      // (rows inside K zero, so the update leaves them alone; they are rewritten below).
      ws.pack(k, b);
      ws.panelTimes(b); // W = U·D, same packing
      ws.update(b); // the rank-b update of everything outside K
      // A_iK ← A_iK D (rows below K); A_Kj ← D A_Kj (columns left of K), both equal W rows.
      ws.unpack(k, b);
      for (let p = 0; p < b; p++) for (let q = 0; q <= p; q++) A[(k + p) * m + k + q] = -D[p * b + q];
      options.onBlock?.(Math.min(ke, n), n);
    }
    // A holds −A⁻¹ in its lower triangle: negate, drop the padding and mirror (a core kernel, in tiles).
    return ws.negatedFull(n);
  } finally {
    ws.close();
  }
}

/**
 * The memory of one blocked sweep — A (m×m), the packed panels W and U (m×bs) — in the engine's
 * shared memory, and the rank-b update over it: one `rank_update_lower` call per thread on a band
 * of rows (bands balanced for the triangular shape: row i costs ∝ i).
 */
class SweepWorkspace {
  readonly A: Float64Array;
  readonly W: Float64Array;
  readonly U: Float64Array;
  readonly D: Float64Array;
  private readonly engine: Engine;
  private readonly bufs: { ptr: number; length: number; a: Float64Array }[];
  private readonly bands: number[];

  /** Byte offset of A in the engine memory. */
  readonly aPtr: number;

  constructor(readonly m: number, readonly bs: number, threads: number) {
    const e = (this.engine = defaultEngine());
    this.bufs = [e.f64(m * m), e.f64(m * bs), e.f64(m * bs), e.f64(bs * bs)];
    [this.A, this.W, this.U, this.D] = this.bufs.map((b) => b.a);
    this.aPtr = this.bufs[0].ptr;
    this.bands = [0];
    for (let t = 1; t < threads; t++) this.bands.push(Math.round((m * Math.sqrt(t / threads)) / 4) * 4);
    this.bands.push(m);
  }

  /** U ← column block [k, k + b) of A in packed panels. */
  pack(k: number, b: number): void {
    const [A, , U] = this.bufs;
    this.engine.k.sweep_pack(U.ptr, A.ptr, this.m, k, b);
  }

  /** W's rows back into A's lower storage (outside the pivot block). */
  unpack(k: number, b: number): void {
    const [A, W] = this.bufs;
    this.engine.k.sweep_unpack(A.ptr, W.ptr, this.m, k, b);
  }

  /** −A as a full symmetric n × n Float64Array (A holds the lower triangle). */
  negatedFull(n: number): Float64Array {
    const out = this.engine.f64(n * n);
    try {
      this.engine.k.neg_sym_from_lower(out.ptr, this.bufs[0].ptr, n, this.m);
      return out.a.slice();
    } finally {
      this.engine.freeBuf(out);
    }
  }

  /** W = U·D (the packed panels times the b × b pivot inverse). */
  panelTimes(b: number): void {
    const [, W, U, D] = this.bufs;
    this.engine.k.panel_times(W.ptr, U.ptr, D.ptr, this.m, b);
  }

  /** One rank-b update of the whole lower triangle (C −= W Uᵀ), split across the threads. */
  update(b: number): void {
    const [A, W, U] = this.bufs;
    const programs: Program[] = [];
    for (let t = 0; t + 1 < this.bands.length; t++) {
      if (this.bands[t + 1] <= this.bands[t]) continue;
      const prog = this.engine.program();
      prog.call('rank_update_lower', A.ptr, this.m, b, W.ptr, U.ptr, this.bands[t], this.bands[t + 1]);
      programs.push(prog);
    }
    this.engine.runParallel(programs);
  }

  /** Returns the memory to the engine. */
  close(): void {
    for (const b of this.bufs) this.engine.freeBuf(b);
  }
}

/** Runs the core's rank-b update on engine copies of the inputs (for tests against a scalar reference). */
export function rankUpdateLowerKernel(C: Float64Array, m: number, b: number, W: Float64Array, U: Float64Array, i0: number, i1: number): void {
  const e = defaultEngine();
  const c = e.f64(m * m), w = e.f64(W.length), u = e.f64(U.length);
  try {
    c.a.set(C.subarray(0, m * m));
    w.a.set(W);
    u.a.set(U);
    e.k.rank_update_lower(c.ptr, m, b, w.ptr, u.ptr, i0, i1);
    C.set(c.a);
  } finally {
    for (const x of [c, w, u]) e.freeBuf(x);
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
