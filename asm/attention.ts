// AssemblyScript source: fused scaled-dot-product attention over ragged (jagged) sequences.
//
// Tokens of all sequences are packed one after another (no padding): sequence s owns tokens
// seqOff[s] .. seqOff[s+1]-1. Q, K, V, O are token-major [T × ld] with head h in columns
// h*dh .. (h+1)*dh-1. For each (sequence, head) the L×L score matrix lives in `P` at float offset
// pOff[s]*heads + h*L*L, where pOff is the prefix sum of L² — only real tokens cost anything.
// Causal attention computes only the lower triangle (gemm causal modes 1–3); bidirectional
// attention (BERT4Rec) computes the full square. Dropout on the attention weights uses the
// counter-based mask of elementwise.ts keyed by (seed, batch-global sequence id, i, j), so
// the same seed gives the same mask whatever the thread split.
//
// The score function is pluggable: kind 0 = softmax (SASRec, BERT4Rec); kind 1 = pointwise
// SiLU(s)/L as in HSTU (no normalisation across the row).

import { gemm, transpose } from './gemm';
import { exp4, keepMask } from './elementwise';

// @ts-ignore: decorator
@inline function fptr(base: usize, i: i32): usize { return base + (<usize>i << 2); }

/** Row-wise score function of S (in place into P): softmax or SiLU, masked causally. */
function scoreRows(P: usize, L: i32, scale: f32, causal: i32, kind: i32): void {
  for (let i = 0; i < L; i++) {
    const row = P + (<usize>(i * L) << 2);
    const n = causal ? i + 1 : L;
    if (kind == 0) {
      let m: f32 = -Infinity;
      for (let j = 0; j < n; j++) m = max(m, load<f32>(fptr(row, j)));
      m *= scale;
      const sv = f32x4.splat(scale), mv = f32x4.splat(m);
      let sum4 = f32x4.splat(0);
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        const e = exp4(f32x4.sub(f32x4.mul(v128.load(fptr(row, j)), sv), mv));
        v128.store(fptr(row, j), e);
        sum4 = f32x4.add(sum4, e);
      }
      let sum: f32 = f32x4.extract_lane(sum4, 0) + f32x4.extract_lane(sum4, 1) + f32x4.extract_lane(sum4, 2) + f32x4.extract_lane(sum4, 3);
      for (; j < n; j++) {
        const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(fptr(row, j)) * scale - m)), 0);
        store<f32>(fptr(row, j), e);
        sum += e;
      }
      const inv: f32 = 1 / sum;
      for (j = 0; j < n; j++) store<f32>(fptr(row, j), load<f32>(fptr(row, j)) * inv);
    } else {
      // HSTU: SiLU(scale·s) / L, no row normalisation.
      const invL: f32 = 1 / <f32>L;
      for (let j = 0; j < n; j++) {
        const s = load<f32>(fptr(row, j)) * scale;
        const sig: f32 = 1 / (1 + f32x4.extract_lane(exp4(f32x4.splat(-s)), 0));
        store<f32>(fptr(row, j), s * sig * invL);
      }
    }
    for (let j = n; j < L; j++) store<f32>(fptr(row, j), 0);
  }
}

/** P2 = dropout(P) with the mask keyed by (seed, seqId); zeros stay zeros. */
function dropRows(P2: usize, P: usize, L: i32, p: f32, seed: u32, seqId: i32, causal: i32): void {
  const thr = <u32>(<f64>p * 4294967296.0);
  const sc: f32 = 1 / (1 - p);
  const base = <u32>seqId * 0x01000193;
  for (let i = 0; i < L; i++) {
    const n = causal ? i + 1 : L;
    const off = i * L;
    for (let j = 0; j < n; j++) {
      const keep = keepMask(seed ^ base, <u32>(off + j), thr);
      store<f32>(fptr(P2, off + j), keep ? load<f32>(fptr(P, off + j)) * sc : 0);
    }
    for (let j = n; j < L; j++) store<f32>(fptr(P2, off + j), 0);
  }
}

/**
 * Forward attention for sequences [s0, s1). P receives the score matrices (after softmax), P2 the
 * dropped-out weights actually multiplied with V (P2 may equal P when p = 0). `scratch` holds
 * dh × maxL floats (Kᵀ of one sequence and head). seqIdBase + s identifies a sequence in the batch.
 */
export function attn_fwd(Q: usize, K: usize, V: usize, O: usize, ldq: i32, ldk: i32, ldv: i32, ldo: i32,
  P: usize, P2: usize, seqOff: usize, pOff: usize, s0: i32, s1: i32, heads: i32, dh: i32,
  causal: i32, kind: i32, p: f32, seed: u32, seqIdBase: i32, scratch: usize): void {
  const scale: f32 = 1 / Mathf.sqrt(<f32>dh);
  for (let s = s0; s < s1; s++) {
    const t0 = load<i32>(seqOff + (<usize>s << 2));
    const L = load<i32>(seqOff + (<usize>(s + 1) << 2)) - t0;
    if (L == 0) continue;
    const pbase = load<i32>(pOff + (<usize>s << 2)) * heads;
    for (let h = 0; h < heads; h++) {
      const Ph = fptr(P, pbase + h * L * L);
      const P2h = fptr(P2, pbase + h * L * L);
      const q = fptr(Q, t0 * ldq + h * dh), k = fptr(K, t0 * ldk + h * dh), v = fptr(V, t0 * ldv + h * dh);
      const o = fptr(O, t0 * ldo + h * dh);
      transpose(scratch, k, L, dh, ldk, L);
      gemm(Ph, q, scratch, L, L, dh, ldq, L, L, 0, 0, causal ? 1 : 0, 1);
      scoreRows(Ph, L, scale, causal, kind);
      if (p > 0) dropRows(P2h, Ph, L, p, seed + <u32>h * 0x9E3779B9, seqIdBase + s, causal);
      gemm(o, P2h, v, L, dh, L, L, ldv, ldo, 0, 0, causal ? 2 : 0, 1);
    }
  }
}

