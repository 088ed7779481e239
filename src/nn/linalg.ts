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
import { relaxedSimdAvailable } from './relaxed-simd.ts';
import { encodeModule, FnBuilder, I32, V128, Wasm } from './wasm-writer.ts';

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
  /** Threads (default: RECLAB_THREADS, else min(2, cores); 1 for small inputs, where a thread costs more than it saves). */
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
  const nnz = x.cols.length;
  // Work ≈ Σ_rows len²/2 increments; a helper thread costs ~30 ms to start, so small inputs stay on one.
  let work = 0;
  for (let r = 0; r < x.nRows; r++) work += ((x.offsets[r + 1] - x.offsets[r]) ** 2) / 2;
  const threads = work < 2e7 ? 1 : Math.max(1, Math.floor(options.threads ?? defaultThreads()));
  const shared = threads > 1;
  const ints = (len: number): Int32Array => (shared ? new Int32Array(new SharedArrayBuffer(4 * len)) : new Int32Array(len));
  // Column view: which rows contain item i, and where i sits in each (so j ≤ i is a prefix).
  const colStart = ints(n + 1);
  for (let p = 0; p < nnz; p++) colStart[x.cols[p] + 1]++;
  for (let i = 0; i < n; i++) colStart[i + 1] += colStart[i];
  const fill = colStart.slice(0, n);
  const rowStart = ints(nnz);
  const posIn = ints(nnz);
  const cost = new Float64Array(n + 1);
  for (let r = 0; r < x.nRows; r++) {
    const s = x.offsets[r];
    for (let p = s; p < x.offsets[r + 1]; p++) {
      const c = x.cols[p];
      const q = fill[c]++;
      rowStart[q] = s;
      posIn[q] = p;
      cost[c + 1] += p - s + 1;
    }
  }
  const g = shared ? new Float64Array(new SharedArrayBuffer(8 * n * n)) : new Float64Array(n * n);
  if (threads === 1) {
    gramRows(n, x.cols, colStart, rowStart, posIn, g, 0, n);
  } else {
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
    const cols = ints(nnz);
    cols.set(x.cols);
    const done = new Int32Array(new SharedArrayBuffer(4 * threads));
    const src = `const { workerData: d } = require('node:worker_threads');
${gramRows.toString()}
try { gramRows(d.n, d.cols, d.colStart, d.rowStart, d.posIn, new Float64Array(d.g), d.i0, d.i1); d.done[d.t] = 1; }
catch (e) { d.done[d.t] = 2; require('node:fs').writeSync(2, 'gramBinary helper thread: ' + (e && e.stack || e) + '\\n'); }
Atomics.notify(d.done, d.t);`;
    for (let t = 1; t < threads; t++) {
      const w = new Worker(src, { eval: true, workerData: { n, cols, colStart, rowStart, posIn, g: g.buffer, i0: bands[t], i1: bands[t + 1], done, t } });
      w.unref();
    }
    gramRows(n, cols, colStart, rowStart, posIn, g, bands[0], bands[1]);
    for (let t = 1; t < threads; t++) {
      Atomics.wait(done, t, 0);
      if (done[t] !== 1) throw new Error(`gramBinary: helper thread ${t} failed (see stderr)`);
    }
  }
  if (!options.lower) {
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g[j * n + i] = g[i * n + j];
  }
  return g;
}

/**
 * Rows i ∈ [i0, i1) of the lower triangle of XᵀX: column i's entries are (rowStart, posIn) pairs —
 * the start of a row holding i and i's position in it. Self-contained (it is also run as a helper
 * thread's source text).
 */
function gramRows(n: number, cols: Int32Array, colStart: Int32Array, rowStart: Int32Array, posIn: Int32Array, g: Float64Array, i0: number, i1: number): void {
  const acc = new Int32Array(n);
  for (let i = i0; i < i1; i++) {
    acc.fill(0, 0, i + 1);
    for (let q = colStart[i]; q < colStart[i + 1]; q++) {
      const end = posIn[q];
      for (let p = rowStart[q]; p <= end; p++) acc[cols[p]]++;
    }
    const row = i * n;
    for (let j = 0; j <= i; j++) g[row + j] = acc[j];
  }
}

