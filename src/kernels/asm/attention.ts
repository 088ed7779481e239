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
// SiLU(s + b[i − j]) / n as in HSTU (no normalisation across the row), with an optional learned
// relative-position bias b (per head at stride biasLd, or shared when biasLd = 0; causal only) and
// n = 1/invN (invN = 0: the sequence's own length). s = scale·q·k (scale 0 means 1/√d_qk; HSTU
// passes 1). Query/key and value widths may differ (d_qk, d_v), as in HSTU.
//
// Storage: kind 0 keeps the softmax weights in P (and their dropped-out copy in P2, or P2 = P when
// p = 0). Kind 1 keeps the pre-activation x = s + b in P and the (dropped-out) weights in P2, which
// must be a separate buffer: the backward needs x for SiLU's derivative and reads it instead of
// recomputing Q·Kᵀ.

import { gemm, transpose } from './gemm';
import { exp4, keepMask, keep4 } from './elementwise';

// @ts-ignore: decorator
@inline function fptr(base: usize, i: i32): usize { return base + (<usize>i << 2); }

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Four bias values b[o], b[o−1], b[o−2], b[o−3] (offsets i − j for j, j+1, j+2, j+3): one load, one lane reversal. */
// @ts-ignore: decorator
@inline function biasRev4(brow: usize, o: i32): v128 {
  return i8x16.shuffle(v128.load(fptr(brow, o - 3)), v128.splat<i32>(0), 12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
}

/** SiLU(x)·invN over four lanes. */
// @ts-ignore: decorator
@inline function silu4(x: v128, inv: v128): v128 {
  const sig = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(x))));
  return f32x4.mul(f32x4.mul(x, sig), inv);
}

/**
 * Row-wise score function of the scaled scores S (in place into P), masked causally, and — when p > 0 — the
 * dropped-out copy P2 in the same pass (mask keyed by dseed and the element index i·L + j).
 */
function scoreRows(P: usize, P2: usize, L: i32, causal: i32, kind: i32, p: f32, dseed: u32, biasRow: usize, invN: f32): void {
  const thr = <u32>(<f64>p * 4294967296.0);
  const sc: f32 = p > 0 ? 1 / (1 - p) : 1;
  const scv = f32x4.splat(sc);
  for (let i = 0; i < L; i++) {
    const row = P + (<usize>(i * L) << 2);
    const row2 = P2 + (<usize>(i * L) << 2);
    const n = causal ? i + 1 : L;
    const n4 = n & ~3;
    if (kind == 0) {
      let m4 = f32x4.splat(-Infinity);
      for (let j = 0; j < n4; j += 4) m4 = f32x4.pmax(m4, v128.load(fptr(row, j))); // pmax = one maxps (max has NaN rules: ~6 instructions on x64)
      let m: f32 = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
      for (let j = n4; j < n; j++) m = max(m, load<f32>(fptr(row, j)));
      const mv = f32x4.splat(m);
      let sum4 = f32x4.splat(0);
      for (let j = 0; j < n4; j += 4) {
        const e = exp4(f32x4.sub(v128.load(fptr(row, j)), mv));
        v128.store(fptr(row, j), e);
        sum4 = f32x4.add(sum4, e);
      }
      let sum = hsum(sum4);
      for (let j = n4; j < n; j++) {
        const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(fptr(row, j)) - m)), 0);
        store<f32>(fptr(row, j), e);
        sum += e;
      }
      const inv: f32 = 1 / sum;
      const iv = f32x4.splat(inv);
      for (let j = 0; j < n4; j += 4) {
        const w = f32x4.mul(v128.load(fptr(row, j)), iv);
        v128.store(fptr(row, j), w);
        if (p > 0) v128.store(fptr(row2, j), v128.and(f32x4.mul(w, scv), keep4(dseed, <u32>(i * L + j), thr)));
      }
      for (let j = n4; j < n; j++) {
        const w = load<f32>(fptr(row, j)) * inv;
        store<f32>(fptr(row, j), w);
        if (p > 0) store<f32>(fptr(row2, j), keepMask(dseed, <u32>(i * L + j), thr) ? w * sc : 0);
      }
    } else {
      // HSTU: x = s + b[i − j] stays in P (the backward needs it); SiLU(x)/n, no row normalisation, goes to P2.
      const invL: f32 = invN > 0 ? invN : 1 / <f32>L;
      const iv = f32x4.splat(invL);
      const hasBias = biasRow != 0 && causal != 0;
      for (let j = 0; j < n4; j += 4) {
        let x = v128.load(fptr(row, j));
        if (hasBias) { x = f32x4.add(x, biasRev4(biasRow, i - j)); v128.store(fptr(row, j), x); }
        let w = silu4(x, iv);
        if (p > 0) w = v128.and(f32x4.mul(w, scv), keep4(dseed, <u32>(i * L + j), thr));
        v128.store(fptr(row2, j), w);
      }
      for (let j = n4; j < n; j++) {
        let x = load<f32>(fptr(row, j));
        if (hasBias) { x += load<f32>(fptr(biasRow, i - j)); store<f32>(fptr(row, j), x); }
        const w = f32x4.extract_lane(silu4(f32x4.splat(x), iv), 0);
        store<f32>(fptr(row2, j), p > 0 ? (keepMask(dseed, <u32>(i * L + j), thr) ? w * sc : 0) : w);
      }
    }
    // The triangular gemm modes read past the diagonal only inside the row's 4-row block, so
    // zeros are needed up to the block's end, not across the whole upper triangle.
    const zend = min(L, (i & ~3) + 4);
    if (n < zend) {
      memory.fill(fptr(row, n), 0, <usize>(zend - n) << 2);
      if (p > 0 || kind != 0) memory.fill(fptr(row2, n), 0, <usize>(zend - n) << 2);
    }
  }
}

