/**
 * Fold-in for known users (issue 17, must-show 5): serving iALS or BPR, feedback posted for a user
 * the model was trained on changes that user's next list — without a retrain.
 *
 * Two cases per model:
 *   - iALS with hand-set factors (d = 2), where the new vector is worked out by hand below;
 *   - iALS and BPR fitted on two disjoint communities, where a user of community A who posts
 *     feedback on most of community B gets B's remaining item first.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { IdMap, type Interactions } from '../../src/data/types.ts';
import { fromSequences } from '../../src/data/interactions.ts';
import type { Recommender } from '../../src/models/recommender.ts';
import { Ials } from '../../src/models/ials.ts';
import { Bpr } from '../../src/models/bpr.ts';
import { saveBundle } from '../../src/serve/bundle.ts';
import { buildApp, type Service } from '../../src/serve/app.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import { ModelSlot } from '../../src/serve/slot.ts';
import { tempDir } from './fixtures.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Served {
  service: Service;
  store: SqliteStore;
  recommend(user: string, n: number): Promise<{ ItemId: string; Score: number }[]>;
  feedback(user: string, items: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Saves `model` (already fitted on `history`) as a bundle and serves it over a fresh SQLite store. */
async function serve(model: Recommender, users: string[], items: string[], history: Interactions): Promise<Served> {
  const root = tempDir('reclab-foldin-');
  dirs.push(root);
  const dir = join(root, model.name);
  await model.save(dir);
  await saveBundle(dir, { name: 'foldin', fingerprint: 'foldin', userIds: IdMap.fromRaw(users), itemIds: IdMap.fromRaw(items), history });
  const store = SqliteStore.open(join(root, 'serve.db'));
  const service = await buildApp({ store, slot: new ModelSlot(root), rateLimit: 0, engine: { cacheSize: 0 } });
  await service.swapModel();
  let t = Date.parse('2030-01-01T00:00:00Z');
  return {
    service,
    store,
    async recommend(user, n) {
      const res = await service.app.inject({ method: 'GET', url: `/api/recommend/${user}?n=${n}&format=reclab` });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { Strategy: string; Items: { ItemId: string; Score: number }[] };
      expect(body.Strategy).toBe('model');
      return body.Items;
    },
    async feedback(user, posted) {
      const payload = posted.map((item) => ({ FeedbackType: 'click', UserId: user, ItemId: item, Timestamp: new Date((t += 1000)).toISOString() }));
      const res = await service.app.inject({ method: 'POST', url: '/api/feedback', payload });
      expect(res.statusCode).toBe(200);
    },
    async close() {
      await service.app.close();
      await store.close();
    },
  };
}

describe('serving: feedback for a user known at training changes their next list', () => {
  it('iALS, hand-set factors: the next list ranks by the closed-form solve of the new history', async () => {
    // Items a, b, c lie on the first axis, d, e, f, g on the second (d = 2). With α₀ = 0, ν = 0,
    // α = 0 the user's normal equations are (Σ_{i∈S} q_i q_iᵀ + λ I) p = Σ_{i∈S} q_i, λ = 0.1.
    const items = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const q = [1, 0, 0.9, 0.1, 0.8, 0, 0, 1, 0.1, 0.9, 0, 0.7, 0.05, 1];
    const users = ['u1', 'u2', 'u3'];
    const history = fromSequences([[0, 1], [2, 3], [4, 5, 6]], items.length);
    const m = new Ials({ dim: 2, epochs: 1, reg: 0.1, alpha0: 0, alpha: 0, nu: 0 });
    await m.fit(history, { seed: 1, progress: false });
    m.items.set(q);
    m.users.set([1, 0], 0); // u1's trained row p = (1, 0)
    const s = await serve(m, users, items, history);
    try {
      // Before: u1 has seen a, b; scores p·q: c 0.8, e 0.1, g 0.05, d 0, f 0.
      const before = await s.recommend('u1', 3);
      expect(before.map((r) => r.ItemId)).toEqual(['c', 'e', 'g']);
      expect(before.map((r) => r.Score)).toEqual([0.8, 0.1, 0.05].map(Math.fround));
      const other = await s.recommend('u2', 5);

      await s.feedback('u1', ['d', 'e']);
      // After: S = {a, b, d, e}. Σ q qᵀ = [[1.82, 0.18], [0.18, 1.82]], plus 0.1 I = [[1.92, 0.18], [0.18, 1.92]];
      // Σ q = (2, 2); so p = (x, x) with 2.1 x = 2, x = 0.952381. Unseen items: g = 1.05 x = 1.0,
      // c = 0.8 x = 0.761905, f = 0.7 x = 0.666667 — g, a second-axis item, moves from third to first.
      const after = await s.recommend('u1', 3);
      expect(after.map((r) => r.ItemId)).toEqual(['g', 'c', 'f']);
      const x = 2 / 2.1;
      [1.05 * x, 0.8 * x, 0.7 * x].forEach((want, k) => expect(after[k].Score).toBeCloseTo(want, 5));
      // Another known user's list is untouched.
      expect(await s.recommend('u2', 5)).toEqual(other);
    } finally {
      await s.close();
    }
  });

  // Users 0..19 use items 0..4 (community A), users 20..39 items 5..9 (community B); each user
  // misses one item of their community. User 0 (missing item 0) has seen 1, 2, 3, 4.
  const communities = Array.from({ length: 40 }, (_, u) => {
    const base = u < 20 ? 0 : 5;
    return [0, 1, 2, 3, 4].filter((k) => k !== u % 5).map((k) => base + k);
  });
  const cUsers = communities.map((_, u) => `user${u}`);
  const cItems = Array.from({ length: 10 }, (_, i) => `item${i}`);

  const fitted: [string, () => Recommender][] = [
    ['iALS', () => new Ials({ dim: 8, epochs: 10, reg: 0.01 })],
    ['BPR', () => new Bpr({ dim: 8, epochs: 60, lr: 0.1, reg: 0.001 })],
  ];
  for (const [label, make] of fitted) {
    it(`${label}, fitted on two communities: after feedback on four of B's items, B's fifth comes first`, async () => {
      const history = fromSequences(communities, 10);
      const m = make();
      await m.fit(history, { seed: 3, progress: false });
      const s = await serve(m, cUsers, cItems, history);
      try {
        // Before: user0's own community's missing item leads (the model learned the communities).
        const before = await s.recommend('user0', 6);
        expect(before[0].ItemId).toBe('item0');
        const other = await s.recommend('user1', 6);

        await s.feedback('user0', ['item5', 'item6', 'item7', 'item8']);
        // After: user0's history is {1, 2, 3, 4} ∪ {5, 6, 7, 8}; the unseen items are item0 (A) and
        // item9 (B). Half the history is now B, and B's items are what the new events share, so
        // the re-fitted vector must rank item9 first; an unchanged vector would keep item0 first.
        const after = await s.recommend('user0', 6);
        expect(after.map((r) => r.ItemId)).toEqual(['item9', 'item0']);
        expect(await s.recommend('user1', 6)).toEqual(other);
      } finally {
        await s.close();
      }
    });
  }
});
