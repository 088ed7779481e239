// AssemblyScript source: the engine's elementwise kernels — dropout, activations, embedding
// gather/scatter, bias and residual epilogues, optimizers, reductions (norms are in norms.ts,
// losses in losses.ts). Each forward sits beside its backward. Row-major float32, pointers are byte offsets; counts are elements.
//
// Dropout masks are counter-based: keep(seed, index) hashes the element's batch-global index,
// so the backward pass regenerates the forward mask instead of storing it, and the mask does not
// depend on how the batch was split across threads.

// @ts-ignore: decorator
@inline function fp(base: usize, i: i32): usize { return base + (<usize>i << 2); }

// @ts-ignore: decorator
@inline export function hash32(x: u32): u32 {
  // lowbias32 (Chris Wellons): a fast integer hash with good avalanche.
  x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16;
  return x;
}

// @ts-ignore: decorator
@inline export function keepMask(seed: u32, index: u32, thr: u32): bool {
  return hash32(index * 0x9E3779B1 + seed) >= thr;
}

/** keepMask for four consecutive indices idx..idx+3: all-ones lanes where the element is kept. */
// @ts-ignore: decorator
@inline export function keep4(seed: u32, idx: u32, thr: u32): v128 {
  let x = i32x4.add(i32x4.splat(<i32>idx), i32x4(0, 1, 2, 3));
  x = i32x4.add(i32x4.mul(x, i32x4.splat(<i32>0x9E3779B1)), i32x4.splat(<i32>seed));
  x = v128.xor(x, i32x4.shr_u(x, 16)); x = i32x4.mul(x, i32x4.splat(0x7feb352d));
  x = v128.xor(x, i32x4.shr_u(x, 15)); x = i32x4.mul(x, i32x4.splat(<i32>0x846ca68b));
  x = v128.xor(x, i32x4.shr_u(x, 16));
  return i32x4.ge_u(x, i32x4.splat(<i32>thr));
}

/**
 * e^x for four lanes: 2^n · poly(g), |relative error| < 2e-7 on [-87, 88]. The rounding of
 * x·log₂e to the nearest integer n uses the 1.5·2²³ trick (adding it leaves n in the low mantissa
 * bits), which avoids the slow float→int conversion of wasm SIMD on x64.
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  // pmin/pmax map to single minps/maxps on x64 (min/max carry NaN and ±0 rules that cost ~6 instructions)
  x = f32x4.pmax(f32x4.pmin(x, f32x4.splat(88.0)), f32x4.splat(-87.0));
  const t = f32x4.mul(x, f32x4.splat(1.4426950408889634));
  const magic = f32x4.splat(12582912.0);
  const tm = f32x4.add(t, magic);
  const n = f32x4.sub(tm, magic);
  const g = f32x4.mul(f32x4.sub(t, n), f32x4.splat(0.6931471805599453)); // |g| ≤ ln2/2
  // Taylor series of e^g to degree 6 (Horner).
  let p = f32x4.add(f32x4.mul(g, f32x4.splat(1.0 / 720.0)), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, g), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, g), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, g), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, g), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, g), f32x4.splat(1.0));
  // integer n = bits(tm) − bits(magic); 2ⁿ has exponent field n + 127
  const e = i32x4.shl(i32x4.add(i32x4.sub(tm, magic), i32x4.splat(127)), 23);
  return f32x4.mul(p, e);
}

/** Scalar e^x through {@link exp4} (same accuracy everywhere). */
export function expf(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline export function sigmoid(x: f32): f32 {
  return 1 / (1 + expf(-x));
}

// @ts-ignore: decorator
@inline export function softplus(x: f32): f32 {
  // log(1 + e^x) without overflow
  return x > 0 ? x + <f32>Math.log1p(<f64>expf(-x)) : <f32>Math.log1p(<f64>expf(x));
}

// ---------------------------------------------------------------- elementwise

/**
 * Y = dropout(X) with keep probability 1 − p and scale 1/(1 − p); element i uses mask index
 * base + i. Backward is the same call on the gradients (same seed and base).
 */
export function dropout(Y: usize, X: usize, n: i32, p: f32, seed: u32, base: u32): void {
  if (p <= 0) { if (Y != X) memory.copy(Y, X, <usize>n << 2); return; }
  const thr = <u32>(<f64>p * 4294967296.0);
  const sc: f32 = 1 / (1 - p);
  const scv = f32x4.splat(sc);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    v128.store(fp(Y, i), v128.and(f32x4.mul(v128.load(fp(X, i)), scv), keep4(seed, base + <u32>i, thr)));
  }
  for (; i < n; i++) {
    const keep = keepMask(seed, base + <u32>i, thr);
    store<f32>(fp(Y, i), keep ? load<f32>(fp(X, i)) * sc : 0);
  }
}

