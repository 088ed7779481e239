/**
 * Fuzz test (must-show 4): every route gets malformed path parameters, query strings, headers
 * and bodies (random JSON values, JSON of the right shape with wrong field types, broken JSON,
 * random bytes, wrong content types). The service must answer every one with a status below
 * 500 and keep working. Requests go through Fastify's inject (no sockets), so it is fast.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { buildApp, type Service } from '../../src/serve/app.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import { ModelSlot } from '../../src/serve/slot.ts';
import { tempDir, writeFixtureBundle } from './fixtures.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Path templates of every route; `:id` is filled by the fuzzer. */
const ROUTES = [
  '/api/feedback',
  '/api/user',
  '/api/users',
  '/api/user/:id',
  '/api/user/:id/feedback',
  '/api/item',
  '/api/items',
  '/api/item/:id',
  '/api/item/:id/neighbors',
  '/api/recommend/:id',
  '/api/session/recommend',
  '/api/popular',
  '/api/latest',
  '/api/model',
  '/health/live',
  '/health/ready',
  '/metrics',
  '/docs/json',
];

/** A JSON value shaped like (but not necessarily valid for) the API's bodies. */
const field = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
const nearBody = fc.record(
  {
    FeedbackType: field,
    UserId: field,
    ItemId: field,
    Value: field,
    Timestamp: fc.oneof(field, fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'Invalid' : d.toISOString())), fc.constant('2024-13-45T99:99:99Z')),
    IsHidden: field,
    Categories: field,
    Labels: field,
    Comment: field,
    Name: field,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.json().map((j) => ({ raw: j, type: 'application/json' })),
  nearBody.map((b) => ({ raw: JSON.stringify(b), type: 'application/json' })),
  fc.array(nearBody, { maxLength: 4 }).map((b) => ({ raw: JSON.stringify(b), type: 'application/json' })),
  fc.string().map((s) => ({ raw: s, type: 'application/json' })),
  fc
    .tuple(fc.string(), fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/json; charset=latin1', ''))
    .map(([s, type]) => ({ raw: s, type })),
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ raw: Buffer.from(b), type: 'application/octet-stream' })),
);
const segment = fc.oneof(fc.string({ minLength: 0, maxLength: 300 }), fc.constantFrom('a', 'u1', '..', '%', '%00', '%zz', ' ', 'a/b', '\u0000', 'x'.repeat(300)));
const queryValue = fc.oneof(fc.string(), fc.integer().map(String), fc.double().map(String), fc.constantFrom('-1', '0', '1e9', 'NaN', 'true', '', '%', '1001', '10,a'));
const query = fc.dictionary(fc.constantFrom('n', 'offset', 'category', 'exclude', 'seen', 'cursor', 'x', 'n[]'), queryValue, { maxKeys: 4 });
const headers = fc.dictionary(fc.constantFrom('x-api-key', 'accept', 'content-length-x', 'x-forwarded-for', 'accept-encoding'), fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')), { maxKeys: 3 });

describe('serve fuzz: no 5xx for malformed input', () => {
  let service: Service;
  let store: SqliteStore;

  beforeAll(async () => {
    const dir = tempDir();
    await writeFixtureBundle(join(dir, 'markov'), 'markov');
    store = SqliteStore.open(join(dir, 'fuzz.db'));
    service = await buildApp({ store, slot: new ModelSlot(dir), rateLimit: 0, bodyLimit: 64 * 1024 });
    await service.swapModel();
  });
  afterAll(async () => {
    await service.app.close();
    await store.close();
  });

  it('answers every malformed request with a status below 500', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), fc.constantFrom(...METHODS), segment, query, headers, body, async (route, method, id, q, h, b) => {
        const path = route.replace(':id', encodeURIComponent(id));
        const qs = new URLSearchParams(q).toString();
        const res = await service.app.inject({
          method,
          url: qs ? `${path}?${qs}` : path,
          headers: { ...h, ...(b && b.type ? { 'content-type': b.type } : {}) },
          payload: b?.raw,
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500) throw new Error(`${method} ${path}?${qs} → ${res.statusCode}: ${res.body.slice(0, 300)}`);
        // Every error names what was wrong.
        if (res.statusCode >= 400 && res.headers['content-type']?.toString().includes('json')) {
          expect((JSON.parse(res.body) as { message?: string }).message).toBeTruthy();
        }
      }),
      { numRuns: 1500, seed: 20240501 },
    );
    // The fuzzer reached both the handlers (2xx) and the validators (400), not just the router.
    console.log('fuzz statuses', Object.fromEntries(statuses));
    expect(statuses.get(200) ?? 0).toBeGreaterThan(50);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(50);
    // Still serving correctly afterwards (a after b ×3 in the fixture).
    const res = await service.app.inject({ method: 'POST', url: '/api/session/recommend?n=1', payload: [{ ItemId: 'a' }] });
    expect(res.statusCode).toBe(200);
    expect((JSON.parse(res.body) as { Items: { ItemId: string }[] }).Items[0].ItemId).toBe('b');
  });

  it('rejects oversized bodies with 413 and unknown routes with 404', async () => {
    const big = JSON.stringify(Array.from({ length: 5000 }, (_, k) => ({ FeedbackType: 'click', UserId: 'u', ItemId: `i${k}` })));
    expect((await service.app.inject({ method: 'POST', url: '/api/feedback', headers: { 'content-type': 'application/json' }, payload: big })).statusCode).toBe(413);
    expect((await service.app.inject({ method: 'GET', url: '/api/nope' })).statusCode).toBe(404);
  });
});
