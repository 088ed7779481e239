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

/** Adds (x > t) and (x = t) lane counts of one tile row into cnt[0..3] (gt) and cnt[4..7] (eq). */
// @ts-ignore: decorator
@inline function countRow(cnt: usize, lo: v128, hi: v128, t: v128, mlo: v128, mhi: v128): void {
  // comparisons give −1 per true lane: subtracting them adds 1
  const gt = i32x4.add(v128.and(f32x4.gt(lo, t), mlo), v128.and(f32x4.gt(hi, t), mhi));
  const eq = i32x4.add(v128.and(f32x4.eq(lo, t), mlo), v128.and(f32x4.eq(hi, t), mhi));
  v128.store(cnt, i32x4.sub(v128.load(cnt), gt));
  v128.store(cnt, i32x4.sub(v128.load(cnt, 16), eq), 16);
}

/**
 * Full-ranking rank counts without writing scores: for rows r in [0, nRows) (a multiple of 4; pad
 * with zero rows and any target) with target item targets[r], counts[2r] = #items scoring above
 * the target and counts[2r+1] = #items scoring equal (the target included), over all nItems items
 * (panels P; item rows V [nItems × dims] for the targets' own scores). A NaN score compares false
 * both ways (the caller treats a NaN target as ranked last). `scratch` holds 8·nRows int32.
 */
export function rank_count(counts: usize, U: usize, P: usize, V: usize, targets: usize, nRows: i32, nItems: i32, dims: i32,
  scratch: usize): void {
  const nPanels = (nItems + PANEL - 1) / PANEL;
  const rs = <usize>dims << 2;
  const ps = <usize>(dims * PANEL) << 2;
  memory.fill(scratch, 0, <usize>(8 * nRows) << 2);
  const all = i32x4.splat(-1);
  for (let pb = 0; pb < nPanels; pb += BLOCK) {
    const pe = min(nPanels, pb + BLOCK);
    for (let r = 0; r < nRows; r += 4) {
      const u0 = fptr(U, r * dims);
      const t0 = f32x4.splat(dotChain(u0, fptr(V, load<i32>(fptr(targets, r)) * dims), dims));
      const t1 = f32x4.splat(dotChain(u0 + rs, fptr(V, load<i32>(fptr(targets, r + 1)) * dims), dims));
      const t2 = f32x4.splat(dotChain(u0 + 2 * rs, fptr(V, load<i32>(fptr(targets, r + 2)) * dims), dims));
      const t3 = f32x4.splat(dotChain(u0 + 3 * rs, fptr(V, load<i32>(fptr(targets, r + 3)) * dims), dims));
      const cnt = fptr(scratch, 8 * r);
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
        // lanes past the last item (zero padding) must not count
        const n = nItems - p * PANEL;
        let mlo = all, mhi = all;
        if (n < PANEL) {
          mlo = i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(n));
          mhi = i32x4.lt_s(i32x4(4, 5, 6, 7), i32x4.splat(n));
        }
        countRow(cnt, c00, c01, t0, mlo, mhi);
        countRow(cnt + 32, c10, c11, t1, mlo, mhi);
        countRow(cnt + 64, c20, c21, t2, mlo, mhi);
        countRow(cnt + 96, c30, c31, t3, mlo, mhi);
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
 * History exclusion for {@link rank_count}: for each row r, the items excl[off[r] .. off[r+1]) (distinct,
 * never the target) are removed from the counts — counts[2r] −= #(score > target), counts[2r+1] −=
 * #(score = target) — with scores from the same chain as the tiles.
 */
export function rank_exclude(counts: usize, U: usize, V: usize, targets: usize, off: usize, excl: usize, nRows: i32, dims: i32): void {
  for (let r = 0; r < nRows; r++) {
    const u = fptr(U, r * dims);
    const t = dotChain(u, fptr(V, load<i32>(fptr(targets, r)) * dims), dims);
    let gt = 0, eq = 0;
    const e1 = load<i32>(fptr(off, r + 1));
    for (let q = load<i32>(fptr(off, r)); q < e1; q++) {
      const s = dotChain(u, fptr(V, load<i32>(fptr(excl, q)) * dims), dims);
      if (s > t) gt++;
      else if (s == t) eq++;
    }
    store<i32>(fptr(counts, 2 * r), load<i32>(fptr(counts, 2 * r)) - gt);
    store<i32>(fptr(counts, 2 * r + 1), load<i32>(fptr(counts, 2 * r + 1)) - eq);
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
