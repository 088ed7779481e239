/**
 * The OpenAI-compatible provider against a real HTTP server started in-process that speaks the
 * chat-completions protocol, scripted to answer 429, 5xx and malformed replies; and, when
 * RECLAB_LLM_BASE_URL is set, against a real endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { LLMClient } from './client.ts';
import { OpenAIProvider, parseRetryAfter } from './providers/openai.ts';

type Handler = (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => void;

function completion(content: string, usage = { prompt_tokens: 11, completion_tokens: 7 }): string {
  return JSON.stringify({
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 0,
    model: 'test-model',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  });
}

describe('OpenAI-compatible provider over HTTP (in-process server)', () => {
  let server: Server;
  let baseURL: string;
  const handlers: Handler[] = [];
  const seen: { body: Record<string, unknown>; auth?: string; path?: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw) as Record<string, unknown>;
        seen.push({ body, auth: req.headers.authorization, path: req.url });
        const h = handlers.shift();
        if (!h) {
          res.writeHead(500).end('no handler');
          return;
        }
        h(body, req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('retries a 429 and a 503, then repairs a malformed structured reply', async () => {
    seen.length = 0;
    handlers.push(
      (_b, _q, res) => res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"error":{"message":"rate limited"}}'),
      (_b, _q, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream down'),
      (_b, _q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(completion('{"winner": "C", "why": 3}')),
      (_b, _q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(completion('```json\n{"winner":"B","why":"longer list"}\n```', { prompt_tokens: 40, completion_tokens: 12 })),
    );
    const waits: number[] = [];
    const provider = new OpenAIProvider({ model: 'test-model', baseURL, apiKey: 'sk-test' });
    const client = new LLMClient(provider, { backoffBaseMs: 10, sleep: async (ms) => void waits.push(ms), pricing: { inputPerMTok: 1, outputPerMTok: 2 } });
    const schema = z.object({ winner: z.enum(['A', 'B', 'tie']), why: z.string() });
    const r = await client.json({ messages: [{ role: 'system', content: 'You are a judge.' }, { role: 'user', content: 'A or B?' }], tag: 'judge@1' }, schema, 'verdict');

    expect(r.value).toEqual({ winner: 'B', why: 'longer list' });
    expect(r.repaired).toBe(true);
    expect(seen).toHaveLength(4);
    expect(seen[0].path).toBe('/v1/chat/completions');
    expect(seen[0].auth).toBe('Bearer sk-test');
    expect(seen[0].body).toMatchObject({ model: 'test-model', temperature: 0, max_tokens: 512 });
    expect(seen[0].body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'verdict' } });
    // The repair turn quotes the bad reply and the validation error.
    const repairMsgs = seen[3].body.messages as { role: string; content: string }[];
    expect(repairMsgs[2]).toEqual({ role: 'assistant', content: '{"winner": "C", "why": 3}' });
    expect(repairMsgs[3].content).toMatch(/winner: Invalid option.*why: Invalid input: expected string/);
    expect(waits).toHaveLength(2);
    expect(waits[1]).toBeGreaterThanOrEqual(15); // 10·2¹ with −25 % jitter
    // Usage from the server: 11+40 in, 7+12 out; cost (51·1 + 19·2)/1e6.
    expect(client.ledger.total()).toMatchObject({ calls: 2, retries: 2, repairs: 1, promptTokens: 51, completionTokens: 19, estimatedCalls: 0 });
    expect(client.ledger.total().costUsd).toBeCloseTo(89e-6, 12);
  });

  it('treats a 200 without choices as a retryable server fault and a 401 as fatal', async () => {
    seen.length = 0;
    handlers.push(
      (_b, _q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"chat.completion","choices":[]}'),
      (_b, _q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(completion('plain text')),
      (_b, _q, res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"bad key"}}'),
    );
    const client = new LLMClient(new OpenAIProvider({ model: 'm', baseURL }), { sleep: async () => {} });
    expect((await client.chat({ messages: [{ role: 'user', content: 'hi' }] })).text).toBe('plain text');
    expect(client.ledger.total().retries).toBe(1);
    await expect(client.chat({ messages: [{ role: 'user', content: 'again' }] })).rejects.toThrow(/HTTP 401/);
    expect(client.ledger.total().retries).toBe(1);
  });

  it('retries a refused connection and finally throws', async () => {
    const client = new LLMClient(new OpenAIProvider({ model: 'm', baseURL: 'http://127.0.0.1:1/v1' }), { maxRetries: 2, sleep: async () => {} });
    await expect(client.chat({ messages: [{ role: 'user', content: 'hi' }] })).rejects.toThrow(/connection failed/);
    expect(client.ledger.total().retries).toBe(2);
  });

  it('parses Retry-After in seconds and as an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(null)).toBeUndefined();
    const d = parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())!;
    expect(d).toBeGreaterThan(50_000);
    expect(d).toBeLessThanOrEqual(60_000);
  });
});

const REAL = process.env.RECLAB_LLM_BASE_URL;
describe.skipIf(!REAL)('real OpenAI-compatible endpoint (RECLAB_LLM_BASE_URL)', () => {
  it('answers a structured request with schema-valid JSON', async () => {
    const model = process.env.RECLAB_LLM_MODEL ?? 'default';
    const client = new LLMClient(new OpenAIProvider({ model, baseURL: REAL, apiKey: process.env.RECLAB_LLM_API_KEY }));
    const schema = z.object({ title: z.string(), year: z.number().int() });
    const r = await client.json({ messages: [{ role: 'user', content: 'Name one well-known film released in 1995: its title and year.' }], maxTokens: 200 }, schema, 'film');
    expect(r.value.title.length).toBeGreaterThan(0);
    expect(r.value.year).toBeGreaterThan(1900);
    expect(client.ledger.total().calls).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
if (!REAL) console.warn('[skip] RECLAB_LLM_BASE_URL not set: the real-endpoint test is skipped (set it, and RECLAB_LLM_MODEL, to run it)');
