/**
 * Store adapter semantics, identical for SQLite and PostgreSQL (the latter when
 * RECLAB_TEST_PG_URL is set): event log vs upsert, time order and limits, cursors, item
 * revisions with tombstones, cascading user deletion, group commit of concurrent writes,
 * idempotency keys, popularity counters against an oracle, and the write-probe ping.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import type { FeedbackEvent, FeedbackWrite, Store, WriteMode } from '../../src/serve/store.ts';
import { IdempotencyConflictError, openStore } from '../../src/serve/store.ts';
import { Rng } from '../../src/util/rng.ts';
import { tempDir } from './fixtures.ts';

const ev = (user: string, item: string, time: number, type = 'click', value = 1): FeedbackEvent => ({ type, user, item, value, time });
const item = (id: string, time = 0) => ({ id, hidden: false, categories: ['c'], labels: [], time, comment: '' });
const written = (rows: number): FeedbackWrite => ({ rows, replayed: false });
const replayed = (rows: number): FeedbackWrite => ({ rows, replayed: true });
const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

/**
 * The event log kept in plain JavaScript with the documented semantics (insert appends; upsert
 * changes the latest (type, user, item) event or appends; deleting a user drops their events):
 * the oracle the stores' popularity counters are checked against.
 */
class EventLogOracle {
  events: FeedbackEvent[] = [];
  /** Upserted events that replaced an existing one, and events dropped with their user. */
  updated = 0;
  dropped = 0;
  write(batch: readonly FeedbackEvent[], mode: WriteMode): void {
    for (const e of batch) {
      const k = mode === 'upsert' ? this.events.findLastIndex((x) => x.type === e.type && x.user === e.user && x.item === e.item) : -1;
      if (k >= 0) {
        this.events[k] = { ...this.events[k], value: e.value, time: e.time };
        this.updated++;
      } else this.events.push(e);
    }
  }
  deleteUser(user: string): void {
    const kept = this.events.filter((e) => e.user !== user);
    this.dropped += this.events.length - kept.length;
    this.events = kept;
  }
  counts(types?: readonly string[], since = -Infinity): Record<string, number> {
    const out = new Map<string, number>();
    for (const e of this.events) if ((!types || types.includes(e.type)) && e.time >= since) out.set(e.item, (out.get(e.item) ?? 0) + 1);
    return sorted(out);
  }
}

