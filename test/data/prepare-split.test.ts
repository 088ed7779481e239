import { describe, expect, it } from 'vitest';
import { IdMap } from '../../src/data/types.ts';
import type { Dataset } from '../../src/data/types.ts';
import { prepare, prepareWithReport } from '../../src/data/prepare.ts';
import { splitDataset } from '../../src/data/split.ts';
import { padSequences, truncateSequences } from '../../src/data/sequences.ts';
import { describeDataset, gini } from '../../src/data/stats.ts';
import { pairs } from './fixtures.ts';

/** A dataset from per-user [item, time, rating] lists; raw ids are u<k> / i<k>. */
function make(users: [number, number, number][][], nItems: number, hasTime = true): Dataset {
  const offsets = new Int32Array(users.length + 1);
  users.forEach((s, u) => (offsets[u + 1] = offsets[u] + s.length));
  const flat = users.flat();
  return {
    name: 't',
    nUsers: users.length,
    nItems,
    offsets,
    items: Int32Array.from(flat.map((e) => e[0])),
    times: Float64Array.from(flat.map((e) => e[1])),
    values: Float32Array.from(flat.map((e) => e[2])),
    userIds: IdMap.fromRaw(users.map((_, u) => `u${u}`)),
    itemIds: IdMap.fromRaw(Array.from({ length: nItems }, (_, i) => `i${i}`)),
    hasTime,
    fingerprint: 'f0',
    provenance: { source: 'test', format: 'test', preparation: {} },
  };
}

describe('prepare', () => {
  const d = make(
    [
      [[0, 1, 5], [1, 2, 2], [0, 3, 4], [2, 4, 5]],
      [[1, 1, 3], [1, 2, 5], [2, 3, 1]],
      [[3, 1, 5]],
    ],
    4,
  );

  it('dedup keeps the first, the last, or all repeated (user, item) pairs', () => {
    expect(pairs(prepare(d, { dedup: 'first' }))).toEqual(['u0:i0', 'u0:i1', 'u0:i2', 'u1:i1', 'u1:i2', 'u2:i3']);
    const last = prepare(d, { dedup: 'last' });
    expect(pairs(last)).toEqual(['u0:i1', 'u0:i0', 'u0:i2', 'u1:i1', 'u1:i2', 'u2:i3']);
    expect(Array.from(last.values!)).toEqual([2, 4, 5, 5, 1, 5]);
    expect(pairs(prepare(d, { dedup: 'all' }))).toEqual(pairs(d));
  });

  it('rating threshold keeps events with rating ≥ minRating', () => {
    const r = prepareWithReport(d, { minRating: 4 });
    expect(pairs(r.dataset)).toEqual(['u0:i0', 'u0:i0', 'u0:i2', 'u1:i1', 'u2:i3']);
    expect(r.report.belowRatingRemoved).toBe(3);
    // Items left without events are dropped and ids re-indexed in raw order.
    expect(r.dataset.itemIds.toArray()).toEqual(['i0', 'i1', 'i2', 'i3']);
    expect(() => prepare({ ...d, values: undefined }, { minRating: 4 })).toThrow(/no ratings/);
  });

  it('k-core is iterated until stable (one pass is not enough here)', () => {
    // 2-core: u2 (1 event) goes, then i3 has 0; i1 has u0,u1,u1; after dedup first i1 has 2.
    // Chain: users u0: i0,i1 ; u1: i1,i2 ; u2: i2 ; with 2-core: u2 out → i2 has 1 → out → u1 has 1 → out → i1 has 1 → out → u0 has 1 → out.
    const chain = make([[[0, 1, 1], [1, 2, 1]], [[1, 1, 1], [2, 2, 1]], [[2, 1, 1]]], 3);
    const r = prepareWithReport(chain, { kCore: 2 });
    expect(r.dataset.nUsers).toBe(0);
    expect(r.report.kCoreRounds).toBeGreaterThan(2);
    const ring = make([[[0, 1, 1], [1, 2, 1]], [[1, 1, 1], [2, 2, 1]], [[2, 1, 1], [0, 2, 1]], [[3, 1, 1]]], 4);
    const kept = prepare(ring, { kCore: 2 });
    expect(kept.userIds.toArray()).toEqual(['u0', 'u1', 'u2']);
    expect(kept.itemIds.toArray()).toEqual(['i0', 'i1', 'i2']);
    expect(prepare(ring, { kCore: { user: 2, item: 1 } }).nUsers).toBe(3);
    expect(prepare(ring, { minSeqLen: 2 }).nUsers).toBe(3);
  });

  it('records the options and changes the fingerprint with them, stably', () => {
    const a = prepare(d, { kCore: 1 });
    const b = prepare(d, { kCore: 1 });
    const c = prepare(d, { kCore: 2 });
    expect(a.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprint).not.toBe(c.fingerprint);
    expect(a.provenance.preparation).toEqual({ dedup: 'all', minRating: null, kCore: { user: 1, item: 1 }, minSeqLen: 0 });
  });
});

