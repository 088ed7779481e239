/**
 * Finite-difference gradient checking in float64, for the tests of every kernel and layer (and of
 * models built on the engine). The pattern: write an obviously-correct float64 forward of the
 * thing under test, contract its output with a fixed random cotangent R (loss = Σ R ⊙ out), take
 * central differences of that loss, and compare with the engine's float32 backward fed dOut = R.
 */
import type { Param } from './params.ts';

/** Central-difference gradient of `f` at `x` (x is restored afterwards). Step `eps` (default 1e-6). */
export function numericGrad(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + eps;
    const fp = f(x);
    x[i] = x0 - eps;
    const fm = f(x);
    x[i] = x0;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

/**
 * Largest elementwise error of `a` against the reference `b`, relative to the reference's scale:
 * max |aᵢ − bᵢ| / max(max |bᵢ|, floor). Relative to the whole vector's scale rather than each
 * element, because float32 kernels are accurate to ~1e-6 of the largest magnitudes, not of tiny
 * entries that cancel.
 */
export function maxRelError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  if (a.length !== b.length) throw new Error(`maxRelError: lengths differ (${a.length} vs ${b.length})`);
  let scale = floor;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err / scale;
}

/** Σ r ⊙ y in float64: the scalar a gradient check differentiates. */
export function contract(r: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i] * y[i];
  return s;
}

/**
 * The engine's dropout mask in plain JS (same hash as src/kernels/asm/elementwise.ts): true when element
 * `index` is kept under drop probability p. Lets float64 references reproduce a dropout mask.
 */
export function keepMask(seed: number, index: number, p: number): boolean {
  const thr = Math.floor(p * 4294967296) >>> 0;
  let x = (Math.imul(index >>> 0, 0x9e3779b1) + (seed >>> 0)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0 >= thr;
}

/** A net's parameters as float64 copies by name: the weights of a float64 reference forward. */
export function weightsByName(params: readonly Param[]): Map<string, Float64Array> {
  return new Map(params.map((p) => [p.name, Float64Array.from(p.data.a)]));
}

/**
 * For each parameter: the engine's gradient (its per-thread accumulators `0 … threadsUsed − 1`
 * summed) beside the central difference of `lossOf(W)` in that parameter's entry of `W` (which
 * is restored after). The caller compares the two, e.g. with {@link maxRelError}.
 */
export function* parameterGradients(
  params: readonly Param[],
  threadsUsed: number,
  W: Map<string, Float64Array>,
  lossOf: (W: Map<string, Float64Array>) => number,
  eps = 1e-5,
): Generator<{ name: string; analytic: Float64Array; numeric: Float64Array }> {
  for (const p of params) {
    const analytic = new Float64Array(p.size);
    for (let t = 0; t < threadsUsed; t++) for (let i = 0; i < p.size; i++) analytic[i] += p.grads[t].a[i];
    const x = W.get(p.name)!;
    const numeric = numericGrad((z) => {
      W.set(p.name, z);
      const v = lossOf(W);
      W.set(p.name, x);
      return v;
    }, x.slice(), eps);
    yield { name: p.name, analytic, numeric };
  }
}