/**
 * Forward attention for sequences [s0, s1). See the file comment for what P and P2 receive.
 * `scratch` holds d_qk × maxL floats (Kᵀ of one sequence and head). seqIdBase + s identifies a
 * sequence in the batch.
 */
export function attn_fwd(Q: usize, K: usize, V: usize, O: usize, ldq: i32, ldk: i32, ldv: i32, ldo: i32,
  P: usize, P2: usize, seqOff: usize, pOff: usize, s0: i32, s1: i32, heads: i32, dqk: i32, dv: i32,
  causal: i32, kind: i32, p: f32, seed: u32, seqIdBase: i32, scratch: usize, bias: usize, biasLd: i32, invN: f32, scale: f32): void {
  if (scale == 0) scale = 1 / Mathf.sqrt(<f32>dqk);
  for (let s = s0; s < s1; s++) {
    const t0 = load<i32>(seqOff + (<usize>s << 2));
    const L = load<i32>(seqOff + (<usize>(s + 1) << 2)) - t0;
    if (L == 0) continue;
    const pbase = load<i32>(pOff + (<usize>s << 2)) * heads;
    for (let h = 0; h < heads; h++) {
      const Ph = fptr(P, pbase + h * L * L);
      const P2h = fptr(P2, pbase + h * L * L);
      const q = fptr(Q, t0 * ldq + h * dqk), k = fptr(K, t0 * ldk + h * dqk), v = fptr(V, t0 * ldv + h * dv);
      const o = fptr(O, t0 * ldo + h * dv);
      transpose(scratch, k, L, dqk, ldk, L);
      // S = scale·Q·Kᵀ (the scale folded into the product)
      gemm(Ph, q, scratch, L, L, dqk, ldq, L, L, 0, 0, causal ? 1 : 0, scale);
      scoreRows(Ph, P2h, L, causal, kind, p, (seed + <u32>h * 0x9E3779B9) ^ (<u32>(seqIdBase + s) * 0x01000193),
        bias ? fptr(bias, h * biasLd) : 0, invN);
      gemm(o, P2h, v, L, dv, L, L, ldv, ldo, 0, 0, causal ? 2 : 0, 1);
    }
  }
}

/**
 * Backward of {@link attn_fwd}: from dO writes dQ, dK, dV (overwriting) and, for kind 1 with a
 * bias, adds the bias gradient into dbias. `scratch` holds max(d_qk, d_v) × maxL + maxL² floats.
 */