describe('splits', () => {
  // u0: 5 events, u1: 2 events, u2: 3 events; times 1..n per user offset by user.
  const d = make(
    [
      [[0, 10, 1], [1, 20, 1], [2, 30, 1], [3, 40, 1], [4, 50, 1]],
      [[0, 15, 1], [1, 25, 1]],
      [[2, 12, 1], [3, 45, 1], [4, 55, 1]],
    ],
    5,
  );
  const flat = (v: { nUsers: number; offsets: Int32Array; items: Int32Array }): number[][] =>
    Array.from({ length: v.nUsers }, (_, u) => Array.from(v.items.subarray(v.offsets[u], v.offsets[u + 1])));

  it('leave-one-out: last → test, second-to-last → valid; users with < 3 events stay in train', () => {
    const s = splitDataset(d, { kind: 'loo' });
    expect(flat(s.train)).toEqual([[0, 1, 2], [0, 1], [2]]);
    expect(flat(s.valid)).toEqual([[3], [], [3]]);
    expect(flat(s.test)).toEqual([[4], [], [4]]);
    expect(s.protocol.kind).toBe('loo');
    expect(s.protocol.description).toMatch(/< 3 events/);
    expect(s.train.nItems).toBe(5);
  });

  it('leave-last-out without validation (HSTU repo): last → test, the rest → train; users with < 2 events stay in train', () => {
    const s = splitDataset(d, { kind: 'loo', valid: false });
    expect(flat(s.train)).toEqual([[0, 1, 2, 3], [0], [2, 3]]);
    expect(flat(s.valid)).toEqual([[], [], []]);
    expect(flat(s.test)).toEqual([[4], [1], [4]]);
    expect(s.protocol.options).toEqual({ valid: false });
  });

  it('temporal: global cuts by time quantile or date; ties fall on one side', () => {
    // Times sorted: 10 12 15 20 25 30 40 45 50 55 (N=10). q=0.8 → rank 8 → 50; valid q=0.6 → rank 6 → 40.
    const s = splitDataset(d, { kind: 'temporal', quantile: 0.8, validQuantile: 0.6 });
    expect(flat(s.test)).toEqual([[4], [], [4]]);
    expect(flat(s.valid)).toEqual([[3], [], [3]]);
    expect(flat(s.train)).toEqual([[0, 1, 2], [0, 1], [2]]);
    expect(s.protocol.options).toMatchObject({ testCut: 50, validCut: 40 });
    const byDate = splitDataset(d, { kind: 'temporal', date: new Date(45_000).toISOString() });
    expect(flat(byDate.test)).toEqual([[4], [], [3, 4]]);
    expect(flat(byDate.valid)).toEqual([[], [], []]);
    expect(() => splitDataset({ ...d, hasTime: false }, { kind: 'temporal' })).toThrow(/no timestamps/);
  });

  it('ratio: per user, chronological or seeded random with time order inside parts', () => {
    const t = splitDataset(d, { kind: 'ratio', train: 0.6, valid: 0.2, order: 'time' });
    expect(flat(t.train)).toEqual([[0, 1, 2], [0], [2, 3]]);
    // n=5: 3/1/1; n=2: round(1.2)=1 train, round(0.4)=0 valid, 1 test; n=3: 2 train, 1 valid, 0 test.
    expect(flat(t.valid)).toEqual([[3], [], [4]]);
    expect(flat(t.test)).toEqual([[4], [1], []]);
    const r1 = splitDataset(d, { kind: 'ratio', train: 0.6, valid: 0.2, seed: 7 });
    const r2 = splitDataset(d, { kind: 'ratio', train: 0.6, valid: 0.2, seed: 7 });
    expect(flat(r1.train)).toEqual(flat(r2.train));
    expect(r1.protocol.seed).toBe(7);
    for (const view of [r1.train, r1.valid, r1.test]) {
      for (let u = 0; u < view.nUsers; u++) {
        const ts = Array.from(view.times.subarray(view.offsets[u], view.offsets[u + 1]));
        expect(ts).toEqual([...ts].sort((a, b) => a - b));
      }
    }
    const sizes = (v: { offsets: Int32Array; nUsers: number }): number => v.offsets[v.nUsers];
    expect(sizes(r1.train) + sizes(r1.valid) + sizes(r1.test)).toBe(10);
  });
});

