// AssemblyScript source: row normalisations — layer norm, HSTU's gated norm U ⊙ LayerNorm(X), and
// L2 normalisation — each forward beside its backward. Rows are contiguous float32; pointers are
// byte offsets.

import { sumsq } from './elementwise';

// @ts-ignore: decorator
@inline function fp(base: usize, i: i32): usize { return base + (<usize>i << 2); }

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Mean of a row of d floats. */
// @ts-ignore: decorator
@inline function rowMean(x: usize, d: i32): f32 {
  const d4 = d & ~3;
  let s4 = f32x4.splat(0);
  for (let j = 0; j < d4; j += 4) s4 = f32x4.add(s4, v128.load(fp(x, j)));
  let s = hsum(s4);
  for (let j = d4; j < d; j++) s += load<f32>(fp(x, j));
  return s / <f32>d;
}

/** 1/√(var + eps) of a row of d floats with mean mu. */
// @ts-ignore: decorator
@inline function rowRstd(x: usize, d: i32, mu: f32, eps: f32): f32 {
  const d4 = d & ~3;
  const muv = f32x4.splat(mu);
  let v4 = f32x4.splat(0);
  for (let j = 0; j < d4; j += 4) { const c = f32x4.sub(v128.load(fp(x, j)), muv); v4 = f32x4.add(v4, f32x4.mul(c, c)); }
  let v = hsum(v4);
  for (let j = d4; j < d; j++) { const c = load<f32>(fp(x, j)) - mu; v += c * c; }
  return 1 / Mathf.sqrt(v / <f32>d + eps);
}


/** Y = (X − μ)/σ · γ + β row-wise over d features; saves μ and 1/σ per row for the backward. */
export function layernorm_fwd(Y: usize, X: usize, gamma: usize, beta: usize, mean: usize, rstd: usize,
  M: i32, d: i32, eps: f32): void {
  const d4 = d & ~3;
  for (let i = 0; i < M; i++) {
    const x = X + (<usize>(i * d) << 2), y = Y + (<usize>(i * d) << 2);
    const mu = rowMean(x, d);
    const r = rowRstd(x, d, mu, eps);
    const muv = f32x4.splat(mu), rv = f32x4.splat(r);
    for (let j = 0; j < d4; j += 4) {
      v128.store(fp(y, j), f32x4.add(f32x4.mul(f32x4.mul(f32x4.sub(v128.load(fp(x, j)), muv), rv), v128.load(fp(gamma, j))), v128.load(fp(beta, j))));
    }
    for (let j = d4; j < d; j++) {
      store<f32>(fp(y, j), (load<f32>(fp(x, j)) - mu) * r * load<f32>(fp(gamma, j)) + load<f32>(fp(beta, j)));
    }
    store<f32>(fp(mean, i), mu);
    store<f32>(fp(rstd, i), r);
  }
}

/**
 * Layer-norm backward: dX (+)= r·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dY·γ;
 * dγ += Σ dY·x̂, dβ += Σ dY.
 */
export function layernorm_bwd(dX: usize, dY: usize, X: usize, gamma: usize, mean: usize, rstd: usize,
  dgamma: usize, dbeta: usize, M: i32, d: i32, accumulate: i32): void {
  const invd: f32 = 1 / <f32>d;
  const d4 = d & ~3;
  for (let i = 0; i < M; i++) {
    const x = X + (<usize>(i * d) << 2), dy = dY + (<usize>(i * d) << 2), dx = dX + (<usize>(i * d) << 2);
    const mu = load<f32>(fp(mean, i)), r = load<f32>(fp(rstd, i));
    const muv = f32x4.splat(mu), rv = f32x4.splat(r);
    let a4 = f32x4.splat(0), b4 = f32x4.splat(0);
    for (let j = 0; j < d4; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(fp(x, j)), muv), rv);
      const g = v128.load(fp(dy, j));
      const dxh = f32x4.mul(g, v128.load(fp(gamma, j)));
      a4 = f32x4.add(a4, dxh); b4 = f32x4.add(b4, f32x4.mul(dxh, xh));
      v128.store(fp(dgamma, j), f32x4.add(v128.load(fp(dgamma, j)), f32x4.mul(g, xh)));
      v128.store(fp(dbeta, j), f32x4.add(v128.load(fp(dbeta, j)), g));
    }
    let a = hsum(a4), b = hsum(b4);
    for (let j = d4; j < d; j++) {
      const xh = (load<f32>(fp(x, j)) - mu) * r;
      const g = load<f32>(fp(dy, j));
      const dxh = g * load<f32>(fp(gamma, j));
      a += dxh; b += dxh * xh;
      store<f32>(fp(dgamma, j), load<f32>(fp(dgamma, j)) + g * xh);
      store<f32>(fp(dbeta, j), load<f32>(fp(dbeta, j)) + g);
    }
    a *= invd; b *= invd;
    const av = f32x4.splat(a), bv = f32x4.splat(b);
    for (let j = 0; j < d4; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(fp(x, j)), muv), rv);
      let v = f32x4.mul(rv, f32x4.sub(f32x4.sub(f32x4.mul(v128.load(fp(dy, j)), v128.load(fp(gamma, j))), av), f32x4.mul(xh, bv)));
      if (accumulate) v = f32x4.add(v, v128.load(fp(dx, j)));
      v128.store(fp(dx, j), v);
    }
    for (let j = d4; j < d; j++) {
      const xh = (load<f32>(fp(x, j)) - mu) * r;
      const v = r * (load<f32>(fp(dy, j)) * load<f32>(fp(gamma, j)) - a - xh * b);
      store<f32>(fp(dx, j), accumulate ? load<f32>(fp(dx, j)) + v : v);
    }
  }
}

