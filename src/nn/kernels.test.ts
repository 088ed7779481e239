/**
 * Every kernel against an independent float64 reference: forwards compared directly, backwards
 * compared with central finite differences of the float64 forward (see gradcheck.ts). Tolerances:
 * float32 kernels on O(1) inputs agree with float64 to ~1e-6 relative; FD in float64 with
 * eps = 1e-6 is accurate to ~1e-8; so 1e-4 relative (of the largest entry) catches any wrong term
 * while leaving room for float32 accumulation over a few hundred products.
 */
import { describe, expect, it } from 'vitest';
import { Engine, type Buf } from '../kernels/engine.ts';
import { Rng } from './rng.ts';
import { contract, keepMask, maxRelError, numericGrad } from './gradcheck.ts';

const eng = new Engine({ threads: 1 });
const k = eng.k;
const rng = new Rng(7);
const TOL = 1e-4;

function randn(n: number, s = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * s;
  return a;
}
function put(x: ArrayLike<number>): Buf {
  const b = eng.f32(x.length);
  b.a.set(x);
  return b;
}
function ints(x: number[]): Buf<Int32Array> {
  const b = eng.i32(x.length);
  b.a.set(x);
  return b;
}

/** Reference C = alpha·op(A)·B (+ C0) in float64. */
function refGemm(A: ArrayLike<number>, B: ArrayLike<number>, M: number, N: number, K: number, transA: boolean,
  alpha: number, C0?: ArrayLike<number>): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let kk = 0; kk < K; kk++) s += (transA ? A[kk * M + i] : A[i * K + kk]) * B[kk * N + j];
      C[i * N + j] = alpha * s + (C0 ? C0[i * N + j] : 0);
    }
  }
  return C;
}

describe('gemm', () => {
  // K = 300, 600: several 256-deep K blocks; K = 1500: the 64-deep panels of long reductions
  // N = 600, 517: several 256-wide column blocks, the last one partial (and not a multiple of 4)
  for (const [M, N, K] of [[7, 13, 5], [16, 50, 50], [33, 9, 300], [4, 8, 1], [5, 3, 600], [10, 50, 1500], [9, 600, 20], [6, 517, 300]]) {
    for (const transA of [false, true]) {
      it(`${M}×${N}×${K} transA=${transA}, overwrite and accumulate`, () => {
        const A = randn(M * K), B = randn(K * N), C0 = randn(M * N);
        const a = put(A), b = put(B), c = put(C0);
        k.gemm(c.ptr, a.ptr, b.ptr, M, N, K, transA ? M : K, N, N, transA ? 1 : 0, 1, 0, 0.5);
        expect(maxRelError(c.a, refGemm(A, B, M, N, K, transA, 0.5, C0))).toBeLessThan(TOL);
        k.gemm(c.ptr, a.ptr, b.ptr, M, N, K, transA ? M : K, N, N, transA ? 1 : 0, 0, 0, 1);
        expect(maxRelError(c.a, refGemm(A, B, M, N, K, transA, 1))).toBeLessThan(TOL);
      });
    }
  }

  it('strided operands (leading dimensions larger than the width)', () => {
    const M = 6, N = 5, K = 7, lda = 11, ldb = 9, ldc = 8;
    const A = randn(M * lda), B = randn(K * ldb);
    const a = put(A), b = put(B), c = put(new Float64Array(M * ldc).fill(42));
    k.gemm(c.ptr, a.ptr, b.ptr, M, N, K, lda, ldb, ldc, 0, 0, 0, 1);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < ldc; j++) {
        let s = 0;
        for (let kk = 0; kk < K; kk++) s += A[i * lda + kk] * B[kk * ldb + j];
        if (j < N) expect(c.a[i * ldc + j]).toBeCloseTo(s, 4);
        else expect(c.a[i * ldc + j]).toBe(42); // untouched beyond N
      }
    }
  });

  it('causal modes compute exactly the lower triangle', () => {
    const L = 11, d = 6;
    const Q = randn(L * d), Kt = randn(d * L);
    // mode 1: S = Q·Kᵀ needed for j ≤ i only
    const s = put(new Float64Array(L * L));
    k.gemm(s.ptr, put(Q).ptr, put(Kt).ptr, L, L, d, d, L, L, 0, 0, 1, 1);
    const full = refGemm(Q, Kt, L, L, d, false, 1);
    for (let i = 0; i < L; i++) for (let j = 0; j <= i; j++) expect(s.a[i * L + j]).toBeCloseTo(full[i * L + j], 4);
    // mode 2: lower-triangular A times B; mode 3: its transpose times B
    const P = randn(L * L);
    for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) P[i * L + j] = 0;
    const V = randn(L * d);
    const o = put(new Float64Array(L * d));
    k.gemm(o.ptr, put(P).ptr, put(V).ptr, L, d, L, L, d, d, 0, 0, 2, 1);
    expect(maxRelError(o.a, refGemm(P, V, L, d, L, false, 1))).toBeLessThan(TOL);
    k.gemm(o.ptr, put(P).ptr, put(V).ptr, L, d, L, L, d, d, 1, 0, 3, 1);
    expect(maxRelError(o.a, refGemm(P, V, L, d, L, true, 1))).toBeLessThan(TOL);
  });

  it('causal mode 1 across column blocks (L = 300 > the 256-wide block)', () => {
    const L = 300, d = 8;
    const Q = randn(L * d), Kt = randn(d * L);
    const s = put(new Float64Array(L * L));
    k.gemm(s.ptr, put(Q).ptr, put(Kt).ptr, L, L, d, d, L, L, 0, 0, 1, 1);
    const full = refGemm(Q, Kt, L, L, d, false, 1);
    let worst = 0;
    for (let i = 0; i < L; i++) for (let j = 0; j <= i; j++) worst = Math.max(worst, Math.abs(s.a[i * L + j] - full[i * L + j]));
    expect(worst).toBeLessThan(1e-4);
  });

  it('transpose', () => {
    const M = 13, N = 10;
    const X = randn(M * N);
    const y = put(new Float64Array(N * M));
    k.transpose(y.ptr, put(X).ptr, M, N, N, M);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) expect(y.a[j * M + i]).toBe(Math.fround(X[i * N + j]));
  });
});

