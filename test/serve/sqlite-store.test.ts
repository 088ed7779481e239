/**
 * The SQLite store's own faults (issue 15), beyond the store-agnostic suite in store.test.ts:
 * the connection lives on a worker thread (the event loop runs while a query does; a dead worker
 * fails its requests and is replaced), errors that mean "not now" become StoreUnavailableError,
 * a failed group commit fails its whole batch, two connections writing at once never see
 * SQLITE_BUSY, schema version 1 files migrate, and idempotency keys expire.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { IDEMPOTENCY_TTL_S, IdempotencyConflictError, StoreUnavailableError, type FeedbackEvent } from '../../src/serve/store.ts';
import { SqliteStore } from '../../src/serve/store-sqlite.ts';
import { tempDir } from './fixtures.ts';

const ev = (user: string, item: string, time: number, type = 'click', value = 1): FeedbackEvent => ({ type, user, item, value, time });
const item = (id: string) => ({ id, hidden: false, categories: [], labels: [], time: 0, comment: '' });
const failure = (p: Promise<unknown>): Promise<unknown> => p.then(
  () => 'resolved',
  (e: unknown) => e,
);
/** A read that takes the worker a while: counting `n` rows of a recursive CTE. */
const countTo = (n: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT count(*) AS n FROM c`;
/**
 * Keeps the worker busy for a moment, so that the requests sent right after queue up and are
 * committed as one group (otherwise the worker may commit the first before the next arrives).
 */
const hold = (s: SqliteStore) => s.debug({ query: countTo(1_000_000) });

/** The layout of schema version 1, as reclab 0.1.0 created it (written out here, not imported). */
const V1_DDL = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE feedback (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, user_id TEXT NOT NULL, item_id TEXT NOT NULL, value REAL NOT NULL, time REAL NOT NULL);
CREATE INDEX feedback_user ON feedback(user_id, time, seq);
CREATE INDEX feedback_key ON feedback(user_id, item_id, type);
CREATE TABLE users (id TEXT PRIMARY KEY, labels TEXT NOT NULL, comment TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE items (id TEXT PRIMARY KEY, hidden INTEGER NOT NULL, categories TEXT NOT NULL, labels TEXT NOT NULL, time REAL NOT NULL, comment TEXT NOT NULL, rev INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
CREATE INDEX items_rev ON items(rev);
`;

/** Writes a version-1 file by hand: 5 events (a: 4, b: 1; clicks a: 3, b: 1), 2 users, 2 items at revisions 1 and 2. */
function writeV1File(path: string, schema = 1): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(V1_DDL);
  db.prepare(`INSERT INTO meta(key, value) VALUES ('schema', ?), ('item_rev', 2)`).run(schema);
  const put = db.prepare('INSERT INTO feedback(type, user_id, item_id, value, time) VALUES (?, ?, ?, 1, ?)');
  for (const [type, user, it, time] of [
    ['click', 'u1', 'a', 1],
    ['click', 'u1', 'a', 2],
    ['like', 'u1', 'a', 3],
    ['click', 'u2', 'b', 4],
    ['click', 'u2', 'a', 5],
  ] as const) {
    put.run(type, user, it, time);
  }
  db.exec(`INSERT INTO users VALUES ('u1', '[]', ''), ('u2', '[]', '')`);
  db.exec(`INSERT INTO items VALUES ('a', 0, '[]', '[]', 0, '', 1, 0), ('b', 0, '[]', '[]', 0, '', 2, 0)`);
  db.close();
}

