// AssemblyScript source: fused losses over sampled or full candidates — each writes the gradient
// of its inputs and adds weight · loss into an f64 accumulator. Rows are contiguous float32;
// pointers are byte offsets.

import { axpy, expf, exp4, scale, sigmoid, softplus } from './elementwise';
import { hsum } from './norms';

// @ts-ignore: decorator
@inline function fp(base: usize, i: i32): usize { return base + (<usize>i << 2); }

// @ts-ignore: decorator
@inline function dotRow(a: usize, b: usize, d: i32): f32 {
  let s4 = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= d; j += 4) s4 = f32x4.add(s4, f32x4.mul(v128.load(fp(a, j)), v128.load(fp(b, j))));
  let s: f32 = f32x4.extract_lane(s4, 0) + f32x4.extract_lane(s4, 1) + f32x4.extract_lane(s4, 2) + f32x4.extract_lane(s4, 3);
  for (; j < d; j++) s += load<f32>(fp(a, j)) * load<f32>(fp(b, j));
  return s;
}

/**
 * Binary cross-entropy with logits against sampled negatives (SASRec; gBCE with beta ≠ 1).
 * Token t has hidden state H[t], one positive item pos[t] and nNeg negatives
 * neg[t·nNeg + k]; logits are dot products with rows of E:
 *   loss_t = β·softplus(−s⁺) + Σ_k softplus(s⁻_k)      (β = 1: plain BCE)
 * — gBCE (Petrov & Macdonald 2023) replaces σ(s⁺) by σ(s⁺)^β, i.e. −log σ(s⁺)^β = β·softplus(−s⁺).
 * Writes dH[t] (overwrite), adds the item gradients into dE and weight·Σ loss_t into out[0] (f64).
 */
export function bce_neg_loss(H: usize, E: usize, pos: usize, neg: usize, T: i32, nNeg: i32, d: i32, weight: f32,
  beta: f32, dH: usize, dE: usize, out: usize): void {
  let total: f64 = 0;
  for (let t = 0; t < T; t++) {
    const h = H + (<usize>(t * d) << 2), dh = dH + (<usize>(t * d) << 2);
    const ep = E + (<usize>(load<i32>(pos + (<usize>t << 2)) * d) << 2);
    const dep = dE + (<usize>(load<i32>(pos + (<usize>t << 2)) * d) << 2);
    const sp = dotRow(h, ep, d);
    total += <f64>(beta * softplus(-sp));
    const gp: f32 = weight * beta * (sigmoid(sp) - 1);
    memory.fill(dh, 0, <usize>d << 2);
    axpy(dh, ep, d, gp);
    axpy(dep, h, d, gp);
    for (let k = 0; k < nNeg; k++) {
      const id = load<i32>(neg + (<usize>(t * nNeg + k) << 2));
      const en = E + (<usize>(id * d) << 2), den = dE + (<usize>(id * d) << 2);
      const sn = dotRow(h, en, d);
      total += <f64>softplus(sn);
      const gn: f32 = weight * sigmoid(sn);
      axpy(dh, en, d, gn);
      axpy(den, h, d, gn);
    }
  }
  store<f64>(out, load<f64>(out) + total * <f64>weight);
}

/**
 * Sampled softmax cross-entropy with temperature τ: per token the candidates are the positive
 * followed by nNeg negatives, logits z = (h·e)/τ, loss = −z₀ + log Σ exp z. (Full softmax CE is
 * the same kernel with every item as a candidate, done in chunks by the caller.) Writes dH,
 * adds into dE and w·loss into out[0]. `scratch` holds 1 + nNeg floats.
 */
