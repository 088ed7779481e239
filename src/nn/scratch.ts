/**
 * Named, grow-only engine buffers for layers whose activation sizes change from call to call
 * (ragged batches): `get(name, n)` returns a buffer of at least n floats, reallocated only when a
 * call needs more than any call before, so steady-state training allocates nothing. Contents are
 * not cleared between calls (callers write before they read, or zero explicitly).
 */
import type { Buf, Engine } from '../kernels/engine.ts';

export class Scratch {
  private readonly bufs = new Map<string, Buf>();
  private readonly ints = new Map<string, Buf<Int32Array>>();

  /** `owner`: buffers are freed when it is garbage-collected. */
  constructor(readonly engine: Engine, private readonly owner: object) {}

  /** A float32 buffer of at least `n` elements (its view `a` may be longer: use subarray). */
  get(name: string, n: number): Buf {
    const b = this.bufs.get(name);
    if (b && b.length >= n) return b;
    if (b) this.engine.freeBuf(b);
    // 25 % headroom so slowly growing batches do not reallocate every call
    const nb = this.engine.f32(Math.max(16, Math.ceil(n * 1.25)), this.owner);
    this.bufs.set(name, nb);
    return nb;
  }

  /** An int32 buffer holding a copy of `values`. */
  ints32(name: string, values: ArrayLike<number>): Buf<Int32Array> {
    let b = this.ints.get(name);
    if (!b || b.length < values.length) {
      if (b) this.engine.freeBuf(b);
      b = this.engine.i32(Math.max(16, Math.ceil(values.length * 1.25)), this.owner);
      this.ints.set(name, b);
    }
    b.a.set(values);
    return b;
  }
}