describe('elementwise kernels', () => {
  it('expf matches Math.exp to 1e-6 relative', () => {
    // The polynomial is good to 2e-7; the rest is the float32 product x·log₂e (|x|·2⁻²⁴·ln 2).
    for (const x of [-80, -10.5, -1, -1e-3, 0, 0.3, 1, 5.5, 20, 80]) {
      expect(Math.abs(k.expf(x) - Math.exp(x)) / Math.exp(x)).toBeLessThan(1e-6);
    }
  });

  it('dropout keeps ~1−p of the elements, scales them, and backward reuses the mask', () => {
    const n = 20000, p = 0.2;
    const x = put(new Float64Array(n).fill(1));
    const y = put(new Float64Array(n));
    k.dropout(y.ptr, x.ptr, n, p, 1234, 77);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const keep = keepMask(1234, 77 + i, p);
      expect(y.a[i]).toBeCloseTo(keep ? 1 / (1 - p) : 0, 6);
      kept += keep ? 1 : 0;
    }
    expect(Math.abs(kept / n - 0.8)).toBeLessThan(0.015); // binomial sd ≈ 0.003
  });

  for (const [name, f, df] of [
    ['gelu', (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))), 'gelu'],
    ['relu', (x: number) => Math.max(x, 0), 'relu'],
  ] as const) {
    it(`${name} forward and backward (finite differences)`, () => {
      const n = 37;
      const X = randn(n, 2);
      const R = randn(n);
      const x = put(X), y = put(new Float64Array(n)), r = put(R), dx = put(new Float64Array(n).fill(3));
      const fwd = `${df}_fwd` as 'gelu_fwd' | 'relu_fwd';
      const bwd = `${df}_bwd` as 'gelu_bwd' | 'relu_bwd';
      k[fwd](y.ptr, x.ptr, n);
      expect(maxRelError(y.a, Array.from(X, f))).toBeLessThan(TOL);
      k[bwd](dx.ptr, r.ptr, x.ptr, n, 1); // accumulate onto 3
      const num = numericGrad((z) => contract(R, Array.from(z, f)), X.slice());
      expect(maxRelError(Array.from(dx.a, (v) => v - 3), num)).toBeLessThan(1e-3);
    });
  }

  it('silu forward (keeping σ, also in place) and backward from y and σ (finite differences)', () => {
    const n = 37;
    const f = (x: number): number => x / (1 + Math.exp(-x));
    const X = randn(n, 2);
    const R = randn(n);
    const y = put(new Float64Array(n)), sg = put(X), dx = put(new Float64Array(n).fill(3));
    k.silu_fwd(y.ptr, sg.ptr, sg.ptr, n); // σ overwrites x, as HSTU does
    expect(maxRelError(y.a, Array.from(X, f))).toBeLessThan(TOL);
    expect(maxRelError(sg.a, Array.from(X, (x) => 1 / (1 + Math.exp(-x))))).toBeLessThan(TOL);
    k.silu_bwd(dx.ptr, put(R).ptr, y.ptr, sg.ptr, n, 1); // accumulate onto 3
    const num = numericGrad((z) => contract(R, Array.from(z, f)), X.slice());
    expect(maxRelError(Array.from(dx.a, (v) => v - 3), num)).toBeLessThan(1e-3);
  });

  it('relu∘dropout forward and backward', () => {
    const n = 400, p = 0.3;
    const H = randn(n);
    const R = randn(n);
    const a = put(new Float64Array(n)), dh = put(new Float64Array(n));
    k.relu_dropout_fwd(a.ptr, put(H).ptr, n, p, 99, 1000);
    const ref = (h: Float64Array): number[] => Array.from(h, (v, i) => (keepMask(99, 1000 + i, p) ? Math.max(v, 0) / (1 - p) : 0));
    expect(maxRelError(a.a, ref(H))).toBeLessThan(TOL);
    k.relu_dropout_bwd(dh.ptr, put(R).ptr, a.ptr, n, p);
    expect(maxRelError(dh.a, numericGrad((h) => contract(R, ref(h)), H.slice()))).toBeLessThan(1e-4);
  });

  it('bias add and column sums', () => {
    const M = 5, N = 7, ld = 9;
    const Y = randn(M * ld), b = randn(N);
    const y = put(Y);
    k.add_bias(y.ptr, put(b).ptr, M, N, ld);
    for (let i = 0; i < M; i++) for (let j = 0; j < ld; j++) expect(y.a[i * ld + j]).toBeCloseTo(Y[i * ld + j] + (j < N ? b[j] : 0), 5);
    const db = put(new Float64Array(N).fill(1));
    k.col_sum(db.ptr, put(Y).ptr, M, N, ld);
    for (let j = 0; j < N; j++) {
      let s = 1;
      for (let i = 0; i < M; i++) s += Y[i * ld + j];
      expect(db.a[j]).toBeCloseTo(s, 4);
    }
  });
});

