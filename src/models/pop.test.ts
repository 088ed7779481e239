import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromSequences } from '../data/interactions.ts';
import { Pop } from './pop.ts';
import { createModel, loadModel } from './registry.ts';

describe('Pop', () => {
  const train = fromSequences([[0, 1, 1], [1, 2], [3]], 5, [[0, 86400 * 9, 86400 * 10], [86400 * 9.5, 0], [86400 * 10]]);

  it('counts events per item (global)', async () => {
    const m = new Pop();
    await m.fit(train, { seed: 1 });
    const out = new Float32Array(2 * 5);
    m.scoreUsers(Int32Array.of(0, 2), train, out);
    expect(Array.from(out)).toEqual([1, 3, 1, 1, 0, 1, 3, 1, 1, 0]);
  });

  it('counts only the recent window', async () => {
    // newest event at day 10; a 1-day window keeps events at days ≥ 9.
    const m = new Pop({ windowDays: 1 });
    await m.fit(train, { seed: 1 });
    expect(Array.from(m.counts)).toEqual([0, 3, 0, 1, 0]);
  });

  it('rejects unknown or ill-typed config', () => {
    expect(() => new Pop({ window: 3 })).toThrow(/pop config: key "window": unknown key; known keys: windowDays/);
    expect(() => new Pop({ windowDays: -1 })).toThrow(/pop config: key "windowDays": Too small/);
    expect(() => new Pop({ windowDays: 'x' })).toThrow(/pop config: key "windowDays": Invalid input: expected number, received string/);
    expect(() => new Pop({ windowDays: Infinity })).toThrow(/pop config: key "windowDays": .*expected number/);
  });

  it('saves and loads through the registry', async () => {
    const m = createModel('pop');
    await m.fit(train, { seed: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'reclab-pop-'));
    try {
      await m.save(dir);
      const back = await loadModel(dir);
      const a = new Float32Array(5);
      const b = new Float32Array(5);
      m.scoreUsers(Int32Array.of(1), train, a);
      back.scoreUsers(Int32Array.of(1), train, b);
      expect(back.name).toBe('pop');
      expect(Array.from(b)).toEqual(Array.from(a));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
