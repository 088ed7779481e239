import { describe, expect, it, onTestFinished } from 'vitest';
import { Rng } from '../nn/rng.ts';
import { countAbove, countAboveJs, dotScores, KernelArena, packPanels, sharedArena } from './kernels.ts';
import { encodeModule, FnBuilder, I32, sleb, uleb, Wasm } from '../nn/wasm-writer.ts';

describe('wasm encoder', () => {
  it('encodes LEB128 as in the spec examples', () => {
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
  });
  it('builds a module that runs (i32 add)', () => {
    const f = new FnBuilder([I32, I32], [I32]);
    f.get(0).get(1).add();
    const arena = new KernelArena(1);
    const inst = new Wasm.Instance(new Wasm.Module(encodeModule({ f }, { minPages: 1, maxPages: 32768 })), { env: { memory: arena.memory } });
    expect((inst.exports.f as (a: number, b: number) => number)(40, 2)).toBe(42);
  });
});

describe('kernels', () => {
  const rng = new Rng(3);
  for (const [nUsers, nItems, dim] of [[1, 5, 3], [3, 9, 8], [7, 37, 16], [201, 250, 64]]) {
    it(`dotScores matches a naive dot product (${nUsers} users × ${nItems} items × ${dim})`, () => {
      // Force the helper thread on (the default depends on the machine's load) so the shared-
      // memory chunked path is what gets checked for the large case.
      const before = process.env.RECLAB_THREADS;
      process.env.RECLAB_THREADS = '2';
      onTestFinished(() => {
        if (before === undefined) delete process.env.RECLAB_THREADS;
        else process.env.RECLAB_THREADS = before;
      });
      const U = Float32Array.from({ length: 300 * dim }, () => rng.normal());
      const V = Float32Array.from({ length: nItems * dim }, () => rng.normal());
      const packed = packPanels(V, nItems, dim);
      const users = Int32Array.from({ length: nUsers }, () => rng.int(300));
      const arena = sharedArena();
      const inArena = arena.f32(arena.region(`test-${nUsers}`, nUsers * nItems * 4), nUsers * nItems);
      const outside = new Float32Array(nUsers * nItems);
      dotScores(U, users, packed, inArena);
      dotScores(U, users, packed, outside);
      let maxErr = 0;
      let mismatches = 0;
      for (let r = 0; r < nUsers; r++) {
        for (let i = 0; i < nItems; i++) {
          let s = 0;
          for (let k = 0; k < dim; k++) s += U[users[r] * dim + k] * V[i * dim + k];
          maxErr = Math.max(maxErr, Math.abs(inArena[r * nItems + i] - s));
          if (outside[r * nItems + i] !== inArena[r * nItems + i]) mismatches++;
        }
      }
      expect(maxErr).toBeLessThan(1e-4);
      expect(mismatches).toBe(0);
    });
  }
  it('countAbove (vectorised) equals the JS count, with ties, NaN and −∞', () => {
    const nRows = 9;
    const nItems = 43;
    const arena = sharedArena();
    const s = arena.f32(arena.region('test-count', nRows * nItems * 4), nRows * nItems);
    for (let i = 0; i < s.length; i++) s[i] = rng.next() < 0.05 ? NaN : rng.next() < 0.05 ? -Infinity : rng.int(5);
    const targets = Int32Array.from({ length: nRows }, () => rng.int(nItems));
    const a = new Int32Array(nRows * 2);
    const b = new Int32Array(nRows * 2);
    countAbove(s, nRows, nItems, targets, a);
    countAboveJs(s, nRows, nItems, targets, b);
    expect([...a]).toEqual([...b]);
    // Row 0 by hand.
    const t = s[targets[0]];
    expect(a[0]).toBe([...s.subarray(0, nItems)].filter((x) => x > t).length);
  });
});

describe('several arenas', () => {
  it('each arena gets kernels and helper threads bound to its own memory', () => {
    const rng = new Rng(8);
    const dim = 16;
    const nItems = 30;
    const V = Float32Array.from({ length: nItems * dim }, () => rng.normal());
    const U = Float32Array.from({ length: 100 * dim }, () => rng.normal());
    const users = Int32Array.from({ length: 100 }, (_, i) => i);
    const a = new KernelArena();
    const b = new KernelArena();
    const outA = a.f32(a.region('o', 100 * nItems * 4), 100 * nItems);
    const outB = b.f32(b.region('o', 100 * nItems * 4), 100 * nItems);
    dotScores(U, users, packPanels(V, nItems, dim, a), outA);
    dotScores(U, users, packPanels(V, nItems, dim, b), outB);
    expect([...outB]).toEqual([...outA]);
    let s = 0;
    for (let k = 0; k < dim; k++) s += U[99 * dim + k] * V[29 * dim + k];
    expect(outB[99 * nItems + 29]).toBeCloseTo(s, 4);
  });
});
