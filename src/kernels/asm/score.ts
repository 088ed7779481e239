// AssemblyScript source: scoring users against every item for dot-product models (the evaluator's
// and the server's hot loop), and full-ranking rank counts without materialising scores.
//
// Items are packed once per model into panels of 8 (pack_panels): panel p holds items 8p..8p+7
// k-major, so the micro-kernel reads 8 items' k-th values as two vectors. User vectors are rows of
// `dims` floats; the micro-kernel keeps a 4 users × 8 items tile in 8 vector accumulators, like the
// general gemm. Panels are walked in blocks that stay in L2 while the users of a call stream by.
//
// Every score — in a tile, for a target, for an excluded item — is the same chain
// acc = madd(u_k, v_k, acc) over k = 0..dims-1 from acc = 0, so a target's score computed on its
// own is bit-identical to the one the tile computes, and rank counts compare exact equals.

// @ts-ignore: decorator
@inline function fptr(base: usize, i: i32): usize { return base + (<usize>i << 2); }

/** acc + a·b (relaxed-SIMD fused in the FMA build; see gemm.ts). */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Items per panel. */
const PANEL: i32 = 8;
/** Panels per block: 32 panels × 8 items × 64 dims × 4 bytes = 64 KiB, resident in L2. */
const BLOCK: i32 = 32;

/**
 * Packs item rows V [nItems × dims] (row stride ldv) into panels at P: ⌈nItems/8⌉ × dims × 8
 * floats, k-major inside a panel; missing lanes of the last panel are zero.
 */
export function pack_panels(P: usize, V: usize, nItems: i32, dims: i32, ldv: i32): void {
  const nPanels = (nItems + PANEL - 1) / PANEL;
  memory.fill(P, 0, <usize>(nPanels * dims * PANEL) << 2);
  for (let i = 0; i < nItems; i++) {
    const dst = fptr(P, (i / PANEL) * dims * PANEL + (i % PANEL));
    const src = fptr(V, i * ldv);
    for (let k = 0; k < dims; k++) store<f32>(dst + (<usize>(k * PANEL) << 2), load<f32>(fptr(src, k)));
  }
}

/** The score chain of one user row and one item row (lane 0 of the tile's arithmetic). */
// @ts-ignore: decorator
@inline function dotChain(u: usize, v: usize, dims: i32): f32 {
  let acc = f32x4.splat(0);
  for (let k = 0; k < dims; k++) acc = madd(v128.load32_splat(fptr(u, k)), v128.load32_splat(fptr(v, k)), acc);
  return f32x4.extract_lane(acc, 0);
}

// The 4 × 8 tile appears twice below (store / count) rather than behind a shared function:
// AssemblyScript cannot return eight vectors, and the accumulators must stay in registers.

/**
 * out[r·ldo + i] = U[r] · V[i] for rows r in [0, nRows) (a multiple of 4; pad with zero rows) and
 * items i in [0, nItems), from panels P.
 */