/** A = relu(dropout(H)) (the point-wise FFN's hidden activation). */
export function relu_dropout_fwd(A: usize, H: usize, n: i32, p: f32, seed: u32, base: u32): void {
  const thr = <u32>(<f64>p * 4294967296.0);
  const sc: f32 = p > 0 ? 1 / (1 - p) : 1;
  const scv = f32x4.splat(sc), zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let a = f32x4.mul(f32x4.pmax(v128.load(fp(H, i)), zero), scv);
    if (p > 0) a = v128.and(a, keep4(seed, base + <u32>i, thr));
    v128.store(fp(A, i), a);
  }
  for (; i < n; i++) {
    const h = load<f32>(fp(H, i));
    const keep = p <= 0 || keepMask(seed, base + <u32>i, thr);
    store<f32>(fp(A, i), keep && h > 0 ? h * sc : 0);
  }
}

/** dH = dA ⊙ [A > 0] / (1 − p): A > 0 exactly where the unit was kept and active. */
export function relu_dropout_bwd(dH: usize, dA: usize, A: usize, n: i32, p: f32): void {
  const sc: f32 = p > 0 ? 1 / (1 - p) : 1;
  const scv = f32x4.splat(sc), zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    v128.store(fp(dH, i), v128.and(f32x4.mul(v128.load(fp(dA, i)), scv), f32x4.gt(v128.load(fp(A, i)), zero)));
  }
  for (; i < n; i++) {
    store<f32>(fp(dH, i), load<f32>(fp(A, i)) > 0 ? load<f32>(fp(dA, i)) * sc : 0);
  }
}

/** GELU, tanh form: y = x/2 · (1 + tanh(√(2/π)(x + 0.044715x³))). */
export function gelu_fwd(Y: usize, X: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const x = load<f32>(fp(X, i));
    const u: f32 = 0.7978845608 * (x + 0.044715 * x * x * x);
    const th: f32 = 2 * sigmoid(2 * u) - 1;
    store<f32>(fp(Y, i), 0.5 * x * (1 + th));
  }
}

/** dX = dY · GELU'(X) (accumulate = 1 adds into dX). */
export function gelu_bwd(dX: usize, dY: usize, X: usize, n: i32, accumulate: i32): void {
  for (let i = 0; i < n; i++) {
    const x = load<f32>(fp(X, i));
    const u: f32 = 0.7978845608 * (x + 0.044715 * x * x * x);
    const th: f32 = 2 * sigmoid(2 * u) - 1;
    const du: f32 = 0.7978845608 * (1 + 3 * 0.044715 * x * x);
    const g: f32 = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du;
    const v = load<f32>(fp(dY, i)) * g;
    store<f32>(fp(dX, i), accumulate ? load<f32>(fp(dX, i)) + v : v);
  }
}

/** σ over four lanes, with the vector exp. */
// @ts-ignore: decorator
@inline function sigmoid4(x: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(x))));
}