describe('layer norm', () => {
  it('forward matches the definition; backward matches finite differences (x, γ, β)', () => {
    const M = 6, d = 10, eps = 1e-8;
    const X = randn(M * d, 2), G = randn(d), B = randn(d), R = randn(M * d);
    const ref = (x: Float64Array, g: Float64Array, b: Float64Array): Float64Array => {
      const y = new Float64Array(M * d);
      for (let i = 0; i < M; i++) {
        let mu = 0;
        for (let j = 0; j < d; j++) mu += x[i * d + j] / d;
        let v = 0;
        for (let j = 0; j < d; j++) v += (x[i * d + j] - mu) ** 2 / d;
        for (let j = 0; j < d; j++) y[i * d + j] = ((x[i * d + j] - mu) / Math.sqrt(v + eps)) * g[j] + b[j];
      }
      return y;
    };
    const x = put(X), g = put(G), b = put(B), y = put(new Float64Array(M * d));
    const mean = put(new Float64Array(M)), rstd = put(new Float64Array(M));
    k.layernorm_fwd(y.ptr, x.ptr, g.ptr, b.ptr, mean.ptr, rstd.ptr, M, d, eps);
    expect(maxRelError(y.a, ref(X, G, B))).toBeLessThan(TOL);
    const dx = put(new Float64Array(M * d)), dg = put(new Float64Array(d)), db = put(new Float64Array(d));
    k.layernorm_bwd(dx.ptr, put(R).ptr, x.ptr, g.ptr, mean.ptr, rstd.ptr, dg.ptr, db.ptr, M, d, 0);
    expect(maxRelError(dx.a, numericGrad((z) => contract(R, ref(z, G, B)), X.slice()))).toBeLessThan(1e-3);
    expect(maxRelError(dg.a, numericGrad((z) => contract(R, ref(X, z, B)), G.slice()))).toBeLessThan(1e-4);
    expect(maxRelError(db.a, numericGrad((z) => contract(R, ref(X, G, z)), B.slice()))).toBeLessThan(1e-4);
  });
});

