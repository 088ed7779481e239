/** Finite-difference gradient checking for the hand-derived gradients of the CF losses (tests only). */

/**
 * Central differences (f(x+h) − f(x−h)) / 2h of `f` at every coordinate of `x` (modified and
 * restored in place). Returns the numeric gradient.
 */
export function numericGradient(f: () => number, x: Float64Array | Float32Array | number[], h = 1e-5): number[] {
  const g: number[] = [];
  for (let k = 0; k < x.length; k++) {
    const old = x[k];
    x[k] = old + h;
    const fp = f();
    x[k] = old - h;
    const fm = f();
    x[k] = old;
    g.push((fp - fm) / (2 * h));
  }
  return g;
}

/** Largest |a − b| / max(1, |a|, |b|) over two gradients. */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let k = 0; k < a.length; k++) e = Math.max(e, Math.abs(a[k] - b[k]) / Math.max(1, Math.abs(a[k]), Math.abs(b[k])));
  return e;
}