/**
 * SiLU (swish): Y = X · σ(X), and S = σ(X) kept for the backward (S may be X itself: HSTU keeps σ
 * in place of the pre-activation, so the backward needs no exp and no division). Four lanes at a
 * time (HSTU applies it to every U|V|Q|K entry).
 */
export function silu_fwd(Y: usize, S: usize, X: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const x = v128.load(fp(X, i));
    const sg = sigmoid4(x);
    v128.store(fp(Y, i), f32x4.mul(x, sg));
    v128.store(fp(S, i), sg);
  }
  for (let i = n4; i < n; i++) {
    const x = load<f32>(fp(X, i));
    const sg = sigmoid(x);
    store<f32>(fp(Y, i), x * sg);
    store<f32>(fp(S, i), sg);
  }
}

/** dX (+)= dY · (σ + y(1 − σ)) — the derivative of x·σ(x) from the forward's y and σ. */
export function silu_bwd(dX: usize, dY: usize, Y: usize, S: usize, n: i32, accumulate: i32): void {
  const n4 = n & ~3;
  const one = f32x4.splat(1);
  for (let i = 0; i < n4; i += 4) {
    const sg = v128.load(fp(S, i));
    let v = f32x4.mul(v128.load(fp(dY, i)), f32x4.add(sg, f32x4.mul(v128.load(fp(Y, i)), f32x4.sub(one, sg))));
    if (accumulate) v = f32x4.add(v, v128.load(fp(dX, i)));
    v128.store(fp(dX, i), v);
  }
  for (let i = n4; i < n; i++) {
    const sg = load<f32>(fp(S, i));
    const v = load<f32>(fp(dY, i)) * (sg + load<f32>(fp(Y, i)) * (1 - sg));
    store<f32>(fp(dX, i), accumulate ? load<f32>(fp(dX, i)) + v : v);
  }
}

/** Y = relu(X). */
export function relu_fwd(Y: usize, X: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(fp(Y, i), max<f32>(load<f32>(fp(X, i)), 0));
}

/** dX (+)= dY ⊙ [X > 0]. */
export function relu_bwd(dX: usize, dY: usize, X: usize, n: i32, accumulate: i32): void {
  for (let i = 0; i < n; i++) {
    const v: f32 = load<f32>(fp(X, i)) > 0 ? load<f32>(fp(dY, i)) : 0;
    store<f32>(fp(dX, i), accumulate ? load<f32>(fp(dX, i)) + v : v);
  }
}

/** Y = X (n elements); SIMD copy. */
export function copy(Y: usize, X: usize, n: i32): void {
  memory.copy(Y, X, <usize>n << 2);
}

/** X = 0 (n elements). */
export function zero(X: usize, n: i32): void {
  memory.fill(X, 0, <usize>n << 2);
}

/** Y += alpha · X (n elements). */
export function axpy(Y: usize, X: usize, n: i32, alpha: f32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(fp(Y, i), f32x4.add(v128.load(fp(Y, i)), f32x4.mul(av, v128.load(fp(X, i)))));
  for (; i < n; i++) store<f32>(fp(Y, i), load<f32>(fp(Y, i)) + alpha * load<f32>(fp(X, i)));
}

/** Z = X + Y (n elements). */
export function add(Z: usize, X: usize, Y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(fp(Z, i), f32x4.add(v128.load(fp(X, i)), v128.load(fp(Y, i))));
  for (; i < n; i++) store<f32>(fp(Z, i), load<f32>(fp(X, i)) + load<f32>(fp(Y, i)));
}

/**
 * Z (+)= X ⊙ Y (n elements; accumulate = 1 adds into Z). Its backward is two calls of itself:
 * dX (+)= dZ ⊙ Y and dY (+)= dZ ⊙ X.
 */