/**
 * HSTU's gated normalisation, Y = U ⊙ LayerNorm(X) (no affine parameters): row i of U starts at
 * U + i·ldu floats (U is a column slice of a wider matrix), X and Y rows are d floats.
 */
export function gated_norm_fwd(Y: usize, X: usize, U: usize, ldu: i32, mean: usize, rstd: usize, M: i32, d: i32, eps: f32): void {
  const d4 = d & ~3;
  for (let i = 0; i < M; i++) {
    const x = X + (<usize>(i * d) << 2), y = Y + (<usize>(i * d) << 2), u = U + (<usize>(i * ldu) << 2);
    const mu = rowMean(x, d);
    const r = rowRstd(x, d, mu, eps);
    const muv = f32x4.splat(mu), rv = f32x4.splat(r);
    for (let j = 0; j < d4; j += 4) v128.store(fp(y, j), f32x4.mul(f32x4.mul(f32x4.sub(v128.load(fp(x, j)), muv), rv), v128.load(fp(u, j))));
    for (let j = d4; j < d; j++) store<f32>(fp(y, j), (load<f32>(fp(x, j)) - mu) * r * load<f32>(fp(u, j)));
    store<f32>(fp(mean, i), mu);
    store<f32>(fp(rstd, i), r);
  }
}

/**
 * Backward of {@link gated_norm_fwd}: dX (+)= r·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dY ⊙ U,
 * and dU = dY ⊙ x̂ written (not added) at stride ldu.
 */
export function gated_norm_bwd(dX: usize, dU: usize, dY: usize, X: usize, U: usize, ldu: i32, mean: usize, rstd: usize,
  M: i32, d: i32, accumulate: i32): void {
  const invd: f32 = 1 / <f32>d;
  const d4 = d & ~3;
  for (let i = 0; i < M; i++) {
    const x = X + (<usize>(i * d) << 2), dy = dY + (<usize>(i * d) << 2), dx = dX + (<usize>(i * d) << 2);
    const u = U + (<usize>(i * ldu) << 2), du = dU + (<usize>(i * ldu) << 2);
    const mu = load<f32>(fp(mean, i)), r = load<f32>(fp(rstd, i));
    const muv = f32x4.splat(mu), rv = f32x4.splat(r);
    let a4 = f32x4.splat(0), b4 = f32x4.splat(0);
    for (let j = 0; j < d4; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(fp(x, j)), muv), rv);
      const g = v128.load(fp(dy, j));
      const dxh = f32x4.mul(g, v128.load(fp(u, j)));
      a4 = f32x4.add(a4, dxh); b4 = f32x4.add(b4, f32x4.mul(dxh, xh));
      v128.store(fp(du, j), f32x4.mul(g, xh));
    }
    let a = hsum(a4), b = hsum(b4);
    for (let j = d4; j < d; j++) {
      const xh = (load<f32>(fp(x, j)) - mu) * r;
      const g = load<f32>(fp(dy, j));
      const dxh = g * load<f32>(fp(u, j));
      a += dxh; b += dxh * xh;
      store<f32>(fp(du, j), g * xh);
    }
    a *= invd; b *= invd;
    const av = f32x4.splat(a), bv = f32x4.splat(b);
    for (let j = 0; j < d4; j += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(fp(x, j)), muv), rv);
      let v = f32x4.mul(rv, f32x4.sub(f32x4.sub(f32x4.mul(v128.load(fp(dy, j)), v128.load(fp(u, j))), av), f32x4.mul(xh, bv)));
      if (accumulate) v = f32x4.add(v, v128.load(fp(dx, j)));
      v128.store(fp(dx, j), v);
    }
    for (let j = d4; j < d; j++) {
      const xh = (load<f32>(fp(x, j)) - mu) * r;
      const v = r * (load<f32>(fp(dy, j)) * load<f32>(fp(u, j)) - a - xh * b);
      store<f32>(fp(dx, j), accumulate ? load<f32>(fp(dx, j)) + v : v);
    }
  }
}

/** Row-wise L2 normalisation: Y = X / √(‖X‖² + eps) over rows of width d; saves 1/√(‖X‖² + eps) per row. */
export function l2norm_fwd(Y: usize, X: usize, rinv: usize, M: i32, d: i32, eps: f32): void {
  for (let i = 0; i < M; i++) {
    const x = X + (<usize>(i * d) << 2), y = Y + (<usize>(i * d) << 2);
    const r: f32 = 1 / Mathf.sqrt(<f32>sumsq(x, d) + eps);
    for (let j = 0; j < d; j++) store<f32>(fp(y, j), load<f32>(fp(x, j)) * r);
    store<f32>(fp(rinv, i), r);
  }
}

/** Backward of {@link l2norm_fwd}: dX (+)= r·(dY − Y·(Y·dY)), with Y the forward output. */
export function l2norm_bwd(dX: usize, dY: usize, Y: usize, rinv: usize, M: i32, d: i32, accumulate: i32): void {
  for (let i = 0; i < M; i++) {
    const y = Y + (<usize>(i * d) << 2), dy = dY + (<usize>(i * d) << 2), dx = dX + (<usize>(i * d) << 2);
    let dot: f32 = 0;
    for (let j = 0; j < d; j++) dot += load<f32>(fp(y, j)) * load<f32>(fp(dy, j));
    const r = load<f32>(fp(rinv, i));
    for (let j = 0; j < d; j++) {
      const v = r * (load<f32>(fp(dy, j)) - load<f32>(fp(y, j)) * dot);
      store<f32>(fp(dx, j), accumulate ? load<f32>(fp(dx, j)) + v : v);
    }
  }
}