describe('gated norm (HSTU: U ⊙ LayerNorm(X))', () => {
  it('forward matches the definition; backward matches finite differences (x, and U read at a row stride)', () => {
    const M = 5, d = 10, ldu = 23, eps = 1e-6;
    const X = randn(M * d, 2), U = randn(M * ldu), R = randn(M * d);
    const ref = (x: Float64Array, u: Float64Array): Float64Array => {
      const y = new Float64Array(M * d);
      for (let i = 0; i < M; i++) {
        let mu = 0;
        for (let j = 0; j < d; j++) mu += x[i * d + j] / d;
        let v = 0;
        for (let j = 0; j < d; j++) v += (x[i * d + j] - mu) ** 2 / d;
        for (let j = 0; j < d; j++) y[i * d + j] = ((x[i * d + j] - mu) / Math.sqrt(v + eps)) * u[i * ldu + 3 + j];
      }
      return y;
    };
    // U's columns 3 .. 3 + d of each row are the gate (a column slice, as HSTU's U of [U|V|Q|K])
    const x = put(X), u = put(U), y = put(new Float64Array(M * d));
    const mean = put(new Float64Array(M)), rstd = put(new Float64Array(M));
    k.gated_norm_fwd(y.ptr, x.ptr, u.ptr + 12, ldu, mean.ptr, rstd.ptr, M, d, eps);
    expect(maxRelError(y.a, ref(X, U))).toBeLessThan(TOL);
    const dx = put(new Float64Array(M * d)), du = put(new Float64Array(M * ldu));
    k.gated_norm_bwd(dx.ptr, du.ptr + 12, put(R).ptr, x.ptr, u.ptr + 12, ldu, mean.ptr, rstd.ptr, M, d, 0);
    expect(maxRelError(dx.a, numericGrad((z) => contract(R, ref(z, U)), X.slice()))).toBeLessThan(1e-3);
    // the columns outside the slice are not written
    expect(maxRelError(du.a, numericGrad((z) => contract(R, ref(X, z)), U.slice()))).toBeLessThan(1e-4);
  });
});

describe('embeddings', () => {
  it('gather with scale and positions; scatter-add backward matches finite differences', () => {
    const n = 6, P = 4, d = 5, scale = 1.7;
    const ids = [3, 1, 3, 0, 5], pos = [0, 1, 2, 3, 3];
    const T = ids.length;
    const E = randn(n * d), Pos = randn(P * d), R = randn(T * d);
    const ref = (e: Float64Array, p: Float64Array): Float64Array => {
      const x = new Float64Array(T * d);
      for (let t = 0; t < T; t++) for (let j = 0; j < d; j++) x[t * d + j] = e[ids[t] * d + j] * scale + p[pos[t] * d + j];
      return x;
    };
    const e = put(E), p = put(Pos), x = put(new Float64Array(T * d)), idb = ints(ids), pb = ints(pos);
    k.embed_fwd(x.ptr, e.ptr, idb.ptr, p.ptr, pb.ptr, T, d, scale);
    expect(maxRelError(x.a, ref(E, Pos))).toBeLessThan(TOL);
    const dE = put(new Float64Array(n * d)), dP = put(new Float64Array(P * d));
    k.embed_bwd(dE.ptr, dP.ptr, put(R).ptr, idb.ptr, pb.ptr, T, d, scale);
    expect(maxRelError(dE.a, numericGrad((z) => contract(R, ref(z, Pos)), E.slice()))).toBeLessThan(1e-4);
    expect(maxRelError(dP.a, numericGrad((z) => contract(R, ref(E, z)), Pos.slice()))).toBeLessThan(1e-4);
  });
});