function storeSuite(open: () => Promise<Store>): void {
  it('appends on insert, updates the latest matching event on upsert', async () => {
    const s = await open();
    try {
      expect(await s.insertFeedback([ev('u', 'a', 10), ev('u', 'a', 20), ev('u', 'b', 15)], 'insert')).toEqual(written(3));
      expect(await s.countFeedback()).toBe(3);
      // Upsert of (click, u, a): the later of the two a-events gets value 5, time 30; (like, u, a) is new.
      expect(await s.insertFeedback([ev('u', 'a', 30, 'click', 5), ev('u', 'a', 5, 'like')], 'upsert')).toEqual(written(2));
      expect(await s.countFeedback()).toBe(4);
      const all = await s.userFeedback('u');
      expect(all.map((e) => [e.item, e.time, e.type, e.value])).toEqual([
        ['a', 5, 'like', 1],
        ['a', 10, 'click', 1],
        ['b', 15, 'click', 1],
        ['a', 30, 'click', 5],
      ]);
      // The 2 newest, still oldest first; type filter.
      expect((await s.userFeedback('u', undefined, 2)).map((e) => e.time)).toEqual([15, 30]);
      expect((await s.userFeedback('u', ['like'])).map((e) => e.time)).toEqual([5]);
      expect(Object.fromEntries(await s.itemCounts())).toEqual({ a: 3, b: 1 });
      expect(Object.fromEntries(await s.itemCounts(['click'], 12))).toEqual({ a: 1, b: 1 });
      expect(Object.fromEntries(await s.itemCounts(['like']))).toEqual({ a: 1 });
      // Feedback creates its user; deleting the user deletes their feedback (and their counts).
      expect(await s.getUser('u')).toEqual({ id: 'u', labels: [], comment: '' });
      expect(await s.deleteUser('u')).toBe(true);
      expect(await s.countFeedback()).toBe(0);
      expect(await s.itemCounts()).toEqual(new Map());
      expect(await s.deleteUser('u')).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('commits concurrent writes of one turn together and acknowledges each', async () => {
    const s = await open();
    try {
      const writes = Array.from({ length: 50 }, (_, k) => s.insertFeedback([ev(`u${k % 5}`, `i${k}`, k), ev(`u${k % 5}`, `j${k}`, k)], 'insert'));
      expect(await Promise.all(writes)).toEqual(new Array(50).fill(written(2)));
      expect(await s.countFeedback()).toBe(100);
      expect((await s.userFeedback('u3')).length).toBe(20);
    } finally {
      await s.close();
    }
  });

  it('pages users by cursor and tracks item revisions with tombstones', async () => {
    const s = await open();
    try {
      await s.upsertUsers(['b', 'a', 'd', 'c', 'e'].map((id) => ({ id, labels: ['x'], comment: id })));
      const p1 = await s.listUsers('', 2);
      expect(p1.rows.map((u) => u.id)).toEqual(['a', 'b']);
      const p2 = await s.listUsers(p1.cursor, 2);
      expect(p2.rows.map((u) => u.id)).toEqual(['c', 'd']);
      const p3 = await s.listUsers(p2.cursor, 2);
      expect(p3).toEqual({ rows: [{ id: 'e', labels: ['x'], comment: 'e' }], cursor: '' });

      await s.upsertItems([item('x'), item('y')]);
      expect(await s.insertMissingItems([item('y', 99), item('z')])).toBe(1); // y kept as it was
      expect((await s.getItem('y'))?.time).toBe(0);
      const changes = await s.itemsChangedSince(0);
      expect(changes.map((c) => c.item.id)).toEqual(['x', 'y', 'z']);
      const rev = changes[changes.length - 1].rev;
      expect(await s.deleteItem('x')).toBe(true);
      expect(await s.deleteItem('x')).toBe(false);
      expect(await s.getItem('x')).toBeUndefined();
      const later = await s.itemsChangedSince(rev);
      expect(later.map((c) => [c.item.id, c.deleted])).toEqual([['x', true]]);
      expect((await s.listItems('', 10)).rows.map((i) => i.id)).toEqual(['y', 'z']);
      // Re-creating a deleted item brings it back.
      await s.upsertItems([{ ...item('x'), hidden: true }]);
      expect((await s.getItem('x'))?.hidden).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('replays a committed idempotency key without writing, and refuses it with another request', async () => {
    const s = await open();
    try {
      const k1 = { key: 'k1', fingerprint: 'body-1' };
      expect(await s.insertFeedback([ev('u', 'a', 1), ev('u', 'b', 2)], 'insert', k1)).toEqual(written(2));
      // The retry gets the first write's answer (2 rows, whatever this call carries) and writes nothing.
      expect(await s.insertFeedback([ev('u', 'a', 1), ev('u', 'b', 2)], 'insert', k1)).toEqual(replayed(2));
      expect(await s.insertFeedback([], 'insert', k1)).toEqual(replayed(2));
      expect(await s.countFeedback()).toBe(2);
      // The same key with another request: refused, nothing written.
      const conflict = await s.insertFeedback([ev('u', 'c', 3)], 'insert', { key: 'k1', fingerprint: 'body-2' }).catch((e: unknown) => e);
      expect(conflict).toBeInstanceOf(IdempotencyConflictError);
      expect((conflict as IdempotencyConflictError).statusCode).toBe(422);
      expect(await s.countFeedback()).toBe(2);
      // Another key writes; an upsert with a key is replayed the same way.
      expect(await s.insertFeedback([ev('u', 'c', 3)], 'insert', { key: 'k2', fingerprint: 'body-2' })).toEqual(written(1));
      expect(await s.insertFeedback([ev('u', 'c', 9, 'click', 7)], 'upsert', { key: 'k3', fingerprint: 'body-3' })).toEqual(written(1));
      expect(await s.insertFeedback([ev('u', 'c', 9, 'click', 7)], 'upsert', { key: 'k3', fingerprint: 'body-3' })).toEqual(replayed(1));
      expect((await s.userFeedback('u')).map((e) => [e.item, e.time, e.value])).toEqual([
        ['a', 1, 1],
        ['b', 2, 1],
        ['c', 9, 7],
      ]);
      // Writes without a key are never deduplicated.
      await s.insertFeedback([ev('u', 'a', 1)], 'insert');
      await s.insertFeedback([ev('u', 'a', 1)], 'insert');
      expect(await s.countFeedback()).toBe(5);
    } finally {
      await s.close();
    }
  });

  it('writes a key once when the same key arrives twice together, and 16 times at once', async () => {
    const s = await open();
    try {
      const k = { key: 'twice', fingerprint: 'f' };
      const two = await Promise.all([s.insertFeedback([ev('u', 'a', 1), ev('u', 'b', 1), ev('u', 'c', 1)], 'insert', k), s.insertFeedback([ev('u', 'a', 1), ev('u', 'b', 1), ev('u', 'c', 1)], 'insert', k)]);
      expect(two.map((w) => w.replayed).sort()).toEqual([false, true]);
      expect(two.map((w) => w.rows)).toEqual([3, 3]);
      expect(await s.countFeedback()).toBe(3);

      const body = [ev('v', 'x', 5), ev('v', 'y', 6)];
      const many = await Promise.all(Array.from({ length: 16 }, () => s.insertFeedback(body, 'insert', { key: 'sixteen', fingerprint: 'g' })));
      expect(many.filter((w) => !w.replayed).length).toBe(1);
      expect(many.every((w) => w.rows === 2)).toBe(true);
      expect((await s.userFeedback('v')).length).toBe(2);
      // Mixed: the same key with two bodies at once — one writes, the other is refused.
      const mixed = await Promise.allSettled([s.insertFeedback([ev('w', 'p', 1)], 'insert', { key: 'mixed', fingerprint: 'h1' }), s.insertFeedback([ev('w', 'q', 1)], 'insert', { key: 'mixed', fingerprint: 'h2' })]);
      expect(mixed.filter((r) => r.status === 'fulfilled').length).toBe(1);
      expect(mixed.filter((r) => r.status === 'rejected' && r.reason instanceof IdempotencyConflictError).length).toBe(1);
      expect((await s.userFeedback('w')).length).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('keeps itemCounts equal to the event log over a random mix of inserts, upserts and user deletions', async () => {
    const s = await open();
    const oracle = new EventLogOracle();
    const rng = new Rng(1515);
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
    const users = Array.from({ length: 10 }, (_, k) => `u${k}`);
    const items = Array.from({ length: 12 }, (_, k) => `i${k}`);
    const types = ['click', 'like', 'read'];
    const check = async () => {
      for (const t of [undefined, ['click'], ['click', 'like'], ['read']]) {
        expect(sorted(await s.itemCounts(t))).toEqual(oracle.counts(t));
        expect(sorted(await s.itemCounts(t, -Infinity))).toEqual(oracle.counts(t));
      }
      expect(sorted(await s.itemCounts(['click'], 40))).toEqual(oracle.counts(['click'], 40));
      expect(await s.countFeedback()).toBe(oracle.events.length);
    };
    try {
      let time = 0;
      for (let round = 0; round < 60; round++) {
        if (rng.int(6) === 0) {
          const u = pick(users);
          oracle.deleteUser(u);
          await s.deleteUser(u);
        } else {
          // Concurrent writes (one group commit on SQLite) touch distinct users, so their order does not matter.
          const writers = rng.shuffle([...users]).slice(0, 1 + rng.int(4));
          const writes = writers.map((u) => {
            const mode: WriteMode = rng.int(2) === 0 ? 'insert' : 'upsert';
            const batch = Array.from({ length: 1 + rng.int(5) }, () => ev(u, pick(items), time++ % 80, pick(types), 1 + rng.int(3)));
            oracle.write(batch, mode);
            return s.insertFeedback(batch, mode);
          });
          await Promise.all(writes);
        }
        if (round % 15 === 14) await check();
      }
      // The mix did what it is for: upserts replaced events, deletions dropped some.
      expect(oracle.events.length).toBeGreaterThan(50);
      expect(oracle.updated).toBeGreaterThan(5);
      expect(oracle.dropped).toBeGreaterThan(5);
      await check();
    } finally {
      await s.close();
    }
  });

  it('lists the feedback log by filter and cursor in arrival order, and deletes a pair with its counts', async () => {
    const s = await open();
    try {
      await s.insertFeedback([ev('u', 'a', 30), ev('u', 'a', 10, 'like'), ev('v', 'a', 20), ev('u', 'b', 5)], 'insert');
      const all = await s.listFeedback({}, '', 3);
      // Arrival order, not time order; a full page has a cursor, the last one none.
      expect(all.rows.map((e) => `${e.user}/${e.item}/${e.type}`)).toEqual(['u/a/click', 'u/a/like', 'v/a/click']);
      expect(all.rows.every((e, k) => k === 0 || e.seq! > all.rows[k - 1].seq!)).toBe(true);
      const rest = await s.listFeedback({}, all.cursor, 3);
      expect(rest).toEqual({ rows: [expect.objectContaining({ user: 'u', item: 'b', time: 5 })], cursor: '' });
      expect((await s.listFeedback({ item: 'a', type: 'click' }, '', 10)).rows.map((e) => e.user)).toEqual(['u', 'v']);
      expect((await s.listFeedback({ user: 'u', item: 'a' }, '', 10)).rows.map((e) => e.type)).toEqual(['click', 'like']);
      // Deleting (click, u, a) leaves the like; the counters follow (a: 3 → 2).
      expect(await s.deleteFeedback({ type: 'click', user: 'u', item: 'a' })).toBe(1);
      expect(await s.deleteFeedback({ type: 'click', user: 'u', item: 'a' })).toBe(0);
      expect(Object.fromEntries(await s.itemCounts())).toEqual({ a: 2, b: 1 });
      expect(await s.deleteFeedback({ user: 'u', item: 'a' })).toBe(1);
      expect(Object.fromEntries(await s.itemCounts())).toEqual({ a: 1, b: 1 });
      expect(await s.countFeedback()).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('ping resolves on a healthy store', async () => {
    const s = await open();
    try {
      await s.ping();
      await s.ping();
      // The probe row is no feedback.
      expect(await s.countFeedback()).toBe(0);
    } finally {
      await s.close();
    }
  });
}

describe('SQLite store', () => {
  storeSuite(() => openStore(`sqlite:${join(tempDir(), 'store.db')}`));
});

const url = process.env.RECLAB_TEST_PG_URL;
describe.skipIf(!url)('PostgreSQL store', () => {
  let k = 0;
  storeSuite(async () => {
    const name = `reclab_store_${process.pid}_${Date.now()}_${k++}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(url!);
    u.pathname = `/${name}`;
    return openStore(u.toString());
  });
});
