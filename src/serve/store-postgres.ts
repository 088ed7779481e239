/**
 * The scale-out store: PostgreSQL through node-postgres (`pg`), for several stateless API
 * replicas sharing one database. Same semantics as the SQLite store: a feedback write resolves
 * after COMMIT, which with PostgreSQL's default `synchronous_commit = on` means the WAL record is
 * flushed to disk — acknowledged means durable.
 *
 * Item writes take a transaction-scoped advisory lock so that item revisions commit in revision
 * order; replicas following `itemsChangedSince(rev)` can then never skip a revision that
 * committed late.
 *
 * Faults: a lost connection, a restarting, read-only or full database never crash the process —
 * every client checked out of the pool has an 'error' listener, a client that failed is
 * discarded, and such errors reach the caller as {@link StoreUnavailableError} (HTTP 503). The
 * pool opens new connections by itself once the database is back. A COMMIT whose answer was lost
 * is reported as a failure (its outcome is unknown), never as success: the client retries, with
 * its Idempotency-Key to be exact.
 *
 * Lock order inside a feedback transaction, the same in every transaction so that they cannot
 * deadlock: idempotency key, per-key advisory locks (upsert, sorted), feedback rows, users
 * (sorted), item counters (sorted). Deadlocks that remain possible (a user deletion racing an
 * upsert over several of that user's rows) are retried.
 */
import pg from 'pg';
import { createHash } from 'node:crypto';
import { IDEMPOTENCY_TTL_S, IdempotencyConflictError, StoreUnavailableError } from './store.ts';
import type { FeedbackEvent, FeedbackFilter, FeedbackWrite, IdempotencyKey, ItemRecord, ItemRevision, Page, Store, UserRecord, VoteStore, WriteMode } from './store.ts';
import type { HumanVote } from '../judge/human.ts';
import { prepareSchema } from './store-postgres-schema.ts';
import { body, commit, ConnectionLost, isConnectionLost, isRetryableConflict, messageOf, sleep, storeError, TX_ATTEMPTS, type Connection } from './store-postgres-tx.ts';

/** Advisory lock keys (arbitrary constants private to reclab). */
const LOCK_ITEMS = 74210002;
/**
 * Class of the per-(type, user, item) upsert locks: the two-int advisory lock space, which does
 * not overlap the one-bigint space of the locks above.
 */
const LOCK_CLASS_FEEDBACK_KEY = 74210003;

/** Idempotency keys are pruned at most this often per process (milliseconds). */
const PRUNE_EVERY_MS = 10 * 60_000;
/** Keys deleted per pruning statement (short statements, short locks). */
const PRUNE_BATCH = 5000;

/** Connection settings of {@link PostgresStore.open}; parameters in the URL take precedence. */
export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /**
   * Longest wait for a connection — a new one, or a free one of the pool (default 5000 ms): past
   * it the operation fails with {@link StoreUnavailableError} instead of hanging while the
   * database is away.
   */
  connectionTimeoutMs?: number;
  /** Server-side limit of one statement (default 30000 ms; 0 = none). */
  statementTimeoutMs?: number;
  /**
   * Client-side limit of one statement (default: the server's limit + 5000 ms): the backstop
   * for a server that stopped answering — a network partition sends no reset. Longer than the
   * server's limit, so that one reports first.
   */
  queryTimeoutMs?: number;
}

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

// ---- feedback batches

/** Identity of an event for upsert: (type, user, item). NUL cannot occur in the parts (checkText). */
const keyOf = (e: FeedbackEvent) => `${e.type}\u0000${e.user}\u0000${e.item}`;

/**
 * The batch as upsert applies it in order: one event per key, at the key's first position, with
 * the value and time of its last occurrence (the first occurrence writes, the later ones replace).
 */
function lastPerKey(events: readonly FeedbackEvent[]): FeedbackEvent[] {
  const at = new Map<string, number>();
  const out: FeedbackEvent[] = [];
  for (const e of events) {
    const k = keyOf(e);
    const i = at.get(k);
    if (i === undefined) {
      at.set(k, out.length);
      out.push(e);
    } else out[i] = { ...out[i], value: e.value, time: e.time };
  }
  return out;
}

/** The 32-bit advisory lock id of an upsert key (a collision only serialises two keys, harmlessly). */
function lockIdOf(key: string): number {
  return createHash('md5').update(key).digest().readInt32BE(0);
}