/** Options for {@link spdInverse}. */
export interface SpdInverseOptions {
  /** Block size of the blocked sweep (default 32: fastest on ML-1M, 16–64 within 10 %; panels stay in cache). */
  block?: number;
  /** Threads for the rank-b updates (default: RECLAB_THREADS, else min(2, cores); 1 below n = 512). */
  threads?: number;
  /** `wasm` (SIMD f64x2), `js` (scalar) or `auto` (wasm when the runtime has SIMD and shared memory). */
  kernel?: 'auto' | 'wasm' | 'js';
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
  const bs = Math.max(4, Math.min(options.block ?? 32, 256)) & ~3;
  // Pad to a multiple of 4 with an identity tail so 4×4 tiles never need edge cases.
  const m = (n + 3) & ~3;
  const threads = n < 512 ? 1 : Math.max(1, Math.floor(options.threads ?? defaultThreads()));
  const ws = new SweepWorkspace(m, bs, threads, options.kernel ?? 'auto');
  const { A, W, U } = ws;
  for (let i = 0; i < n; i++) A.set(a.subarray(i * n, i * n + i + 1), i * m);
  for (let i = n; i < m; i++) A[i * m + i] = 1;
  const D = new Float64Array(bs * bs);
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
      // Row-of-D order: each D row is read contiguously and each U value once; zero rows skipped.
      W.fill(0, 0, m * b);
      for (let g = 0; g < m; g += 4) {
        const base = (g >> 2) * b * 4;
        for (let p = 0; p < b; p++) {
          const up = base + 4 * p;
          const u0 = U[up], u1 = U[up + 1], u2 = U[up + 2], u3 = U[up + 3];
          if (u0 === 0 && u1 === 0 && u2 === 0 && u3 === 0) continue;
          const drow = p * b;
          for (let q = 0; q < b; q++) {
            const dq = D[drow + q];
            const w = base + 4 * q;
            W[w] += u0 * dq;
            W[w + 1] += u1 * dq;
            W[w + 2] += u2 * dq;
            W[w + 3] += u3 * dq;
          }
        }
      }
      ws.update(b);
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
    ws.close();
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
 * The memory of one blocked sweep — A (m×m), the packed panels W and U (m×bs) — and the rank-b
 * update over it, run by the SIMD WebAssembly kernel or the scalar JS one, on the calling thread
 * plus helper threads. Each thread owns a contiguous band of rows of A (bands balanced for the
 * triangular shape: row i costs ∝ i). The caller posts a block and does the first band itself,
 * then waits (Atomics), so spdInverse stays synchronous.
 */
class SweepWorkspace {
  readonly A: Float64Array;
  readonly W: Float64Array;
  readonly U: Float64Array;
  private readonly workers: Worker[] = [];
  private readonly ctl: Int32Array;
  private readonly bands: number[];
  private readonly local: (b: number, i0: number, i1: number) => void;
  private seq = 0;