/** softplus in float64. */
const sp = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

describe('losses', () => {
  const T = 5, n = 9, d = 6, nNeg = 3;
  const pos = [1, 4, 4, 8, 2];
  const neg = [0, 3, 5, 7, 7, 6, 2, 0, 1, 3, 3, 5, 8, 6, 0];
  const H = randn(T * d, 0.5), E = randn(n * d, 0.5);

  for (const beta of [1, 0.37]) {
    it(`BCE with ${nNeg} negatives (β = ${beta}, gBCE when β < 1): loss and gradients`, () => {
      const w = 1 / T;
      const ref = (h: Float64Array, e: Float64Array): number => {
        let s = 0;
        for (let t = 0; t < T; t++) {
          const dot = (id: number): number => {
            let z = 0;
            for (let j = 0; j < d; j++) z += h[t * d + j] * e[id * d + j];
            return z;
          };
          s += beta * sp(-dot(pos[t]));
          for (let q = 0; q < nNeg; q++) s += sp(dot(neg[t * nNeg + q]));
        }
        return s * w;
      };
      const dH = put(new Float64Array(T * d)), dE = put(new Float64Array(n * d)), out = eng.f64(1);
      k.bce_neg_loss(put(H).ptr, put(E).ptr, ints(pos).ptr, ints(neg).ptr, T, nNeg, d, w, beta, dH.ptr, dE.ptr, out.ptr);
      expect(out.a[0]).toBeCloseTo(ref(H, E), 5);
      expect(maxRelError(dH.a, numericGrad((z) => ref(z, E), H.slice()))).toBeLessThan(1e-4);
      expect(maxRelError(dE.a, numericGrad((z) => ref(H, z), E.slice()))).toBeLessThan(1e-4);
    });
  }

  it('sampled softmax with temperature: loss and gradients', () => {
    const w = 0.5, tau = 0.7;
    const ref = (h: Float64Array, e: Float64Array): number => {
      let s = 0;
      for (let t = 0; t < T; t++) {
        const zs = [pos[t], ...neg.slice(t * nNeg, t * nNeg + nNeg)].map((id) => {
          let z = 0;
          for (let j = 0; j < d; j++) z += h[t * d + j] * e[id * d + j];
          return z / tau;
        });
        const m = Math.max(...zs);
        s += m + Math.log(zs.reduce((a, z) => a + Math.exp(z - m), 0)) - zs[0];
      }
      return s * w;
    };
    const dH = put(new Float64Array(T * d)), dE = put(new Float64Array(n * d)), out = eng.f64(1);
    k.sampled_softmax_loss(put(H).ptr, put(E).ptr, ints(pos).ptr, ints(neg).ptr, T, nNeg, d, w, tau, dH.ptr, dE.ptr, out.ptr,
      eng.f32(nNeg + 1).ptr);
    expect(out.a[0]).toBeCloseTo(ref(H, E), 5);
    expect(maxRelError(dH.a, numericGrad((z) => ref(z, E), H.slice()))).toBeLessThan(1e-4);
    expect(maxRelError(dE.a, numericGrad((z) => ref(H, z), E.slice()))).toBeLessThan(1e-4);
  });

  it('full softmax cross-entropy over logits', () => {
    const nc = 11, ld = 12, w = 0.25;
    const Z = randn(T * ld, 2), y = [0, 10, 5, 5, 3];
    const ref = (z: Float64Array): number => {
      let s = 0;
      for (let t = 0; t < T; t++) {
        const row = Array.from(z.subarray(t * ld, t * ld + nc));
        const m = Math.max(...row);
        s += m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[y[t]];
      }
      return s * w;
    };
    const z = put(Z), out = eng.f64(1);
    k.softmax_ce(z.ptr, ints(y).ptr, T, nc, ld, w, out.ptr);
    expect(out.a[0]).toBeCloseTo(ref(Z), 5);
    const num = numericGrad(ref, Z.slice());
    for (let t = 0; t < T; t++) for (let j = 0; j < nc; j++) expect(z.a[t * ld + j]).toBeCloseTo(num[t * ld + j], 5);
  });
});

