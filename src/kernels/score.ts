/**
 * Scoring on the kernel core, for every dot-product model (factor models, the sequential models'
 * output layer) and for the evaluator and the server: score(u, i) = uᵤ · vᵢ over `dims`-wide
 * vectors (a model with item biases appends the bias as one more column, with a 1 in the user's).
 *
 * - {@link ItemPanels}: a model's item vectors, packed once into the engine's memory (panels of 8
 *   items, k-major) and kept until the model changes.
 * - {@link scoreDot}: users × all items into a score block (`score_panels`), rows split across the
 *   engine's threads.
 * - {@link rankCountDot}: full-ranking rank counts without writing scores at all (`rank_count`
 *   compares each tile with the target's score in registers, history items masked by a bitmap):
 *   what leave-one-out evaluation needs, and the reason it runs at the GEMM's speed instead of
 *   memory's.
 * - {@link countAbove}: the same counts over a written score block (models that are not dot products).
 */
import { defaultEngine, type Buf, type Engine, type Program } from './engine.ts';

/** Items per panel (the micro-kernel's width, asm/score.ts). */
const PANEL = 8;
/** Users per micro-kernel tile (rows are padded to a multiple of it). */
const MR = 4;
/** Below this many user rows per thread a second thread costs more than it saves. */
const MIN_ROWS_PER_THREAD = 64;

/** A model's item vectors in the engine's memory: row-major (targets, exclusions) and packed (tiles). */
export class ItemPanels {
  readonly engine: Engine;
  /** Row-major copy [nItems × dims]. */
  readonly rows: Buf;
  /** Panels of 8 items, k-major. */
  readonly panels: Buf;

  /** Copies `vectors` [nItems × dims] (row-major) into the engine and packs them. */
  constructor(vectors: Float32Array, readonly nItems: number, readonly dims: number) {
    if (vectors.length < nItems * dims) throw new Error(`ItemPanels: ${vectors.length} floats for ${nItems} items × ${dims} dims`);
    const e = (this.engine = defaultEngine());
    this.rows = e.f32(Math.max(1, nItems * dims), this);
    this.rows.a.set(vectors.subarray(0, nItems * dims));
    this.panels = e.f32(Math.max(1, Math.ceil(nItems / PANEL) * PANEL * dims), this);
    e.k.pack_panels(this.panels.ptr, this.rows.ptr, nItems, dims, dims);
  }

  /** Returns the memory now (the panels must not be used afterwards; otherwise freed with the object). */
  dispose(): void {
    this.engine.freeBuf(this.rows);
    this.engine.freeBuf(this.panels);
  }
}

/** Reusable engine buffers for the calls below, grown on demand. */
class Scratch {
  private readonly bufs = new Map<string, Buf<Float32Array> | Buf<Int32Array>>();
  constructor(private readonly engine: Engine) {}
  f32(name: string, n: number): Buf<Float32Array> {
    return this.get(name, n, false) as Buf<Float32Array>;
  }
  i32(name: string, n: number): Buf<Int32Array> {
    return this.get(name, n, true) as Buf<Int32Array>;
  }
  private get(name: string, n: number, int: boolean): Buf<Float32Array> | Buf<Int32Array> {
    let b = this.bufs.get(name);
    if (!b || b.length < n) {
      if (b) this.engine.freeBuf(b);
      const size = Math.max(16, Math.ceil(n * 1.25));
      b = int ? this.engine.i32(size, this) : this.engine.f32(size, this);
      this.bufs.set(name, b);
    }
    return b;
  }
}
let scratch: Scratch | null = null;
function scratchOf(e: Engine): Scratch {
  scratch ??= new Scratch(e);
  return scratch;
}

/** True when `view` lies in the engine's memory (kernels can write it in place). */
export function inEngine(e: Engine, view: ArrayBufferView): boolean {
  return view.buffer === e.memory.buffer;
}

/** Row bands (multiples of MR) for the engine's threads. */
function bands(e: Engine, rows: number): number[] {
  const t = Math.max(1, Math.min(e.threads, Math.floor(rows / MIN_ROWS_PER_THREAD)));
  const per = Math.ceil(rows / t / MR) * MR;
  const out = [0];
  while (out[out.length - 1] < rows) out.push(Math.min(rows, out[out.length - 1] + per));
  return out;
}

/** Copies user vectors into engine scratch, padded with zero rows to a multiple of MR. */
function stageUsers(e: Engine, users: Float32Array, n: number, dims: number): { U: Buf; rows: number } {
  const rows = Math.ceil(n / MR) * MR;
  const U = scratchOf(e).f32('users', rows * dims);
  if (users.buffer !== e.memory.buffer || users.byteOffset !== U.ptr) U.a.set(users.subarray(0, n * dims));
  U.a.fill(0, n * dims, rows * dims);
  return { U, rows };
}

