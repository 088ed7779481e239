/**
 * Wire compatibility with Gorse (issue 18, must-show 1): Gorse's official JavaScript client,
 * gorsejs 0.4.8, against a started server over HTTP, calling every method the client has and
 * checking Gorse's shapes and statuses. Expected answers are worked out by hand from the fixture
 * (fixtures.ts: Markov transition counts a→b ×3, b→c ×2, b→a ×1, c→d ×2, c→e, d→e, e→f;
 * training popularity a 4, b 4, c 3, d 2, e 2, f 1) plus the feedback posted here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Gorse } from 'gorsejs';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { tempDir, writeFixtureBundle } from './fixtures.ts';

const KEY = 'gorse-k3y';

/** The status of a call the client reports as failed (gorsejs throws GorseException with `code`). */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    return (e as { code: number }).code;
  }
}

describe('gorsejs 0.4.8 against reclab serve', () => {
  let server: RunningServer;
  let client: Gorse<string>;
  const methods = new Set<string>();
  /** Marks a client method as called (the last test checks every method was). */
  const called = (name: string) => methods.add(name);
  const raw = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, { ...init, headers: { 'x-api-key': KEY, ...(init.headers ?? {}) } });

  beforeAll(async () => {
    const root = tempDir();
    mkdirSync(join(root, 'models'));
    await writeFixtureBundle(join(root, 'models', 'markov'), 'markov');
    server = await startServer({
      models: join(root, 'models'),
      db: `sqlite:${join(root, 'gorse.db')}`,
      port: 0,
      host: '127.0.0.1',
      apiKey: KEY,
      rateLimit: 0,
      cors: ['https://app.example'],
      // Popular counts recomputed on every request, so the expected figures are exact.
      engine: { popularTtl: 0 },
    });
    client = new Gorse({ endpoint: server.url, secret: KEY });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('users: insert, batch insert, get, patch, page by cursor, neighbours, delete', async () => {
    expect(await client.insertUser({ UserId: 'alice', Labels: ['x'], Comment: 'first' })).toBe(1);
    called('insertUser');
    expect(await client.insertUsers([{ UserId: 'bob' }, { UserId: 'carol' }])).toBe(2);
    called('insertUsers');
    expect(await client.getUser('alice')).toEqual({ UserId: 'alice', Labels: ['x'], Subscribe: [], Comment: 'first' });
    called('getUser');
    // gorsejs sends the whole user in the PATCH body, UserId included.
    expect(await client.updateUser('alice', { UserId: 'alice', Comment: 'patched' })).toBe(1);
    called('updateUser');
    expect(await client.getUser('alice')).toEqual({ UserId: 'alice', Labels: ['x'], Subscribe: [], Comment: 'patched' });
    // Cursor paging as gorsejs sends it (`?n=2&Cursor=…`).
    const first = await client.getUsers({ n: 2 });
    called('getUsers');
    expect(first.Users.map((u) => u.UserId)).toEqual(['alice', 'bob']);
    expect(first.Cursor).toBe('bob');
    const second = await client.getUsers({ n: 2, Cursor: first.Cursor });
    expect(second).toEqual({ Cursor: '', Users: [{ UserId: 'carol', Labels: [], Subscribe: [], Comment: '' }] });
    // u1 = {a,b,c,d}: u3 = {a,b} 2/√8 = 0.7071, u2 = {a,b,c,e,f} 3/√20 = 0.6708, u4 = {c,d,e} 2/√12 = 0.5774.
    const neighbours = (await client.getUserNeighbors({ userId: 'u1', cursorOptions: { n: 2 } })) as unknown as { Id: string; Score: number }[];
    called('getUserNeighbors');
    expect(neighbours.map((s) => s.Id)).toEqual(['u3', 'u2']);
    expect(neighbours[0].Score).toBeCloseTo(2 / Math.sqrt(8), 5);
    expect(neighbours[1].Score).toBeCloseTo(3 / Math.sqrt(20), 5);
    expect(await client.getUserNeighbors({ userId: 'stranger' })).toEqual([]);
    expect(await client.deleteUser('carol')).toBe(1);
    called('deleteUser');
    expect(await statusOf(client.getUser('carol'))).toBe(404);
    expect(await statusOf(client.updateUser('nobody', { UserId: 'nobody' }))).toBe(404);
    expect(await statusOf(client.updateUser('alice', { UserId: 'bob' }))).toBe(400);
  });

  it("items: insert with Gorse's time forms, patch with ItemId in the body, categories, page, delete", async () => {
    expect(await client.upsertItem({ ItemId: 'g', IsHidden: false, Timestamp: '2022-02-24', Categories: ['odd'], Labels: ['l'], Comment: 'new item' })).toBe(1);
    called('upsertItem');
    expect(await client.getItem('g')).toEqual({ ItemId: 'g', IsHidden: false, Categories: ['odd'], Labels: ['l'], Timestamp: '2022-02-24T00:00:00.000Z', Comment: 'new item' });
    called('getItem');
    expect(await client.updateItem('g', { ItemId: 'g', IsHidden: false, Timestamp: '2022-02-25 10:00:00', Comment: 'patched' })).toBe(1);
    called('updateItem');
    expect(await client.getItem('g')).toMatchObject({ Timestamp: '2022-02-25T10:00:00.000Z', Comment: 'patched', Categories: ['odd'] });
    expect(await client.insertItemCategory('g', 'fresh')).toBe(1);
    called('insertItemCategory');
    expect(await client.deleteItemCategory('g', 'odd')).toBe(1);
    called('deleteItemCategory');
    expect((await client.getItem('g')).Categories).toEqual(['fresh']);
    expect(await client.upsertItems([{ ItemId: 'h', IsHidden: true, Timestamp: new Date('2022-03-01T00:00:00Z') }])).toBe(1);
    called('upsertItems');
    // The catalogue: a–f seeded from the model, g and h posted; by id, three at a time.
    const page = await client.getItems({ n: 3 });
    called('getItems');
    expect(page.Items.map((i) => i.ItemId)).toEqual(['a', 'b', 'c']);
    const next = await client.getItems({ n: 3, Cursor: page.Cursor });
    expect(next.Items.map((i) => i.ItemId)).toEqual(['d', 'e', 'f']);
    expect(await statusOf(client.upsertItem({ ItemId: 'bad', IsHidden: false, Timestamp: '2022-02-31' }))).toBe(400);
    expect(await statusOf(client.updateItem('g', { ItemId: 'other', IsHidden: false, Timestamp: '2022-01-01' }))).toBe(400);
    expect(await statusOf(client.insertItemCategory('nothing', 'x'))).toBe(404);
    await client.upsertItem({ ItemId: 'gone', IsHidden: false, Timestamp: '2022-01-01' });
    expect(await client.deleteItem('gone')).toBe(1);
    called('deleteItem');
    expect(await statusOf(client.getItem('gone'))).toBe(404);
  });

  it('feedback: insert, upsert, the log by cursor and by type, per user, per item, per pair, delete', async () => {
    expect(
      await client.insertFeedbacks([
        { FeedbackType: 'click', UserId: 'alice', ItemId: 'a', Timestamp: '2022-02-24' },
        { FeedbackType: 'click', UserId: 'alice', ItemId: 'b', Timestamp: '2022-02-24 10:00:00' },
      ]),
    ).toBe(2);
    called('insertFeedbacks');
    expect(await client.upsertFeedbacks([{ FeedbackType: 'like', UserId: 'bob', ItemId: 'c', Timestamp: '2022-02-26T08:00:00+08:00' }])).toBe(1);
    called('upsertFeedbacks');
    const clickA = { FeedbackType: 'click', UserId: 'alice', ItemId: 'a', Value: 1, Timestamp: '2022-02-24T00:00:00.000Z', Comment: '' };
    const clickB = { ...clickA, ItemId: 'b', Timestamp: '2022-02-24T10:00:00.000Z' };
    const likeC = { FeedbackType: 'like', UserId: 'bob', ItemId: 'c', Value: 1, Timestamp: '2022-02-26T00:00:00.000Z', Comment: '' };
    // Gorse's FeedbackIterator: {Cursor, Feedback}.
    expect(await client.getFeedbacks()).toEqual({ Cursor: '', Feedback: [clickA, clickB, likeC] });
    called('getFeedbacks');
    const one = (await client.getFeedbacks(undefined, { n: 1 })) as unknown as { Cursor: string; Feedback: unknown[] };
    expect(one.Feedback).toEqual([clickA]);
    const two = (await client.getFeedbacks(undefined, { n: 1, Cursor: one.Cursor })) as unknown as { Cursor: string; Feedback: unknown[] };
    expect(two.Feedback).toEqual([clickB]);
    expect(await client.getFeedbacks('click')).toEqual({ Cursor: '', Feedback: [clickA, clickB] });
    expect(await client.getFeedback({ type: 'click', userId: 'alice', itemId: 'b' })).toEqual(clickB);
    called('getFeedback');
    expect(await client.getUserFeedback('alice')).toEqual([clickA, clickB]);
    called('getUserFeedback');
    expect(await client.getUserFeedbackByType('bob', 'like')).toEqual([likeC]);
    called('getUserFeedbackByType');
    expect(await client.getItemFeedback('a')).toEqual([clickA]);
    called('getItemFeedback');
    expect(await client.getItemFeedbackByType('c', 'like')).toEqual([likeC]);
    called('getItemFeedbackByType');
    expect(await client.getItemFeedbackByType('c', 'click')).toEqual([]);
    // The untyped pair routes (Gorse has them; gorsejs does not call them).
    expect(await (await raw('/api/feedback/alice/b')).json()).toEqual([clickB]);
    // Delete one typed pair: the event is gone, the other stays.
    await client.insertFeedbacks([{ FeedbackType: 'click', UserId: 'dave', ItemId: 'e', Timestamp: '2022-02-27' }]);
    expect(await client.deleteFeedback({ type: 'click', userId: 'dave', itemId: 'e' })).toEqual({ RowAffected: 1 });
    called('deleteFeedback');
    expect(await statusOf(client.getFeedback({ type: 'click', userId: 'dave', itemId: 'e' }))).toBe(404);
    expect(await (await raw('/api/feedback/dave/e', { method: 'DELETE' })).json()).toEqual({ RowAffected: 0 });
    expect(await statusOf(client.insertFeedbacks([{ FeedbackType: 'click', UserId: 'x', ItemId: 'a', Timestamp: 'yesterday' }]))).toBe(400);
  });

  it('recommendations in Gorse shapes: recommend (ids), session, neighbours, popular, latest; write-back', async () => {
    // alice clicked a then b: Markov after b → c (2), a (1, seen); then the zero-score items in id order.
    expect(await client.getRecommend({ userId: 'alice', cursorOptions: { n: 2 } })).toEqual(['c', 'd']);
    called('getRecommend');
    expect(await client.getRecommend({ userId: 'alice', category: 'odd', cursorOptions: { n: 1 } })).toEqual(['c']);
    expect(await client.getRecommend({ userId: 'alice', cursorOptions: { n: 1, offset: 1 } })).toEqual(['d']);
    // Popular counts: training a4 b3 c3 d2 e2 f1 + positive feedback a+1 (alice), b+1 (alice), c+1 (bob); ties by id.
    expect(await client.getPopular({ cursorOptions: { n: 3 } })).toEqual([
      { Id: 'a', Score: 5 },
      { Id: 'b', Score: 4 },
      { Id: 'c', Score: 4 },
    ]);
    called('getPopular');
    expect(await client.getPopular({ category: 'odd', cursorOptions: { n: 2 } })).toEqual([
      { Id: 'a', Score: 5 },
      { Id: 'c', Score: 4 },
    ]);
    // A new user gets the popular items; write-back stores them as "read" 10 minutes ahead.
    const before = Date.now() / 1000;
    expect(await client.getRecommend({ userId: 'erin', writeBackType: 'read', writeBackDelay: '10m', cursorOptions: { n: 2 } })).toEqual(['a', 'b']);
    const read = await client.getUserFeedbackByType('erin', 'read');
    expect(read.map((f) => f.ItemId)).toEqual(['a', 'b']);
    const t = Date.parse(String(read[0].Timestamp)) / 1000;
    expect(t - before).toBeGreaterThanOrEqual(600 - 1);
    expect(t - before).toBeLessThan(600 + 30);
    // Read events keep their items out of erin's list and do not count as popularity.
    expect(await client.getRecommend({ userId: 'erin', cursorOptions: { n: 2 } })).toEqual(['c', 'd']);
    expect((await client.getPopular({ cursorOptions: { n: 1 } }))[0]).toEqual({ Id: 'a', Score: 5 });
    // Session: after b → c (2), a (1).
    expect(await client.getSessionRecommend([{ FeedbackType: 'click', UserId: '', ItemId: 'b', Timestamp: '2022-02-24' }], { cursorOptions: { n: 2 } })).toEqual([
      { Id: 'c', Score: 2 },
      { Id: 'a', Score: 1 },
    ]);
    called('getSessionRecommend');
    expect(await client.getSessionRecommend([{ FeedbackType: 'click', UserId: '', ItemId: 'b', Timestamp: '2022-02-24' }], { category: 'even', cursorOptions: { n: 1 } })).toEqual([
      { Id: 'd', Score: 0 },
    ]);
    // Neighbours of a: b (3).
    expect(await client.getItemNeighbors({ itemId: 'a', cursorOptions: { n: 1 } })).toEqual([{ Id: 'b', Score: 3 }]);
    called('getItemNeighbors');
    expect(await client.getItemNeighbors({ itemId: 'c', category: 'odd', cursorOptions: { n: 1 } })).toEqual([{ Id: 'e', Score: 1 }]);
    expect(await client.getItemNeighbors({ itemId: 'unknown' })).toEqual([]);
    // Latest: g (2022-02-25 10:00) is the newest visible item; h is hidden.
    const latest = await client.getLatest({ cursorOptions: { n: 1 } });
    called('getLatest');
    expect(latest).toEqual([{ Id: 'g', Score: Date.UTC(2022, 1, 25, 10) / 1000 }]);
    expect(await client.getLatest({ category: 'fresh', cursorOptions: { n: 5 } })).toEqual([{ Id: 'g', Score: Date.UTC(2022, 1, 25, 10) / 1000 }]);
  });

  it('reclab extras on Gorse paths: the richer answer opt-in, user-id on popular/latest, health, CORS, errors, OpenAPI', async () => {
    const rich = (await (await raw('/api/recommend/alice?n=1&format=reclab')).json()) as { Strategy: string; Model: { Name: string }; Items: { ItemId: string }[] };
    expect(rich.Strategy).toBe('model');
    expect(rich.Model.Name).toBe('test-markov');
    expect(rich.Items.map((i) => i.ItemId)).toEqual(['c']);
    const byHeader = (await (await raw('/api/popular?n=1', { headers: { 'reclab-format': 'reclab' } })).json()) as { Strategy: string };
    expect(byHeader.Strategy).toBe('popular');
    // user-id drops what the user has seen: alice clicked a and b.
    expect(await (await raw('/api/popular?n=2&user-id=alice')).json()).toEqual([
      { Id: 'c', Score: 4 },
      { Id: 'd', Score: 2 },
    ]);
    expect(((await (await raw('/api/latest/?n=10&user-id=alice')).json()) as { Id: string }[]).map((s) => s.Id)).not.toContain('a');
    // Gorse's health routes answer without a key, like Gorse's.
    const live = await fetch(`${server.url}/api/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ Ready: true, DataStoreError: null, CacheStoreError: null, DataStoreConnected: true, CacheStoreConnected: true });
    expect((await fetch(`${server.url}/api/health/ready`)).status).toBe(200);
    expect((await fetch(`${server.url}/health/ready`)).status).toBe(200);
    // CORS: a preflight from the allowed origin is answered; another origin gets no allow header.
    const preflight = await fetch(`${server.url}/api/recommend/alice`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-api-key');
    const other = await raw('/api/popular', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // Error bodies carry the right reason phrase; a wrong key is a 401.
    const missing = await raw('/api/user/nobody');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('Not Found');
    const wrongKey = new Gorse({ endpoint: server.url, secret: 'wrong' });
    expect(await statusOf(wrongKey.getPopular({}))).toBe(401);
    // The OpenAPI document describes Gorse's paths and both answer shapes.
    const doc = (await (await fetch(`${server.url}/docs/json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: unknown }> }> }>> };
    for (const path of ['/api/recommend/{id}/{category}', '/api/popular/{category}', '/api/feedback/{type}/{user}/{item}', '/api/item/{id}/category/{category}', '/api/health/ready']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    const shape = JSON.stringify(doc.paths['/api/recommend/{id}'].get.responses['200'].content['application/json'].schema);
    expect(shape).toContain('Strategy');
    expect(shape).toContain('"type":"array","items":{"type":"string"}');
  });

  it('called every method of the client', () => {
    const all = Object.getOwnPropertyNames(Gorse.prototype).filter((m) => m !== 'constructor');
    expect(all.length).toBe(29);
    expect(all.filter((m) => !methods.has(m))).toEqual([]);
  });
});
