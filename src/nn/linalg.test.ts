import { describe, expect, it } from 'vitest';
import { choleskyInPlace, choleskySolveInPlace, gramBinary, gramInverse, rankUpdateLowerKernel, spdInverse } from './linalg.ts';
import { Rng } from './rng.ts';

function randomSpd(n: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const x = Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < n; p++) s += x[i * n + p] * x[j * n + p];
      a[i * n + j] = s + (i === j ? 0.5 : 0);
    }
  }
  return a;
}

describe('spdInverse', () => {
  for (const [n, block] of [[1, 64], [7, 4], [37, 8], [70, 64], [130, 32]] as const) {
    it(`A·A⁻¹ = I for n=${n}, block=${block}`, () => {
      const a = randomSpd(n, n);
      const p = spdInverse(a, n, { block });
      let err = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += a[i * n + k] * p[k * n + j];
          err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
          expect(p[i * n + j]).toBe(p[j * n + i]);
        }
      }
      expect(err).toBeLessThan(1e-8);
    });
  }

  it('inverts a 2×2 by hand', () => {
    // [[4,2],[2,3]]⁻¹ = 1/8 [[3,−2],[−2,4]]
    const p = spdInverse(Float64Array.of(4, 2, 2, 3), 2);
    expect(Array.from(p)).toEqual([0.375, -0.25, -0.25, 0.5]);
  });

  it('rejects a matrix that is not positive definite', () => {
    expect(() => spdInverse(Float64Array.of(1, 2, 2, 1), 2)).toThrow(/not positive definite.*row 1/);
  });
});

describe('gramBinary', () => {
  it('equals XᵀX of the dense binary matrix', () => {
    const rng = new Rng(3);
    const nRows = 40;
    const nCols = 23;
    const dense: number[][] = [];
    const offsets = [0];
    const cols: number[] = [];
    for (let r = 0; r < nRows; r++) {
      const row = Array.from({ length: nCols }, () => (rng.next() < 0.3 ? 1 : 0));
      dense.push(row);
      row.forEach((v, c) => v && cols.push(c));
      offsets.push(cols.length);
    }
    const g = gramBinary({ nRows, nCols, offsets: Int32Array.from(offsets), cols: Int32Array.from(cols) });
    for (let i = 0; i < nCols; i++) {
      for (let j = 0; j < nCols; j++) {
        let s = 0;
        for (let r = 0; r < nRows; r++) s += dense[r][i] * dense[r][j];
        expect(g[i * nCols + j]).toBe(s);
      }
    }
  });
});

describe('gramBinary threads and lower triangle', () => {
  it('two threads and one give the same XᵀX; lower fills exactly j ≤ i; diagonal = column counts', () => {
    // 420 rows of ~400 items: Σ len²/2 ≈ 3.4e7 increments, above the one-thread cut-off
    const rng = new Rng(11);
    const nRows = 420;
    const nCols = 500;
    const offsets = [0];
    const cols: number[] = [];
    const colCount = new Array<number>(nCols).fill(0);
    for (let r = 0; r < nRows; r++) {
      for (let c = 0; c < nCols; c++) {
        if (rng.next() < 0.8) {
          cols.push(c);
          colCount[c]++;
        }
      }
      offsets.push(cols.length);
    }
    const x = { nRows, nCols, offsets: Int32Array.from(offsets), cols: Int32Array.from(cols) };
    const one = gramBinary(x, { threads: 1 });
    const two = gramBinary(x, { threads: 2 });
    expect(two).toEqual(one);
    for (let c = 0; c < nCols; c++) expect(one[c * nCols + c]).toBe(colCount[c]);
    // one off-diagonal entry by direct count
    const rowsWith = (c: number): Set<number> => new Set(Array.from({ length: nRows }, (_, r) => r).filter((r) => cols.slice(offsets[r], offsets[r + 1]).includes(c)));
    const a = rowsWith(17);
    const both = [...rowsWith(333)].filter((r) => a.has(r)).length;
    expect(one[333 * nCols + 17]).toBe(both);
    expect(one[17 * nCols + 333]).toBe(both);
    const lower = gramBinary(x, { lower: true, threads: 2 });
    expect(lower).toEqual(one.map((v, k) => (k % nCols <= Math.floor(k / nCols) ? v : 0)));
  });
});