export function mul(Z: usize, X: usize, Y: usize, n: i32, accumulate: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let v = f32x4.mul(v128.load(fp(X, i)), v128.load(fp(Y, i)));
    if (accumulate) v = f32x4.add(v, v128.load(fp(Z, i)));
    v128.store(fp(Z, i), v);
  }
  for (; i < n; i++) {
    const v = load<f32>(fp(X, i)) * load<f32>(fp(Y, i));
    store<f32>(fp(Z, i), accumulate ? load<f32>(fp(Z, i)) + v : v);
  }
}

/**
 * Y = R + dropout(Y + b) row-wise (rows of width N, all strides N): the epilogue of a layer whose
 * output is dropped out and added to a residual, in one pass. The mask of element (i, j) is keyed
 * by base + i·N + j, exactly as {@link dropout} over the flattened rows, so the backward is that.
 */
export function bias_dropout_residual(Y: usize, b: usize, R: usize, M: i32, N: i32, p: f32, seed: u32, base: u32): void {
  const thr = <u32>(<f64>p * 4294967296.0);
  const sc: f32 = p > 0 ? 1 / (1 - p) : 1;
  const scv = f32x4.splat(sc);
  for (let i = 0; i < M; i++) {
    const y = Y + (<usize>(i * N) << 2), r = R + (<usize>(i * N) << 2);
    const rowBase = base + <u32>(i * N);
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      let v = f32x4.mul(f32x4.add(v128.load(fp(y, j)), v128.load(fp(b, j))), scv);
      if (p > 0) v = v128.and(v, keep4(seed, rowBase + <u32>j, thr));
      v128.store(fp(y, j), f32x4.add(v, v128.load(fp(r, j))));
    }
    for (; j < N; j++) {
      const keep = p <= 0 || keepMask(seed, rowBase + <u32>j, thr);
      const v: f32 = keep ? (load<f32>(fp(y, j)) + load<f32>(fp(b, j))) * sc : 0;
      store<f32>(fp(y, j), v + load<f32>(fp(r, j)));
    }
  }
}

/** Σ x² in float64 (for gradient clipping). */
export function sumsq(X: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) { const x = <f64>load<f32>(fp(X, i)); s += x * x; }
  return s;
}

/** X *= alpha. */
export function scale(X: usize, n: i32, alpha: f32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(fp(X, i), f32x4.mul(v128.load(fp(X, i)), av));
  for (; i < n; i++) store<f32>(fp(X, i), load<f32>(fp(X, i)) * alpha);
}

/** Y[i, :] += b for each of M rows (row stride ld). */
export function add_bias(Y: usize, b: usize, M: i32, N: i32, ld: i32): void {
  for (let i = 0; i < M; i++) {
    const row = Y + (<usize>(i * ld) << 2);
    let j = 0;
    for (; j + 4 <= N; j += 4) v128.store(fp(row, j), f32x4.add(v128.load(fp(row, j)), v128.load(fp(b, j))));
    for (; j < N; j++) store<f32>(fp(row, j), load<f32>(fp(row, j)) + load<f32>(fp(b, j)));
  }
}

/**
 * db += Σ_i dY[i, :] (the bias gradient). Four rows are summed in registers before touching db,
 * which cuts the load/store chain through db fourfold.
 */
export function col_sum(db: usize, dY: usize, M: i32, N: i32, ld: i32): void {
  const ld4 = <usize>ld << 2;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const r0 = dY + <usize>i * ld4, r1 = r0 + ld4, r2 = r1 + ld4, r3 = r2 + ld4;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const s = f32x4.add(f32x4.add(v128.load(fp(r0, j)), v128.load(fp(r1, j))), f32x4.add(v128.load(fp(r2, j)), v128.load(fp(r3, j))));
      v128.store(fp(db, j), f32x4.add(v128.load(fp(db, j)), s));
    }
    for (; j < N; j++) {
      store<f32>(fp(db, j), load<f32>(fp(db, j)) + ((load<f32>(fp(r0, j)) + load<f32>(fp(r1, j))) + (load<f32>(fp(r2, j)) + load<f32>(fp(r3, j)))));
    }
  }
  for (; i < M; i++) {
    const row = dY + <usize>i * ld4;
    let j = 0;
    for (; j + 4 <= N; j += 4) v128.store(fp(db, j), f32x4.add(v128.load(fp(db, j)), v128.load(fp(row, j))));
    for (; j < N; j++) store<f32>(fp(db, j), load<f32>(fp(db, j)) + load<f32>(fp(row, j)));
  }
}

