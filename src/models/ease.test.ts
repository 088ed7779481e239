import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromSequences } from '../data/interactions.ts';
import { Ease } from './ease.ts';
import { loadModel } from './registry.ts';
import { naiveSolve, randomInteractions } from './cf/testutil.ts';

describe('EASE', () => {
  it('each column of B is the ridge regression of item j on the other items (Steck eq. 1 with diag(B)=0)', async () => {
    const train = randomInteractions(11, 30, 9);
    const lambda = 2;
    const m = new Ease({ lambda });
    await m.fit(train, { seed: 0 });
    const n = 9;
    const x = Array.from({ length: 30 }, () => new Array<number>(n).fill(0));
    for (let u = 0; u < 30; u++) for (let p = train.offsets[u]; p < train.offsets[u + 1]; p++) x[u][train.items[p]] = 1;
    for (let j = 0; j < n; j++) {
      const others = [...Array(n).keys()].filter((i) => i !== j);
      const a = others.map((i) => others.map((k) => x.reduce((s, row) => s + row[i] * row[k], 0) + (i === k ? lambda : 0)));
      const rhs = others.map((i) => x.reduce((s, row) => s + row[i] * row[j], 0));
      const sol = naiveSolve(a, rhs);
      others.forEach((i, t) => expect(m.weights[i * n + j]).toBeCloseTo(sol[t], 5));
      expect(m.weights[j * n + j]).toBe(0);
    }
  });

  it('scores from the history passed in, counting repeated items once', async () => {
    const m = new Ease({ lambda: 1 });
    await m.fit(fromSequences([[0, 1], [1, 2], [0, 2], [0, 1, 2]], 3), { seed: 0 });
    const hist = fromSequences([[0, 0, 0]], 3);
    const out = new Float32Array(3);
    m.scoreUsers(Int32Array.of(0), hist, out);
    expect(Array.from(out)).toEqual([0, m.weights[1], m.weights[2]]);
  });

  it('scores several users as the float64 sum of their distinct history rows of B (the kernel path)', async () => {
    const train = randomInteractions(5, 40, 37);
    const m = new Ease({ lambda: 2 });
    await m.fit(train, { seed: 0 });
    const n = 37;
    const users = Int32Array.of(0, 7, 39);
    const out = new Float32Array(users.length * n);
    m.scoreUsers(users, train, out);
    users.forEach((u, r) => {
      const rows = new Set(train.items.subarray(train.offsets[u], train.offsets[u + 1]));
      for (let j = 0; j < n; j++) {
        let want = 0;
        for (const i of rows) want += m.weights[i * n + j];
        expect(out[r * n + j]).toBeCloseTo(want, 5);
      }
    });
  });

  it('refuses a catalogue too large for dense matrices, with a hint', async () => {
    const m = new Ease({ maxMemoryGb: 1e-6 });
    await expect(m.fit(randomInteractions(1, 5, 50), { seed: 0 })).rejects.toThrow(/GiB.*Hint:.*itemknn/s);
  });

  it('saves and loads', async () => {
    const train = randomInteractions(2, 20, 12);
    const m = new Ease({ lambda: 3 });
    await m.fit(train, { seed: 0 });
    const dir = await mkdtemp(join(tmpdir(), 'reclab-ease-'));
    try {
      await m.save(dir);
      const back = await loadModel(dir);
      const a = new Float32Array(2 * 12);
      const b = new Float32Array(2 * 12);
      m.scoreUsers(Int32Array.of(3, 4), train, a);
      back.scoreUsers(Int32Array.of(3, 4), train, b);
      expect(Array.from(b)).toEqual(Array.from(a));
      expect(back.config).toEqual({ lambda: 3, maxMemoryGb: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