  constructor(
    private readonly m: number,
    bs: number,
    threads: number,
    kernel: 'auto' | 'wasm' | 'js',
  ) {
    const bytes = (m * m + 2 * m * bs) * 8;
    const pages = Math.ceil(bytes / 65536);
    const useWasm = kernel === 'wasm' || (kernel === 'auto' && wasmSimdAvailable() && pages <= 65536);
    this.bands = [0];
    for (let t = 1; t < threads; t++) this.bands.push(Math.round((m * Math.sqrt(t / threads)) / 4) * 4);
    this.bands.push(m);
    this.ctl = new Int32Array(new SharedArrayBuffer(16 * threads));
    const wOff = m * m * 8;
    const uOff = wOff + m * bs * 8;
    let source: string;
    let data: Record<string, unknown>;
    if (useWasm) {
      const memory = new Wasm.Memory({ initial: pages, maximum: pages, shared: true });
      const module = new Wasm.Module(rankModuleBytes(pages));
      const rank = new Wasm.Instance(module, { env: { memory } }).exports.rank as (...args: number[]) => void;
      this.A = new Float64Array(memory.buffer, 0, m * m);
      this.W = new Float64Array(memory.buffer, wOff, m * bs);
      this.U = new Float64Array(memory.buffer, uOff, m * bs);
      this.local = (b, i0, i1) => rank(0, m, b, wOff, uOff, i0, i1);
      source = `const rank = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } }).exports.rank;
const runKernel = (b) => rank(0, workerData.m, b, workerData.wOff, workerData.uOff, workerData.i0, workerData.i1);`;
      data = { module, memory, wOff, uOff };
    } else {
      const buf = threads > 1 ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
      this.A = new Float64Array(buf, 0, m * m);
      this.W = new Float64Array(buf, wOff, m * bs);
      this.U = new Float64Array(buf, uOff, m * bs);
      const { A, W, U } = this;
      this.local = (b, i0, i1) => rankUpdateLower(A, m, b, W, U, i0, i1);
      source = `${rankUpdateLower.toString()}
const A = new Float64Array(workerData.buf, 0, workerData.m * workerData.m);
const W = new Float64Array(workerData.buf, workerData.wOff, workerData.panel);
const U = new Float64Array(workerData.buf, workerData.uOff, workerData.panel);
const runKernel = (b) => rankUpdateLower(A, workerData.m, b, W, U, workerData.i0, workerData.i1);`;
      data = { buf, wOff, uOff, panel: m * bs };
    }
    const loop = `
const { workerData } = require('node:worker_threads');
const { ctl, slot } = workerData;
let run;
try {
${source}
  run = runKernel;
} catch (e) {
  ctl[slot + 3] = 1;
  require('node:fs').writeSync(2, 'linalg helper thread: ' + (e && e.stack || e) + '\\n');
  run = () => {};
}
let seq = 0;
for (;;) {
  Atomics.wait(ctl, slot, seq);
  seq = Atomics.load(ctl, slot);
  if (seq < 0) break;
  try {
    run(ctl[slot + 2]);
  } catch (e) {
    // Report through shared memory: the caller is blocked in Atomics.wait and cannot get events.
    ctl[slot + 3] = 1;
    require('node:fs').writeSync(2, 'linalg helper thread: ' + (e && e.stack || e) + '\\n');
  }
  Atomics.store(ctl, slot + 1, seq);
  Atomics.notify(ctl, slot + 1);
}`;
    for (let t = 1; t < threads; t++) {
      const w = new Worker(loop, { eval: true, workerData: { ...data, m, ctl: this.ctl, slot: 4 * t, i0: this.bands[t], i1: this.bands[t + 1] } });
      w.unref();
      this.workers.push(w);
    }
  }