export function attn_bwd(Q: usize, K: usize, V: usize, dO: usize, dQ: usize, dK: usize, dV: usize,
  ldq: i32, ldk: i32, ldv: i32, ldo: i32, P: usize, P2: usize, seqOff: usize, pOff: usize,
  s0: i32, s1: i32, heads: i32, dqk: i32, dvw: i32, causal: i32, kind: i32, p: f32, seed: u32, seqIdBase: i32, scratch: usize,
  maxL: i32, biasLd: i32, invN: f32, dbias: usize, scale: f32): void {
  if (scale == 0) scale = 1 / Mathf.sqrt(<f32>dqk);
  const dP = scratch + (<usize>(max(dqk, dvw) * maxL) << 2);
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
      const q = fptr(Q, t0 * ldq + h * dqk), k = fptr(K, t0 * ldk + h * dqk), v = fptr(V, t0 * ldv + h * dvw);
      const dq = fptr(dQ, t0 * ldq + h * dqk), dk = fptr(dK, t0 * ldk + h * dqk), dv = fptr(dV, t0 * ldv + h * dvw);
      const dout = fptr(dO, t0 * ldo + h * dvw);
      // dP2 = dO · Vᵀ (only the causal triangle)
      transpose(scratch, v, L, dvw, ldv, L);
      gemm(dP, dout, scratch, L, L, dvw, ldo, L, L, 0, 0, causal ? 1 : 0, 1);
      // dV = P2ᵀ · dO
      gemm(dv, P2h, dout, L, dvw, L, L, ldo, ldv, 1, 0, causal ? 3 : 0, 1);
      // dS from dP2 through dropout and the score function; zeros above the diagonal.
      const hseed = (seed + <u32>h * 0x9E3779B9) ^ base;
      const sv = f32x4.splat(scale), scv = f32x4.splat(sc), zero4 = f32x4.splat(0);
      const invL: f32 = invN > 0 ? invN : 1 / <f32>L;
      const iv = f32x4.splat(invL), one = f32x4.splat(1);
      const dbrow = dbias && causal ? fptr(dbias, h * biasLd) : 0;
      for (let i = 0; i < L; i++) {
        const n = causal ? i + 1 : L;
        const n4 = n & ~3;
        const off = i * L;
        const prow = fptr(Ph, off), drow = fptr(dP, off), p2row = fptr(P2h, off);
        if (kind == 0) {
          // through dropout (regenerated mask), then softmax: dS = P ⊙ (dP − Σ_j P·dP) · scale
          let dot4 = f32x4.splat(0);
          for (let j = 0; j < n4; j += 4) {
            let g = v128.load(fptr(drow, j));
            // kept ⇔ P2 ≠ 0 (where P itself is 0 the product below is 0 either way): no rehash
            if (p > 0) { g = v128.and(f32x4.mul(g, scv), f32x4.ne(v128.load(fptr(p2row, j)), zero4)); v128.store(fptr(drow, j), g); }
            dot4 = f32x4.add(dot4, f32x4.mul(g, v128.load(fptr(prow, j))));
          }
          let dot = hsum(dot4);
          for (let j = n4; j < n; j++) {
            let g = load<f32>(fptr(drow, j));
            if (p > 0) { g = load<f32>(fptr(p2row, j)) != 0 ? g * sc : 0; store<f32>(fptr(drow, j), g); }
            dot += g * load<f32>(fptr(prow, j));
          }
          const dotv = f32x4.splat(dot);
          for (let j = 0; j < n4; j += 4) {
            v128.store(fptr(drow, j), f32x4.mul(f32x4.mul(v128.load(fptr(prow, j)), f32x4.sub(v128.load(fptr(drow, j)), dotv)), sv));
          }
          for (let j = n4; j < n; j++) {
            store<f32>(fptr(drow, j), load<f32>(fptr(prow, j)) * (load<f32>(fptr(drow, j)) - dot) * scale);
          }
        } else {
          // SiLU(x)/n with x = scale·q·k + b[i − j] read back from P: d/dx = σ(x)(1 + x(1 − σ(x)))/n.
          // The mask is regenerated (a kept weight can be exactly 0, so P2 ≠ 0 does not tell).
          // The bias gradient is dx summed per offset i − j (four offsets, reversed, per vector).
          for (let j = 0; j < n4; j += 4) {
            let g = v128.load(fptr(drow, j));
            if (p > 0) g = v128.and(f32x4.mul(g, scv), keep4(hseed, <u32>(off + j), thr));
            const x = v128.load(fptr(prow, j));
            const sig = f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
            const dx = f32x4.mul(f32x4.mul(g, f32x4.mul(sig, f32x4.add(one, f32x4.mul(x, f32x4.sub(one, sig))))), iv);
            if (dbrow) {
              const at = fptr(dbrow, i - j - 3);
              v128.store(at, f32x4.add(v128.load(at), i8x16.shuffle(dx, zero4, 12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3)));
            }
            v128.store(fptr(drow, j), f32x4.mul(dx, sv));
          }
          for (let j = n4; j < n; j++) {
            let g = load<f32>(fptr(drow, j));
            if (p > 0) g = keepMask(hseed, <u32>(off + j), thr) ? g * sc : 0;
            const x = load<f32>(fptr(prow, j));
            const sig: f32 = 1 / (1 + f32x4.extract_lane(exp4(f32x4.splat(-x)), 0));
            const dx = g * sig * (1 + x * (1 - sig)) * invL;
            if (dbrow) store<f32>(fptr(dbrow, i - j), load<f32>(fptr(dbrow, i - j)) + dx);
            store<f32>(fptr(drow, j), dx * scale);
          }
        }
        const zend = min(L, (i & ~3) + 4); // see scoreRows
        if (n < zend) memory.fill(fptr(drow, n), 0, <usize>(zend - n) << 2);
      }
      // dQ = dS · K ; dK = dSᵀ · Q
      gemm(dq, dP, k, L, dqk, L, L, ldk, ldq, 0, 0, causal ? 2 : 0, 1);
      gemm(dk, dP, q, L, dqk, L, L, ldq, ldk, 1, 0, causal ? 3 : 0, 1);
    }
  }
}