describe('cholesky', () => {
  it('solves an SPD system', () => {
    const n = 9;
    const a = randomSpd(n, 5);
    const l = a.slice();
    choleskyInPlace(l, n);
    const xTrue = Array.from({ length: n }, (_, i) => i - 4);
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) b[i] += a[i * n + j] * xTrue[j];
    choleskySolveInPlace(l, n, b);
    for (let i = 0; i < n; i++) expect(b[i]).toBeCloseTo(xTrue[i], 9);
  });
});

describe('spdInverse with helper threads', () => {
  it('gives the same inverse with 2 threads as with 1 (n = 520)', () => {
    const n = 520;
    const rng = new Rng(21);
    // A sparse-ish SPD matrix: diagonally dominant symmetric.
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) {
        const v = rng.next() < 0.05 ? rng.next() : 0;
        a[i * n + j] = v;
        a[j * n + i] = v;
      }
      a[i * n + i] = n * 0.1 + 1;
    }
    const one = spdInverse(a, n, { threads: 1 });
    const two = spdInverse(a, n, { threads: 2 });
    expect(Array.from(two)).toEqual(Array.from(one));
    let err = 0;
    for (let i = 0; i < n; i += 37) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k] * two[k * n + j];
        err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    expect(err).toBeLessThan(1e-10);
  });
});

/**
 * The scalar reference of the core's rank_update_lower, written from its definition:
 * C[i][j] −= Σ_p W[i][p]·U[j][p] for rows i ∈ [i0, i1), columns j ≤ i in whole 4×4 tiles, with W and
 * U packed in 4-row groups, p-major: X[(⌊i/4⌋·b + p)·4 + i mod 4].
 */
function rankUpdateLowerRef(C: Float64Array, m: number, b: number, W: Float64Array, U: Float64Array, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    for (let j = 0; j < ((i >> 2) + 1) * 4; j++) {
      let s = 0;
      for (let p = 0; p < b; p++) s += W[((i >> 2) * b + p) * 4 + (i & 3)] * U[((j >> 2) * b + p) * 4 + (j & 3)];
      C[i * m + j] -= s;
    }
  }
}

describe('rank-b update kernel', () => {
  it('the core kernel equals the scalar definition on a band of rows (and leaves other rows alone)', () => {
    const rng = new Rng(31);
    const m = 24;
    const b = 7;
    const C = Float64Array.from({ length: m * m }, () => rng.normal());
    const W = Float64Array.from({ length: m * b }, () => rng.normal());
    const U = Float64Array.from({ length: m * b }, () => rng.normal());
    const ref = C.slice();
    const core = C.slice();
    rankUpdateLowerRef(ref, m, b, W, U, 4, 20);
    rankUpdateLowerKernel(core, m, b, W, U, 4, 20);
    for (let k = 0; k < m * m; k++) expect(core[k]).toBeCloseTo(ref[k], 12);
    expect(core).not.toEqual(C);
  });
});

describe('gramInverse', () => {
  it('equals spdInverse(XᵀX + λI) built in two steps', () => {
    const rng = new Rng(5);
    const nRows = 300, nCols = 37;
    const offsets = [0];
    const cols: number[] = [];
    for (let r = 0; r < nRows; r++) {
      const row = [...new Set(Array.from({ length: 1 + rng.int(9) }, () => rng.int(nCols)))].sort((a, b) => a - b);
      cols.push(...row);
      offsets.push(cols.length);
    }
    const x = { nRows, nCols, offsets: Int32Array.from(offsets), cols: Int32Array.from(cols) };
    const g = gramBinary(x);
    for (let i = 0; i < nCols; i++) g[i * nCols + i] += 3;
    const two = spdInverse(g, nCols, { block: 8 });
    const one = gramInverse(x, 3, { block: 8 });
    for (let k = 0; k < two.length; k++) expect(one[k]).toBeCloseTo(two[k], 12);
  });
});
