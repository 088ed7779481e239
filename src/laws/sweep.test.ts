import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdMap, type Dataset, type Interactions, type Split } from '../data/types.ts';
import { fromSequences } from '../data/interactions.ts';
import { registerModel } from '../models/registry.ts';
import type { FitOptions, FitReport, Recommender } from '../models/recommender.ts';
import { parseProtocol } from '../eval/protocol.ts';
import { evalViews, stageCandidates } from '../experiment/data.ts';
import { fractionMask, keepUsers, readFinishedPoints, runSweep, type SweepSpec } from './sweep.ts';

/**
 * A first-order Markov test model: scores item j by how often j followed the user's last item in
 * training. On cyclic sequences it ranks the true next item first, so HR@10 = NDCG@10 = 1 exactly.
 * `layers` and `hidden` are accepted (and recorded) but do not change the scores.
 */
class MarkovModel implements Recommender {
  readonly name = 'law-test-markov';
  nItems = 0;
  private next = new Float32Array(0);
  constructor(readonly config: Record<string, unknown>) {}
  async fit(train: Interactions, options: FitOptions): Promise<FitReport> {
    this.nItems = train.nItems;
    this.next = new Float32Array(train.nItems * train.nItems);
    for (let u = 0; u < train.nUsers; u++) for (let p = train.offsets[u]; p + 1 < train.offsets[u + 1]; p++) this.next[train.items[p] * train.nItems + train.items[p + 1]]++;
    const epochs = Number(this.config.epochs ?? 2);
    for (let e = 1; e <= epochs; e++) await options.onEpoch?.({ epoch: e, loss: 1 / e, seconds: 0 });
    return { epochs, seconds: 0, history: [] };
  }
  scoreUsers(users: Int32Array, history: Interactions, out: Float32Array): void {
    const n = this.nItems;
    users.forEach((u, r) => {
      const last = history.items[history.offsets[u + 1] - 1];
      for (let j = 0; j < n; j++) out[r * n + j] = this.next[last * n + j];
    });
  }
  async save(): Promise<void> {}
}
registerModel({ name: 'law-test-markov', description: 'test only', sequential: true, create: (c) => new MarkovModel(c), load: () => Promise.reject(new Error('no')) });

/** 40 users walking the cycle 0→1→…→11→0 from different starts, 15 events each; LOO split by hand. */
function cyclicSplit(): { dataset: Dataset; split: Split } {
  const nItems = 12;
  const seqs = Array.from({ length: 40 }, (_, u) => Array.from({ length: 15 }, (_, t) => (u + t) % nItems));
  const all = fromSequences(seqs, nItems);
  const dataset: Dataset = {
    ...all,
    name: 'cyclic',
    userIds: IdMap.fromRaw(seqs.map((_, u) => `u${u}`)),
    itemIds: IdMap.fromRaw(Array.from({ length: nItems }, (_, i) => `i${i}`)),
    hasTime: false,
    fingerprint: 'f'.repeat(64),
    provenance: { source: 'test', format: 'test', preparation: {} },
  };
  const split: Split = {
    dataset,
    train: fromSequences(seqs.map((s) => s.slice(0, -2)), nItems),
    valid: fromSequences(seqs.map((s) => s.slice(-2, -1)), nItems),
    test: fromSequences(seqs.map((s) => s.slice(-1)), nItems),
    protocol: { kind: 'loo', description: 'leave-one-out', options: {} },
  };
  return { dataset, split };
}

