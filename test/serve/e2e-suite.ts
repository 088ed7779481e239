/**
 * The end-to-end scenario of the service, run over any store URL (SQLite and PostgreSQL):
 * start on a trained model, post feedback for a new user, see recommendations follow it,
 * restart, find the feedback still there. Expected lists are worked out by hand from the
 * fixture's transition counts (fixtures.ts).
 */
import { expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/serve/server.ts';
import { tempDir, writeFixtureBundle } from './fixtures.ts';

interface Ranked {
  Strategy: string;
  Model: { Name: string; Version: string } | null;
  Items: { ItemId: string; Score: number }[];
}

async function call(server: RunningServer, method: string, path: string, body?: unknown, key = 'k3y'): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** Ids of a reclab-shaped answer (the tests ask for it with ?format=reclab to see strategy and model). */
const ids = (r: unknown) => (r as Ranked).Items.map((i) => i.ItemId);

/** Registers the scenario's tests; `db()` gives a fresh store URL for each run. */
export function endToEndSuite(db: () => Promise<string>): void {
  it('serves feedback-driven recommendations that survive a restart', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'models'));
    await writeFixtureBundle(join(root, 'models', 'markov'), 'markov');
    const url = await db();
    const options = { models: join(root, 'models'), db: url, port: 0, host: '127.0.0.1', apiKey: 'k3y', rateLimit: 0 };
    let server = await startServer(options);
    try {
      // The API key is required on /api, not on health.
      expect((await call(server, 'GET', '/api/popular?format=reclab', undefined, 'wrong')).status).toBe(401);
      expect((await call(server, 'GET', '/health/live', undefined, '')).status).toBe(200);

      // A cold user gets popular items: a 4, b 3, c 3, d 2, e 2, f 1 (ties by id).
      const cold = await call(server, 'GET', '/api/recommend/newbie?n=3&format=reclab');
      expect(cold.status).toBe(200);
      expect((cold.json as Ranked).Strategy).toBe('popular');
      expect(ids(cold.json)).toEqual(['a', 'b', 'c']);

      // One click on c: transitions c→d ×2, c→e ×1, so d then e; c itself is excluded.
      const t0 = Date.parse('2024-01-01T00:00:00Z');
      const post = await call(server, 'POST', '/api/feedback', [
        { FeedbackType: 'click', UserId: 'newbie', ItemId: 'c', Timestamp: new Date(t0).toISOString() },
      ]);
      expect(post).toEqual({ status: 200, json: { RowAffected: 1 } });
      const warm = (await call(server, 'GET', '/api/recommend/newbie?n=2&format=reclab')).json as Ranked;
      expect(warm.Strategy).toBe('model');
      expect(warm.Model?.Name).toBe('test-markov');
      expect(warm.Items).toEqual([
        { ItemId: 'd', Score: 2 },
        { ItemId: 'e', Score: 1 },
      ]);

      // Then d: only d→e ×1; c and d are seen. Category "odd" (a, c, e): e, then a (score 0).
      await call(server, 'POST', '/api/feedback', [{ FeedbackType: 'click', UserId: 'newbie', ItemId: 'd', Timestamp: new Date(t0 + 1000).toISOString() }]);
      expect(ids((await call(server, 'GET', '/api/recommend/newbie?n=1&format=reclab')).json)).toEqual(['e']);
      expect(ids((await call(server, 'GET', '/api/recommend/newbie?n=2&category=odd&format=reclab')).json)).toEqual(['e', 'a']);
      // offset pages through the same ranking; exclude drops listed ids; seen=true allows history.
      expect(ids((await call(server, 'GET', '/api/recommend/newbie?n=2&offset=1&format=reclab')).json)).toEqual(['a', 'b']);
      expect(ids((await call(server, 'GET', '/api/recommend/newbie?n=2&exclude=e,a&format=reclab')).json)).toEqual(['b', 'f']);
      expect(ids((await call(server, 'GET', '/api/recommend/newbie?n=6&seen=true&format=reclab')).json)).toContain('d');

      // A known training user (u4: c d e) ends in e: e→f.
      expect(ids((await call(server, 'GET', '/api/recommend/u4?n=1&format=reclab')).json)).toEqual(['f']);

      // Hiding e removes it everywhere.
      expect((await call(server, 'PATCH', '/api/item/e', { IsHidden: true })).status).toBe(200);
      expect(ids((await call(server, 'GET', '/api/recommend/newbie?n=1&format=reclab')).json)).toEqual(['a']);
      expect(ids((await call(server, 'GET', '/api/popular?n=6&format=reclab')).json)).not.toContain('e');

      // Session: an anonymous b → c (2), a (1); neighbors of a: b (3).
      const session = (await call(server, 'POST', '/api/session/recommend?n=2&format=reclab', [{ ItemId: 'b' }])).json as Ranked;
      expect(session.Items).toEqual([
        { ItemId: 'c', Score: 2 },
        { ItemId: 'a', Score: 1 },
      ]);
      expect(ids((await call(server, 'GET', '/api/item/a/neighbors?n=1&format=reclab')).json)).toEqual(['b']);
      // An item the model does not know has no neighbours (Gorse: an empty list, not a 404).
      expect((await call(server, 'GET', '/api/item/zzz/neighbors')).json).toEqual([]);
    } finally {
      await server.stop();
    }

    // Restart on the same store: the feedback and the hidden flag are still there.
    server = await startServer(options);
    try {
      const fb = (await call(server, 'GET', '/api/user/newbie/feedback')).json as { ItemId: string; Timestamp: string }[];
      expect(fb.map((f) => f.ItemId)).toEqual(['c', 'd']);
      expect(fb[0].Timestamp).toBe('2024-01-01T00:00:00.000Z');
      expect(ids((await call(server, 'GET', '/api/recommend/newbie?n=1&format=reclab')).json)).toEqual(['a']);
      expect(((await call(server, 'GET', '/api/item/e')).json as { IsHidden: boolean }).IsHidden).toBe(true);
      expect((await call(server, 'GET', '/api/user/newbie')).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('swaps the served model atomically: no failed request, every answer names its model', async () => {
    const root = tempDir();
    await writeFixtureBundle(join(root, 'markov'), 'markov');
    await writeFixtureBundle(join(root, 'pop'), 'pop');
    const server = await startServer({ models: root, model: 'markov', db: await db(), port: 0, host: '127.0.0.1', rateLimit: 0 });
    try {
      await call(server, 'POST', '/api/feedback', [{ FeedbackType: 'click', UserId: 'x', ItemId: 'c' }]);
      const seen = new Map<string, string[]>();
      let failures = 0;
      let stop = false;
      const hammer = async () => {
        while (!stop) {
          const r = await call(server, 'GET', '/api/recommend/x?n=2&format=reclab');
          if (r.status !== 200) failures++;
          else seen.set((r.json as Ranked).Model!.Name, ids(r.json));
        }
      };
      const load = [hammer(), hammer(), hammer(), hammer()];
      for (const name of ['pop', 'markov', 'pop']) {
        const swapped = await call(server, 'PUT', '/api/model', { Name: name });
        expect(swapped.status).toBe(200);
        expect((swapped.json as { Name: string }).Name).toBe(name === 'pop' ? 'pop' : 'test-markov');
      }
      stop = true;
      await Promise.all(load);
      expect(failures).toBe(0);
      // Markov after c: d, e. Pop (counts a4 b3 c3 d2): a, b.
      expect(seen.get('test-markov')).toEqual(['d', 'e']);
      expect(seen.get('pop')).toEqual(['a', 'b']);
      // A bad name is a 400 and the current model keeps serving.
      expect((await call(server, 'PUT', '/api/model', { Name: 'nope' })).status).toBe(400);
      expect(((await call(server, 'GET', '/api/model')).json as { Name: string }).Name).toBe('pop');
    } finally {
      await server.stop();
    }
  });
}
