/**
 * The dashboard's server-side views against hand computations: the config diff (flattened dotted
 * keys), trace curves, and the Data page's long tail and sequence-length histogram checked against
 * counts made here from the raw events.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from '../../src/data/synthetic.ts';
import { scanCatalog } from '../../src/serve/ui/catalog.ts';
import { configDiff, flatten, traceCurves } from '../../src/serve/ui/runs.ts';
import { dataView } from '../../src/serve/ui/data.ts';

describe('dashboard views', () => {
  it('flattens configs to dotted keys and diffs two results', () => {
    expect(flatten({ a: 1, b: { c: [2, { d: 'x' }] } })).toEqual({ a: '1', 'b.c[0]': '2', 'b.c[1].d': '"x"' });
    const dir = mkdtempSync(join(tmpdir(), 'reclab-ui-views-'));
    writeFileSync(join(dir, 'result-a.json'), JSON.stringify({ models: [], config: { seeds: [0], lr: 0.1, only: true } }));
    writeFileSync(join(dir, 'result-b.json'), JSON.stringify({ models: [], config: { seeds: [0, 1], lr: 0.1 } }));
    writeFileSync(join(dir, 'x.trace.jsonl'), '{"model":"m","epoch":2,"loss":0.5,"valid":{"hr@10":0.3}}\n\n{"model":"m","epoch":1,"loss":0.9,"valid":{"hr@10":0.2}}\n');
    writeFileSync(join(dir, 'notes.json'), '{}');
    const cat = scanCatalog([dir]);
    expect(cat.map((e) => `${e.kind}:${e.path}`).sort()).toEqual(['result:result-a.json', 'result:result-b.json', 'trace:x.trace.jsonl']);
    const byPath = (p: string) => cat.find((e) => e.path === p)!;
    // seeds[1] exists only in b; "only" only in a; lr equal (not listed).
    expect(configDiff(byPath('result-a.json'), byPath('result-b.json'))).toEqual([
      { key: 'only', a: 'true', b: undefined },
      { key: 'seeds[1]', a: undefined, b: '1' },
    ]);
    // Trace lines sorted by epoch, blank lines skipped.
    expect(traceCurves(byPath('x.trace.jsonl'))).toEqual([{ name: 'x · m', epoch: [1, 2], loss: [0.9, 0.5], valid: [0.2, 0.3], metric: 'hr@10' }]);
  });

  it('long tail and sequence-length histogram agree with counts made from the events', () => {
    const d = generateSynthetic({ users: 120, items: 90, interactions: 3000, seed: 5 });
    const v = dataView(d);
    const counts = new Array<number>(d.nItems).fill(0);
    for (const i of d.items) counts[i]++;
    const desc = counts.filter((c) => c > 0).sort((a, b) => b - a);
    // 90 items ≤ 400: every rank with a positive count, in order.
    expect(v.longTail.rank).toEqual(desc.map((_, r) => r + 1));
    expect(v.longTail.count).toEqual(desc);
    // Every user in exactly one bin, each in the bin whose [lo, hi) holds their length (the last bin closed).
    expect(v.seqHist.users.reduce((a, b) => a + b, 0)).toBe(d.nUsers);
    const last = v.seqHist.lo.length - 1;
    const expected = new Array<number>(v.seqHist.lo.length).fill(0);
    for (let u = 0; u < d.nUsers; u++) {
      const len = d.offsets[u + 1] - d.offsets[u];
      const b = v.seqHist.lo.findIndex((lo, k) => len >= lo && (k === last || len < v.seqHist.hi[k]));
      expected[b === -1 ? 0 : b]++;
    }
    expect(v.seqHist.users).toEqual(expected);
    expect(v.split.train + v.split.valid + v.split.test).toBe(d.items.length);
  });
});
