/**
 * The in-memory history in front of the store (src/serve/history-cache.ts): every answer equals
 * the store's own answer for the same call, over random writes of every kind (the store itself is
 * the oracle), reads overlapping a write are never remembered, and the bounds hold.
 */
import { describe, expect, it } from 'vitest';
import { HistoryCache, withHistoryCache } from '../../src/serve/history-cache.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import type { FeedbackEvent, Store } from '../../src/serve/store.ts';
import { Rng } from '../../src/util/rng.ts';

const ev = (user: string, item: string, time: number, type = 'click'): FeedbackEvent => ({ type, user, item, value: 1, time });
const strip = (events: FeedbackEvent[]) => events.map(({ type, user, item, value, time }) => ({ type, user, item, value, time }));

describe('HistoryCache', () => {
  it('answers every userFeedback call as the store does, over random inserts, upserts and deletes', async () => {
    const inner = await SqliteStore.open(':memory:').ready();
    const cache = new HistoryCache(inner, { cap: 6, maxUsers: 3, maxEvents: 40 });
    const rng = new Rng(7);
    const users = ['u0', 'u1', 'u2', 'u3', 'u4'];
    const types = ['click', 'like', 'dislike'];
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.next() * xs.length)];
    try {
      for (let step = 0; step < 400; step++) {
        const r = rng.next();
        const user = pick(users);
        if (r < 0.35) {
          const batch = Array.from({ length: 1 + Math.floor(rng.next() * 3) }, () => ev(pick(users), `i${Math.floor(rng.next() * 8)}`, Math.floor(rng.next() * 50), pick(types)));
          await cache.insertFeedback(batch, rng.next() < 0.5 ? 'insert' : 'upsert');
        } else if (r < 0.4) {
          await cache.deleteFeedback({ user, item: `i${Math.floor(rng.next() * 8)}` });
        } else if (r < 0.42) {
          await cache.deleteUser(user);
        } else {
          const filter = rng.next() < 0.3 ? [pick(types)] : undefined;
          const limit = rng.next() < 0.5 ? 6 : 1 + Math.floor(rng.next() * 9);
          expect(strip(await cache.userFeedback(user, filter, limit)), `step ${step}: ${user} ${filter} ${limit}`).toEqual(strip(await inner.userFeedback(user, filter, limit)));
        }
      }
      expect(cache.stats.hits).toBeGreaterThan(30); // 42 with this seed: the memory path was exercised
      expect(cache.size).toBeLessThanOrEqual(3);
    } finally {
      await cache.close();
    }
  });

  it('as a Store: feedback calls go through the cache, every other call to the store itself', async () => {
    const inner = await SqliteStore.open(':memory:').ready();
    const { store, cache } = withHistoryCache(inner, { cap: 10 });
    try {
      expect(store.kind).toBe('sqlite');
      await store.insertFeedback([ev('u', 'a', 1)], 'insert');
      await store.userFeedback('u', undefined, 10);
      await store.userFeedback('u', undefined, 10);
      expect(cache.stats).toEqual({ hits: 1, misses: 1 });
      expect(await store.countFeedback()).toBe(1);
      await store.deleteUser('u');
      expect(await store.userFeedback('u')).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('reads a user once from the store while nothing is written, and again after a write to them', async () => {
    const inner = await SqliteStore.open(':memory:').ready();
    const cache = new HistoryCache(inner, { cap: 100 });
    try {
      await cache.insertFeedback([ev('u', 'a', 1), ev('v', 'b', 1)], 'insert');
      await cache.userFeedback('u', undefined, 100);
      await cache.userFeedback('u', undefined, 100);
      await cache.userFeedback('u', ['click'], 5); // complete entry: answered from memory too
      expect(cache.stats).toEqual({ hits: 2, misses: 1 });
      await cache.insertFeedback([ev('u', 'c', 2)], 'insert');
      expect((await cache.userFeedback('u', undefined, 100)).map((e) => e.item)).toEqual(['a', 'c']);
      expect(cache.stats.misses).toBe(2);
    } finally {
      await cache.close();
    }
  });

  it('does not remember a read that overlapped a write (it may predate the commit)', async () => {
    // A store whose reads wait for a signal, so a write can commit while a read is in flight.
    const inner = await SqliteStore.open(':memory:').ready();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const slow: Store = Object.create(inner, {
      userFeedback: {
        value: async (user: string, types?: readonly string[], limit?: number) => {
          const events = await inner.userFeedback(user, types, limit);
          await gate;
          return events;
        },
      },
    });
    const cache = new HistoryCache(slow, { cap: 100 });
    try {
      const read = cache.userFeedback('u', undefined, 100); // sees the empty history
      await new Promise((r) => setTimeout(r, 20));
      await cache.insertFeedback([ev('u', 'a', 1)], 'insert');
      release();
      expect(await read).toEqual([]);
      // Had the stale empty answer been kept, this would be [] too.
      expect((await cache.userFeedback('u', undefined, 100)).map((e) => e.item)).toEqual(['a']);
    } finally {
      await cache.close();
    }
  });
});