  /** One rank-b update of the whole lower triangle (C −= W Uᵀ), split across the threads. */
  update(b: number): void {
    const seq = ++this.seq;
    for (let t = 1; t <= this.workers.length; t++) {
      this.ctl[4 * t + 2] = b;
      Atomics.store(this.ctl, 4 * t, seq);
      Atomics.notify(this.ctl, 4 * t);
    }
    this.local(b, this.bands[0], this.bands[1]);
    for (let t = 1; t <= this.workers.length; t++) {
      for (;;) {
        const done = Atomics.load(this.ctl, 4 * t + 1);
        if (done === seq) break;
        Atomics.wait(this.ctl, 4 * t + 1, done);
      }
      if (this.ctl[4 * t + 3] !== 0) throw new Error(`spdInverse: helper thread ${t} failed (see stderr)`);
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

let simdOk: boolean | undefined;
/** True when the runtime validates a module with f64x2 SIMD and a shared memory import. */
export function wasmSimdAvailable(): boolean {
  if (simdOk === undefined) {
    try {
      simdOk = Wasm.validate(rankModuleBytes(1));
    } catch {
      simdOk = false;
    }
  }
  return simdOk === true;
}

/** Runs the WebAssembly kernel once on copies of the inputs (for tests against {@link rankUpdateLower}). */
export function rankUpdateLowerWasm(C: Float64Array, m: number, b: number, W: Float64Array, U: Float64Array, i0: number, i1: number): void {
  const bytes = (m * m + W.length + U.length) * 8;
  const pages = Math.ceil(bytes / 65536);
  const memory = new Wasm.Memory({ initial: pages, maximum: pages, shared: true });
  const rank = new Wasm.Instance(new Wasm.Module(rankModuleBytes(pages)), { env: { memory } }).exports.rank as (...args: number[]) => void;
  const c = new Float64Array(memory.buffer, 0, m * m);
  c.set(C.subarray(0, m * m));
  new Float64Array(memory.buffer, m * m * 8, W.length).set(W);
  new Float64Array(memory.buffer, (m * m + W.length) * 8, U.length).set(U);
  rank(0, m, b, m * m * 8, (m * m + W.length) * 8, i0, i1);
  C.set(c);
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

// ---------------------------------------------------------------------------------------------
// The rank-b update as a WebAssembly SIMD kernel (f64x2): the same 4×4 tile as
// rankUpdateLower, with each tile row held in two 128-bit accumulators, so one instruction does
// two multiply-adds' worth of each. Emitted at run time with the shared binary writer
// (wasm-writer.ts), so there is no build step and no binary artefact.
// ---------------------------------------------------------------------------------------------

/**
 * Builds the module: imports a shared memory `env.memory` (pages of 64 KiB, `pages` = initial and
 * maximum) and exports `rank(c, m, b, w, u, i0, i1)` — rankUpdateLower on byte offsets. With
 * `fma`, the tile's multiply-adds are relaxed-SIMD fused ones (twice the peak where the CPU has FMA).
 */
function rankModuleBytes(pages: number, fma = relaxedSimdAvailable()): Uint8Array {
  const f = new FnBuilder([I32, I32, I32, I32, I32, I32, I32], []);
  const [C, M, B, W, U, I0, I1] = [0, 1, 2, 3, 4, 5, 6];
  const [i, j, p, wp, up, cp, mb, wb] = Array.from({ length: 8 }, () => f.local(I32));
  const acc = Array.from({ length: 8 }, () => f.local(V128));
  const [u01, u23, wv] = [f.local(V128), f.local(V128), f.local(V128)];
  f.get(M).i32(3).shl().set(mb); // row stride in bytes
  f.get(I0).set(i);
  f.block(() => f.loop(() => {
    f.get(i).get(I1).geS().brIf(1);
    f.get(W).get(i).i32(2).shrS().get(B).mul().i32(5).shl().add().set(wb); // wb = w + (i/4)·b·32
    f.i32(0).set(j);
    f.block(() => f.loop(() => {
      f.get(j).get(i).gtS().brIf(1);
      f.get(U).get(j).i32(2).shrS().get(B).mul().i32(5).shl().add().set(up);
      f.get(wb).set(wp);
      for (const a of acc) f.v128Zero().set(a);
      f.i32(0).set(p);
      f.block(() => f.loop(() => {
        f.get(p).get(B).geS().brIf(1);
        f.get(up).v128Load(0).set(u01);
        f.get(up).v128Load(16).set(u23);
        for (let r = 0; r < 4; r++) {
          f.get(wp).load64Splat(8 * r).set(wv);
          if (fma) {
            // acc = w·u + acc in one vfmadd (see relaxed-simd.ts)
            f.get(wv).get(u01).get(acc[2 * r]).f64x2RelaxedMadd().set(acc[2 * r]);
            f.get(wv).get(u23).get(acc[2 * r + 1]).f64x2RelaxedMadd().set(acc[2 * r + 1]);
          } else {
            f.get(acc[2 * r]).get(wv).get(u01).f64x2Mul().f64x2Add().set(acc[2 * r]);
            f.get(acc[2 * r + 1]).get(wv).get(u23).f64x2Mul().f64x2Add().set(acc[2 * r + 1]);
          }
        }
        f.get(wp).i32(32).add().set(wp);
        f.get(up).i32(32).add().set(up);
        f.get(p).i32(1).add().set(p);
        f.br(0);
      }));
      // cp = c + (i·m + j)·8; C[r][j..j+3] −= acc
      f.get(C).get(i).get(M).mul().get(j).add().i32(3).shl().add().set(cp);
      for (let r = 0; r < 4; r++) {
        for (let h = 0; h < 2; h++) f.get(cp).get(cp).v128Load(16 * h).get(acc[2 * r + h]).f64x2Sub().v128Store(16 * h);
        f.get(cp).get(mb).add().set(cp);
      }
      f.get(j).i32(4).add().set(j);
      f.br(0);
    }));
    f.get(i).i32(4).add().set(i);
    f.br(0);
  }));
  return encodeModule({ rank: f }, { minPages: pages, maxPages: pages });
}
