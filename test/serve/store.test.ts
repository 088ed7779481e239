/**
 * Store adapter semantics, identical for SQLite and PostgreSQL (the latter when
 * RECLAB_TEST_PG_URL is set): event log vs upsert, time order and limits, cursors, item
 * revisions with tombstones, cascading user deletion, and group commit of concurrent writes.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import pg from 'pg';
import type { FeedbackEvent, Store } from '../../src/serve/store.ts';
import { openStore } from '../../src/serve/store.ts';
import { tempDir } from './fixtures.ts';

const ev = (user: string, item: string, time: number, type = 'click', value = 1): FeedbackEvent => ({ type, user, item, value, time });
const item = (id: string, time = 0) => ({ id, hidden: false, categories: ['c'], labels: [], time, comment: '' });

function storeSuite(open: () => Promise<Store>): void {
  it('appends on insert, updates the latest matching event on upsert', async () => {
    const s = await open();
    try {
      expect(await s.insertFeedback([ev('u', 'a', 10), ev('u', 'a', 20), ev('u', 'b', 15)], 'insert')).toBe(3);
      expect(await s.countFeedback()).toBe(3);
      // Upsert of (click, u, a): the later of the two a-events gets value 5, time 30; (like, u, a) is new.
      await s.insertFeedback([ev('u', 'a', 30, 'click', 5), ev('u', 'a', 5, 'like')], 'upsert');
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
      // Feedback creates its user; deleting the user deletes their feedback.
      expect(await s.getUser('u')).toEqual({ id: 'u', labels: [], comment: '' });
      expect(await s.deleteUser('u')).toBe(true);
      expect(await s.countFeedback()).toBe(0);
      expect(await s.deleteUser('u')).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('commits concurrent writes of one turn together and acknowledges each', async () => {
    const s = await open();
    try {
      const writes = Array.from({ length: 50 }, (_, k) => s.insertFeedback([ev(`u${k % 5}`, `i${k}`, k), ev(`u${k % 5}`, `j${k}`, k)], 'insert'));
      expect(await Promise.all(writes)).toEqual(new Array(50).fill(2));
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
