import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedderFromSpec, OpenAIEmbedder } from './embedders.ts';

const seen: { model: string; input: string[]; auth?: string }[] = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const j = JSON.parse(body) as { model: string; input: string[] };
    seen.push({ ...j, auth: req.headers.authorization });
    // answers out of order, as the API allows: the client must sort by index
    const data = j.input.map((t, index) => ({ index, embedding: [t.length, 1, 0] })).reverse();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ data }));
  });
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('OpenAI-compatible embeddings endpoint', () => {
  it('batches, keeps the order by index, normalises, sends model and key', async () => {
    const e = new OpenAIEmbedder('emb-small', { baseURL: `${base}/`, apiKey: 'k1', batch: 2 });
    const v = await e.embed(['abc', 'a', 'abcd']);
    expect(e.requests).toBe(2);
    expect(seen.map((s) => s.input)).toEqual([['abc', 'a'], ['abcd']]);
    expect(seen[0]).toMatchObject({ model: 'emb-small', auth: 'Bearer k1' });
    expect(e.dim).toBe(3);
    // [3, 1, 0] / √10
    expect(v[0][0]).toBeCloseTo(3 / Math.sqrt(10), 6);
    expect(v[1][0]).toBeCloseTo(1 / Math.SQRT2, 6);
  });

  it('spec strings', async () => {
    expect((await embedderFromSpec('hashed')).name).toMatch(/hashed/);
    expect((await embedderFromSpec('openai:m', { baseURL: base })).name).toBe('openai:m');
    await expect(embedderFromSpec('openai:')).rejects.toThrow(/name the model/);
    await expect(embedderFromSpec('word2vec')).rejects.toThrow(/unknown embedder/);
  });
});