/** Columns of `events` as arrays for `unnest`. */
function columns(events: readonly FeedbackEvent[]): [string[], string[], string[], number[], number[]] {
  return [events.map((e) => e.type), events.map((e) => e.user), events.map((e) => e.item), events.map((e) => e.value), events.map((e) => e.time)];
}

/** Event counts per (item, type) of `events`. */
function countsOf(events: readonly FeedbackEvent[]): { item: string; type: string; n: number }[] {
  const counts = new Map<string, { item: string; type: string; n: number }>();
  for (const e of events) {
    const k = `${e.item}\u0000${e.type}`;
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { item: e.item, type: e.type, n: 1 });
  }
  return [...counts.values()];
}

/** {@link Store} over a PostgreSQL database. */
export class PostgresStore implements Store, VoteStore {
  readonly kind = 'postgres';
  private lastPrune = 0;
  private pruning?: Promise<unknown>;

  private constructor(private readonly pool: pg.Pool) {}

  /**
   * Connects to `url`, creates the schema if missing and migrates an older one (safe to run from
   * several replicas at once: they queue on an advisory lock).
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const connectionTimeout = options.connectionTimeoutMs ?? 5000;
    try {
      await prepareSchema(url, connectionTimeout);
    } catch (e) {
      throw new Error(`${url.replace(/\/\/[^@]*@/, '//***@')}: cannot open store (${messageOf(e)})`);
    }
    const statementTimeout = options.statementTimeoutMs ?? 30_000;
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: connectionTimeout,
      statement_timeout: statementTimeout,
      query_timeout: options.queryTimeoutMs ?? (statementTimeout > 0 ? statementTimeout + 5000 : undefined),
      // A transaction left open by a stalled process must not hold its locks for ever.
      idle_in_transaction_session_timeout: 60_000,
      keepAlive: true,
    });
    // An idle client losing its connection must not crash the process; the pool has already
    // discarded it and the next query opens a new connection.
    pool.on('error', () => {});
    return new PostgresStore(pool);
  }

  /**
   * Runs `fn` in a transaction on one client and resolves after COMMIT. `fn` may run more than
   * once: again after a deadlock or serialization failure, and once more on a fresh connection
   * when the connection broke before COMMIT (a connection of the pool that died while idle, a
   * terminated backend) — so `fn` must do nothing but database work on `c`.
   */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let reconnected = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.txOnce(fn);
      } catch (e) {
        if (e instanceof ConnectionLost) {
          if (reconnected) throw new StoreUnavailableError(`connection to the database lost: ${e.message}`);
          reconnected = true;
          continue;
        }
        if (isRetryableConflict(e) && attempt < TX_ATTEMPTS) {
          await sleep(Math.random() * 20 * attempt);
          continue;
        }
        throw storeError(e);
      }
    }
  }

  /** One attempt of {@link tx}; a connection broken before COMMIT throws {@link ConnectionLost}. */
  private async txOnce<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    // Without a listener a broken connection's 'error' event would crash the process.
    const conn: Connection = {};
    const onError = (e: Error) => (conn.failure ??= e);
    c.on('error', onError);
    try {
      const out = await body(c, conn, fn);
      await commit(c, conn);
      return out;
    } finally {
      c.off('error', onError);
      // A client released with an error is closed and dropped from the pool, never reused.
      c.release(conn.failure !== undefined);
    }
  }

  /**
   * One statement outside a transaction, for reads and idempotent writes: retried once on a fresh
   * connection when the pooled one turned out to be dead; unavailability mapped.
   */
  private async q(sql: string, params?: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (e) {
      if (!isConnectionLost(e)) throw storeError(e);
    }
    try {
      return await this.pool.query(sql, params);
    } catch (e) {
      throw storeError(e);
    }
  }

  async insertFeedback(events: readonly FeedbackEvent[], mode: WriteMode, idempotency?: IdempotencyKey): Promise<FeedbackWrite> {
    checkText(events.flatMap((e) => [e.type, e.user, e.item]));
    if (idempotency) {
      checkText([idempotency.key, idempotency.fingerprint]);
      this.prunePeriodically();
    }
    return this.tx(async (c) => {
      if (idempotency) {
        const first = await claimKey(c, idempotency, events.length);
        if (first) return first;
      }
      const appended = mode === 'upsert' ? await updateLatest(c, events) : events;
      if (appended.length > 0) {
        await appendEvents(c, appended);
        await addUsers(c, appended.map((e) => e.user));
        await addCounts(c, countsOf(appended));
      }
      return { rows: events.length, replayed: false };
    });
  }

  async userFeedback(user: string, types?: readonly string[], limit = 1_000_000): Promise<FeedbackEvent[]> {
    checkText([user, ...(types ?? [])]);
    const r = await this.q(
      `SELECT type, user_id AS "user", item_id AS item, value, time FROM feedback
       WHERE user_id = $1 AND ($2::text[] IS NULL OR type = ANY($2)) ORDER BY time DESC, seq DESC LIMIT $3`,
      [user, types && types.length > 0 ? types : null, limit],
    );
    return (r.rows as FeedbackEvent[]).reverse();
  }

  async listFeedback(filter: FeedbackFilter, cursor: string, n: number): Promise<Page<FeedbackEvent>> {
    const { where, params } = feedbackWhere(filter, 3);
    checkText(params);
    const r = await this.q(
      `SELECT seq, type, user_id AS "user", item_id AS item, value, time FROM feedback WHERE seq > $1${where} ORDER BY seq LIMIT $2`,
      [cursor === '' ? '0' : cursor, n, ...params],
    );
    const rows = r.rows as (Omit<FeedbackEvent, 'seq'> & { seq: string })[];
    const next = rows.length === n ? String(rows[rows.length - 1].seq) : '';
    return { rows: rows.map((e) => ({ ...e, seq: Number(e.seq) })), cursor: next };
  }

  async deleteFeedback(filter: FeedbackFilter & { user: string; item: string }): Promise<number> {
    const { where, params } = feedbackWhere(filter, 1);
    checkText(params);
    return this.tx(async (c) => {
      const gone = await c.query(
        `WITH gone AS (DELETE FROM feedback WHERE TRUE${where} RETURNING item_id, type)
         SELECT item_id AS item, type, -count(*)::int AS n FROM gone GROUP BY item_id, type`,
        params,
      );
      const counts = gone.rows as { item: string; type: string; n: number }[];
      await addCounts(c, counts);
      return counts.reduce((sum, x) => sum - x.n, 0);
    });
  }

  async countFeedback(): Promise<number> {
    return Number((await this.q('SELECT count(*) AS n FROM feedback')).rows[0].n);
  }

  async itemCounts(types?: readonly string[], since = -Infinity): Promise<Map<string, number>> {
    checkText(types ?? []);
    const typeList = types && types.length > 0 ? types : null;
    // Without `since`, the counters kept by every write; with it, a scan of the event log.
    const r = since > -Infinity
      ? await this.q(
          `SELECT item_id AS item, count(*) AS n FROM feedback WHERE time >= $1 AND ($2::text[] IS NULL OR type = ANY($2)) GROUP BY item_id`,
          [since, typeList],
        )
      : await this.q(
          `SELECT item_id AS item, sum(n) AS n FROM item_type_counts WHERE ($1::text[] IS NULL OR type = ANY($1)) GROUP BY item_id HAVING sum(n) > 0`,
          [typeList],
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
    const r = await this.q('SELECT id, labels, comment FROM users WHERE id = $1', [id]);
    return r.rows[0] as UserRecord | undefined;
  }

  async deleteUser(id: string): Promise<boolean> {
    checkText([id]);
    return this.tx(async (c) => {
      const gone = await c.query(
        `WITH gone AS (DELETE FROM feedback WHERE user_id = $1 RETURNING item_id, type)
         SELECT item_id AS item, type, -count(*)::int AS n FROM gone GROUP BY item_id, type`,
        [id],
      );
      const existed = ((await c.query('DELETE FROM users WHERE id = $1', [id])).rowCount ?? 0) > 0;
      await addCounts(c, gone.rows as { item: string; type: string; n: number }[]);
      return existed;
    });
  }

  async listUsers(cursor: string, n: number): Promise<Page<UserRecord>> {
    checkText([cursor]);
    // COLLATE "C": byte order, the same order SQLite uses, so cursors behave alike.
    const r = await this.q('SELECT id, labels, comment FROM users WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2', [cursor, n]);
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
    const r = await this.q('SELECT * FROM items WHERE id = $1 AND NOT deleted', [id]);
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
    const r = await this.q('SELECT * FROM items WHERE id > $1 COLLATE "C" AND NOT deleted ORDER BY id COLLATE "C" LIMIT $2', [cursor, n]);
    const rows = (r.rows as ItemRow[]).map(itemOf);
    return { rows, cursor: rows.length === n ? rows[rows.length - 1].id : '' };
  }

  async itemsChangedSince(rev: number): Promise<ItemRevision[]> {
    const r = await this.q('SELECT * FROM items WHERE rev > $1 ORDER BY rev', [rev]);
    return (r.rows as ItemRow[]).map((row) => ({ rev: Number(row.rev), item: itemOf(row), deleted: row.deleted }));
  }

  /** One vote per voter and pair: the unique key turns a second vote into no row (false). */
  async insertVote(v: HumanVote): Promise<boolean> {
    checkText([v.voter, v.a, v.b, v.choice, v.left]);
    const r = await this.q(
      `INSERT INTO arena_votes(voter, user_id, a, b, choice, left_system, time) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (voter, user_id, a, b) DO NOTHING`,
      [v.voter, v.user, v.a, v.b, v.choice, v.left, v.time],
    );
    return r.rowCount === 1;
  }

  async listVotes(): Promise<HumanVote[]> {
    const r = await this.q('SELECT voter, user_id, a, b, choice, left_system, time FROM arena_votes ORDER BY seq');
    return (r.rows as { voter: string; user_id: string; a: string; b: string; choice: HumanVote['choice']; left_system: string; time: number }[]).map((x) => ({
      voter: x.voter,
      user: Number(x.user_id),
      a: x.a,
      b: x.b,
      choice: x.choice,
      left: x.left_system,
      time: x.time,
    }));
  }

  /** Commits a probe row: fails on a read-only database, a full disk or a lost connection, not only when unreachable. */
  async ping(): Promise<void> {
    await this.q(`INSERT INTO reclab_meta(key, value) VALUES ('ping', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [Date.now()]);
  }

  /**
   * Deletes idempotency keys older than {@link IDEMPOTENCY_TTL_S}, a batch per statement so that
   * no statement runs long; resolves with the number deleted.
   */
  async pruneIdempotencyKeys(): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await this.q(
        `DELETE FROM idempotency_keys WHERE key IN (
           SELECT key FROM idempotency_keys WHERE created < extract(epoch FROM now()) - $1 LIMIT $2)`,
        [IDEMPOTENCY_TTL_S, PRUNE_BATCH],
      );
      total += r.rowCount ?? 0;
      if ((r.rowCount ?? 0) < PRUNE_BATCH) return total;
    }
  }

  /** Starts {@link pruneIdempotencyKeys} in the background when the last run is old enough (cheap: an index range). */
  private prunePeriodically(): void {
    const now = Date.now();
    if (this.pruning || now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    // Housekeeping only: a failure waits for the next period.
    this.pruning = this.pruneIdempotencyKeys()
      .catch(() => {})
      .finally(() => (this.pruning = undefined));
  }

  async close(): Promise<void> {
    await this.pruning;
    await this.pool.end();
  }

  /** Drops every reclab table (tests use a throw-away database). */
  async dropAll(): Promise<void> {
    await this.pool.query(
      'DROP TABLE IF EXISTS feedback, users, items, reclab_meta, item_type_counts, idempotency_keys; DROP SEQUENCE IF EXISTS item_rev',
    );
  }
}

// ---- the statements of a feedback transaction (each runs on the caller's client)

/**
 * Records the idempotency key, or finds the write that recorded it first. A concurrent
 * transaction inserting the same key makes `ON CONFLICT DO NOTHING` wait for its outcome: after
 * its COMMIT the key is seen (replay), after its ROLLBACK this write claims the key.
 * Resolves undefined when this write owns the key, the first write's answer when replayed.
 */
async function claimKey(c: pg.ClientBase, idem: IdempotencyKey, rows: number): Promise<FeedbackWrite | undefined> {
  // Twice at most: the first holder's row can only vanish by pruning, after IDEMPOTENCY_TTL_S.
  for (let attempt = 0; attempt < 2; attempt++) {
    const claimed = await c.query(
      `INSERT INTO idempotency_keys(key, fingerprint, rows, created) VALUES ($1, $2, $3, extract(epoch FROM now()))
       ON CONFLICT (key) DO NOTHING`,
      [idem.key, idem.fingerprint, rows],
    );
    if (claimed.rowCount === 1) return undefined;
    // READ COMMITTED: this new statement sees the committed first write.
    const first = await c.query('SELECT fingerprint, rows FROM idempotency_keys WHERE key = $1', [idem.key]);
    if (first.rows.length === 0) continue;
    const row = first.rows[0] as { fingerprint: string; rows: number };
    if (row.fingerprint !== idem.fingerprint) throw new IdempotencyConflictError(idem.key);
    return { rows: row.rows, replayed: true };
  }
  throw new StoreUnavailableError(`Idempotency-Key "${idem.key}" is being pruned; retry`);
}

/**
 * The upsert part of a write: replaces value and time of the latest event of every key that has
 * one, and returns the events that have none (to append). Each key's advisory lock is held to the
 * end of the transaction, so a concurrent upsert of the same new key waits and then finds this
 * one's row instead of appending a second; the locks are taken in ascending order, so two writes
 * sharing keys cannot deadlock.
 */
async function updateLatest(c: pg.ClientBase, events: readonly FeedbackEvent[]): Promise<FeedbackEvent[]> {
  const batch = lastPerKey(events);
  if (batch.length === 0) return [];
  const locks = [...new Set(batch.map((e) => lockIdOf(keyOf(e))))].sort((a, b) => a - b);
  // Volatile functions in the select list run after ORDER BY, so the locks are taken in order.
  await c.query('SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS k ORDER BY k', [LOCK_CLASS_FEEDBACK_KEY, locks]);
  // Each statement sees what committed before it began: every earlier holder of these locks.
  const updated = await c.query(
    `UPDATE feedback f SET value = b.v, time = b.ts
     FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[]) AS b(t, u, i, v, ts)
     CROSS JOIN LATERAL (
       SELECT g.seq FROM feedback g WHERE g.user_id = b.u AND g.item_id = b.i AND g.type = b.t ORDER BY g.seq DESC LIMIT 1) AS latest
     WHERE f.seq = latest.seq
     RETURNING b.t AS type, b.u AS "user", b.i AS item`,
    columns(batch),
  );
  const found = new Set((updated.rows as FeedbackEvent[]).map(keyOf));
  return batch.filter((e) => !found.has(keyOf(e)));
}

/** Appends events in one statement; WITH ORDINALITY keeps the posted order in seq. */
async function appendEvents(c: pg.ClientBase, events: readonly FeedbackEvent[]): Promise<void> {
  await c.query(
    `INSERT INTO feedback(type, user_id, item_id, value, time)
     SELECT t, u, i, v, ts FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[])
       WITH ORDINALITY AS x(t, u, i, v, ts, k) ORDER BY k`,
    columns(events),
  );
}

/** Creates missing users, in id order (a new user's row is locked until COMMIT: one order, no deadlock). */
async function addUsers(c: pg.ClientBase, users: readonly string[]): Promise<void> {
  await c.query(
    `INSERT INTO users(id, labels, comment) SELECT DISTINCT u, '{}'::text[], '' FROM unnest($1::text[]) AS u ORDER BY u
     ON CONFLICT DO NOTHING`,
    [users],
  );
}

/**
 * Adds `counts` to the item counters in (item, type) order: a counter row stays locked until
 * COMMIT, and one order for every writer means no deadlock.
 */
/** SQL conditions (each ` AND …`, placeholders from `$first`) and parameters of a feedback filter. */
function feedbackWhere(f: FeedbackFilter, first: number): { where: string; params: string[] } {
  let where = '';
  const params: string[] = [];
  for (const [column, value] of [['user_id', f.user], ['item_id', f.item], ['type', f.type]] as const) {
    if (value === undefined) continue;
    params.push(value);
    where += ` AND ${column} = $${first + params.length - 1}`;
  }
  return { where, params };
}

async function addCounts(c: pg.ClientBase, counts: readonly { item: string; type: string; n: number }[]): Promise<void> {
  if (counts.length === 0) return;
  await c.query(
    `INSERT INTO item_type_counts(item_id, type, n)
     SELECT i, t, n FROM unnest($1::text[], $2::text[], $3::int8[]) AS x(i, t, n) ORDER BY i, t
     ON CONFLICT (item_id, type) DO UPDATE SET n = item_type_counts.n + EXCLUDED.n`,
    [counts.map((x) => x.item), counts.map((x) => x.type), counts.map((x) => x.n)],
  );
}