/**
 * Inference shortcut: attention output for the *last* position of each sequence only (what
 * next-item scoring needs from the final block). Q holds one query row per sequence (row s − s0),
 * K and V all tokens; O receives one row per sequence. Causal by construction (the last position
 * sees the whole sequence). `scratch` holds maxL floats.
 */
export function attn_last_fwd(Q: usize, K: usize, V: usize, O: usize, ldq: i32, ldk: i32, ldv: i32, ldo: i32,
  seqOff: usize, s0: i32, s1: i32, heads: i32, dh: i32, kind: i32, scratch: usize): void {
  const scale: f32 = 1 / Mathf.sqrt(<f32>dh);
  const dh4 = dh & ~3;
  for (let s = s0; s < s1; s++) {
    const t0 = load<i32>(seqOff + (<usize>s << 2));
    const L = load<i32>(seqOff + (<usize>(s + 1) << 2)) - t0;
    const r = s - s0;
    for (let h = 0; h < heads; h++) {
      const q = fptr(Q, r * ldq + h * dh);
      let m: f32 = -Infinity;
      for (let j = 0; j < L; j++) {
        const k = fptr(K, (t0 + j) * ldk + h * dh);
        let a4 = f32x4.splat(0);
        for (let c = 0; c < dh4; c += 4) a4 = f32x4.add(a4, f32x4.mul(v128.load(fptr(q, c)), v128.load(fptr(k, c))));
        let a = hsum(a4);
        for (let c = dh4; c < dh; c++) a += load<f32>(fptr(q, c)) * load<f32>(fptr(k, c));
        a *= scale;
        store<f32>(fptr(scratch, j), a);
        m = max(m, a);
      }
      let sum: f32 = 0;
      for (let j = 0; j < L; j++) {
        const x = load<f32>(fptr(scratch, j));
        let w: f32;
        if (kind == 0) { w = f32x4.extract_lane(exp4(f32x4.splat(x - m)), 0); sum += w; }
        else w = x / (1 + f32x4.extract_lane(exp4(f32x4.splat(-x)), 0)) / <f32>L;
        store<f32>(fptr(scratch, j), w);
      }
      const inv: f32 = kind == 0 ? 1 / sum : 1;
      const o = fptr(O, r * ldo + h * dh);
      memory.fill(o, 0, <usize>dh << 2);
      for (let j = 0; j < L; j++) {
        const w = f32x4.splat(load<f32>(fptr(scratch, j)) * inv);
        const v = fptr(V, (t0 + j) * ldv + h * dh);
        let c = 0;
        for (; c < dh4; c += 4) v128.store(fptr(o, c), f32x4.add(v128.load(fptr(o, c)), f32x4.mul(w, v128.load(fptr(v, c)))));
        for (; c < dh; c++) store<f32>(fptr(o, c), load<f32>(fptr(o, c)) + f32x4.extract_lane(w, 0) * load<f32>(fptr(v, c)));
      }
    }
  }
}
