import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, contentHash, openResults } from './results.ts';
import { createHash } from 'node:crypto';
import { jobKind, sweepJobs } from './kinds.ts';
import { queueJobId } from './queue.ts';
import type { SweepFile } from '../laws/spec.ts';

describe('job results store (SQLite)', () => {
  it('stores a key once: a faithful re-run is a duplicate, a different result a conflict', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reclab-results-'));
    const store = await openResults(`sqlite:${join(dir, 'r.db')}`);
    try {
      expect(await store.put('law:a:1', 'law-point', { y: 1, at: 't1' }, 'w1', { y: 1 })).toBe('stored');
      expect(await store.put('law:a:1', 'law-point', { y: 1, at: 't2' }, 'w2', { y: 1 })).toBe('duplicate');
      expect(await store.put('law:a:1', 'law-point', { y: 2, at: 't3' }, 'w2', { y: 2 })).toBe('conflict');
      expect(await store.put('law:a_2', 'law-point', { y: 3 }, 'w1')).toBe('stored');
      expect((await store.get('law:a:1'))?.payload).toEqual({ y: 1, at: 't1' });
      // '_' is a LIKE wildcard: the prefix must match literally
      expect((await store.list('law:a:')).map((r) => r.key)).toEqual(['law:a:1']);
      expect((await store.list()).length).toBe(2);
      expect(await store.refused('law:a:')).toEqual({ duplicate: 1, conflict: 1 });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hashes canonical JSON (key order does not matter)', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    expect(contentHash({ b: 1, a: 2 })).toBe(createHash('sha256').update('{"a":2,"b":1}').digest('hex'));
  });
});

describe('law-point jobs', () => {
  const sweep = {
    dataset: { path: 'x.txt', format: 'sasrec' },
    split: 'loo',
    model: 'sasrec',
    config: { epochs: 1 },
    layersKey: 'blocks',
    hiddenKey: 'hidden',
    grid: { layers: [2, 1], hidden: [16, 8], fractions: [1, 0.5], seeds: [0] },
    protocol: 'uni100',
    metrics: ['ndcg@10'],
    validEvery: 0,
    out: 'o.jsonl',
  } as SweepFile;

  it('one job per grid point, cheapest first, keys unique and stable, queue ids without colons', () => {
    const jobs = sweepJobs(sweep);
    expect(jobs.length).toBe(8);
    const kind = jobKind('law-point');
    const keys = jobs.map((j) => kind.key(j.data));
    expect(new Set(keys).size).toBe(8);
    expect(jobs[0].data).toMatchObject({ fraction: 0.5, layers: 1, hidden: 8 });
    const cost = jobs.map((j) => j.data.fraction * j.data.layers * j.data.hidden);
    expect([...cost].sort((a, b) => a - b)).toEqual(cost);
    // the key ignores the grid and output paths: the same point of a larger sweep is the same job
    const wider = { ...sweep, grid: { ...sweep.grid, layers: [1, 2, 3] }, out: 'other.jsonl' };
    expect(kind.key({ ...jobs[0].data, sweep: wider })).toBe(keys[0]);
    expect(kind.key({ ...jobs[0].data, sweep: { ...sweep, config: { epochs: 2 } } })).not.toBe(keys[0]);
    expect(queueJobId('law-point', keys[0])).toMatch(/^law-point-[0-9a-f]{24}$/);
  });

  it('rejects malformed job data naming the field', () => {
    const kind = jobKind('law-point');
    expect(() => kind.check({ sweep, fraction: 1, layers: 0, hidden: 8, seed: 0 })).toThrow(/field "layers"/);
    expect(() => kind.check({ sweep, fraction: 2, layers: 1, hidden: 8, seed: 0 })).toThrow(/field "fraction"/);
    expect(() => jobKind('nope')).toThrow(/unknown job kind "nope" \(known: noop, law-point, experiment, evaluate, arena, knowledge, retrain\)/);
  });
});
