import { describe, expect, it } from 'vitest';
import { HashedNgramEmbedder, UniversalSentenceEmbedder, dot, fnv1a, normalize } from './embed.ts';

describe('HashedNgramEmbedder', () => {
  it('gives unit vectors; identical text → cosine 1; typo-close beats unrelated', async () => {
    const e = new HashedNgramEmbedder(256);
    const [a, b, c, d] = await e.embed(['Toy Story (1995)', 'toy  story (1995)', 'Toy Stroy', 'Heat (1995)']);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(dot(a, b)).toBeCloseTo(1, 5); // case and whitespace are normalised
    expect(dot(a, c)).toBeGreaterThan(dot(c, d));
  });

  it('counts n-grams as hand-worked for a tiny input', () => {
    // " ab " with n = 2 only: grams " a", "ab", "b " — three ±1 entries (distinct buckets in 4096).
    const e = new HashedNgramEmbedder(4096, 2, 2);
    const v = e.embedOne('ab');
    const nz = [...v].filter((x) => x !== 0);
    expect(nz).toHaveLength(3);
    for (const x of nz) expect(Math.abs(x)).toBeCloseTo(1 / Math.sqrt(3), 6);
    const h = fnv1a('ab');
    expect(v[h % 4096]).toBeCloseTo((h & 0x80000000 ? -1 : 1) / Math.sqrt(3), 6);
  });

  it('FNV-1a matches the published test vector', () => {
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect([...normalize(new Float32Array([3, 4]))]).toEqual([0.6000000238418579, 0.800000011920929]);
  });
});

describe('UniversalSentenceEmbedder (offline, from npm)', () => {
  it('embeds into 512-d unit vectors that put sequels near originals', async () => {
    const e = new UniversalSentenceEmbedder();
    const [toy, toy2, heat] = await e.embed(['Toy Story (1995)', 'Toy Story 2 (1999)', 'Heat (1995)']);
    expect(toy.length).toBe(512);
    expect(dot(toy, toy)).toBeCloseTo(1, 4);
    expect(dot(toy, toy2)).toBeGreaterThan(dot(toy, heat));
  }, 60_000);
});