export function score_panels(O: usize, U: usize, P: usize, nRows: i32, nItems: i32, dims: i32, ldo: i32): void {
  const nPanels = (nItems + PANEL - 1) / PANEL;
  const rs = <usize>dims << 2;
  const ps = <usize>(dims * PANEL) << 2;
  for (let pb = 0; pb < nPanels; pb += BLOCK) {
    const pe = min(nPanels, pb + BLOCK);
    for (let r = 0; r < nRows; r += 4) {
      const u0 = fptr(U, r * dims);
      for (let p = pb; p < pe; p++) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let pv = P + <usize>p * ps, pu = u0;
        for (let k = 0; k < dims; k++) {
          const b0 = v128.load(pv), b1 = v128.load(pv, 16);
          let a = v128.load32_splat(pu);
          c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
          a = v128.load32_splat(pu + rs);
          c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
          a = v128.load32_splat(pu + 2 * rs);
          c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
          a = v128.load32_splat(pu + 3 * rs);
          c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
          pv += 32; pu += 4;
        }
        const i0 = p * PANEL;
        let o = fptr(O, r * ldo + i0);
        const ldo4 = <usize>ldo << 2;
        if (i0 + PANEL <= nItems) {
          v128.store(o, c00); v128.store(o, c01, 16); o += ldo4;
          v128.store(o, c10); v128.store(o, c11, 16); o += ldo4;
          v128.store(o, c20); v128.store(o, c21, 16); o += ldo4;
          v128.store(o, c30); v128.store(o, c31, 16);
        } else {
          // last, partial panel: only real items are written (the row may end here)
          const n = nItems - i0;
          storeLanes(o, c00, c01, n); o += ldo4;
          storeLanes(o, c10, c11, n); o += ldo4;
          storeLanes(o, c20, c21, n); o += ldo4;
          storeLanes(o, c30, c31, n);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function storeLanes(o: usize, lo: v128, hi: v128, n: i32): void {
  if (n > 0) store<f32>(o, f32x4.extract_lane(lo, 0));
  if (n > 1) store<f32>(o, f32x4.extract_lane(lo, 1), 4);
  if (n > 2) store<f32>(o, f32x4.extract_lane(lo, 2), 8);
  if (n > 3) store<f32>(o, f32x4.extract_lane(lo, 3), 12);
  if (n > 4) store<f32>(o, f32x4.extract_lane(hi, 0), 16);
  if (n > 5) store<f32>(o, f32x4.extract_lane(hi, 1), 20);
  if (n > 6) store<f32>(o, f32x4.extract_lane(hi, 2), 24);
}

/**
 * Adds (x > t) and (x = t) lane counts of one tile row into cnt[0..3] (gt) and cnt[4..7] (eq),
 * for the lanes whose mask is set (real items not excluded for this user).
 */
// @ts-ignore: decorator
@inline function countRow(cnt: usize, lo: v128, hi: v128, t: v128, mlo: v128, mhi: v128): void {
  // comparisons give −1 per true lane: subtracting them adds 1
  const gt = i32x4.add(v128.and(f32x4.gt(lo, t), mlo), v128.and(f32x4.gt(hi, t), mhi));
  const eq = i32x4.add(v128.and(f32x4.eq(lo, t), mlo), v128.and(f32x4.eq(hi, t), mhi));
  v128.store(cnt, i32x4.sub(v128.load(cnt), gt));
  v128.store(cnt, i32x4.sub(v128.load(cnt, 16), eq), 16);
}

/** Lanes 0..3 (lo) or 4..7 (hi) of an 8-item panel that are kept: bit l of `bits` set = item l excluded. */
// @ts-ignore: decorator
@inline function keepLanes(bits: i32, lanes: v128): v128 {
  return i32x4.eq(v128.and(i32x4.splat(bits), lanes), i32x4.splat(0));
}

/**
 * Full-ranking rank counts without writing scores: for rows r in [0, nRows) (a multiple of 4; pad
 * with zero rows and any target) with target item targets[r], counts[2r] = #items scoring above
 * the target and counts[2r+1] = #items scoring equal (the target included), over the nItems items
 * (panels P; item rows V [nItems × dims] for the targets' own scores) except those excluded:
 * byte p of row r's `excl` bitmap (row stride = ⌈nItems/8⌉ bytes) has bit l set when item 8p + l is
 * excluded for that user (its history). Items past nItems (panel padding) never count. A NaN
 * score compares false both ways (the caller treats a NaN target as ranked last). `scratch` holds
 * 9·nRows int32.
 */
export function rank_count(counts: usize, U: usize, P: usize, V: usize, targets: usize, nRows: i32, nItems: i32, dims: i32,
  excl: usize, scratch: usize): void {
  const nPanels = (nItems + PANEL - 1) / PANEL;
  const rs = <usize>dims << 2;
  const ps = <usize>(dims * PANEL) << 2;
  const tgt = scratch + (<usize>(8 * nRows) << 2);
  memory.fill(scratch, 0, <usize>(8 * nRows) << 2);
  // the targets' own scores, by the tiles' chain
  for (let r = 0; r < nRows; r++) store<f32>(fptr(tgt, r), dotChain(fptr(U, r * dims), fptr(V, load<i32>(fptr(targets, r)) * dims), dims));
  // the panel padding counts as excluded
  const padBits = nItems % PANEL == 0 ? 0 : (0xff << (nItems % PANEL)) & 0xff;
  const loLanes = i32x4(1, 2, 4, 8), hiLanes = i32x4(16, 32, 64, 128);
  for (let pb = 0; pb < nPanels; pb += BLOCK) {
    const pe = min(nPanels, pb + BLOCK);
    for (let r = 0; r < nRows; r += 4) {
      const u0 = fptr(U, r * dims);
      const t0 = v128.load32_splat(fptr(tgt, r)), t1 = v128.load32_splat(fptr(tgt, r + 1));
      const t2 = v128.load32_splat(fptr(tgt, r + 2)), t3 = v128.load32_splat(fptr(tgt, r + 3));
      const cnt = fptr(scratch, 8 * r);
      const e0 = excl + <usize>(r * nPanels), e1 = e0 + <usize>nPanels, e2 = e1 + <usize>nPanels, e3 = e2 + <usize>nPanels;
      for (let p = pb; p < pe; p++) {
        let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
        let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
        let pv = P + <usize>p * ps, pu = u0;
        for (let k = 0; k < dims; k++) {
          const b0 = v128.load(pv), b1 = v128.load(pv, 16);
          let a = v128.load32_splat(pu);
          c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
          a = v128.load32_splat(pu + rs);
          c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
          a = v128.load32_splat(pu + 2 * rs);
          c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
          a = v128.load32_splat(pu + 3 * rs);
          c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
          pv += 32; pu += 4;
        }
        const pad = p == nPanels - 1 ? padBits : 0;
        let x = <i32>load<u8>(e0 + <usize>p) | pad;
        countRow(cnt, c00, c01, t0, keepLanes(x, loLanes), keepLanes(x, hiLanes));
        x = <i32>load<u8>(e1 + <usize>p) | pad;
        countRow(cnt + 32, c10, c11, t1, keepLanes(x, loLanes), keepLanes(x, hiLanes));
        x = <i32>load<u8>(e2 + <usize>p) | pad;
        countRow(cnt + 64, c20, c21, t2, keepLanes(x, loLanes), keepLanes(x, hiLanes));
        x = <i32>load<u8>(e3 + <usize>p) | pad;
        countRow(cnt + 96, c30, c31, t3, keepLanes(x, loLanes), keepLanes(x, hiLanes));
      }
    }
  }
  for (let r = 0; r < nRows; r++) {
    const c = fptr(scratch, 8 * r);
    const g = v128.load(c), e = v128.load(c, 16);
    store<i32>(fptr(counts, 2 * r), i32x4.extract_lane(g, 0) + i32x4.extract_lane(g, 1) + i32x4.extract_lane(g, 2) + i32x4.extract_lane(g, 3));
    store<i32>(fptr(counts, 2 * r + 1), i32x4.extract_lane(e, 0) + i32x4.extract_lane(e, 1) + i32x4.extract_lane(e, 2) + i32x4.extract_lane(e, 3));
  }
}

/**
 * For each of nRows score rows (nItems floats each, back to back at S) with target column
 * targets[r]: counts[2r] = #entries strictly above the target's score, counts[2r+1] = #equal (the
 * target included). A NaN target gets 0 and 0. For models that write scores (the non-dot path).
 */
export function count_above(counts: usize, S: usize, nRows: i32, nItems: i32, targets: usize): void {
  const n16 = nItems & ~15, n4 = nItems & ~3;
  for (let r = 0; r < nRows; r++) {
    const row = fptr(S, r * nItems);
    const t = load<f32>(fptr(row, load<i32>(fptr(targets, r))));
    const tv = f32x4.splat(t);
    let g0 = i32x4.splat(0), g1 = i32x4.splat(0), e0 = i32x4.splat(0), e1 = i32x4.splat(0);
    let j = 0;
    // 16 floats per step, two independent accumulator pairs to hide latency
    for (; j < n16; j += 16) {
      const a = v128.load(fptr(row, j)), b = v128.load(fptr(row, j), 16), c = v128.load(fptr(row, j), 32), d = v128.load(fptr(row, j), 48);
      g0 = i32x4.sub(i32x4.sub(g0, f32x4.gt(a, tv)), f32x4.gt(c, tv));
      g1 = i32x4.sub(i32x4.sub(g1, f32x4.gt(b, tv)), f32x4.gt(d, tv));
      e0 = i32x4.sub(i32x4.sub(e0, f32x4.eq(a, tv)), f32x4.eq(c, tv));
      e1 = i32x4.sub(i32x4.sub(e1, f32x4.eq(b, tv)), f32x4.eq(d, tv));
    }
    for (; j < n4; j += 4) {
      const a = v128.load(fptr(row, j));
      g0 = i32x4.sub(g0, f32x4.gt(a, tv));
      e0 = i32x4.sub(e0, f32x4.eq(a, tv));
    }
    const g = i32x4.add(g0, g1), e = i32x4.add(e0, e1);
    let gt = i32x4.extract_lane(g, 0) + i32x4.extract_lane(g, 1) + i32x4.extract_lane(g, 2) + i32x4.extract_lane(g, 3);
    let eq = i32x4.extract_lane(e, 0) + i32x4.extract_lane(e, 1) + i32x4.extract_lane(e, 2) + i32x4.extract_lane(e, 3);
    for (; j < nItems; j++) {
      const x = load<f32>(fptr(row, j));
      if (x > t) gt++;
      else if (x == t) eq++;
    }
    store<i32>(fptr(counts, 2 * r), gt);
    store<i32>(fptr(counts, 2 * r + 1), eq);
  }
}
