import { describe, expect, it } from 'vitest';
import { generateSynthetic } from '../../src/data/synthetic.ts';
import { splitDataset } from '../../src/data/split.ts';
import { describeDataset } from '../../src/data/stats.ts';
import { loadDataset } from '../../src/data/load.ts';

describe('synthetic generator', () => {
  const opts = { users: 600, items: 800, interactions: 30_000, seed: 1 };
  const d = generateSynthetic(opts);

  it('is deterministic per seed and has the requested size', () => {
    const again = generateSynthetic(opts);
    expect(Array.from(again.items)).toEqual(Array.from(d.items));
    expect(again.fingerprint).toBe(d.fingerprint);
    expect(generateSynthetic({ ...opts, seed: 2 }).fingerprint).not.toBe(d.fingerprint);
    expect(d.nUsers).toBe(600);
    expect(d.offsets[d.nUsers]).toBeGreaterThanOrEqual(29_500);
    expect(d.offsets[d.nUsers]).toBeLessThanOrEqual(30_000);
    // Times increase within each user; no repeated items.
    const s = describeDataset(d);
    expect(s.repeatInteractions).toBe(0);
    let backwards = 0;
    for (let u = 0; u < d.nUsers; u++) for (let p = d.offsets[u] + 1; p < d.offsets[u + 1]; p++) if (d.times[p] < d.times[p - 1]) backwards++;
    expect(backwards).toBe(0);
  });

  it('has power-law popularity and heavy-tailed user activity', () => {
    const s = describeDataset(d);
    expect(s.giniPopularity).toBeGreaterThan(0.45);
    expect(s.seqLen.min).toBeGreaterThanOrEqual(5);
    expect(s.seqLen.max).toBeGreaterThan(4 * s.seqLen.median);
  });

  it('has sequential structure: a next-item transition count beats popularity on leave-one-out', () => {
    const split = splitDataset(d, { kind: 'loo' });
    const { train, valid, test } = split;
    const nItems = d.nItems;
    const pop = new Float64Array(nItems);
    const trans = new Map<number, Map<number, number>>();
    for (let u = 0; u < train.nUsers; u++) {
      for (let p = train.offsets[u]; p < train.offsets[u + 1]; p++) {
        pop[train.items[p]]++;
        if (p > train.offsets[u]) {
          const a = train.items[p - 1];
          const row = trans.get(a) ?? new Map<number, number>();
          row.set(train.items[p], (row.get(train.items[p]) ?? 0) + 1);
          trans.set(a, row);
        }
      }
    }
    let hitPop = 0;
    let hitSeq = 0;
    let users = 0;
    for (let u = 0; u < d.nUsers; u++) {
      if (test.offsets[u + 1] === test.offsets[u]) continue;
      users++;
      const target = test.items[test.offsets[u]];
      const seen = new Set<number>(train.items.subarray(train.offsets[u], train.offsets[u + 1]));
      const last = valid.items[valid.offsets[u]];
      seen.add(last);
      const top = (score: (i: number) => number): number[] =>
        Array.from({ length: nItems }, (_, i) => i)
          .filter((i) => !seen.has(i))
          .sort((a, b) => score(b) - score(a) || a - b)
          .slice(0, 10);
      const row = trans.get(last);
      if (top((i) => pop[i]).includes(target)) hitPop++;
      if (top((i) => (row?.get(i) ?? 0) * 1e6 + pop[i]).includes(target)) hitSeq++;
    }
    const hrPop = hitPop / users;
    const hrSeq = hitSeq / users;
    console.log(`synthetic LOO HR@10: popularity ${hrPop.toFixed(3)}, transitions ${hrSeq.toFixed(3)}`);
    expect(hrSeq).toBeGreaterThan(hrPop * 1.5);
    expect(hrPop).toBeGreaterThan(0.02);
  });

  it('loads through loadDataset as source "synthetic:…"', async () => {
    const s = await loadDataset({ source: 'synthetic:users=50,items=80,interactions=1000,seed=3' }, { kCore: 2 }, { cacheDir: false });
    expect(s.nUsers).toBe(50);
    expect(s.provenance.format).toBe('synthetic');
    expect(s.itemSide?.columns.cluster.type).toBe('token');
  });
});
