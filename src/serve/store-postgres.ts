/**
 * The scale-out store: PostgreSQL through node-postgres (`pg`), for several stateless API
 * replicas sharing one database. Same semantics as the SQLite store: a feedback write resolves
 * after COMMIT, which with PostgreSQL's default `synchronous_commit = on` means the WAL record is
 * flushed to disk — acknowledged means durable.
 *
 * Item writes take a transaction-scoped advisory lock so that item revisions commit in revision
 * order; replicas following `itemsChangedSince(rev)` can then never skip a revision that
 * committed late.
 */
import pg from 'pg';
import type { FeedbackEvent, ItemRecord, ItemRevision, Page, Store, UserRecord, WriteMode } from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS reclab_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
  seq BIGSERIAL PRIMARY KEY,
  type TEXT NOT NULL,
  user_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  time DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user_id, time, seq);
CREATE INDEX IF NOT EXISTS feedback_key ON feedback(user_id, item_id, type);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, labels TEXT[] NOT NULL, comment TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  id TEXT PRIMARY KEY,
  hidden BOOLEAN NOT NULL,
  categories TEXT[] NOT NULL,
  labels TEXT[] NOT NULL,
  time DOUBLE PRECISION NOT NULL,
  comment TEXT NOT NULL,
  rev BIGINT NOT NULL,
  deleted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS items_rev ON items(rev);