describe('optimizers', () => {
  it('Adam and AdamW follow the PyTorch update formulas; lazy rows touch only their rows', () => {
    const n = 8;
    const P0 = randn(n), G = randn(n), M0 = randn(n, 0.1), V0 = Array.from(randn(n, 0.1), Math.abs);
    const lr = 0.01, b1 = 0.9, b2 = 0.98, eps = 1e-8, wd = 0.1, t = 3;
    const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    for (const mode of [0, 1]) {
      const p = put(P0), g = put(G), m = put(M0), v = put(V0);
      k.adam(p.ptr, g.ptr, m.ptr, v.ptr, n, lr, b1, b2, eps, wd, mode, bc1, bc2);
      for (let i = 0; i < n; i++) {
        let pi = P0[i];
        let gi = G[i];
        if (mode === 0) gi += wd * pi;
        else pi -= lr * wd * pi;
        const mi = b1 * M0[i] + (1 - b1) * gi;
        const vi = b2 * V0[i] + (1 - b2) * gi * gi;
        const expected = pi - (lr / bc1) * mi / (Math.sqrt(vi) / Math.sqrt(bc2) + eps);
        expect(p.a[i]).toBeCloseTo(expected, 5);
        expect(m.a[i]).toBeCloseTo(mi, 6);
      }
    }
    // bit-exact against a float32 emulation of the same operations, across SIMD lanes and the scalar tail
    const fr = Math.fround;
    const n2 = 11, P2 = randn(n2), G2 = randn(n2), M2 = randn(n2, 0.1), V2 = Array.from(randn(n2, 0.1), Math.abs);
    for (const mode of [0, 1]) {
      const p = put(P2), g = put(G2), m = put(M2), v = put(V2);
      k.adam(p.ptr, g.ptr, m.ptr, v.ptr, n2, lr, b1, b2, eps, wd, mode, bc1, bc2);
      const [flr, fb1, fb2, feps, fwd] = [lr, b1, b2, eps, wd].map(fr);
      const step = fr(flr / fr(bc1)), sbc2 = fr(Math.sqrt(fr(bc2)));
      for (let i = 0; i < n2; i++) {
        let pi = fr(P2[i]), gi = fr(G2[i]);
        if (mode === 0) gi = fr(gi + fr(fwd * pi));
        else pi = fr(pi - fr(fr(flr * fwd) * pi));
        const mi = fr(fr(fb1 * fr(M2[i])) + fr(fr(1 - fb1) * gi));
        const vi = fr(fr(fb2 * fr(V2[i])) + fr(fr(fr(1 - fb2) * gi) * gi));
        expect(m.a[i]).toBe(mi);
        expect(v.a[i]).toBe(vi);
        expect(p.a[i]).toBe(fr(pi - fr(fr(step * mi) / fr(fr(fr(Math.sqrt(vi)) / sbc2) + feps))));
      }
    }
    // rows: a 4×2 table, update rows 2 and 0 only
    const p = put(P0), g = put(G), m = put(new Float64Array(n)), v = put(new Float64Array(n));
    k.adam_rows(p.ptr, g.ptr, m.ptr, v.ptr, ints([2, 0]).ptr, 2, 2, lr, b1, b2, eps, 0, 0, 1 - b1, 1 - b2);
    for (let i = 0; i < n; i++) {
      const row = i >> 1;
      if (row === 1 || row === 3) expect(p.a[i]).toBe(Math.fround(P0[i]));
      else expect(p.a[i]).toBeCloseTo(P0[i] - lr * Math.sign(G[i]), 4); // first Adam step moves by lr·sign(g)
    }
  });
});

