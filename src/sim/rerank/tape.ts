/**
 * A small reverse-mode tape over float64 matrices, for the re-rankers of `src/sim/rerank/`.
 *
 * Why not the wasm engine: RELIFE is many tiny ragged pieces per user (a few clicked items, a few
 * skipped ones, lists of 10–20), where the engine's recorded programs and fixed buffers would need a
 * hand-written backward per module; a tape gives each module's backward by composition and keeps
 * everything float64, so finite differences check every part exactly (SPRec's model here is float64
 * JavaScript for the same reason).
 *
 * Every value is a row-major [rows × cols] matrix with a gradient of the same size. An op computes
 * its output and pushes a closure that adds the output's gradient into its inputs' gradients;
 * `backward(loss)` runs those closures in reverse. Parameters are leaves whose gradient arrays are
 * the parameters' own (so gradients accumulate across graphs until the optimiser zeroes them).
 */

/** A matrix on the tape. */
export class V {
  readonly grad: Float64Array;
  constructor(readonly rows: number, readonly cols: number, readonly data: Float64Array, grad?: Float64Array) {
    if (data.length !== rows * cols) throw new Error(`tape: ${rows}×${cols} value with ${data.length} numbers`);
    this.grad = grad ?? new Float64Array(rows * cols);
  }
}

/** A trainable matrix: its value and accumulated gradient. */
export interface Param {
  name: string;
  rows: number;
  cols: number;
  data: Float64Array;
  grad: Float64Array;
}

function same(a: V, b: V, op: string): void {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error(`tape.${op}: shapes ${a.rows}×${a.cols} and ${b.rows}×${b.cols} differ`);
}

/** Softmax of each row of a value (max-shifted for stability). */
function softmaxOfRows(a: V): Float64Array {
  const { rows, cols } = a;
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, a.data[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += (y[r * cols + j] = Math.exp(a.data[r * cols + j] - mx));
    for (let j = 0; j < cols; j++) y[r * cols + j] /= s;
  }
  return y;
}

/** One graph: ops record their backward here. */
export class Tape {
  private readonly back: (() => void)[] = [];

  private out(rows: number, cols: number, data: Float64Array, backward: (o: V) => void): V {
    const o = new V(rows, cols, data);
    this.back.push(() => backward(o));
    return o;
  }

  /** A constant (its gradient is computed but never used). */
  constant(rows: number, cols: number, data: ArrayLike<number>): V {
    return new V(rows, cols, Float64Array.from(data));
  }

  /** A parameter as a leaf: shares the parameter's value and gradient arrays. */
  param(p: Param): V {
    return new V(p.rows, p.cols, p.data, p.grad);
  }

  /** A·B ([m×k]·[k×n]). */
  matmul(a: V, b: V): V {
    if (a.cols !== b.rows) throw new Error(`tape.matmul: ${a.rows}×${a.cols} · ${b.rows}×${b.cols}`);
    const m = a.rows, k = a.cols, n = b.cols;
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let t = 0; t < k; t++) {
      const x = a.data[i * k + t];
      if (x === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += x * b.data[t * n + j];
    }
    return this.out(m, n, c, (o) => {
      for (let i = 0; i < m; i++) for (let t = 0; t < k; t++) {
        let s = 0;
        const x = a.data[i * k + t];
        for (let j = 0; j < n; j++) {
          const g = o.grad[i * n + j];
          s += g * b.data[t * n + j];
          b.grad[t * n + j] += x * g;
        }
        a.grad[i * k + t] += s;
      }
    });
  }

