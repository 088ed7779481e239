// AssemblyScript source: attention of beam-search rows over gathered keys/values (TIGER's
// incremental decoder, src/models/genret/beam.ts).
//
// Each query row r attends to two key sets, in this order: a contiguous run of `memLen[r]` rows
// of the memory buffer MKV starting at row memStart[r] (the user's encoder memory), then the
// `nAnc` rows of the cache buffer CKV listed in anc[r*nAnc ..] (the beam's ancestors' decoder rows
// and its own). Both buffers hold rows of keys then values: key of row j, head h at
// j*ld + h*dh, its value at j*ld + vOff + h*dh. Softmax per head with scale 1/√dh; O [n × ldo]
// receives the heads concatenated. `scratch` holds ≥ max(memLen) + nAnc floats.

import { exp4 } from './elementwise';

// @ts-ignore: decorator
@inline function fp(base: usize, i: i32): usize { return base + (<usize>i << 2); }

// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, dh: i32, dh4: i32): f32 {
  let s4 = f32x4.splat(0);
  for (let c = 0; c < dh4; c += 4) s4 = f32x4.add(s4, f32x4.mul(v128.load(fp(a, c)), v128.load(fp(b, c))));
  let s = f32x4.extract_lane(s4, 0) + f32x4.extract_lane(s4, 1) + f32x4.extract_lane(s4, 2) + f32x4.extract_lane(s4, 3);
  for (let c = dh4; c < dh; c++) s += load<f32>(fp(a, c)) * load<f32>(fp(b, c));
  return s;
}

// @ts-ignore: decorator
@inline function axpy(o: usize, w: f32, v: usize, dh: i32, dh4: i32): void {
  const w4 = f32x4.splat(w);
  let c = 0;
  for (; c < dh4; c += 4) v128.store(fp(o, c), f32x4.add(v128.load(fp(o, c)), f32x4.mul(w4, v128.load(fp(v, c)))));
  for (; c < dh; c++) store<f32>(fp(o, c), load<f32>(fp(o, c)) + w * load<f32>(fp(v, c)));
}

/** See the file comment. */
export function attn_beam_fwd(Q: usize, ldq: i32, O: usize, ldo: i32, n: i32, heads: i32, dh: i32,
  MKV: usize, memStart: usize, memLen: usize, CKV: usize, anc: usize, nAnc: i32, ld: i32, vOff: i32, scratch: usize): void {
  const scale: f32 = 1 / Mathf.sqrt(<f32>dh);
  const dh4 = dh & ~3;
  for (let r = 0; r < n; r++) {
    const m0 = load<i32>(memStart + (<usize>r << 2));
    const L = load<i32>(memLen + (<usize>r << 2));
    const ar = anc + (<usize>(r * nAnc) << 2);
    for (let h = 0; h < heads; h++) {
      const q = fp(Q, r * ldq + h * dh);
      let mx: f32 = -Infinity;
      for (let j = 0; j < L; j++) {
        const a = dot(q, fp(MKV, (m0 + j) * ld + h * dh), dh, dh4) * scale;
        store<f32>(fp(scratch, j), a);
        mx = max(mx, a);
      }
      for (let t = 0; t < nAnc; t++) {
        const a = dot(q, fp(CKV, load<i32>(ar + (<usize>t << 2)) * ld + h * dh), dh, dh4) * scale;
        store<f32>(fp(scratch, L + t), a);
        mx = max(mx, a);
      }
      let sum: f32 = 0;
      for (let j = 0; j < L + nAnc; j++) {
        const w = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(fp(scratch, j)) - mx)), 0);
        store<f32>(fp(scratch, j), w);
        sum += w;
      }
      const inv: f32 = 1 / sum;
      const o = fp(O, r * ldo + h * dh);
      memory.fill(o, 0, <usize>dh << 2);
      for (let j = 0; j < L; j++) axpy(o, load<f32>(fp(scratch, j)) * inv, fp(MKV, (m0 + j) * ld + vOff + h * dh), dh, dh4);
      for (let t = 0; t < nAnc; t++) {
        axpy(o, load<f32>(fp(scratch, L + t)) * inv, fp(CKV, load<i32>(ar + (<usize>t << 2)) * ld + vOff + h * dh), dh, dh4);
      }
    }
  }
}
