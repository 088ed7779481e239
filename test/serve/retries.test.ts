/**
 * Retrying safely over HTTP: an `Idempotency-Key` makes a retried feedback write a no-op with the
 * first answer (issue 15, fault 13), and a store that cannot commit answers 503 with Retry-After,
 * writing nothing (fault 2's HTTP side), while readiness reports it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { buildApp, type Service } from '../../src/serve/app.ts';
import { openStore, StoreUnavailableError, type Store } from '../../src/serve/store.ts';
import { ModelSlot } from '../../src/serve/slot.ts';
import { tempDir, writeFixtureBundle } from './fixtures.ts';

describe('serve retries', () => {
  let service: Service;
  let store: Store;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir();
    await writeFixtureBundle(join(dir, 'markov'), 'markov');
    store = await openStore(`sqlite:${join(dir, 'retries.db')}`);
    service = await buildApp({ store, slot: new ModelSlot(dir), rateLimit: 0 });
    await service.swapModel();
  });
  afterAll(async () => {
    await service.app.close();
    await store.close();
  });

  const post = (body: unknown, key?: string, method: 'POST' | 'PUT' = 'POST') =>
    service.app.inject({ method, url: '/api/feedback', headers: { 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) }, payload: JSON.stringify(body) });

  it('writes a keyed batch once, however often it is retried, and answers each retry like the first', async () => {
    const batch = [
      { FeedbackType: 'click', UserId: 'retry-user', ItemId: 'a' },
      { FeedbackType: 'click', UserId: 'retry-user', ItemId: 'b' },
    ];
    const first = await post(batch, 'k-1');
    expect(first.statusCode).toBe(200);
    expect(JSON.parse(first.body)).toEqual({ RowAffected: 2 });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    for (let retry = 0; retry < 3; retry++) {
      const again = await post(batch, 'k-1');
      expect(again.statusCode).toBe(200);
      expect(JSON.parse(again.body)).toEqual({ RowAffected: 2 });
      expect(again.headers['idempotent-replayed']).toBe('true');
    }
    expect((await store.userFeedback('retry-user')).map((e) => e.item)).toEqual(['a', 'b']);
    // Concurrent retries (a client that gave up waiting and sent again): still one write.
    const racing = await Promise.all(Array.from({ length: 16 }, () => post([{ FeedbackType: 'click', UserId: 'race-user', ItemId: 'c' }], 'k-race')));
    expect(racing.map((r) => r.statusCode)).toEqual(new Array(16).fill(200));
    expect(racing.filter((r) => r.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
    expect(await store.userFeedback('race-user')).toHaveLength(1);
    // Without a key, a repeat is a new event (the log keeps repeated plays).
    await post([{ FeedbackType: 'click', UserId: 'nokey', ItemId: 'a' }]);
    await post([{ FeedbackType: 'click', UserId: 'nokey', ItemId: 'a' }]);
    expect(await store.userFeedback('nokey')).toHaveLength(2);
  });

  it('refuses a reused key with a different body (422) or mode, and a malformed key (400)', async () => {
    expect((await post([{ FeedbackType: 'click', UserId: 'u-422', ItemId: 'a' }], 'k-2')).statusCode).toBe(200);
    const other = await post([{ FeedbackType: 'click', UserId: 'u-422', ItemId: 'b' }], 'k-2');
    expect(other.statusCode).toBe(422);
    expect(JSON.parse(other.body)).toMatchObject({ error: 'Unprocessable Entity' });
    expect((await post([{ FeedbackType: 'click', UserId: 'u-422', ItemId: 'a' }], 'k-2', 'PUT')).statusCode).toBe(422);
    expect((await store.userFeedback('u-422')).map((e) => e.item)).toEqual(['a']);
    expect((await post([{ FeedbackType: 'click', UserId: 'u', ItemId: 'a' }], 'x'.repeat(257))).statusCode).toBe(400);
  });

  it('answers 503 with Retry-After, writing nothing, while the store cannot commit; readiness says so', async () => {
    const inner = await openStore(`sqlite:${join(dir, 'away.db')}`);
    let away = true;
    const unavailable = () => new StoreUnavailableError('database connection lost', 3);
    const flaky: Store = Object.create(inner) as Store;
    flaky.insertFeedback = (events, mode, key) => (away ? Promise.reject(unavailable()) : inner.insertFeedback(events, mode, key));
    flaky.ping = () => (away ? Promise.reject(unavailable()) : inner.ping());
    const svc = await buildApp({ store: flaky, slot: new ModelSlot(dir), rateLimit: 0 });
    try {
      await svc.swapModel();
      const res = await svc.app.inject({ method: 'POST', url: '/api/feedback', payload: [{ FeedbackType: 'click', UserId: 'u', ItemId: 'a' }] });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('3');
      expect(JSON.parse(res.body)).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      expect((await svc.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(503);
      expect(await inner.countFeedback()).toBe(0);
      away = false;
      expect((await svc.app.inject({ method: 'POST', url: '/api/feedback', payload: [{ FeedbackType: 'click', UserId: 'u', ItemId: 'a' }] })).statusCode).toBe(200);
      expect((await svc.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      expect(await inner.countFeedback()).toBe(1);
    } finally {
      await svc.app.close();
      await inner.close();
    }
  });
});