describe('sequence views', () => {
  const d = make([[[0, 1, 1], [1, 2, 1], [2, 3, 1]], [[3, 1, 1]]], 4);
  it('truncate keeps the last maxLen events; pad right-aligns with a pad value and shift', () => {
    const t = truncateSequences(d, 2);
    expect(Array.from(t.offsets)).toEqual([0, 2, 3]);
    expect(Array.from(t.items)).toEqual([1, 2, 3]);
    expect(Array.from(padSequences(d, 4))).toEqual([-1, 0, 1, 2, -1, -1, -1, 3]);
    expect(Array.from(padSequences(d, 2, { pad: 0, shift: 1, users: Int32Array.of(1) }))).toEqual([0, 4]);
  });
});

describe('statistics', () => {
  it('gini: 0 for equal counts, (n-1)/n for all on one item', () => {
    expect(gini([3, 3, 3, 3])).toBeCloseTo(0, 12);
    expect(gini([0, 0, 0, 8])).toBeCloseTo(0.75, 12);
    expect(gini([1, 2, 3, 4])).toBeCloseTo(0.25, 12);
  });

  it('describe returns the documented keys and values', () => {
    const d = make([[[0, 1, 1], [1, 2, 1], [0, 3, 1], [1, 4, 1]], [[0, 1, 1], [2, 2, 1]], [[0, 5, 1]]], 5);
    const s = describeDataset(d);
    expect(s).toMatchObject({ users: 3, items: 5, interactions: 7, seqLen: { min: 1, max: 4, median: 2 } });
    expect(s.density).toBeCloseTo(7 / 15, 12);
    expect(s.seqLen.mean).toBeCloseTo(7 / 3, 12);
    // Pop counts [4, 2, 1, 0, 0]; head = top ⌈20% of 5⌉ = 1 item (4 events); tail share 3/7.
    expect(s.longTailShare).toBeCloseTo(3 / 7, 12);
    expect(s.giniPopularity).toBeCloseTo(gini([4, 2, 1, 0, 0]), 12);
    expect(s.repeatInteractions).toBe(2);
    // ApEn of u0 = apen([0,1,0,1]); u1, u2 too short → mean over 1 user.
    expect(s.apenOptions.usersCounted).toBe(1);
    for (const key of ['users', 'items', 'interactions', 'density', 'seqLen', 'giniPopularity', 'apen']) expect(s).toHaveProperty(key);
  });
});