export function sampled_softmax_loss(H: usize, E: usize, pos: usize, neg: usize, T: i32, nNeg: i32, d: i32,
  weight: f32, tau: f32, dH: usize, dE: usize, out: usize, scratch: usize): void {
  let total: f64 = 0;
  const invTau: f32 = 1 / tau;
  for (let t = 0; t < T; t++) {
    const h = H + (<usize>(t * d) << 2), dh = dH + (<usize>(t * d) << 2);
    let m: f32 = -Infinity;
    for (let c = 0; c <= nNeg; c++) {
      const id = c == 0 ? load<i32>(pos + (<usize>t << 2)) : load<i32>(neg + (<usize>(t * nNeg + c - 1) << 2));
      const z = dotRow(h, E + (<usize>(id * d) << 2), d) * invTau;
      store<f32>(fp(scratch, c), z);
      m = max(m, z);
    }
    // e^(z − m) four candidates at a time
    const nc = nNeg + 1, nc4 = nc & ~3;
    const mv = f32x4.splat(m);
    let s4 = f32x4.splat(0);
    for (let c = 0; c < nc4; c += 4) { const e = exp4(f32x4.sub(v128.load(fp(scratch, c)), mv)); v128.store(fp(scratch, c), e); s4 = f32x4.add(s4, e); }
    let sum: f32 = hsum(s4);
    for (let c = nc4; c < nc; c++) { const e = expf(load<f32>(fp(scratch, c)) - m); store<f32>(fp(scratch, c), e); sum += e; }
    // loss = log Σ e^z − z0 = m + log(sum) − z0; z0 − m = log(e0)
    total += <f64>(Mathf.log(sum) - Mathf.log(load<f32>(fp(scratch, 0))));
    memory.fill(dh, 0, <usize>d << 2);
    const inv: f32 = 1 / sum;
    for (let c = 0; c <= nNeg; c++) {
      const id = c == 0 ? load<i32>(pos + (<usize>t << 2)) : load<i32>(neg + (<usize>(t * nNeg + c - 1) << 2));
      const g: f32 = weight * invTau * (load<f32>(fp(scratch, c)) * inv - (c == 0 ? 1 : 0));
      const e = E + (<usize>(id * d) << 2), de = dE + (<usize>(id * d) << 2);
      axpy(dh, e, d, g);
      axpy(de, h, d, g);
    }
  }
  store<f64>(out, load<f64>(out) + total * <f64>weight);
}

/**
 * Softmax cross-entropy over precomputed logits Z[T × n] (row stride ld), targets y[t]:
 * loss = log Σ exp z − z_y. Overwrites Z with w·(softmax − onehot) = dZ and adds w·loss into out.
 */
export function softmax_ce(Z: usize, y: usize, T: i32, n: i32, ld: i32, weight: f32, out: usize): void {
  let total: f64 = 0;
  for (let t = 0; t < T; t++) {
    const z = Z + (<usize>(t * ld) << 2);
    let m4 = f32x4.splat(-Infinity);
    let q = 0;
    for (; q + 4 <= n; q += 4) m4 = f32x4.pmax(m4, v128.load(fp(z, q)));
    let m: f32 = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
    for (; q < n; q++) m = max(m, load<f32>(fp(z, q)));
    let sum: f32 = 0;
    const mv = f32x4.splat(m);
    let j = 0;
    let s4 = f32x4.splat(0);
    for (; j + 4 <= n; j += 4) { const e = exp4(f32x4.sub(v128.load(fp(z, j)), mv)); v128.store(fp(z, j), e); s4 = f32x4.add(s4, e); }
    sum = f32x4.extract_lane(s4, 0) + f32x4.extract_lane(s4, 1) + f32x4.extract_lane(s4, 2) + f32x4.extract_lane(s4, 3);
    for (; j < n; j++) { const e = expf(load<f32>(fp(z, j)) - m); store<f32>(fp(z, j), e); sum += e; }
    const target = load<i32>(y + (<usize>t << 2));
    total += <f64>(Mathf.log(sum) - Mathf.log(load<f32>(fp(z, target))));
    const inv: f32 = weight / sum;
    scale(z, n, inv);
    store<f32>(fp(z, target), load<f32>(fp(z, target)) - weight);
  }
  store<f64>(out, load<f64>(out) + total * <f64>weight);
}

