/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode with `synchronous = FULL`.
 *
 * Why FULL: in WAL mode, NORMAL survives a crash of the process (the WAL is in the OS page cache)
 * but may lose the last commits on power loss; FULL fsyncs the WAL at every commit, so a
 * transaction that returned is on disk. The server acknowledges feedback only after that commit,
 * hence "acknowledged means durable".
 *
 * Group commit keeps FULL fast: feedback writes arriving in the same event-loop turn (many
 * concurrent requests) are committed together in one transaction — one fsync for all of them —
 * and every request is acknowledged after that single commit.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FeedbackEvent, ItemRecord, ItemRevision, Page, Store, UserRecord, WriteMode } from './store.ts';

/** Schema version stored in the `meta` table; bump with a migration when the layout changes. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feedback (
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  user_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  value REAL NOT NULL,
  time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user_id, time, seq);
CREATE INDEX IF NOT EXISTS feedback_key ON feedback(user_id, item_id, type);
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  labels TEXT NOT NULL,
  comment TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
  id TEXT PRIMARY KEY,
  hidden INTEGER NOT NULL,
  categories TEXT NOT NULL,
  labels TEXT NOT NULL,
  time REAL NOT NULL,
  comment TEXT NOT NULL,
  rev INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS items_rev ON items(rev);
`;

interface ItemRow {
  id: string;
  hidden: number;
  categories: string;
  labels: string;
  time: number;
  comment: string;
  rev: number;
  deleted: number;
}

interface Pending {
  events: readonly FeedbackEvent[];
  mode: WriteMode;
  resolve: (n: number) => void;
  reject: (e: Error) => void;
}

function itemOf(row: ItemRow): ItemRecord {
  return {
    id: row.id,
    hidden: row.hidden !== 0,
    categories: JSON.parse(row.categories) as string[],
    labels: JSON.parse(row.labels) as string[],
    time: row.time,
    comment: row.comment,
  };
}

/** {@link Store} over one SQLite file. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private pending: Pending[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (creating if needed) the database at `path` (`:memory:` for a throw-away store). */
  static open(path: string): SqliteStore {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path);
    } catch (e) {
      throw new Error(`sqlite:${path}: cannot open (${(e as Error).message})`);
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    // Several server processes may share the file (cluster mode): wait for the writer lock.
    db.pragma('busy_timeout = 10000');
    db.exec(SCHEMA);
    const version = db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: number } | undefined;
    if (!version) {
      db.prepare(`INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?), ('item_rev', 0)`).run(SCHEMA_VERSION);
    } else if (version.value > SCHEMA_VERSION) {
      db.close();
      throw new Error(`sqlite:${path}: schema version ${version.value} is newer than this reclab supports (${SCHEMA_VERSION})`);
    }
    return new SqliteStore(db);
  }

  /** A cached prepared statement (preparing costs more than running a small query). */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  insertFeedback(events: readonly FeedbackEvent[], mode: WriteMode): Promise<number> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ events, mode, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // Let the other requests of this event-loop turn join the same commit.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every pending feedback batch in one transaction, then settles their promises. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const insert = this.stmt('INSERT INTO feedback(type, user_id, item_id, value, time) VALUES (?, ?, ?, ?, ?)');
    const update = this.stmt(
      `UPDATE feedback SET value = ?, time = ? WHERE seq = (
         SELECT seq FROM feedback WHERE user_id = ? AND item_id = ? AND type = ? ORDER BY seq DESC LIMIT 1)`,
    );
    const addUser = this.stmt(`INSERT OR IGNORE INTO users(id, labels, comment) VALUES (?, '[]', '')`);
    const write = this.db.transaction((all: Pending[]) => {
      for (const p of all) {
        for (const e of p.events) {
          if (p.mode === 'upsert' && update.run(e.value, e.time, e.user, e.item, e.type).changes > 0) continue;
          insert.run(e.type, e.user, e.item, e.value, e.time);
          addUser.run(e.user);
        }
      }
    });
    try {
      write(batch);
    } catch (e) {
      for (const p of batch) p.reject(e as Error);
      return;
    }
    for (const p of batch) p.resolve(p.events.length);
  }

  async userFeedback(user: string, types?: readonly string[], limit = 1_000_000): Promise<FeedbackEvent[]> {
    const filter = types && types.length > 0 ? ` AND type IN (${types.map(() => '?').join(',')})` : '';
    const rows = this.stmt(
      `SELECT type, user_id AS user, item_id AS item, value, time FROM feedback
       WHERE user_id = ?${filter} ORDER BY time DESC, seq DESC LIMIT ?`,
    ).all(user, ...(types ?? []), limit) as FeedbackEvent[];
    return rows.reverse();
  }

  async countFeedback(): Promise<number> {
    return (this.stmt('SELECT count(*) AS n FROM feedback').get() as { n: number }).n;
  }

  async itemCounts(types?: readonly string[], since = -Infinity): Promise<Map<string, number>> {
    const filter = types && types.length > 0 ? ` AND type IN (${types.map(() => '?').join(',')})` : '';
    const rows = this.stmt(`SELECT item_id AS item, count(*) AS n FROM feedback WHERE time >= ?${filter} GROUP BY item_id`).all(
      Number.isFinite(since) ? since : -1e300,
      ...(types ?? []),
    ) as { item: string; n: number }[];
    return new Map(rows.map((r) => [r.item, r.n]));
  }

  async upsertUsers(users: readonly UserRecord[]): Promise<void> {
    const put = this.stmt('INSERT OR REPLACE INTO users(id, labels, comment) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const u of users) put.run(u.id, JSON.stringify(u.labels), u.comment);
    })();
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = this.stmt('SELECT id, labels, comment FROM users WHERE id = ?').get(id) as
      | { id: string; labels: string; comment: string }
      | undefined;
    return row && { id: row.id, labels: JSON.parse(row.labels) as string[], comment: row.comment };
  }

  async deleteUser(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.stmt('DELETE FROM feedback WHERE user_id = ?').run(id);
      return this.stmt('DELETE FROM users WHERE id = ?').run(id).changes > 0;
    })();
  }

  async listUsers(cursor: string, n: number): Promise<Page<UserRecord>> {
    const rows = this.stmt('SELECT id, labels, comment FROM users WHERE id > ? ORDER BY id LIMIT ?').all(cursor, n) as {
      id: string;
      labels: string;
      comment: string;
    }[];
    return {
      rows: rows.map((r) => ({ id: r.id, labels: JSON.parse(r.labels) as string[], comment: r.comment })),
      cursor: rows.length === n ? rows[rows.length - 1].id : '',
    };
  }

  /** Takes the next item revision (inside the caller's transaction). */
  private nextRev(): number {
    return (this.stmt(`UPDATE meta SET value = value + 1 WHERE key = 'item_rev' RETURNING value`).get() as { value: number }).value;
  }

  async upsertItems(items: readonly ItemRecord[]): Promise<void> {
    const put = this.stmt(
      `INSERT OR REPLACE INTO items(id, hidden, categories, labels, time, comment, rev, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, 0)`,
    );
    this.db.transaction(() => {
      for (const it of items) {
        put.run(it.id, it.hidden ? 1 : 0, JSON.stringify(it.categories), JSON.stringify(it.labels), it.time, it.comment, this.nextRev());
      }
    })();
  }

  async insertMissingItems(items: readonly ItemRecord[]): Promise<number> {
    const exists = this.stmt('SELECT 1 FROM items WHERE id = ?');
    const put = this.stmt(
      `INSERT INTO items(id, hidden, categories, labels, time, comment, rev, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, 0)`,
    );
    return this.db.transaction(() => {
      let added = 0;
      for (const it of items) {
        if (exists.get(it.id)) continue;
        put.run(it.id, it.hidden ? 1 : 0, JSON.stringify(it.categories), JSON.stringify(it.labels), it.time, it.comment, this.nextRev());
        added++;
      }
      return added;
    })();
  }

  async getItem(id: string): Promise<ItemRecord | undefined> {
    const row = this.stmt('SELECT * FROM items WHERE id = ? AND deleted = 0').get(id) as ItemRow | undefined;
    return row && itemOf(row);
  }

  async deleteItem(id: string): Promise<boolean> {
    // A tombstone, so every replica's catalogue cache learns of the deletion.
    return this.db.transaction(() => {
      const row = this.stmt('SELECT deleted FROM items WHERE id = ?').get(id) as { deleted: number } | undefined;
      if (!row || row.deleted) return false;
      this.stmt('UPDATE items SET deleted = 1, rev = ? WHERE id = ?').run(this.nextRev(), id);
      return true;
    })();
  }

  async listItems(cursor: string, n: number): Promise<Page<ItemRecord>> {
    const rows = this.stmt('SELECT * FROM items WHERE id > ? AND deleted = 0 ORDER BY id LIMIT ?').all(cursor, n) as ItemRow[];
    return { rows: rows.map(itemOf), cursor: rows.length === n ? rows[rows.length - 1].id : '' };
  }

  async itemsChangedSince(rev: number): Promise<ItemRevision[]> {
    const rows = this.stmt('SELECT * FROM items WHERE rev > ? ORDER BY rev').all(rev) as ItemRow[];
    return rows.map((r) => ({ rev: r.rev, item: itemOf(r), deleted: r.deleted !== 0 }));
  }

  async ping(): Promise<void> {
    this.stmt('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pending.length > 0) this.flush();
    this.closed = true;
    this.db.close();
  }
}
