import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromSequences } from '../../data/interactions.ts';
import type { Interactions } from '../../data/types.ts';
import { readCheckpoint, writeCheckpoint } from '../checkpoint.ts';
import { createModel, loadModel } from '../registry.ts';
import type { Recommender } from '../recommender.ts';
import { Bpr, bprFoldIn, sigmoid } from '../bpr.ts';
import { directAuFoldIn } from '../directau.ts';
import { Ials } from '../ials.ts';
import { rowFingerprint } from './factor.ts';
import { randomInteractions } from './testutil.ts';
import { Rng } from '../../nn/rng.ts';

const FACTOR_MODELS: Record<string, Record<string, unknown>> = {
  bpr: { dim: 6, epochs: 3 },
  ials: { dim: 6, epochs: 3 },
  directau: { dim: 6, epochs: 2, batchSize: 32 },
  lightgcn: { dim: 6, epochs: 2, batchSize: 64 },
};

/** `data` with `extra` appended to user u's row. */
function withEvents(data: Interactions, u: number, extra: number[]): Interactions {
  const rows = Array.from({ length: data.nUsers }, (_, r) => Array.from(data.items.subarray(data.offsets[r], data.offsets[r + 1])));
  rows[u].push(...extra);
  return fromSequences(rows, data.nItems);
}

function scores(m: Recommender, u: number, history: Interactions): number[] {
  const out = new Float32Array(m.nItems);
  m.scoreUsers(Int32Array.of(u), history, out);
  return Array.from(out);
}

describe('factor-model base: fold-in of known users', () => {
  const train = randomInteractions(21, 40, 30, 3, 10);
  // An item user 5 has not seen, to post as new feedback.
  const own = new Set(train.items.subarray(train.offsets[5], train.offsets[5 + 1]));
  const fresh = [...Array(30).keys()].find((i) => !own.has(i))!;

  for (const [name, cfg] of Object.entries(FACTOR_MODELS)) {
    it(`${name}: the training history gives the trained row; a changed history re-fits it; foldIn: unseen and old checkpoints keep it`, async () => {
      const m = createModel(name, cfg);
      await m.fit(train, { seed: 4, progress: false });
      const d = cfg.dim as number;
      const trained = Array.from((m as unknown as { users: Float32Array }).users.subarray(5 * d, 6 * d));
      const items = (m as unknown as { items: Float32Array }).items;
      const dot = (i: number): number => trained.reduce((s, p, k) => s + p * items[i * d + k], 0);
      const bias = m instanceof Bpr ? m.bias : undefined;
      // Unchanged history: scores are p_u · q_j (+ b_j) of the trained row.
      const base = scores(m, 5, train);
      for (let j = 0; j < 30; j++) expect(base[j]).toBeCloseTo(dot(j) + (bias ? bias[j] : 0), 5);
      // The history with one more event: a new vector, and the new item's score rises relative to the rest.
      const changed = withEvents(train, 5, [fresh]);
      const after = scores(m, 5, changed);
      expect(after).not.toEqual(base);
      const rank = (s: number[]): number => s.filter((v) => v > s[fresh]).length;
      expect(rank(after)).toBeLessThanOrEqual(rank(base));
      // Other users are untouched by user 5's feedback.
      expect(scores(m, 6, changed)).toEqual(scores(m, 6, train));
      // The same answer twice (fold-in is deterministic).
      expect(scores(m, 5, changed)).toEqual(after);
      // foldIn: unseen keeps the trained row.
      const keep = createModel(name, { ...cfg, foldIn: 'unseen' });
      await keep.fit(train, { seed: 4, progress: false });
      expect(scores(keep, 5, changed)).toEqual(base);
      // Save/load keeps the fingerprints; a checkpoint without them keeps trained rows.
      const dir = await mkdtemp(join(tmpdir(), `reclab-${name}-fold-`));
      try {
        await m.save(dir);
        const back = await loadModel(dir);
        expect(scores(back, 5, changed)).toEqual(after);
        expect(scores(back, 5, train)).toEqual(base);
        const { meta, tensors } = await readCheckpoint(dir);
        delete tensors.trainCount;
        delete tensors.trainHash;
        await writeCheckpoint(dir, meta, tensors);
        const old = await loadModel(dir);
        expect(scores(old, 5, changed)).toEqual(base);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('iALS: a known user with new events gets the exact least-squares vector of the history given', async () => {
    const m = new Ials({ dim: 4, epochs: 2, solver: 'cg', alpha: 1 });
    await m.fit(train, { seed: 2, progress: false });
    const changed = withEvents(train, 5, [fresh, fresh]);
    const got = scores(m, 5, changed);
    // The same solve as for a user unseen in training with this history (tested against a naive
    // dense solve in ials.test.ts).
    const vec = new Float32Array(4);
    m.foldIn(changed, 5, vec);
    for (let j = 0; j < 30; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += vec[k] * m.items[j * 4 + k];
      expect(got[j]).toBeCloseTo(s, 5);
    }
  });

  it('bprFoldIn is the p-part of a BPR step, by hand on one pass', () => {
    // d = 2, three items; the user has seen item 0 only, so the negative is 1 or 2 (drawn by the rng).
    const Q = Float32Array.of(1, 0, 0, 1, -1, 0);
    const b = Float32Array.of(0.1, 0, 0.2);
    const p = Float64Array.of(0.5, 0.5);
    const rng = new Rng(3);
    const j = (() => {
      const r = new Rng(3);
      let x: number;
      do x = r.int(3);
      while (x === 0);
      return x;
    })();
    bprFoldIn(p, Q, b, Int32Array.of(0), 3, 1, 0.5, 0.1, rng);
    const x = b[0] - b[j] + 0.5 * (1 - Q[j * 2]) + 0.5 * (0 - Q[j * 2 + 1]);
    const e = sigmoid(-x);
    expect(p[0]).toBeCloseTo(0.5 - 0.5 * (-e * (1 - Q[j * 2]) + 0.1 * 0.5), 12);
    expect(p[1]).toBeCloseTo(0.5 - 0.5 * (-e * (0 - Q[j * 2 + 1]) + 0.1 * 0.5), 12);
  });

  it('directAuFoldIn lowers the alignment loss of the user', () => {
    const items = Float32Array.of(1, 0, 0.8, 0.6, -1, 0);
    const align = (u: Float64Array): number => {
      const n = Math.hypot(u[0], u[1]);
      return [0, 1].reduce((s, i) => {
        const m = Math.hypot(items[i * 2], items[i * 2 + 1]);
        return s + (u[0] / n - items[i * 2] / m) ** 2 + (u[1] / n - items[i * 2 + 1] / m) ** 2;
      }, 0) / 2;
    };
    const u = Float64Array.of(-1, 1);
    const before = align(u);
    directAuFoldIn(u, items, Int32Array.of(0, 1), 10, 0.5);
    expect(align(u)).toBeLessThan(before / 2);
  });

  it('the row fingerprint ignores order and sees a repeat', () => {
    const a = fromSequences([[1, 2, 3]], 5);
    const b = fromSequences([[3, 1, 2]], 5);
    const c = fromSequences([[3, 1, 2, 2]], 5);
    expect(rowFingerprint(a, 0)).toBe(rowFingerprint(b, 0));
    expect(rowFingerprint(c, 0)).not.toBe(rowFingerprint(a, 0));
  });
});
