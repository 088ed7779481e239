import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromSequences } from '../data/interactions.ts';
import { IdMap } from '../data/types.ts';
import { evaluateLists, readRecommendations } from './recfile.ts';

const ids = { userIds: IdMap.fromRaw(['u1', 'u2']), itemIds: IdMap.fromRaw(['a', 'b', 'c', 'd', 'e']) };
// u1: history a, target c. u2: history b, target e.
const train = fromSequences([[0], [1]], 5);
const test = fromSequences([[2], [4]], 5);
const dir = mkdtempSync(join(tmpdir(), 'reclab-recs-'));

describe('recommendation files', () => {
  it('JSONL: hallucinated items keep their slot, history items are dropped, metrics by hand', () => {
    const path = join(dir, 'recs.jsonl');
    // u1: a (history, dropped), zz (hallucination), c (target) → cleaned [zz, c]: target at rank 1.
    // u2: d, b (history), q1, q2 → cleaned [d, q1, q2]: target missing.
    writeFileSync(path, '{"user":"u1","items":["a","zz","c"]}\n{"user":"u2","items":["d","b","q1","q2"]}\n');
    const recs = readRecommendations(path, ids);
    const r = evaluateLists(recs, { exclude: [train], targets: test, train }, { metrics: ['hr@1', 'hr@2', 'ndcg@2', 'mrr@10', 'hallucination', 'coverage@2'] });
    expect(r.metrics['hr@1']).toBe(0);
    expect(r.metrics['hr@2']).toBe(0.5);
    expect(r.metrics['ndcg@2']).toBeCloseTo(1 / Math.log2(3) / 2, 12);
    expect(r.metrics['mrr@10']).toBeCloseTo(0.25, 12);
    // Shares of unknown entries: u1 1/3, u2 2/4.
    expect(r.metrics.hallucination).toBeCloseTo((1 / 3 + 2 / 4) / 2, 12);
    // Items exposed in the first 2 slots: c, d → 2 of 5.
    expect(r.metrics['coverage@2']).toBeCloseTo(2 / 5, 12);
  });
  it('CSV with a rank column is ordered by rank, not by row', () => {
    const path = join(dir, 'recs.csv');
    writeFileSync(path, 'user,item,rank\nu1,d,2\nu1,c,1\nu2,e,3\nu2,a,1\nu2,c,2\n');
    const r = evaluateLists(readRecommendations(path, ids), { exclude: [train], targets: test, train }, { metrics: ['mrr@10'] });
    expect(r.metrics['mrr@10']).toBeCloseTo((1 + 1 / 3) / 2, 12);
  });
  it('errors name the file, line and field', () => {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, '{"user":"u1","items":["a"]}\n{"user":"nobody","items":["a"]}\n');
    expect(() => readRecommendations(path, ids)).toThrow(/bad\.jsonl:2: field "user": unknown user "nobody"/);
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'user,item,score\nu1,a,high\n');
    expect(() => readRecommendations(csv, ids)).toThrow(/bad\.csv:2: field "score": expected a number/);
    expect(() => evaluateLists(readRecommendations(join(dir, 'recs.csv'), ids), { exclude: [train], targets: test, train }, { metrics: ['auc'] })).toThrow(/auc needs a score/);
  });
});