  /** A·Bᵀ ([m×k]·[n×k]ᵀ). */
  matmulBT(a: V, b: V): V {
    if (a.cols !== b.cols) throw new Error(`tape.matmulBT: ${a.rows}×${a.cols} · (${b.rows}×${b.cols})ᵀ`);
    const m = a.rows, k = a.cols, n = b.rows;
    const c = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a.data[i * k + t] * b.data[j * k + t];
      c[i * n + j] = s;
    }
    return this.out(m, n, c, (o) => {
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        const g = o.grad[i * n + j];
        if (g === 0) continue;
        for (let t = 0; t < k; t++) {
          a.grad[i * k + t] += g * b.data[j * k + t];
          b.grad[j * k + t] += g * a.data[i * k + t];
        }
      }
    });
  }

  /** Elementwise a ∘ b with b the same shape or one row broadcast over a's rows. */
  private binary(a: V, b: V, op: string, f: (x: number, y: number) => number, da: (x: number, y: number) => number, db: (x: number, y: number) => number): V {
    const bcast = b.rows === 1 && a.rows !== 1;
    if (bcast ? b.cols !== a.cols : a.rows !== b.rows || a.cols !== b.cols) same(a, b, op);
    const n = a.cols;
    const bi = (i: number): number => (bcast ? i % n : i);
    const c = Float64Array.from(a.data, (x, i) => f(x, b.data[bi(i)]));
    return this.out(a.rows, n, c, (o) => {
      for (let i = 0; i < c.length; i++) {
        const g = o.grad[i];
        if (g === 0) continue;
        const x = a.data[i], y = b.data[bi(i)];
        a.grad[i] += g * da(x, y);
        b.grad[bi(i)] += g * db(x, y);
      }
    });
  }

  add(a: V, b: V): V {
    return this.binary(a, b, 'add', (x, y) => x + y, () => 1, () => 1);
  }

  sub(a: V, b: V): V {
    return this.binary(a, b, 'sub', (x, y) => x - y, () => 1, () => -1);
  }

  mul(a: V, b: V): V {
    return this.binary(a, b, 'mul', (x, y) => x * y, (_x, y) => y, (x) => x);
  }

  scale(a: V, s: number): V {
    return this.out(a.rows, a.cols, a.data.map((x) => x * s), (o) => {
      for (let i = 0; i < a.data.length; i++) a.grad[i] += s * o.grad[i];
    });
  }

  relu(a: V): V {
    return this.out(a.rows, a.cols, a.data.map((x) => (x > 0 ? x : 0)), (o) => {
      for (let i = 0; i < a.data.length; i++) if (a.data[i] > 0) a.grad[i] += o.grad[i];
    });
  }

  /** Softmax of each row. */
  softmaxRows(a: V): V {
    const { rows, cols } = a;
    const y = softmaxOfRows(a);
    return this.out(rows, cols, y, (o) => {
      for (let r = 0; r < rows; r++) {
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += o.grad[r * cols + j] * y[r * cols + j];
        for (let j = 0; j < cols; j++) a.grad[r * cols + j] += y[r * cols + j] * (o.grad[r * cols + j] - dot);
      }
    });
  }

  /** Each row divided by its Euclidean norm (plus 1e-12). */
  l2NormalizeRows(a: V): V {
    const { rows, cols } = a;
    const norms = new Float64Array(rows);
    const y = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += a.data[r * cols + j] ** 2;
      norms[r] = Math.sqrt(s) + 1e-12;
      for (let j = 0; j < cols; j++) y[r * cols + j] = a.data[r * cols + j] / norms[r];
    }
    // y = x/|x|: dx = (dy − y·(y·dy))/|x|
    return this.out(rows, cols, y, (o) => {
      for (let r = 0; r < rows; r++) {
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += y[r * cols + j] * o.grad[r * cols + j];
        for (let j = 0; j < cols; j++) a.grad[r * cols + j] += (o.grad[r * cols + j] - y[r * cols + j] * dot) / norms[r];
      }
    });
  }

  /** Columns side by side (every part has the same rows). */
  concatCols(parts: V[]): V {
    const rows = parts[0].rows;
    for (const p of parts) if (p.rows !== rows) throw new Error(`tape.concatCols: rows ${p.rows} and ${rows} differ`);
    const cols = parts.reduce((a, p) => a + p.cols, 0);
    const c = new Float64Array(rows * cols);
    let off = 0;
    for (const p of parts) {
      for (let r = 0; r < rows; r++) for (let j = 0; j < p.cols; j++) c[r * cols + off + j] = p.data[r * p.cols + j];
      off += p.cols;
    }
    return this.out(rows, cols, c, (o) => {
      let at = 0;
      for (const p of parts) {
        for (let r = 0; r < rows; r++) for (let j = 0; j < p.cols; j++) p.grad[r * p.cols + j] += o.grad[r * cols + at + j];
        at += p.cols;
      }
    });
  }

  /** Rows of `a` picked by index (repeats allowed): embedding lookup, tiling, repeating. */
  gather(a: V, ids: ArrayLike<number>): V {
    const d = a.cols, n = ids.length;
    const c = new Float64Array(n * d);
    for (let r = 0; r < n; r++) {
      const id = ids[r];
      if (!(id >= 0 && id < a.rows)) throw new Error(`tape.gather: row ${id} outside 0..${a.rows - 1}`);
      c.set(a.data.subarray(id * d, id * d + d), r * d);
    }
    return this.out(n, d, c, (o) => {
      for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) a.grad[ids[r] * d + j] += o.grad[r * d + j];
    });
  }

  /** The same numbers read as [rows × cols] (row-major order kept). */
  reshape(a: V, rows: number, cols: number): V {
    if (rows * cols !== a.data.length) throw new Error(`tape.reshape: ${a.rows}×${a.cols} to ${rows}×${cols}`);
    return this.out(rows, cols, a.data.slice(), (o) => {
      for (let i = 0; i < a.data.length; i++) a.grad[i] += o.grad[i];
    });
  }

  /** Stacks several matrices of the same width vertically. */
  stackRows(parts: V[]): V {
    const cols = parts[0].cols;
    for (const p of parts) if (p.cols !== cols) throw new Error(`tape.stackRows: cols ${p.cols} and ${cols} differ`);
    const rows = parts.reduce((a, p) => a + p.rows, 0);
    const c = new Float64Array(rows * cols);
    let off = 0;
    for (const p of parts) {
      c.set(p.data, off);
      off += p.data.length;
    }
    return this.out(rows, cols, c, (o) => {
      let at = 0;
      for (const p of parts) {
        for (let i = 0; i < p.data.length; i++) p.grad[i] += o.grad[at + i];
        at += p.data.length;
      }
    });
  }

  /** Mean of the rows: [1 × cols]. */
  meanRows(a: V): V {
    const { rows, cols } = a;
    const c = new Float64Array(cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) c[j] += a.data[r * cols + j] / rows;
    return this.out(1, cols, c, (o) => {
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) a.grad[r * cols + j] += o.grad[j] / rows;
    });
  }

  /** Σ over entries of BCE-with-logits(z, y), z one logit per row: [1 × 1]. */
  bceWithLogits(z: V, y: ArrayLike<number>): V {
    if (z.data.length !== y.length) throw new Error(`tape.bceWithLogits: ${z.data.length} logits, ${y.length} labels`);
    let s = 0;
    for (let i = 0; i < y.length; i++) {
      const x = z.data[i];
      // log(1 + e^x) − y·x, stable
      s += Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))) - y[i] * x;
    }
    return this.out(1, 1, Float64Array.of(s), (o) => {
      for (let i = 0; i < y.length; i++) z.grad[i] += o.grad[0] * (1 / (1 + Math.exp(-z.data[i])) - y[i]);
    });
  }

  /** Σ over rows of −log softmax(row)[target]: [1 × 1]. */
  softmaxCrossEntropy(logits: V, targets: ArrayLike<number>): V {
    const { rows, cols } = logits;
    if (targets.length !== rows) throw new Error(`tape.softmaxCrossEntropy: ${rows} rows, ${targets.length} targets`);
    const p = softmaxOfRows(logits);
    let loss = 0;
    for (let r = 0; r < rows; r++) loss -= Math.log(p[r * cols + targets[r]]);
    return this.out(1, 1, Float64Array.of(loss), (o) => {
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) logits.grad[r * cols + j] += o.grad[0] * (p[r * cols + j] - (j === targets[r] ? 1 : 0));
    });
  }

  /** Runs the backward from a [1 × 1] loss (its gradient seeded with 1). */
  backward(loss: V): void {
    if (loss.data.length !== 1) throw new Error(`tape.backward: the loss must be 1×1, got ${loss.rows}×${loss.cols}`);
    loss.grad[0] += 1;
    for (let i = this.back.length - 1; i >= 0; i--) this.back[i]();
  }
}