describe('batched matmul (ops.ts)', () => {
  it('every transpose combination, batched and with a shared operand', async () => {
    const { matmul, tensor } = await import('./ops.ts');
    const bt = 3, M = 5, N = 6, K = 7;
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const A = tensor(eng, transA ? [bt, K, M] : [bt, M, K]);
        const B = tensor(eng, transB ? [N, K] : [K, N]); // shared across the batch
        const C = tensor(eng, [bt, M, N]);
        A.buf.a.set(randn(A.buf.length));
        B.buf.a.set(randn(B.buf.length));
        const prog = eng.program();
        matmul(prog, C, A, B, { transA, transB, alpha: 2 }, eng.f32(K * N));
        eng.run(prog);
        for (let b = 0; b < bt; b++) {
          for (let i = 0; i < M; i++) {
            for (let j = 0; j < N; j++) {
              let s = 0;
              for (let q = 0; q < K; q++) {
                const a = transA ? A.buf.a[b * K * M + q * M + i] : A.buf.a[b * M * K + i * K + q];
                const bb = transB ? B.buf.a[j * K + q] : B.buf.a[q * N + j];
                s += a * bb;
              }
              expect(C.buf.a[b * M * N + i * N + j]).toBeCloseTo(2 * s, 4);
            }
          }
        }
      }
    }
  });
});

describe('elementwise product and L2 normalisation', () => {
  it('mul forward; its backward (two calls of itself) matches finite differences', () => {
    const n = 11;
    const X = randn(n), Y = randn(n), R = randn(n);
    const z = put(new Float64Array(n));
    k.mul(z.ptr, put(X).ptr, put(Y).ptr, n, 0);
    expect(maxRelError(z.a, Array.from(X, (v, i) => v * Y[i]))).toBeLessThan(TOL);
    const dx = put(new Float64Array(n));
    k.mul(dx.ptr, put(R).ptr, put(Y).ptr, n, 1);
    expect(maxRelError(dx.a, numericGrad((x) => contract(R, Array.from(x, (v, i) => v * Y[i])), X.slice()))).toBeLessThan(1e-4);
  });

  it('l2norm forward and backward (finite differences)', () => {
    const M = 4, d = 7, eps = 1e-6;
    const X = randn(M * d), R = randn(M * d);
    const ref = (x: Float64Array): number[] => {
      const y: number[] = [];
      for (let i = 0; i < M; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += x[i * d + j] ** 2;
        for (let j = 0; j < d; j++) y.push(x[i * d + j] / Math.sqrt(s + eps));
      }
      return y;
    };
    const y = put(new Float64Array(M * d)), r = put(new Float64Array(M)), dx = put(new Float64Array(M * d));
    k.l2norm_fwd(y.ptr, put(X).ptr, r.ptr, M, d, eps);
    expect(maxRelError(y.a, ref(X))).toBeLessThan(TOL);
    k.l2norm_bwd(dx.ptr, put(R).ptr, y.ptr, r.ptr, M, d, 0);
    expect(maxRelError(dx.a, numericGrad((x) => contract(R, ref(x)), X.slice()))).toBeLessThan(1e-3);
  });
});

describe('fused epilogue', () => {
  it('bias_dropout_residual = R + dropout(Y + b) with the dropout kernel\'s mask (so its backward is dropout)', () => {
    const M = 6, N = 50, p = 0.3, seed = 77, base = 1234;
    const Y = randn(M * N), b = randn(N), R = randn(M * N);
    const y = put(Y);
    k.bias_dropout_residual(y.ptr, put(b).ptr, put(R).ptr, M, N, p, seed, base);
    const expected = Array.from(Y, (v, e) => R[e] + (keepMask(seed, base + e, p) ? (v + b[e % N]) / (1 - p) : 0));
    expect(maxRelError(y.a, expected)).toBeLessThan(TOL);
    // and the mask agrees with the dropout kernel that the backward uses
    const ones = put(new Float64Array(M * N).fill(1)), m = put(new Float64Array(M * N));
    k.dropout(m.ptr, ones.ptr, M * N, p, seed, base);
    for (let e = 0; e < M * N; e++) expect(m.a[e] !== 0).toBe(keepMask(seed, base + e, p));
  });
});
