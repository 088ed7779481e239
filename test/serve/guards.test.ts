/**
 * Guards decided on the matched route (issue 15, must-show 1). Every route is called, without the
 * API key, under many spellings of its path — percent-encoded letters and slashes, double
 * slashes, dot segments, a trailing dot or slash, other letter case. None may answer with data
 * or change state: each answer is 401 (it reached the route, whose scope checks the key) or a
 * 4xx from the router (no route matched). Then the same spellings, with the key, count against
 * the rate limit exactly as the canonical path does.
 *
 * Requests go through Fastify's inject, which hands the raw path to the router as a socket
 * would (no client-side normalisation of `..` or `%2F`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildApp, type Service } from '../../src/serve/app.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import { ModelSlot } from '../../src/serve/slot.ts';
import { tempDir, writeFixtureBundle } from './fixtures.ts';

const KEY = 's3cret';

/** Every /api route with a method and a body that would succeed with the key. */
const ROUTES: { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; path: string; body?: unknown }[] = [
  { method: 'POST', path: '/api/feedback', body: [{ FeedbackType: 'click', UserId: 'intruder', ItemId: 'a' }] },
  { method: 'PUT', path: '/api/feedback', body: [{ FeedbackType: 'click', UserId: 'intruder', ItemId: 'a' }] },
  { method: 'GET', path: '/api/user/victim/feedback' },
  { method: 'POST', path: '/api/user', body: { UserId: 'intruder' } },
  { method: 'POST', path: '/api/users', body: [{ UserId: 'intruder' }] },
  { method: 'GET', path: '/api/user/victim' },
  { method: 'DELETE', path: '/api/user/victim' },
  { method: 'GET', path: '/api/users' },
  { method: 'POST', path: '/api/item', body: { ItemId: 'evil' } },
  { method: 'POST', path: '/api/items', body: [{ ItemId: 'evil' }] },
  { method: 'GET', path: '/api/item/a' },
  { method: 'PATCH', path: '/api/item/a', body: { IsHidden: true } },
  { method: 'DELETE', path: '/api/item/b' },
  { method: 'GET', path: '/api/items' },
  { method: 'GET', path: '/api/recommend/victim' },
  { method: 'POST', path: '/api/session/recommend', body: [{ ItemId: 'a' }] },
  { method: 'GET', path: '/api/item/a/neighbors' },
  { method: 'GET', path: '/api/popular' },
  { method: 'GET', path: '/api/latest' },
  { method: 'GET', path: '/api/model' },
  { method: 'PUT', path: '/api/model', body: {} },
  // Gorse's routes added for wire compatibility, and the admin routes of the retrain loop.
  { method: 'GET', path: '/api/feedback' },
  { method: 'GET', path: '/api/feedback/click' },
  { method: 'GET', path: '/api/feedback/victim/a' },
  { method: 'DELETE', path: '/api/feedback/victim/a' },
  { method: 'GET', path: '/api/feedback/click/victim/a' },
  { method: 'DELETE', path: '/api/feedback/click/victim/a' },
  { method: 'GET', path: '/api/user/victim/feedback/click' },
  { method: 'GET', path: '/api/item/a/feedback' },
  { method: 'GET', path: '/api/item/a/feedback/click' },
  { method: 'PATCH', path: '/api/user/victim', body: { Comment: 'owned' } },
  { method: 'PUT', path: '/api/item/a/category/evil' },
  { method: 'DELETE', path: '/api/item/a/category/odd' },
  { method: 'GET', path: '/api/recommend/victim/odd' },
  { method: 'GET', path: '/api/user/victim/neighbors' },
  { method: 'GET', path: '/api/item/a/neighbors/odd' },
  { method: 'POST', path: '/api/session/recommend/odd', body: [{ ItemId: 'a' }] },
  { method: 'GET', path: '/api/popular/odd' },
  { method: 'GET', path: '/api/latest/odd' },
  { method: 'POST', path: '/api/model/retrain', body: { Wait: true } },
  { method: 'GET', path: '/api/model/retrains' },
  { method: 'POST', path: '/api/model/rollback' },
];

/** Spellings of a path that a lax router (or a decoding one) might take for the same route. */
export function spellings(path: string): string[] {
  const rest = path.slice('/api'.length); // e.g. "/user/victim"
  const encodeLetters = (s: string) => s.replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  return [
    `/%61pi${rest}`, // one letter percent-encoded
    `/${encodeLetters('api')}${encodeLetters(rest)}`, // every letter percent-encoded
    `/%61%50%49${rest}`, // encoded, other case
    `/api${rest.replace(/\//g, '%2F')}`, // encoded slashes
    `/api${rest.replace(/\//g, '%2f')}`, // lower-case encoded slashes
    `//api${rest}`, // double slash in front
    `/api/${rest}`, // double slash inside
    `/api/../api${rest}`, // dot-dot segment
    `/api/%2e%2e/api${rest}`, // encoded dot-dot
    `/api/.${rest}`, // dot segment
    `/api.${rest}`, // trailing dot on a segment
    `${path}.`, // trailing dot at the end
    `${path}/`, // trailing slash
    `/API${rest}`, // upper case
    `/Api${rest.toUpperCase()}`, // mixed case
    `/api${rest.replace(/\//g, '\\')}`, // backslashes
    `/api;x=1${rest}`, // matrix parameter
    path, // the canonical path itself, without a key
  ];
}