const dir = mkdtempSync(join(tmpdir(), 'reclab-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SPEC: SweepSpec = { model: 'law-test-markov', config: { epochs: 2 }, layers: [1, 2], hidden: [8, 16], protocol: 'full', metrics: ['ndcg@10', 'hr@10'], validEvery: 1 };

describe('runSweep', () => {
  it('is resumable: a killed sweep (with a half-written line) continues where it stopped', async () => {
    const { dataset, split } = cyclicSplit();
    const out = join(dir, 'points.jsonl');
    const logs: string[] = [];
    // First run "dies" after two points.
    await runSweep(SPEC, dataset, split, out, { log: (l) => logs.push(l), onPoint: (_p, done) => done >= 2 });
    expect(readFinishedPoints(out)).toHaveLength(2);
    appendFileSync(out, '{"kind":"reclab-law-point","key":"half-writ'); // killed mid-write
    const points = await runSweep(SPEC, dataset, split, out, { log: (l) => logs.push(l) });
    expect(logs.some((l) => /4 points, 2 already/.test(l))).toBe(true);
    expect(points).toHaveLength(4);
    const stored = readFinishedPoints(out);
    expect(stored).toHaveLength(4);
    expect(new Set(stored.map((p) => p.key)).size).toBe(4);
    expect(readFileSync(out, 'utf8')).not.toMatch(/half-writ/);
    for (const p of stored) {
      // The Markov model predicts a cycle perfectly: the evaluator must give 1 on every user.
      expect(p.metrics['hr@10']).toBe(1);
      expect(p.metrics['ndcg@10']).toBe(1);
      expect(p.protocol.eval.candidates).toBe('full');
      expect(p.protocol.evalUsers).toBe(40);
      expect(p.config).toMatchObject({ epochs: 2, layers: p.layers, hidden: p.hidden });
      // D′ = (13 train events × 40 users / 10⁶) · ApEn, ApEn of a 13-long sequence of distinct
      // items (each user's train part is a run of the cycle of 12, so one item repeats): > 0.
      expect(p.trainInteractions).toBe(13 * 40);
      expect(p.D).toBeCloseTo((13 * 40 * p.apen) / 1e6, 15);
    }
    // Cheapest first: the first two points were the 1×8 and 1×16 models.
    expect(stored.slice(0, 2).map((p) => p.layers * p.hidden)).toEqual([8, 16]);
    // A third run has nothing left to do.
    const again: string[] = [];
    await runSweep(SPEC, dataset, split, out, { log: (l) => again.push(l) });
    expect(again[0]).toMatch(/0 to run/);
  });

  it('data fractions keep a seeded share of users, trained and evaluated alone', async () => {
    const { dataset, split } = cyclicSplit();
    const out = join(dir, 'fractions.jsonl');
    const points = await runSweep({ ...SPEC, layers: [1], hidden: [8], fractions: [0.5, 1], validEvery: 0 }, dataset, split, out, { log: () => {} });
    const half = points.find((p) => p.fraction === 0.5)!;
    expect(half.protocol.evalUsers).toBe(20);
    expect(half.trainInteractions).toBe(13 * 20);
    expect(half.train.bestEpoch).toBeNull();
  });
});

/**
 * Must-show: the sweep's validation never draws the user's test item as a negative. Three users
 * over 6 items, each with train [a, b], valid c, test d; `uni3` wants 3 negatives but only 2
 * items are outside the user's whole history, so the list is every eligible item. A model that
 * scores the test item above the validation item gets validation hr@1 = 1 exactly when the test
 * item is not a candidate (the old rule drew it: hr@1 was 0 for every user).
 */
class PeekModel implements Recommender {
  readonly name = 'law-test-peek';
  nItems = 6;
  constructor(readonly config: Record<string, unknown>) {}
  async fit(_train: Interactions, options: FitOptions): Promise<FitReport> {
    await options.onEpoch?.({ epoch: 1, loss: 1, seconds: 0 });
    return { epochs: 1, seconds: 0, history: [] };
  }
  scoreUsers(users: Int32Array, _history: Interactions, out: Float32Array): void {
    users.forEach((u, r) => {
      out.fill(0, r * 6, r * 6 + 6);
      out[r * 6 + PEEK_SEQS[u][3]] = 10; // the test item
      out[r * 6 + PEEK_SEQS[u][2]] = 5; // the validation item
    });
  }
  async save(): Promise<void> {}
}
const PEEK_SEQS = [[0, 1, 2, 3], [5, 4, 3, 2], [1, 3, 5, 0]];
registerModel({ name: 'law-test-peek', description: 'test only', sequential: true, create: (c) => new PeekModel(c), load: () => Promise.reject(new Error('no')) });

describe('runSweep: the one data rule', () => {
  it("validation negatives never include the user's test item (hand-built)", async () => {
    const { dataset } = cyclicSplit();
    const split: Split = {
      dataset,
      train: fromSequences(PEEK_SEQS.map((s) => s.slice(0, 2)), 6),
      valid: fromSequences(PEEK_SEQS.map((s) => [s[2]]), 6),
      test: fromSequences(PEEK_SEQS.map((s) => [s[3]]), 6),
      protocol: { kind: 'loo', description: 'leave-one-out', options: {} },
    };
    const views = evalViews(split);
    const cands = stageCandidates(parseProtocol('uni3', 1), views, 1);
    const listOf = (c: typeof cands.valid, u: number): number[] => Array.from(c!.items.subarray(c!.offsets[u], c!.offsets[u + 1]));
    // valid item first, then the two items outside train ∪ valid ∪ test
    expect([0, 1, 2].map((u) => listOf(cands.valid, u))).toEqual([[2, 4, 5], [3, 0, 1], [5, 2, 4]]);
    expect([0, 1, 2].map((u) => listOf(cands.test, u))).toEqual([[3, 4, 5], [2, 0, 1], [0, 2, 4]]);
    const points = await runSweep(
      { model: 'law-test-peek', config: {}, layers: [1], hidden: [8], protocol: 'uni3', metrics: ['hr@1'], validEvery: 1 },
      { ...dataset, nItems: 6, nUsers: 3, fingerprint: 'e'.repeat(64) },
      split,
      join(dir, 'peek.jsonl'),
      { log: () => {} },
    );
    expect(points[0].valid).toEqual({ 'hr@1': 1 });
    expect(points[0].metrics).toEqual({ 'hr@1': 1 });
  });
});

describe('fraction helpers', () => {
  it('fractionMask keeps round(f·n) users, deterministically', () => {
    const a = fractionMask(101, 0.3);
    expect(a.reduce((s, v) => s + v, 0)).toBe(30);
    expect(Array.from(fractionMask(101, 0.3))).toEqual(Array.from(a));
    expect(() => fractionMask(10, 0)).toThrow(/fraction/);
  });

  it('keepUsers empties the other users and keeps shapes', () => {
    const data = fromSequences([[0, 1], [2], [1, 2, 0]], 3);
    const kept = keepUsers(data, Uint8Array.from([1, 0, 1]));
    expect(kept.nUsers).toBe(3);
    expect(Array.from(kept.offsets)).toEqual([0, 2, 2, 5]);
    expect(Array.from(kept.items)).toEqual([0, 1, 1, 2, 0]);
  });
});