/** Y[i, :] += b + R[i, :] (bias and residual in one pass; rows of width N, all strides N). */
export function add_bias_residual(Y: usize, b: usize, R: usize, M: i32, N: i32): void {
  for (let i = 0; i < M; i++) {
    const y = Y + (<usize>(i * N) << 2), r = R + (<usize>(i * N) << 2);
    let j = 0;
    for (; j + 4 <= N; j += 4) v128.store(fp(y, j), f32x4.add(v128.load(fp(y, j)), f32x4.add(v128.load(fp(b, j)), v128.load(fp(r, j)))));
    for (; j < N; j++) store<f32>(fp(y, j), load<f32>(fp(y, j)) + load<f32>(fp(b, j)) + load<f32>(fp(r, j)));
  }
}

// ---------------------------------------------------------------- embeddings

/**
 * X[t] = E[ids[t]]·scale + Pos[pos[t]] (Pos may be 0 = none). Rows are d floats.
 */
export function embed_fwd(X: usize, E: usize, ids: usize, Pos: usize, pos: usize, T: i32, d: i32, scale: f32): void {
  for (let t = 0; t < T; t++) {
    const e = E + (<usize>(load<i32>(ids + (<usize>t << 2)) * d) << 2);
    const x = X + (<usize>(t * d) << 2);
    if (Pos) {
      const pp = Pos + (<usize>(load<i32>(pos + (<usize>t << 2)) * d) << 2);
      const sv = f32x4.splat(scale);
      let j = 0;
      for (; j + 4 <= d; j += 4) v128.store(fp(x, j), f32x4.add(f32x4.mul(v128.load(fp(e, j)), sv), v128.load(fp(pp, j))));
      for (; j < d; j++) store<f32>(fp(x, j), load<f32>(fp(e, j)) * scale + load<f32>(fp(pp, j)));
    } else {
      for (let j = 0; j < d; j++) store<f32>(fp(x, j), load<f32>(fp(e, j)) * scale);
    }
  }
}

/** Sparse scatter-add: dE[ids[t]] += scale·dX[t], dPos[pos[t]] += dX[t] (dPos may be 0). */
export function embed_bwd(dE: usize, dPos: usize, dX: usize, ids: usize, pos: usize, T: i32, d: i32, scale: f32): void {
  for (let t = 0; t < T; t++) {
    const e = dE + (<usize>(load<i32>(ids + (<usize>t << 2)) * d) << 2);
    const x = dX + (<usize>(t * d) << 2);
    axpy(e, x, d, scale);
    if (dPos) axpy(dPos + (<usize>(load<i32>(pos + (<usize>t << 2)) * d) << 2), x, d, 1);
  }
}

// ---------------------------------------------------------------- optimizers

/**
 * Adam / AdamW step on n parameters (PyTorch semantics):
 *   g ← g + wd·p (mode 0, L2 "Adam" decay) or p ← p − lr·wd·p (mode 1, decoupled "AdamW");
 *   m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;  p ← p − lr/bc1 · m / (√v/√bc2 + eps)
 * with bc1 = 1 − β1^t, bc2 = 1 − β2^t.
 */