CREATE SEQUENCE IF NOT EXISTS item_rev;
INSERT INTO reclab_meta(key, value) VALUES ('schema', 1) ON CONFLICT DO NOTHING;
`;

/** Advisory lock keys (arbitrary constants private to reclab). */
const LOCK_SCHEMA = 74210001;
const LOCK_ITEMS = 74210002;

interface ItemRow {
  id: string;
  hidden: boolean;
  categories: string[];
  labels: string[];
  time: number;
  comment: string;
  rev: string;
  deleted: boolean;
}

function itemOf(r: ItemRow): ItemRecord {
  return { id: r.id, hidden: r.hidden, categories: r.categories, labels: r.labels, time: Number(r.time), comment: r.comment };
}

/** Postgres strings must not contain NUL; the API accepts any JSON string, so reject it clearly. */
function checkText(values: readonly string[]): void {
  for (const v of values) {
    if (v.includes('\u0000')) throw Object.assign(new Error('text fields may not contain the NUL character'), { statusCode: 400 });
  }
}

/** {@link Store} over a PostgreSQL database. */
export class PostgresStore implements Store {
  readonly kind = 'postgres';

  private constructor(private readonly pool: pg.Pool) {}

  /** Connects to `url` and creates the schema if missing (safe to run from several replicas at once). */
  static async open(url: string, poolSize = 10): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: poolSize });
    // An idle client losing its connection must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    const store = new PostgresStore(pool);
    try {
      await store.tx(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_SCHEMA]);
        await c.query(SCHEMA);
      });
    } catch (e) {
      await pool.end();
      throw new Error(`${url.replace(/\/\/[^@]*@/, '//***@')}: cannot open store (${(e as Error).message})`);
    }
    return store;
  }

  /** Runs `fn` in a transaction on one client. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async insertFeedback(events: readonly FeedbackEvent[], mode: WriteMode): Promise<number> {
    checkText(events.flatMap((e) => [e.type, e.user, e.item]));
    return this.tx(async (c) => {
      let rest = events;
      if (mode === 'upsert') {
        const missing: FeedbackEvent[] = [];
        for (const e of events) {
          const r = await c.query(
            `UPDATE feedback SET value = $1, time = $2 WHERE seq = (
               SELECT seq FROM feedback WHERE user_id = $3 AND item_id = $4 AND type = $5 ORDER BY seq DESC LIMIT 1)`,
            [e.value, e.time, e.user, e.item, e.type],
          );
          if (r.rowCount === 0) missing.push(e);
        }
        rest = missing;
      }
      if (rest.length > 0) {
        // One statement for the whole batch; WITH ORDINALITY keeps the posted order in seq.
        await c.query(
          `INSERT INTO feedback(type, user_id, item_id, value, time)
           SELECT t, u, i, v, ts FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[])
             WITH ORDINALITY AS x(t, u, i, v, ts, k) ORDER BY k`,
          [rest.map((e) => e.type), rest.map((e) => e.user), rest.map((e) => e.item), rest.map((e) => e.value), rest.map((e) => e.time)],
        );
        await c.query(`INSERT INTO users(id, labels, comment) SELECT DISTINCT unnest($1::text[]), '{}'::text[], '' ON CONFLICT DO NOTHING`, [
          rest.map((e) => e.user),
        ]);
      }
      return events.length;
    });
  }

  async userFeedback(user: string, types?: readonly string[], limit = 1_000_000): Promise<FeedbackEvent[]> {
    checkText([user, ...(types ?? [])]);
    const r = await this.pool.query(
      `SELECT type, user_id AS "user", item_id AS item, value, time FROM feedback
       WHERE user_id = $1 AND ($2::text[] IS NULL OR type = ANY($2)) ORDER BY time DESC, seq DESC LIMIT $3`,
      [user, types && types.length > 0 ? types : null, limit],
    );
    return (r.rows as FeedbackEvent[]).reverse();
  }

  async countFeedback(): Promise<number> {
    return Number((await this.pool.query('SELECT count(*) AS n FROM feedback')).rows[0].n);
  }

  async itemCounts(types?: readonly string[], since = -Infinity): Promise<Map<string, number>> {
    const r = await this.pool.query(
      `SELECT item_id AS item, count(*) AS n FROM feedback WHERE time >= $1 AND ($2::text[] IS NULL OR type = ANY($2)) GROUP BY item_id`,
      [Number.isFinite(since) ? since : -1e300, types && types.length > 0 ? types : null],
    );
    return new Map((r.rows as { item: string; n: string }[]).map((x) => [x.item, Number(x.n)]));
  }

  async upsertUsers(users: readonly UserRecord[]): Promise<void> {
    checkText(users.flatMap((u) => [u.id, u.comment, ...u.labels]));
    await this.tx(async (c) => {
      for (const u of users) {
        await c.query(
          `INSERT INTO users(id, labels, comment) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET labels = EXCLUDED.labels, comment = EXCLUDED.comment`,
          [u.id, u.labels, u.comment],
        );
      }
    });
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    checkText([id]);
    const r = await this.pool.query('SELECT id, labels, comment FROM users WHERE id = $1', [id]);
    return r.rows[0] as UserRecord | undefined;
  }

  async deleteUser(id: string): Promise<boolean> {
    checkText([id]);
    return this.tx(async (c) => {
      await c.query('DELETE FROM feedback WHERE user_id = $1', [id]);
      return ((await c.query('DELETE FROM users WHERE id = $1', [id])).rowCount ?? 0) > 0;
    });
  }

  async listUsers(cursor: string, n: number): Promise<Page<UserRecord>> {
    checkText([cursor]);
    // COLLATE "C": byte order, the same order SQLite uses, so cursors behave alike.
    const r = await this.pool.query('SELECT id, labels, comment FROM users WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2', [cursor, n]);
    const rows = r.rows as UserRecord[];
    return { rows, cursor: rows.length === n ? rows[rows.length - 1].id : '' };
  }

  private async putItems(items: readonly ItemRecord[], onlyMissing: boolean): Promise<number> {
    checkText(items.flatMap((it) => [it.id, it.comment, ...it.categories, ...it.labels]));
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ITEMS]);
      let written = 0;
      for (const it of items) {
        const conflict = onlyMissing
          ? 'DO NOTHING'
          : 'DO UPDATE SET hidden = EXCLUDED.hidden, categories = EXCLUDED.categories, labels = EXCLUDED.labels, time = EXCLUDED.time, comment = EXCLUDED.comment, rev = EXCLUDED.rev, deleted = FALSE';
        const r = await c.query(
          `INSERT INTO items(id, hidden, categories, labels, time, comment, rev, deleted)
           VALUES ($1, $2, $3, $4, $5, $6, nextval('item_rev'), FALSE) ON CONFLICT (id) ${conflict}`,
          [it.id, it.hidden, it.categories, it.labels, it.time, it.comment],
        );
        written += r.rowCount ?? 0;
      }
      return written;
    });
  }

  async upsertItems(items: readonly ItemRecord[]): Promise<void> {
    await this.putItems(items, false);
  }

  async insertMissingItems(items: readonly ItemRecord[]): Promise<number> {
    return this.putItems(items, true);
  }

  async getItem(id: string): Promise<ItemRecord | undefined> {
    checkText([id]);
    const r = await this.pool.query('SELECT * FROM items WHERE id = $1 AND NOT deleted', [id]);
    return r.rows[0] ? itemOf(r.rows[0] as ItemRow) : undefined;
  }

  async deleteItem(id: string): Promise<boolean> {
    checkText([id]);
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ITEMS]);
      const r = await c.query(`UPDATE items SET deleted = TRUE, rev = nextval('item_rev') WHERE id = $1 AND NOT deleted`, [id]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async listItems(cursor: string, n: number): Promise<Page<ItemRecord>> {
    checkText([cursor]);
    const r = await this.pool.query('SELECT * FROM items WHERE id > $1 COLLATE "C" AND NOT deleted ORDER BY id COLLATE "C" LIMIT $2', [cursor, n]);
    const rows = (r.rows as ItemRow[]).map(itemOf);
    return { rows, cursor: rows.length === n ? rows[rows.length - 1].id : '' };
  }

  async itemsChangedSince(rev: number): Promise<ItemRevision[]> {
    const r = await this.pool.query('SELECT * FROM items WHERE rev > $1 ORDER BY rev', [rev]);
    return (r.rows as ItemRow[]).map((row) => ({ rev: Number(row.rev), item: itemOf(row), deleted: row.deleted }));
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Drops every reclab table (tests use a throw-away database). */
  async dropAll(): Promise<void> {
    await this.pool.query('DROP TABLE IF EXISTS feedback, users, items, reclab_meta; DROP SEQUENCE IF EXISTS item_rev');
  }
}
