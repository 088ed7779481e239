import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { LLMClient, extractJson } from './client.ts';
import { ScriptedProvider } from './providers/scripted.ts';
import { ReplayProvider } from './providers/replay.ts';
import { requestHash, canonicalJson } from './cache.ts';
import { LLMHttpError, type ChatRequest } from './types.ts';
import { quantile } from './accounting.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'reclab-llm-'));
const ask = (content: string, tag = 't@1'): ChatRequest => ({ messages: [{ role: 'user', content }], tag });

describe('request hash', () => {
  it('ignores key order, tag and meta but not content', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    const a = requestHash('p', { ...ask('hi'), tag: 'x@1', meta: { k: 1 } });
    expect(requestHash('p', { ...ask('hi'), tag: 'y@2' })).toBe(a);
    expect(requestHash('p', ask('hi!'))).not.toBe(a);
    expect(requestHash('q', ask('hi'))).not.toBe(a);
    expect(requestHash('p', { ...ask('hi'), temperature: 0.5 })).not.toBe(a);
  });
});

describe('extractJson', () => {
  it('reads bare JSON, fenced JSON and JSON inside prose', () => {
    expect(extractJson('{"a":1}')).toEqual({ a: 1 });
    expect(extractJson('Sure!\n```json\n{"a":2}\n```')).toEqual({ a: 2 });
    expect(extractJson('Here you go: {"a":3} — enjoy')).toEqual({ a: 3 });
    expect(() => extractJson('no json here')).toThrow(/not JSON/);
  });
});

