/**
 * attn_beam_fwd (asm/beam.ts) against a float64 reference written from its definition: each
 * query row's softmax attention, per head, over a contiguous run of memory rows followed by a
 * gathered list of cache rows. Head widths include ones that are not multiples of 4 (the SIMD
 * tails), runs of different lengths per row, and repeated cache rows.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from './engine.ts';
import { Rng } from '../util/rng.ts';
import { maxRelError } from '../nn/gradcheck.ts';

const eng = new Engine({ threads: 1 });

describe('attn_beam_fwd', () => {
  it('matches a float64 reference (random shapes, gathers and run lengths)', () => {
    const rng = new Rng(5);
    for (const [heads, dh] of [[1, 4], [2, 3], [3, 8], [2, 5]]) {
      const d = heads * dh, ld = 2 * d, n = 7, nAnc = 3, memRows = 20, cacheRows = 9;
      const ldq = d + 3; // a strided Q, as when it sits in a wider buffer
      const rnd = (len: number): Float32Array => Float32Array.from({ length: len }, () => rng.normal());
      const Q = rnd(n * ldq), MKV = rnd(memRows * ld), CKV = rnd(cacheRows * ld);
      const memStart = Int32Array.from({ length: n }, () => rng.int(10));
      const memLen = Int32Array.from({ length: n }, (_, r) => (r === 0 ? 0 : 1 + rng.int(10)));
      const anc = Int32Array.from({ length: n * nAnc }, () => rng.int(cacheRows));
      const bq = eng.f32(Q.length), bm = eng.f32(MKV.length), bc = eng.f32(CKV.length), bo = eng.f32(n * d);
      const bs = eng.i32(n), bl = eng.i32(n), ba = eng.i32(anc.length), scratch = eng.f32(32);
      bq.a.set(Q); bm.a.set(MKV); bc.a.set(CKV); bs.a.set(memStart); bl.a.set(memLen); ba.a.set(anc);
      eng.k.attn_beam_fwd(bq.ptr, ldq, bo.ptr, d, n, heads, dh, bm.ptr, bs.ptr, bl.ptr, bc.ptr, ba.ptr, nAnc, ld, d, scratch.ptr);
      const ref = new Float64Array(n * d);
      for (let r = 0; r < n; r++) {
        const rows: [Float32Array, number][] = [];
        for (let j = 0; j < memLen[r]; j++) rows.push([MKV, memStart[r] + j]);
        for (let t = 0; t < nAnc; t++) rows.push([CKV, anc[r * nAnc + t]]);
        for (let h = 0; h < heads; h++) {
          const s = rows.map(([buf, row]) => {
            let dot = 0;
            for (let c = 0; c < dh; c++) dot += Q[r * ldq + h * dh + c] * buf[row * ld + h * dh + c];
            return dot / Math.sqrt(dh);
          });
          const mx = Math.max(...s);
          const w = s.map((x) => Math.exp(x - mx));
          const sum = w.reduce((a, b) => a + b, 0);
          rows.forEach(([buf, row], i) => {
            for (let c = 0; c < dh; c++) ref[r * d + h * dh + c] += (w[i] / sum) * buf[row * ld + d + h * dh + c];
          });
        }
      }
      expect(maxRelError(bo.a, ref)).toBeLessThan(1e-4);
      for (const b of [bq, bm, bc, bo, bs, bl, ba, scratch]) eng.freeBuf(b);
    }
  });
});