/**
 * out[r·nItems + i] = users[r] · item i, for the n = users.length / dims rows of `users`
 * [n × dims]. Written in place when `out` lies in the engine's memory and has room for the padded
 * rows; otherwise through scratch and copied.
 */
export function scoreDot(items: ItemPanels, users: Float32Array, n: number, out: Float32Array): void {
  const { engine: e, dims, nItems } = items;
  if (out.length < n * nItems) throw new Error(`scoreDot: out holds ${out.length} floats, need ${n}×${nItems}`);
  if (n === 0) return;
  const { U, rows } = stageUsers(e, users, n, dims);
  const direct = inEngine(e, out) && out.length >= rows * nItems;
  const O = direct ? { ptr: out.byteOffset, a: out } : scratchOf(e).f32('scores', rows * nItems);
  const b = bands(e, rows);
  const programs: Program[] = [];
  for (let t = 0; t + 1 < b.length; t++) {
    const p = e.program();
    p.call('score_panels', O.ptr + 4 * b[t] * nItems, U.ptr + 4 * b[t] * dims, items.panels.ptr, b[t + 1] - b[t], nItems, dims, nItems);
    programs.push(p);
  }
  e.runParallel(programs);
  if (!direct) out.set(O.a.subarray(0, n * nItems));
}

/** Each user's items to leave out of the ranking, as CSR: row r's items are items[offsets[r] .. offsets[r+1]). */
export interface Exclusions {
  offsets: Int32Array;
  items: Int32Array;
}

/**
 * Rank counts under full ranking, without scores: for each of the n rows of `users` [n × dims] with
 * target item targets[r], counts[2r] = #items scoring above the target and counts[2r+1] = #items
 * scoring equal (the target included), over all items except row r's `exclude` items (distinct,
 * never the target). A NaN target score gives 0 and 0.
 */
export function rankCountDot(items: ItemPanels, users: Float32Array, n: number, targets: Int32Array, exclude: Exclusions, counts: Int32Array): void {
  const { engine: e, dims, nItems } = items;
  if (n === 0) return;
  const s = scratchOf(e);
  const { U, rows } = stageUsers(e, users, n, dims);
  const T = s.i32('targets', rows);
  T.a.set(targets.subarray(0, n));
  T.a.fill(0, n, rows);
  const C = s.i32('counts', 2 * rows);
  // one bit per (user, item): byte p of a row covers items 8p .. 8p + 7
  const stride = Math.ceil(nItems / PANEL);
  const bitsBuf = s.i32('excl-bits', Math.ceil((rows * stride) / 4));
  const bits = new Uint8Array(e.memory.buffer, bitsBuf.ptr, rows * stride);
  bits.fill(0);
  for (let r = 0; r < n; r++) {
    const base = r * stride;
    for (let q = exclude.offsets[r]; q < exclude.offsets[r + 1]; q++) {
      const i = exclude.items[q];
      bits[base + (i >> 3)] |= 1 << (i & 7);
    }
  }
  const b = bands(e, rows);
  const tmp = s.i32('rank-scratch', 9 * rows);
  const programs: Program[] = [];
  for (let t = 0; t + 1 < b.length; t++) {
    const r0 = b[t], nr = b[t + 1] - r0;
    const p = e.program();
    p.call('rank_count', C.ptr + 8 * r0, U.ptr + 4 * r0 * dims, items.panels.ptr, items.rows.ptr, T.ptr + 4 * r0, nr, nItems, dims,
      bitsBuf.ptr + r0 * stride, tmp.ptr + 36 * r0);
    programs.push(p);
  }
  e.runParallel(programs);
  counts.set(C.a.subarray(0, 2 * n));
}

/**
 * For each row r of `scores` (nRows × nItems, row-major) counts entries strictly greater than
 * and equal to scores[r, targets[r]] into counts[2r] and counts[2r+1] (the equal count includes
 * the target). Vectorised in place when `scores` lies in the engine's memory.
 */
export function countAbove(scores: Float32Array, nRows: number, nItems: number, targets: Int32Array, counts: Int32Array): void {
  if (nRows === 0) return;
  const e = defaultEngine();
  const s = scratchOf(e);
  let S = scores;
  if (!inEngine(e, scores)) {
    const copy = s.f32('count-scores', nRows * nItems);
    copy.a.set(scores.subarray(0, nRows * nItems));
    S = copy.a;
  }
  const T = s.i32('count-targets', nRows);
  T.a.set(targets.subarray(0, nRows));
  const C = s.i32('count-out', 2 * nRows);
  e.k.count_above(C.ptr, S.byteOffset, nRows, nItems, T.ptr);
  counts.set(C.a.subarray(0, 2 * nRows));
}
