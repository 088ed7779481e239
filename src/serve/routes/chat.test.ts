import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatRecommender } from '../../agents/chat.ts';
import { IdMap, type Dataset } from '../../data/types.ts';
import { LLMClient, ScriptedProvider } from '../../llm/index.ts';
import type { ItemCatalogue } from '../../llmrec/catalogue.ts';
import { ChatSessionStore, chatRoutes } from './chat.ts';
import type { Api } from './context.ts';

const titles = ['Heat (1995)', 'Fargo (1996)', 'Alien (1979)'];
const catalogue: ItemCatalogue = { n: 3, titles, genres: [[], [], []], source: 'test' };
const dataset = { name: 'films', nUsers: 1, nItems: 3, offsets: Int32Array.of(0, 1), items: Int32Array.of(2), times: Float64Array.of(1), values: Float32Array.of(4), userIds: IdMap.fromRaw(['u1']), itemIds: IdMap.fromRaw(['10', '11', '12']), hasTime: true, fingerprint: 'x', provenance: { source: 't', format: 't', preparation: {} } } as Dataset;

async function app(dbPath: string) {
  const provider = new ScriptedProvider('chat', () => ({ reply: 'Try Heat or Moonbeam Pickles.', titles: ['Heat', 'Moonbeam Pickles'] }));
  const sessions = await ChatSessionStore.open(dbPath);
  const server = Fastify().withTypeProvider<TypeBoxTypeProvider>();
  await server.register(async (api) => chatRoutes(api as unknown as Api, { recommender: new ChatRecommender({ client: new LLMClient(provider), dataset, catalogue, history: dataset }), sessions }), { prefix: '/api' });
  await server.ready();
  return { server, sessions, provider };
}

describe('POST /api/chat', () => {
  it('answers with grounded items only, counts hallucinations, and keeps the session across a restart', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'reclab-chat-')), 'chat.db');
    const a = await app(db);
    const r1 = await a.server.inject({ method: 'POST', url: '/api/chat', payload: { UserId: 'u1', Message: 'something tense?' } });
    expect(r1.statusCode).toBe(200);
    const b1 = r1.json() as { SessionId: string; Reply: string; Items: unknown[]; Dropped: string[]; Hallucinations: number };
    expect(b1).toMatchObject({ Reply: 'Try Heat (1995).', Items: [{ ItemId: '10', Title: 'Heat (1995)', Matched: 'normalised' }], Dropped: ['Moonbeam Pickles'], Hallucinations: 1 });
    // The user's history (Alien, rated 4) reached the prompt.
    expect(a.provider.requests[0].messages.at(-1)!.content).toContain('Alien (1979) | 4');
    await a.server.close();
    // A new process on the same database continues the session.
    const b = await app(db);
    const r2 = await b.server.inject({ method: 'POST', url: '/api/chat', payload: { SessionId: b1.SessionId, Message: 'another?' } });
    expect((r2.json() as { Hallucinations: number }).Hallucinations).toBe(2);
    expect(b.provider.requests[0].messages.at(-1)!.content).toContain('User: something tense?\nYou: Try Heat (1995).');
    const s = await b.server.inject({ method: 'GET', url: `/api/chat/${b1.SessionId}` });
    expect((s.json() as { Turns: unknown[]; UserId: string }).Turns).toHaveLength(4);
    expect((s.json() as { UserId: string }).UserId).toBe('u1');
    expect((await b.server.inject({ method: 'GET', url: '/api/chat/nope' })).statusCode).toBe(404);
    expect((await b.server.inject({ method: 'POST', url: '/api/chat', payload: { UserId: 'ghost', Message: 'hi' } })).statusCode).toBe(400);
    expect((await b.server.inject({ method: 'POST', url: '/api/chat', payload: { Message: '' } })).statusCode).toBe(400);
    await b.server.close();
  });
});