describe('serve guards: every spelling of every route meets the key and the rate limit', () => {
  let service: Service;
  let store: SqliteStore;
  let dir: string;
  let slot: ModelSlot;

  beforeAll(async () => {
    dir = tempDir();
    await writeFixtureBundle(join(dir, 'markov'), 'markov');
    store = SqliteStore.open(join(dir, 'guards.db'));
    slot = new ModelSlot(dir);
    service = await buildApp({ store, slot, apiKey: KEY, rateLimit: 0 });
    await service.swapModel();
    await store.upsertUsers([{ id: 'victim', labels: ['keep'], comment: '' }]);
    await store.insertFeedback([{ type: 'click', user: 'victim', item: 'a', value: 1, time: 1 }], 'insert');
  });
  afterAll(async () => {
    await service.app.close();
    await store.close();
  });

  /** Everything a request could change, read straight from the store. */
  async function snapshot(): Promise<string> {
    const users = await store.listUsers('', 1000);
    const items = await store.listItems('', 1000);
    return JSON.stringify({
      users: users.rows,
      items: items.rows,
      feedback: await store.countFeedback(),
      victim: await store.userFeedback('victim'),
      model: service.engine.options,
      served: slot.current?.version,
    });
  }

  it('answers no spelling without the key with data, and changes nothing', async () => {
    const before = await snapshot();
    const statuses = new Map<number, number>();
    let cases = 0;
    for (const route of ROUTES) {
      for (const url of spellings(route.path)) {
        for (const headers of [{}, { 'x-api-key': 'wrong' }, { 'x-api-key': KEY.toUpperCase() }]) {
          const res = await service.app.inject({
            method: route.method,
            url,
            headers: { ...headers, ...(route.body === undefined ? {} : { 'content-type': 'application/json' }) },
            payload: route.body === undefined ? undefined : JSON.stringify(route.body),
          });
          cases++;
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          if (res.statusCode < 400 || res.statusCode >= 500) throw new Error(`${route.method} ${url} without the key → ${res.statusCode}: ${res.body.slice(0, 200)}`);
          // An error body, never data.
          const body = JSON.parse(res.body) as Record<string, unknown>;
          expect(Object.keys(body).sort()).toEqual(['error', 'message', 'statusCode']);
        }
      }
    }
    console.log(`guards: ${cases} keyless requests over ${ROUTES.length} routes × ${spellings('/api/x').length} spellings × 3 keys →`, Object.fromEntries(statuses));
    expect(cases).toBeGreaterThanOrEqual(ROUTES.length * 10);
    // The key check was reached (401) for the canonical paths and the spellings the router
    // decodes to the same route; the rest never matched a route.
    expect(statuses.get(401) ?? 0).toBeGreaterThanOrEqual(ROUTES.length * 3);
    expect(await snapshot()).toBe(before);
  });

  it('with the key, the canonical path works (the test above could have failed)', async () => {
    const res = await service.app.inject({ method: 'GET', url: '/api/user/victim', headers: { 'x-api-key': KEY } });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ UserId: 'victim', Labels: ['keep'], Subscribe: [], Comment: '' });
    // A spelling the router decodes reaches the same route (and, with the key, its data).
    const spelled = await service.app.inject({ method: 'GET', url: '/%61pi/user/victim', headers: { 'x-api-key': KEY } });
    expect(spelled.statusCode).toBe(200);
  });

  it('counts every spelling that reaches a route against the rate limit, with or without the key', async () => {
    const limit = 12;
    const limited = await buildApp({ store, slot: new ModelSlot(dir), apiKey: KEY, rateLimit: limit });
    try {
      await limited.swapModel();
      // Alternate the canonical path and spellings the router maps to it, with and without the key.
      const urls = ['/api/popular', '/%61pi/popular', '/%61%70%69/%70opular', '/api/popular', '/%61pi/p%6fpular'];
      const seen: number[] = [];
      for (let k = 0; k < limit + 6; k++) {
        const res = await limited.app.inject({ method: 'GET', url: urls[k % urls.length], headers: k % 3 === 2 ? {} : { 'x-api-key': KEY } });
        seen.push(res.statusCode);
      }
      // The first `limit` requests are answered (200, or 401 without the key), all later ones 429.
      expect(seen.slice(0, limit).every((s) => s === 200 || s === 401)).toBe(true);
      expect(seen.slice(limit)).toEqual(new Array(6).fill(429));
      // Rotating X-API-Key values does not buy a fresh budget (the limit is per client address).
      const rotated = await limited.app.inject({ method: 'GET', url: '/api/popular', headers: { 'x-api-key': `rotate-${Math.random()}` } });
      expect(rotated.statusCode).toBe(429);
      // Health probes stay outside the limit.
      expect((await limited.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    } finally {
      await limited.app.close();
    }
  });

  it('files every spelling under the matched route in /metrics', async () => {
    await service.app.inject({ method: 'GET', url: '/%61pi/popular' });
    const metrics = (await service.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/reclab_http_requests_total\{code="401",method="GET",route="\/api\/popular"\} \d+/);
    expect(metrics).not.toMatch(/route="\/%61pi/);
  });
});