describe('SQLite store: worker thread', () => {
  it('keeps the event loop running while the worker runs a long query', async () => {
    const s = await SqliteStore.open(join(tempDir(), 'loop.db')).ready();
    try {
      const order: string[] = [];
      const query = s.debug({ query: countTo(5_000_000) }).then((rows) => {
        order.push('query');
        return rows;
      });
      // On the old, synchronous store the query ran on this thread: the timer fired after it.
      await new Promise((r) => setTimeout(r, 0));
      order.push('timer');
      // Other requests are queued behind it, not lost.
      const count = s.countFeedback().then((n) => {
        order.push('count');
        return n;
      });
      expect(await query).toEqual([{ n: 5_000_000 }]);
      expect(await count).toBe(0);
      expect(order).toEqual(['timer', 'query', 'count']);
    } finally {
      await s.close();
    }
  });

  it('rejects the requests in flight when the worker dies, then serves from a new worker', async () => {
    // A short busy timeout: a write lock left behind by the dead thread would fail the test, not stall it.
    const s = await SqliteStore.open(join(tempDir(), 'crash.db'), { busyTimeoutMs: 2000 }).ready();
    try {
      expect(await s.insertFeedback([ev('u', 'a', 1)], 'insert')).toEqual({ rows: 1, replayed: false });
      // The worker dies in the middle of a write transaction.
      await s.debug({ exec: `BEGIN IMMEDIATE; INSERT INTO feedback(type, user_id, item_id, value, time) VALUES ('click', 'u', 'half', 1, 9)` });
      const crash = failure(s.debug({ crash: true }));
      // Sent after the crash request: the worker is gone before it reads it.
      const inflight = failure(s.userFeedback('u'));
      for (const e of [await crash, await inflight]) {
        expect(e).toBeInstanceOf(StoreUnavailableError);
        expect((e as StoreUnavailableError).retryAfter).toBeGreaterThan(0);
      }
      // A new worker opens the file: the committed event is there, the uncommitted one is not,
      // and writes work (the dead connection's lock went with it).
      expect((await s.userFeedback('u')).map((e) => e.item)).toEqual(['a']);
      expect(await s.insertFeedback([ev('u', 'b', 2)], 'insert')).toEqual({ rows: 1, replayed: false });
      expect(await s.countFeedback()).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('marks an in-memory store unavailable for good when its worker dies (its data is gone)', async () => {
    const s = await SqliteStore.open(':memory:').ready();
    try {
      await s.insertFeedback([ev('u', 'a', 1)], 'insert');
      expect(await s.countFeedback()).toBe(1);
      expect(await failure(s.debug({ crash: true }))).toBeInstanceOf(StoreUnavailableError);
      // Not an empty database pretending to be the old one.
      expect(await failure(s.countFeedback())).toBeInstanceOf(StoreUnavailableError);
      expect(await failure(s.insertFeedback([ev('u', 'b', 1)], 'insert'))).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await s.close();
    }
  });

  it('close() commits pending writes, answers them, and refuses later calls', async () => {
    const path = join(tempDir(), 'close.db');
    const s = await SqliteStore.open(path).ready();
    const writes = [s.insertFeedback([ev('u', 'a', 1)], 'insert'), s.insertFeedback([ev('u', 'b', 2), ev('v', 'c', 3)], 'insert')];
    await s.close();
    expect(await Promise.all(writes)).toEqual([
      { rows: 1, replayed: false },
      { rows: 2, replayed: false },
    ]);
    expect(await failure(s.countFeedback())).toMatchObject({ message: 'store is closed' });
    const again = await SqliteStore.open(path).ready();
    try {
      expect(await again.countFeedback()).toBe(3);
    } finally {
      await again.close();
    }
  });
});

/**
 * Opens `path` (made read-only) in a child process and reports what ping, a write and a read do.
 * Root writes to read-only files regardless, so as root the child runs as `nobody`.
 */
function probeReadOnlyFile(path: string): Record<string, string> | undefined {
  const store = resolve(import.meta.dirname, '..', '..', 'src', 'serve', 'store-sqlite.ts');
  const code = `
    import { SqliteStore } from ${JSON.stringify(store)};
    const s = SqliteStore.open(${JSON.stringify(path)});
    const say = (p) => p.then((v) => 'ok ' + JSON.stringify(v ?? null), (e) => e.name + ' ' + (e.code ?? ''));
    const out = { ready: await say(s.ready().then(() => null)), ping: await say(s.ping()) };
    out.write = await say(s.insertFeedback([{ type: 'click', user: 'u', item: 'b', value: 1, time: 2 }], 'insert'));
    out.count = await say(s.countFeedback());
    await s.close();
    process.stdout.write(JSON.stringify(out));`;
  const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', code];
  const root = process.getuid?.() === 0;
  if (root && !existsSync('/usr/sbin/runuser')) return undefined;
  const r = root ? spawnSync('/usr/sbin/runuser', ['-u', 'nobody', '--', ...node], { encoding: 'utf8' }) : spawnSync(node[0], node.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`read-only probe failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, string>;
}

describe('SQLite store: failures', () => {
  it('on a read-only file: opens and reads, but ping and writes fail with StoreUnavailableError', async (ctx) => {
    const dir = tempDir();
    const path = join(dir, 'ro-file.db');
    const s = await SqliteStore.open(path).ready();
    await s.insertFeedback([ev('u', 'a', 1)], 'insert');
    await s.close();
    chmodSync(path, 0o444);
    chmodSync(dir, 0o777); // the reader still needs to create the WAL index beside it
    const seen = probeReadOnlyFile(path);
    if (!seen) return ctx.skip(); // root without runuser: the PRAGMA query_only test below covers the mapping
    expect(seen).toEqual({ ready: 'ok null', ping: 'StoreUnavailableError SQLITE_READONLY', write: 'StoreUnavailableError SQLITE_READONLY', count: 'ok 1' });
  });

  it('fails ping and writes with StoreUnavailableError when the database is read-only, writing nothing', async () => {
    const s = await SqliteStore.open(join(tempDir(), 'ro.db')).ready();
    try {
      await s.insertFeedback([ev('u', 'a', 1)], 'insert');
      await s.ping();
      // Every write now fails with SQLITE_READONLY, as on a read-only file or file system.
      await s.debug({ exec: 'PRAGMA query_only = 1' });
      const ping = await failure(s.ping());
      expect(ping).toBeInstanceOf(StoreUnavailableError);
      expect(ping).toMatchObject({ code: 'SQLITE_READONLY', statusCode: 503 });
      const write = await failure(s.insertFeedback([ev('u', 'b', 2)], 'insert', { key: 'k', fingerprint: 'f' }));
      expect(write).toBeInstanceOf(StoreUnavailableError);
      expect(await failure(s.deleteUser('u'))).toBeInstanceOf(StoreUnavailableError);
      // Reads still work and show that nothing was written.
      expect((await s.userFeedback('u')).map((e) => e.item)).toEqual(['a']);
      await s.debug({ exec: 'PRAGMA query_only = 0' });
      await s.ping();
      // The key of the failed write was not committed either: the retry writes.
      expect(await s.insertFeedback([ev('u', 'b', 2)], 'insert', { key: 'k', fingerprint: 'f' })).toEqual({ rows: 1, replayed: false });
    } finally {
      await s.close();
    }
  });

  it('fails every request of a group commit whose commit fails (disk full), writing none of them', async () => {
    const s = await SqliteStore.open(join(tempDir(), 'full.db')).ready();
    try {
      await s.insertFeedback([ev('u', 'a', 1)], 'insert');
      // The file may not grow past its current pages: what needs a new page fails with SQLITE_FULL.
      const [{ page_count: pages }] = (await s.debug({ query: 'PRAGMA page_count' })) as { page_count: number }[];
      await s.debug({ exec: `PRAGMA max_page_count = ${pages}` });
      // A small write alone still fits in the existing pages...
      expect(await s.insertFeedback([ev('small', 'x', 1)], 'insert')).toEqual({ rows: 1, replayed: false });
      // ...but committed together with one that needs new pages, it fails with it.
      const big = Array.from({ length: 400 }, (_, k) => ev('big', `item-${k}-${'x'.repeat(60)}`, k));
      void hold(s);
      const batch = await Promise.all([failure(s.insertFeedback([ev('small', 'y', 2)], 'insert')), failure(s.insertFeedback(big, 'insert'))]);
      for (const e of batch) {
        expect(e).toBeInstanceOf(StoreUnavailableError);
        expect(e).toMatchObject({ code: 'SQLITE_FULL' });
      }
      expect((await s.userFeedback('small')).map((e) => e.item)).toEqual(['x']);
      expect(await s.userFeedback('big')).toEqual([]);
      expect(await s.countFeedback()).toBe(2);
      // Alone, the same small write fits (it failed only because its batch did); with room, both go in.
      expect(await s.insertFeedback([ev('small', 'y', 2)], 'insert')).toEqual({ rows: 1, replayed: false });
      await s.debug({ exec: 'PRAGMA max_page_count = 1000000' });
      expect(await s.insertFeedback(big, 'insert')).toEqual({ rows: 400, replayed: false });
    } finally {
      await s.close();
    }
  });

  it('fails a request with bad data alone: the rest of its group commit is written', async () => {
    const s = await SqliteStore.open(join(tempDir(), 'bad.db')).ready();
    try {
      void hold(s);
      const [good1, bad, good2] = await Promise.all([
        failure(s.insertFeedback([ev('g', 'a', 1)], 'insert')),
        // NaN is stored as NULL, which `time NOT NULL` refuses; its first, valid event is rolled back with it.
        failure(s.insertFeedback([ev('g', 'b', 2), ev('g', 'c', Number.NaN)], 'insert')),
        failure(s.insertFeedback([ev('g', 'd', 3)], 'insert')),
      ]);
      expect(good1).toBe('resolved');
      expect(good2).toBe('resolved');
      expect(bad).toBeInstanceOf(Error);
      expect(bad).not.toBeInstanceOf(StoreUnavailableError);
      expect((await s.userFeedback('g')).map((e) => e.item)).toEqual(['a', 'd']);
      expect(Object.fromEntries(await s.itemCounts())).toEqual({ a: 1, d: 1 });
    } finally {
      await s.close();
    }
  });

  it('refuses a file whose schema is newer, at open and at every call', async () => {
    const path = join(tempDir(), 'newer.db');
    writeV1File(path, 99);
    const s = SqliteStore.open(path);
    const e = await failure(s.ready());
    expect((e as Error).message).toMatch(/schema version 99 is newer than this reclab supports \(4\)/);
    expect(await failure(s.countFeedback())).toMatchObject({ message: (e as Error).message });
    await s.close();
    // Left as it was.
    const db = new Database(path, { readonly: true });
    expect(db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get()).toEqual({ value: 99 });
    expect(db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'item_type_counts'`).get()).toEqual({ n: 0 });
    db.close();
  });
});