/**
 * Backward of {@link attn_fwd}: from dO writes dQ, dK, dV (overwriting). `scratch` holds
 * dh × maxL + maxL² floats.
 */
export function attn_bwd(Q: usize, K: usize, V: usize, dO: usize, dQ: usize, dK: usize, dV: usize,
  ldq: i32, ldk: i32, ldv: i32, ldo: i32, P: usize, P2: usize, seqOff: usize, pOff: usize,
  s0: i32, s1: i32, heads: i32, dh: i32, causal: i32, kind: i32, p: f32, seed: u32, seqIdBase: i32, scratch: usize,
  maxL: i32): void {
  const scale: f32 = 1 / Mathf.sqrt(<f32>dh);
  const dP = scratch + (<usize>(dh * maxL) << 2);
  const thr = <u32>(<f64>p * 4294967296.0);
  const sc: f32 = p > 0 ? 1 / (1 - p) : 1;
  for (let s = s0; s < s1; s++) {
    const t0 = load<i32>(seqOff + (<usize>s << 2));
    const L = load<i32>(seqOff + (<usize>(s + 1) << 2)) - t0;
    if (L == 0) continue;
    const pbase = load<i32>(pOff + (<usize>s << 2)) * heads;
    const base = <u32>(seqIdBase + s) * 0x01000193;
    for (let h = 0; h < heads; h++) {
      const Ph = fptr(P, pbase + h * L * L);
      const P2h = fptr(P2, pbase + h * L * L);
      const q = fptr(Q, t0 * ldq + h * dh), k = fptr(K, t0 * ldk + h * dh), v = fptr(V, t0 * ldv + h * dh);
      const dq = fptr(dQ, t0 * ldq + h * dh), dk = fptr(dK, t0 * ldk + h * dh), dv = fptr(dV, t0 * ldv + h * dh);
      const dout = fptr(dO, t0 * ldo + h * dh);
      // dP2 = dO · Vᵀ (only the causal triangle)
      transpose(scratch, v, L, dh, ldv, L);
      gemm(dP, dout, scratch, L, L, dh, ldo, L, L, 0, 0, causal ? 1 : 0, 1);
      // dV = P2ᵀ · dO
      gemm(dv, P2h, dout, L, dh, L, L, ldo, ldv, 1, 0, causal ? 3 : 0, 1);
      // dS from dP2 through dropout and the score function; zeros above the diagonal.
      const hseed = (seed + <u32>h * 0x9E3779B9) ^ base;
      for (let i = 0; i < L; i++) {
        const n = causal ? i + 1 : L;
        const off = i * L;
        if (p > 0) {
          for (let j = 0; j < n; j++) {
            const keep = keepMask(hseed, <u32>(off + j), thr);
            store<f32>(fptr(dP, off + j), keep ? load<f32>(fptr(dP, off + j)) * sc : 0);
          }
        }
        if (kind == 0) {
          // softmax: dS = P ⊙ (dP − Σ_j P·dP) · scale
          let dot: f32 = 0;
          for (let j = 0; j < n; j++) dot += load<f32>(fptr(Ph, off + j)) * load<f32>(fptr(dP, off + j));
          for (let j = 0; j < n; j++) {
            const pj = load<f32>(fptr(Ph, off + j));
            store<f32>(fptr(dP, off + j), pj * (load<f32>(fptr(dP, off + j)) - dot) * scale);
          }
        } else {
          // SiLU(x)/L with x = scale·s: d/dx = σ(x)(1 + x(1 − σ(x)))/L. Recompute x from S? We keep
          // only P = SiLU(x)/L, so recover x from Q·K directly.
          const invL: f32 = 1 / <f32>L;
          for (let j = 0; j < n; j++) {
            let x: f32 = 0;
            for (let c = 0; c < dh; c++) x += load<f32>(fptr(q, i * ldq + c)) * load<f32>(fptr(k, j * ldk + c));
            x *= scale;
            const sig: f32 = 1 / (1 + f32x4.extract_lane(exp4(f32x4.splat(-x)), 0));
            const g = sig * (1 + x * (1 - sig)) * invL;
            store<f32>(fptr(dP, off + j), load<f32>(fptr(dP, off + j)) * g * scale);
          }
        }
        for (let j = n; j < L; j++) store<f32>(fptr(dP, off + j), 0);
      }
      // dQ = dS · K ; dK = dSᵀ · Q
      gemm(dq, dP, k, L, dh, L, L, ldk, ldq, 0, 0, causal ? 2 : 0, 1);
      gemm(dk, dP, q, L, dh, L, L, ldq, ldk, 1, 0, causal ? 3 : 0, 1);
    }
  }
}