describe('LLMClient', () => {
  it('caches on disk by request hash and counts tokens, cost and cache hits', async () => {
    const dir = tmp();
    let calls = 0;
    const provider = new ScriptedProvider('echo', (r) => {
      calls++;
      return `echo:${r.messages[0].content}`;
    });
    // $2 per M input tokens, $8 per M output tokens.
    const client = new LLMClient(provider, { cacheDir: dir, pricing: { inputPerMTok: 2, outputPerMTok: 8 } });
    const r1 = await client.chat(ask('abcdefgh')); // 8 chars → 2 tokens in; "echo:abcdefgh" 13 chars → 4 out
    const r2 = await client.chat(ask('abcdefgh'));
    expect(r1.text).toBe('echo:abcdefgh');
    expect(r2).toMatchObject({ text: 'echo:abcdefgh', cached: true, hash: r1.hash });
    expect(calls).toBe(1);
    // A fresh client on the same folder also hits.
    const again = new LLMClient(provider, { cacheDir: dir });
    expect((await again.chat(ask('abcdefgh'))).cached).toBe(true);
    expect(calls).toBe(1);
    const t = client.ledger.total();
    expect(t).toMatchObject({ calls: 2, cachedCalls: 1, promptTokens: 4, completionTokens: 8, estimatedCalls: 2 });
    // Only the uncached call costs: (2·2 + 4·8) / 1e6.
    expect(t.costUsd).toBeCloseTo(36e-6, 12);
    expect(client.ledger.perTag()['t@1'].calls).toBe(2);
  });

  it('validates structured output and repairs once, quoting the error', async () => {
    const provider = new ScriptedProvider('fix', (_r, i) => (i === 0 ? '{"verdict":"maybe"}' : '{"verdict":"A"}'));
    const client = new LLMClient(provider);
    const schema = z.object({ verdict: z.enum(['A', 'B', 'tie']) });
    const r = await client.json(ask('judge'), schema, 'verdict');
    expect(r).toMatchObject({ value: { verdict: 'A' }, repaired: true });
    expect(provider.requests).toHaveLength(2);
    // The first request carries the JSON schema natively and in the prompt.
    expect(provider.requests[0].schema?.name).toBe('verdict');
    expect(provider.requests[0].messages[0].content).toContain('"enum":["A","B","tie"]');
    const repair = provider.requests[1].messages;
    expect(repair.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(repair[1].content).toBe('{"verdict":"maybe"}');
    expect(repair[2].content).toMatch(/verdict: Invalid option/);
    expect(client.ledger.total()).toMatchObject({ repairs: 1, failures: 0, calls: 2 });
  });

  it('gives up after one repair and reports the failure', async () => {
    const client = new LLMClient(new ScriptedProvider('bad', () => 'I refuse to answer in JSON'));
    const schema = z.object({ x: z.number() });
    const r = await client.tryJson(ask('q'), schema);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/not JSON/);
    await expect(client.json(ask('q2'), schema)).rejects.toThrow(/invalid structured reply after repair/);
    expect(client.ledger.total()).toMatchObject({ repairs: 2, failures: 2, calls: 4 });
  });

  it('retries 429 and 5xx with exponential backoff and Retry-After, not 400', async () => {
    const failures = [new LLMHttpError('busy', 429, 3000), new LLMHttpError('oops', 503)];
    const provider = new ScriptedProvider('flaky', () => {
      const f = failures.shift();
      if (f) throw f;
      return 'ok';
    });
    const waits: number[] = [];
    const client = new LLMClient(provider, { backoffBaseMs: 100, sleep: async (ms) => void waits.push(ms) });
    expect((await client.chat(ask('x'))).text).toBe('ok');
    // attempt 0: max(100·[0.75,1.25], Retry-After 3000) = 3000; attempt 1: 200·[0.75,1.25].
    expect(waits[0]).toBe(3000);
    expect(waits[1]).toBeGreaterThanOrEqual(150);
    expect(waits[1]).toBeLessThanOrEqual(250);
    expect(client.ledger.total().retries).toBe(2);

    const fatal = new LLMClient(new ScriptedProvider('400', () => { throw new LLMHttpError('bad request', 400); }), { sleep: async () => {} });
    await expect(fatal.chat(ask('x'))).rejects.toThrow(/bad request/);
    expect(fatal.ledger.total().retries).toBe(0);

    const always = new LLMClient(new ScriptedProvider('down', () => { throw new LLMHttpError('down', 500); }), { maxRetries: 3, sleep: async () => {} });
    await expect(always.chat(ask('x'))).rejects.toThrow(/down/);
    expect(always.ledger.total().retries).toBe(3);
  });

  it('never runs more calls at once than the concurrency limit', async () => {
    let active = 0;
    let peak = 0;
    const provider = new ScriptedProvider('slow', async (r) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((res) => setImmediate(res));
      active--;
      return r.messages[0].content;
    });
    const client = new LLMClient(provider, { concurrency: 3 });
    const out = await Promise.all(Array.from({ length: 10 }, (_, i) => client.chat(ask(`q${i}`))));
    expect(out.map((o) => o.text)).toEqual(Array.from({ length: 10 }, (_, i) => `q${i}`));
    expect(peak).toBe(3);
  });

  it('records calls that the replay provider serves back by hash', async () => {
    const dir = tmp();
    const rec = join(dir, 'rec.jsonl');
    const live = new LLMClient(new ScriptedProvider('live', (r) => ({ answer: r.messages[0].content.length })), { recordPath: rec });
    const schema = z.object({ answer: z.number() });
    const a = await live.json(ask('four'), schema);
    const replay = new ReplayProvider(rec);
    expect(replay.id).toBe('scripted:live');
    const client = new LLMClient(replay);
    const b = await client.json(ask('four'), schema);
    expect(b.value).toEqual(a.value);
    expect(b.value.answer).toBeGreaterThan(4); // the schema note was appended to the prompt
    await expect(client.chat(ask('never recorded'))).rejects.toThrow(/no recorded reply.*t@1/);
    writeFileSync(join(dir, 'bad.jsonl'), `${readFileSync(rec, 'utf8')}{oops\n`);
    expect(() => new ReplayProvider(join(dir, 'bad.jsonl'))).toThrow(/bad\.jsonl:2: invalid JSON/);
  });
});

describe('quantile', () => {
  it('interpolates linearly (type 7)', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([10, 20, 30, 40, 50], 0.95)).toBeCloseTo(48, 12);
  });
});