describe('SQLite store: schema and keys', () => {
  it('migrates a version-1 file: backfills the counters and keeps events, users and revisions', async () => {
    const path = join(tempDir(), 'v1.db');
    writeV1File(path);
    // Two connections open it at once; one migrates, the other waits and finds it done.
    const [s, t] = await Promise.all([SqliteStore.open(path).ready(), SqliteStore.open(path).ready()]);
    try {
      expect(Object.fromEntries(await s.itemCounts())).toEqual({ a: 4, b: 1 });
      expect(Object.fromEntries(await t.itemCounts(['click']))).toEqual({ a: 3, b: 1 });
      expect(Object.fromEntries(await s.itemCounts(['like']))).toEqual({ a: 1 });
      expect((await s.userFeedback('u1')).map((e) => e.time)).toEqual([1, 2, 3]);
      // Revisions continue after the file's last one (2).
      await s.upsertItems([item('c')]);
      expect((await s.itemsChangedSince(2)).map((c) => [c.item.id, c.rev])).toEqual([['c', 3]]);
      // Counters follow writes from either connection.
      await t.insertFeedback([ev('u3', 'b', 6), ev('u3', 'c', 7)], 'insert');
      expect(await s.deleteUser('u1')).toBe(true);
      expect(Object.fromEntries(await s.itemCounts())).toEqual({ a: 1, b: 2, c: 1 });
      expect(await s.insertFeedback([ev('u2', 'a', 8)], 'insert', { key: 'k', fingerprint: 'f' })).toEqual({ rows: 1, replayed: false });
      expect(await t.insertFeedback([ev('u2', 'a', 8)], 'insert', { key: 'k', fingerprint: 'f' })).toEqual({ rows: 1, replayed: true });
    } finally {
      await Promise.all([s.close(), t.close()]);
    }
    const db = new Database(path, { readonly: true });
    expect(db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get()).toEqual({ value: 4 });
    // Version 4 keeps one user-keyed index on the event log; a user's history is found through it
    // (not by scanning the log) and sorted by time.
    expect(db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'feedback' ORDER BY name`).all()).toEqual([{ name: 'feedback_key' }]);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT type FROM feedback WHERE user_id = ? ORDER BY time DESC, seq DESC LIMIT 10`).all('u1') as { detail: string }[]).map((r) => r.detail);
    expect(plan).toEqual(['SEARCH feedback USING INDEX feedback_key (user_id=?)', 'USE TEMP B-TREE FOR ORDER BY']);
    expect(db.prepare(`SELECT item_id, type, n FROM item_type_counts ORDER BY item_id, type`).all()).toEqual([
      { item_id: 'a', type: 'click', n: 2 },
      { item_id: 'b', type: 'click', n: 2 },
      { item_id: 'c', type: 'click', n: 1 },
    ]);
    db.close();
  });

  it('forgets idempotency keys older than IDEMPOTENCY_TTL_S, pruning with a later commit', async () => {
    const path = join(tempDir(), 'ttl.db');
    const s = await SqliteStore.open(path).ready();
    try {
      await s.insertFeedback([ev('u', 'a', 1)], 'insert', { key: 'old', fingerprint: 'f' });
      await s.insertFeedback([ev('u', 'b', 2)], 'insert', { key: 'young', fingerprint: 'f' });
      // Age one key past the window (a minute over) and the other to just inside it (a minute under).
      await s.debug({ exec: `UPDATE idempotency SET created = created - ${IDEMPOTENCY_TTL_S + 60} WHERE key = 'old'` });
      await s.debug({ exec: `UPDATE idempotency SET created = created - ${IDEMPOTENCY_TTL_S - 60} WHERE key = 'young'` });
      expect(await s.debug({ prune: true })).toBe(1);
      expect(await s.debug({ query: 'SELECT key FROM idempotency ORDER BY key' })).toEqual([{ key: 'young' }]);
      // The forgotten key is free again; the kept one still guards its request.
      expect(await s.insertFeedback([ev('u', 'c', 3)], 'insert', { key: 'old', fingerprint: 'g' })).toEqual({ rows: 1, replayed: false });
      expect(await failure(s.insertFeedback([ev('u', 'c', 3)], 'insert', { key: 'young', fingerprint: 'g' }))).toBeInstanceOf(IdempotencyConflictError);
      await s.debug({ exec: `UPDATE idempotency SET created = created - ${2 * IDEMPOTENCY_TTL_S}` });
    } finally {
      await s.close();
    }
    // Pruning also happens by itself: the first group commit of a new connection prunes.
    const t = await SqliteStore.open(path).ready();
    try {
      await t.insertFeedback([ev('v', 'a', 1)], 'insert');
      expect(await t.debug({ query: 'SELECT count(*) AS n FROM idempotency' })).toEqual([{ n: 0 }]);
    } finally {
      await t.close();
    }
  });
});

