import { describe, expect, it } from 'vitest';
import { generateSynthetic } from '../data/synthetic.ts';
import { itemFeatures } from './features.ts';
import { itemDistance } from './metrics.ts';

describe('itemFeatures', () => {
  const d = generateSynthetic({ users: 50, items: 40, interactions: 600, seed: 2 });
  it('turns a token column into one-element sets: distance 0 within a cluster, 1 across', () => {
    const f = itemFeatures(d, 'cluster');
    const col = d.itemSide!.columns.cluster;
    if (col.type !== 'token') throw new Error('synthetic cluster column should be a token column');
    for (let a = 0; a < 10; a++) {
      for (let b = 0; b < 10; b++) expect(itemDistance(f, a, b)).toBe(col.values[a] === col.values[b] ? 0 : 1);
    }
  });
  it('rejects unknown and text columns with the column list', () => {
    expect(() => itemFeatures(d, 'genre')).toThrow(/no item column "genre".*cluster/);
    expect(() => itemFeatures(d, 'title')).toThrow(/title" is text/);
  });
  it('cosine distance over vectors', () => {
    const f = { kind: 'vectors' as const, dim: 2, values: Float32Array.from([1, 0, 0, 2, 1, 1]) };
    expect(itemDistance(f, 0, 1)).toBeCloseTo(1, 12);
    expect(itemDistance(f, 0, 2)).toBeCloseTo(1 - 1 / Math.sqrt(2), 6);
  });
});