export function adam(P: usize, G: usize, Mo: usize, V: usize, n: i32, lr: f32, b1: f32, b2: f32, eps: f32,
  wd: f32, mode: i32, bc1: f32, bc2: f32): void {
  const step: f32 = lr / bc1;
  const sbc2: f32 = Mathf.sqrt(bc2);
  // Four lanes at a time with the scalar loop's operations in the scalar loop's order: every
  // lane op (add, mul, div, sqrt) rounds exactly like its scalar twin, so results are bit-identical.
  const lrwd: f32 = lr * wd, c1: f32 = 1 - b1, c2: f32 = 1 - b2;
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2);
  const vwd = f32x4.splat(wd), vlrwd = f32x4.splat(lrwd), vstep = f32x4.splat(step), vsbc2 = f32x4.splat(sbc2), veps = f32x4.splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let p = v128.load(fp(P, i));
    let g = v128.load(fp(G, i));
    if (mode == 0) g = f32x4.add(g, f32x4.mul(vwd, p)); else p = f32x4.sub(p, f32x4.mul(vlrwd, p));
    const m = f32x4.add(f32x4.mul(vb1, v128.load(fp(Mo, i))), f32x4.mul(vc1, g));
    const v = f32x4.add(f32x4.mul(vb2, v128.load(fp(V, i))), f32x4.mul(f32x4.mul(vc2, g), g));
    v128.store(fp(Mo, i), m);
    v128.store(fp(V, i), v);
    v128.store(fp(P, i), f32x4.sub(p, f32x4.div(f32x4.mul(vstep, m), f32x4.add(f32x4.div(f32x4.sqrt(v), vsbc2), veps))));
  }
  for (; i < n; i++) {
    let p = load<f32>(fp(P, i));
    let g = load<f32>(fp(G, i));
    if (mode == 0) g += wd * p; else p -= lr * wd * p;
    const m = b1 * load<f32>(fp(Mo, i)) + (1 - b1) * g;
    const v = b2 * load<f32>(fp(V, i)) + (1 - b2) * g * g;
    store<f32>(fp(Mo, i), m);
    store<f32>(fp(V, i), v);
    store<f32>(fp(P, i), p - step * m / (Mathf.sqrt(v) / sbc2 + eps));
  }
}

/** Lazy (sparse) Adam: the same update applied only to the listed rows (d floats each). */
export function adam_rows(P: usize, G: usize, Mo: usize, V: usize, rows: usize, nRows: i32, d: i32, lr: f32,
  b1: f32, b2: f32, eps: f32, wd: f32, mode: i32, bc1: f32, bc2: f32): void {
  for (let r = 0; r < nRows; r++) {
    const off = load<i32>(rows + (<usize>r << 2)) * d;
    adam(fp(P, off), fp(G, off), fp(Mo, off), fp(V, off), d, lr, b1, b2, eps, wd, mode, bc1, bc2);
  }
}

/** For each listed row: Dst[row] += Src[row] (the deterministic reduction of worker gradients). */
export function add_rows(Dst: usize, Src: usize, rows: usize, nRows: i32, d: i32): void {
  for (let r = 0; r < nRows; r++) {
    const off = load<i32>(rows + (<usize>r << 2)) * d;
    axpy(fp(Dst, off), fp(Src, off), d, 1);
  }
}

/** For each listed row: X[row] = 0. */
export function zero_rows(X: usize, rows: usize, nRows: i32, d: i32): void {
  for (let r = 0; r < nRows; r++) {
    const off = load<i32>(rows + (<usize>r << 2)) * d;
    memory.fill(fp(X, off), 0, <usize>d << 2);
  }
}

/** Σ over listed rows of x² (f64), for clipping sparse gradients. */
export function sumsq_rows(X: usize, rows: usize, nRows: i32, d: i32): f64 {
  let s: f64 = 0;
  for (let r = 0; r < nRows; r++) s += sumsq(fp(X, load<i32>(rows + (<usize>r << 2)) * d), d);
  return s;
}

/** Scale listed rows by alpha. */
export function scale_rows(X: usize, rows: usize, nRows: i32, d: i32, alpha: f32): void {
  for (let r = 0; r < nRows; r++) scale(fp(X, load<i32>(rows + (<usize>r << 2)) * d), d, alpha);
}