describe('SQLite store: two connections', () => {
  it('never answers SQLITE_BUSY to item deletions racing feedback writes and item seeding', async () => {
    const path = join(tempDir(), 'two.db');
    // Two stores = two worker threads = two connections writing the same file at the same time,
    // as two cluster workers do. Short busy timeout: waiting works, failing fast is the bug.
    const a = await SqliteStore.open(path, { busyTimeoutMs: 5000 }).ready();
    const b = await SqliteStore.open(path, { busyTimeoutMs: 5000 }).ready();
    try {
      const n = 150;
      await a.upsertItems(Array.from({ length: n }, (_, k) => item(`i${k}`)));
      const errors: string[] = [];
      const note = (e: unknown) => errors.push(`${(e as { code?: string }).code ?? ''} ${(e as Error).message}`);
      const deleter = (async () => {
        for (let k = 0; k < n; k++) {
          await a.deleteItem(`i${k}`).catch(note);
          await a.insertMissingItems([item(`i${k}`), item(`j${k}`)]).catch(note);
        }
      })();
      const writer = (async () => {
        for (let k = 0; k < n; k++) await b.insertFeedback([ev(`u${k % 7}`, `i${k}`, k), ev(`u${k % 7}`, `j${k}`, k)], 'insert').catch(note);
      })();
      await Promise.all([deleter, writer]);
      expect(errors).toEqual([]);
      expect(await a.countFeedback()).toBe(2 * n);
      // n item writes, then n deletions (tombstones, which seeding leaves alone) and n new j's:
      // 3n revisions, none taken twice.
      const changes = await b.itemsChangedSince(0);
      expect(changes.length).toBe(2 * n);
      expect(changes.filter((c) => c.deleted).map((c) => c.item.id).sort()).toEqual(Array.from({ length: n }, (_, k) => `i${k}`).sort());
      expect(new Set(changes.map((c) => c.rev)).size).toBe(2 * n);
      expect(Math.max(...changes.map((c) => c.rev))).toBe(3 * n);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
