/**
 * The thread that owns the SQLite connection of {@link SqliteStore} (store-sqlite.ts).
 *
 * better-sqlite3 is synchronous: a query, a commit's fsync or a stalled disk holds the thread
 * that calls it. Run on the HTTP thread, a 5 s disk stall froze every route, /health/live
 * included. Here the connection lives on a worker thread; the store posts requests and awaits
 * the replies, so the event loop never waits for the disk.
 *
 * How it is shipped: like the project's other worker threads (nn/linalg.ts, kernels/engine.ts), the
 * worker runs as `eval` source, here the text of {@link sqliteWorkerMain}. That runs the same under
 * vitest, `node --import tsx`, bin/reclab.js and compiled dist/ (a worker does not inherit the
 * TypeScript loader of its parent), and the function is still type-checked with the rest. The
 * price: the function must be self-contained — no module-level values, only `require` (an eval
 * worker is a CommonJS script) and what {@link WorkerConfig} carries.
 *
 * In the worker:
 * - every transaction that writes is BEGIN IMMEDIATE: it takes the write lock first, and waits
 *   for it under the busy timeout. A DEFERRED transaction that reads then writes fails at once
 *   with SQLITE_BUSY when another process wrote in between (the busy handler cannot help a lock
 *   upgrade), which is how several cluster workers sharing one file failed;
 * - opening is safe when several processes open a fresh file at once: switching to WAL and
 *   creating or migrating the schema are retried on SQLITE_BUSY until a deadline, and the schema
 *   work runs under BEGIN IMMEDIATE, re-reading the version once it holds the lock;
 * - feedback writes that arrive together commit together (group commit): one transaction, one
 *   fsync; a failed commit fails every request of the batch (nothing half-written: it was one
 *   transaction), while a request whose own data fails is refused alone;
 * - prepared statements are cached per SQL text.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { FeedbackEvent, FeedbackFilter, FeedbackWrite, IdempotencyKey, ItemRecord, ItemRevision, Page, UserRecord, WriteMode } from './store.ts';
import type { HumanVote } from '../judge/human.ts';

/**
 * SQLite result codes meaning "cannot serve this now, retry later" rather than "bad request" or
 * "bug": disk full, I/O error, read-only file, lock still held after the busy timeout, cannot
 * open, WAL lock protocol, out of memory. They become `StoreUnavailableError` (HTTP 503).
 */
export const UNAVAILABLE_CODES = '^SQLITE_(FULL|IOERR|READONLY|BUSY|CANTOPEN|PROTOCOL|NOMEM)';

/** What the worker is started with (its `workerData`). */
export interface WorkerConfig {
  /** Database file, or `:memory:`. */
  path: string;
  /** Resolved path of the better-sqlite3 package (an eval worker resolves from the cwd). */
  sqlite: string;
  version: number;
  schemaV1: string;
  migrations: readonly string[];
  /** Source of a RegExp over SQLite error codes, see {@link UNAVAILABLE_CODES}. */
  unavailable: string;
  /** Seconds an idempotency key is kept. */
  idempotencyTtl: number;
  /** How long one statement waits for a lock held by another connection. */
  busyTimeoutMs: number;
  /** How long opening keeps retrying while other processes hold the file (fresh-file races). */
  openTimeoutMs: number;
  /** Page cache of the connection, MiB (SQLite's default is 2). */
  cacheMb: number;
}

/** Operations the worker serves; `args` are the Store method's arguments. */
export type Op =
  | 'insertFeedback'
  | 'userFeedback'
  | 'countFeedback'
  | 'listFeedback'
  | 'deleteFeedback'
  | 'itemCounts'
  | 'upsertUsers'
  | 'getUser'
  | 'deleteUser'
  | 'listUsers'
  | 'upsertItems'
  | 'insertMissingItems'
  | 'getItem'
  | 'deleteItem'
  | 'listItems'
  | 'itemsChangedSince'
  | 'insertVote'
  | 'listVotes'
  | 'ping'
  | 'close'
  | 'debug';

/** Test and bench hooks of {@link SqliteStore.debug} (never used by the service). */
export type DebugCommand =
  /** Runs a read statement, resolves with its rows. */
  | { query: string; params?: unknown[] }
  /** Runs statements (e.g. a PRAGMA that makes the file read-only or full). */
  | { exec: string }
  /** Ends the worker thread abruptly, as a crash would. */
  | { crash: true }
  /** Prunes expired idempotency keys now (normally done now and then with a group commit). */
  | { prune: true };

/** A request to the worker. Id 0 is reserved for the open reply. */
export interface WorkerRequest {
  id: number;
  op: Op;
  args: unknown[];
}

/** An error crossing the thread boundary (class and stack do not survive structured clone). */
export interface WireError {
  message: string;
  /** SQLite result code (`SQLITE_BUSY`, `SQLITE_IOERR_WRITE`, …) when there is one. */
  code?: string;
  /** Set to the key when the error is an idempotency conflict. */
  conflict?: string;
}

/** The worker's answer to request `id`. */
export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/**
 * The worker's program: opens the database, then serves {@link WorkerRequest}s from the parent
 * port until `close`. Runs only inside the worker (see the file comment for why self-contained).
 */
export function sqliteWorkerMain(): void {
  /* eslint-disable @typescript-eslint/no-require-imports -- an eval worker is a CommonJS script */
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const { mkdirSync } = require('node:fs') as typeof import('node:fs');
  const { dirname } = require('node:path') as typeof import('node:path');
  const cfg = workerData as WorkerConfig;
  const Database = require(cfg.sqlite) as typeof BetterSqlite3;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const port = parentPort!;
  const unavailable = new RegExp(cfg.unavailable);

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
  interface PendingWrite {
    id: number;
    events: readonly FeedbackEvent[];
    mode: WriteMode;
    key?: IdempotencyKey;
  }
  type Outcome = { ok: true; value: FeedbackWrite } | { ok: false; error: WireError };

  const codeOf = (e: unknown): string => {
    const code = (e as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? code : '';
  };
  const wire = (e: unknown): WireError => {
    const code = codeOf(e);
    return { message: e instanceof Error ? e.message : String(e), ...(code ? { code } : {}) };
  };
  const busy = (e: unknown): boolean => codeOf(e).startsWith('SQLITE_BUSY');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  /** Blocks this thread (never the HTTP one) for `ms`. */
  const sleep = (ms: number): void => void Atomics.wait(pause, 0, 0, ms);

  function schemaVersion(d: BetterSqlite3.Database): number {
    if (!d.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get()) return 0;
    const row = d.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: number } | undefined;
    return row?.value ?? 0;
  }

  function newerError(version: number): Error {
    return new Error(`sqlite:${cfg.path}: schema version ${version} is newer than this reclab supports (${cfg.version})`);
  }

  /** Creates or migrates the schema; runs under BEGIN IMMEDIATE, so one process at a time. */
  function migrate(d: BetterSqlite3.Database): void {
    // Re-read under the write lock: another process may have done the work meanwhile.
    let version = schemaVersion(d);
    if (version > cfg.version) throw newerError(version);
    if (version === 0) {
      d.exec(cfg.schemaV1);
      d.prepare(`INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', 1), ('item_rev', 0)`).run();
      version = 1;
    }
    for (; version < cfg.version; version++) d.exec(cfg.migrations[version - 1]);
    d.prepare(`UPDATE meta SET value = ? WHERE key = 'schema'`).run(cfg.version);
  }

  /** One attempt at opening; throws SQLITE_BUSY* when another process holds the file. */
  function openOnce(): BetterSqlite3.Database {
    const d = new Database(cfg.path, { timeout: cfg.busyTimeoutMs });
    try {
      // Switching a fresh file to WAL needs an exclusive lock: while another process sets the
      // file up, it may fail with SQLITE_BUSY or leave the mode unchanged. Both are retried.
      const mode = d.pragma('journal_mode = WAL', { simple: true });
      if (cfg.path !== ':memory:' && mode !== 'wal') throw Object.assign(new Error(`journal_mode stayed ${String(mode)}`), { code: 'SQLITE_BUSY' });
      // FULL fsyncs the WAL at every commit: a transaction that returned survives power loss.
      d.pragma('synchronous = FULL');
      // Feedback lands at random places of two user-keyed b-trees (feedback_key, users): once they
      // outgrow SQLite's 2 MiB default cache every insert rereads pages (1M events took 225 s
      // through the store with 2 MiB, 74 s with 64 MiB). A cap, allocated as pages are used.
      d.pragma(`cache_size = ${-Math.round(cfg.cacheMb * 1024)}`);
      const version = schemaVersion(d);
      if (version > cfg.version) throw newerError(version);
      if (version < cfg.version) d.transaction(() => migrate(d)).immediate();
      return d;
    } catch (e) {
      d.close();
      throw e;
    }
  }

  /** Opens with retries on SQLITE_BUSY until the open deadline (N processes on a fresh file). */
  function open(): BetterSqlite3.Database {
    if (cfg.path !== ':memory:') mkdirSync(dirname(cfg.path), { recursive: true });
    const deadline = Date.now() + cfg.openTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return openOnce();
      } catch (e) {
        if (!busy(e) || Date.now() >= deadline) throw e;
        // Jittered backoff, so processes that collided do not collide again in step.
        sleep(Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  let db: BetterSqlite3.Database;
  try {
    db = open();
  } catch (e) {
    const error = wire(e);
    if (!error.message.startsWith('sqlite:')) error.message = `sqlite:${cfg.path}: cannot open (${error.message})`;
    port.postMessage({ id: 0, ok: false, error } satisfies WorkerReply);
    port.close();
    return;
  }

  const statements = new Map<string, BetterSqlite3.Statement>();
  /** A cached prepared statement (preparing costs more than running a small query). */
  function stmt(sql: string): BetterSqlite3.Statement {
    let s = statements.get(sql);
    if (!s) {
      s = db.prepare(sql);
      statements.set(sql, s);
    }
    return s;
  }
  /** Runs `fn` in a BEGIN IMMEDIATE transaction (see the file comment). */
  const writeTx = <T>(fn: () => T): T => db.transaction(fn).immediate();
  /** SQL conditions (each ` AND …`) and parameters of a feedback filter. */
  const feedbackWhere = (f: FeedbackFilter): { where: string; params: string[] } => {
    let where = '';
    const params: string[] = [];
    for (const [column, value] of [['user_id', f.user], ['item_id', f.item], ['type', f.type]] as const) {
      if (value === undefined) continue;
      where += ` AND ${column} = ?`;
      params.push(value);
    }
    return { where, params };
  };
  const inList = (types: readonly string[] | undefined): string => (types && types.length > 0 ? ` AND type IN (${types.map(() => '?').join(',')})` : '');
  const itemOf = (row: ItemRow): ItemRecord => ({
    id: row.id,
    hidden: row.hidden !== 0,
    categories: JSON.parse(row.categories) as string[],
    labels: JSON.parse(row.labels) as string[],
    time: row.time,
    comment: row.comment,
  });

  // ---- feedback: group commit
  let pending: PendingWrite[] = [];
  let flushScheduled = false;
  let lastPrune = 0;
  /** Expired idempotency keys deleted per prune: bounds the work added to one commit. */
  const PRUNE_LIMIT = 1000;
  /** Seconds between prunes. */
  const PRUNE_EVERY_S = 600;

  function prune(now: number): number {
    lastPrune = now;
    const cutoff = now - cfg.idempotencyTtl;
    const n = stmt(`DELETE FROM idempotency WHERE key IN (SELECT key FROM idempotency WHERE created < ? LIMIT ${PRUNE_LIMIT})`).run(cutoff).changes;
    // A full page means more are due: prune again with the next commit.
    if (n === PRUNE_LIMIT) lastPrune = 0;
    return n;
  }

  /** Writes one request's events (inside the batch transaction). */
  function writeOne(p: PendingWrite, now: number): Outcome {
    if (p.key) {
      // Sees keys committed by other processes and those written earlier in this batch alike.
      const seen = stmt('SELECT fingerprint, rows FROM idempotency WHERE key = ?').get(p.key.key) as { fingerprint: string; rows: number } | undefined;
      if (seen) {
        if (seen.fingerprint !== p.key.fingerprint) return { ok: false, error: { message: `idempotency key conflict`, conflict: p.key.key } };
        return { ok: true, value: { rows: seen.rows, replayed: true } };
      }
    }
    const insert = stmt('INSERT INTO feedback(type, user_id, item_id, value, time) VALUES (?, ?, ?, ?, ?)');
    const update = stmt(
      `UPDATE feedback SET value = ?, time = ? WHERE seq = (
         SELECT seq FROM feedback WHERE user_id = ? AND item_id = ? AND type = ? ORDER BY seq DESC LIMIT 1)`,
    );
    const addUser = stmt(`INSERT OR IGNORE INTO users(id, labels, comment) VALUES (?, '[]', '')`);
    for (const e of p.events) {
      if (p.mode === 'upsert' && update.run(e.value, e.time, e.user, e.item, e.type).changes > 0) continue;
      insert.run(e.type, e.user, e.item, e.value, e.time);
      addUser.run(e.user);
    }
    if (p.key) stmt('INSERT INTO idempotency(key, fingerprint, rows, created) VALUES (?, ?, ?, ?)').run(p.key.key, p.key.fingerprint, p.events.length, now);
    return { ok: true, value: { rows: p.events.length, replayed: false } };
  }

  /**
   * Commits every pending feedback write in one transaction, then answers each. When one
   * request's data fails (a constraint), the transaction is rolled back, that request alone is
   * refused and the others are committed without it. Not a savepoint per request: SQLite copies
   * every page a savepoint touches to a sub-journal, which made large batches 2.5 times slower,
   * and requests the HTTP layer validated practically never fail on their own.
   */
  function flush(): void {
    flushScheduled = false;
    let batch = pending;
    pending = [];
    const now = Date.now() / 1000;
    while (batch.length > 0) {
      let failed = -1;
      let outcomes: Outcome[];
      try {
        outcomes = writeTx(() => {
          const out = batch.map((p, k): Outcome => {
            try {
              return writeOne(p, now);
            } catch (e) {
              failed = k;
              throw e;
            }
          });
          if (now - lastPrune >= PRUNE_EVERY_S) prune(now);
          return out;
        });
      } catch (e) {
        const error = wire(e);
        if (failed < 0 || unavailable.test(codeOf(e))) {
          // The database failed (commit, disk, lock): nothing of the batch was written.
          for (const p of batch) port.postMessage({ id: p.id, ok: false, error } satisfies WorkerReply);
          return;
        }
        port.postMessage({ id: batch[failed].id, ok: false, error } satisfies WorkerReply);
        batch = batch.filter((_, k) => k !== failed);
        continue;
      }
      batch.forEach((p, k) => {
        const o = outcomes[k];
        port.postMessage((o.ok ? { id: p.id, ok: true, value: o.value } : { id: p.id, ok: false, error: o.error }) satisfies WorkerReply);
      });
      return;
    }
  }

  // ---- the other operations
  const nextRev = (): number => (stmt(`UPDATE meta SET value = value + 1 WHERE key = 'item_rev' RETURNING value`).get() as { value: number }).value;
  const putItem = (sql: string, it: ItemRecord): void => {
    stmt(sql).run(it.id, it.hidden ? 1 : 0, JSON.stringify(it.categories), JSON.stringify(it.labels), it.time, it.comment, nextRev());
  };
  const userOf = (r: { id: string; labels: string; comment: string }): UserRecord => ({ id: r.id, labels: JSON.parse(r.labels) as string[], comment: r.comment });

  const ops: Record<Exclude<Op, 'insertFeedback' | 'close'>, (...args: never[]) => unknown> = {
    userFeedback(user: string, types: readonly string[] | undefined, limit: number): FeedbackEvent[] {
      const rows = stmt(
        `SELECT type, user_id AS user, item_id AS item, value, time FROM feedback
         WHERE user_id = ?${inList(types)} ORDER BY time DESC, seq DESC LIMIT ?`,
      ).all(user, ...(types ?? []), limit) as FeedbackEvent[];
      return rows.reverse();
    },
    listFeedback(filter: FeedbackFilter, cursor: string, n: number): Page<FeedbackEvent> {
      const { where, params } = feedbackWhere(filter);
      const rows = stmt(
        `SELECT seq, type, user_id AS user, item_id AS item, value, time FROM feedback WHERE seq > ?${where} ORDER BY seq LIMIT ?`,
      ).all(cursor === '' ? 0 : Number(cursor), ...params, n) as (FeedbackEvent & { seq: number })[];
      const next = rows.length === n ? String(rows[rows.length - 1].seq) : '';
      return { rows, cursor: next };
    },
    deleteFeedback(filter: FeedbackFilter): number {
      const { where, params } = feedbackWhere(filter);
      // The count triggers take the events off item_type_counts in this transaction.
      return writeTx(() => stmt(`DELETE FROM feedback WHERE 1${where}`).run(...params).changes);
    },
    countFeedback: (): number => (stmt('SELECT count(*) AS n FROM feedback').get() as { n: number }).n,
    itemCounts(types: readonly string[] | undefined, since: number | undefined): Map<string, number> {
      // Without `since`, the counters (items × types rows); with it, a scan of the event log.
      const rows = (
        since === undefined
          ? stmt(`SELECT item_id AS item, sum(n) AS n FROM item_type_counts WHERE 1${inList(types)} GROUP BY item_id`).all(...(types ?? []))
          : stmt(`SELECT item_id AS item, count(*) AS n FROM feedback WHERE time >= ?${inList(types)} GROUP BY item_id`).all(
              Number.isFinite(since) ? since : -1e300,
              ...(types ?? []),
            )
      ) as { item: string; n: number }[];
      return new Map(rows.map((r) => [r.item, r.n]));
    },
    upsertUsers(users: readonly UserRecord[]): void {
      const put = stmt('INSERT OR REPLACE INTO users(id, labels, comment) VALUES (?, ?, ?)');
      writeTx(() => {
        for (const u of users) put.run(u.id, JSON.stringify(u.labels), u.comment);
      });
    },
    getUser(id: string): UserRecord | undefined {
      const row = stmt('SELECT id, labels, comment FROM users WHERE id = ?').get(id) as { id: string; labels: string; comment: string } | undefined;
      return row && userOf(row);
    },
    deleteUser: (id: string): boolean =>
      writeTx(() => {
        // The count triggers take the user's events off item_type_counts in this transaction.
        stmt('DELETE FROM feedback WHERE user_id = ?').run(id);
        return stmt('DELETE FROM users WHERE id = ?').run(id).changes > 0;
      }),
    listUsers(cursor: string, n: number): Page<UserRecord> {
      const rows = stmt('SELECT id, labels, comment FROM users WHERE id > ? ORDER BY id LIMIT ?').all(cursor, n) as { id: string; labels: string; comment: string }[];
      return { rows: rows.map(userOf), cursor: rows.length === n ? rows[rows.length - 1].id : '' };
    },
    upsertItems(items: readonly ItemRecord[]): void {
      writeTx(() => {
        for (const it of items) putItem(`INSERT OR REPLACE INTO items(id, hidden, categories, labels, time, comment, rev, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, 0)`, it);
      });
    },
    insertMissingItems: (items: readonly ItemRecord[]): number =>
      writeTx(() => {
        const exists = stmt('SELECT 1 FROM items WHERE id = ?');
        let added = 0;
        for (const it of items) {
          if (exists.get(it.id)) continue;
          putItem(`INSERT INTO items(id, hidden, categories, labels, time, comment, rev, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, 0)`, it);
          added++;
        }
        return added;
      }),
    getItem(id: string): ItemRecord | undefined {
      const row = stmt('SELECT * FROM items WHERE id = ? AND deleted = 0').get(id) as ItemRow | undefined;
      return row && itemOf(row);
    },
    deleteItem: (id: string): boolean =>
      // A tombstone, so every replica's catalogue cache learns of the deletion.
      writeTx(() => {
        const row = stmt('SELECT deleted FROM items WHERE id = ?').get(id) as { deleted: number } | undefined;
        if (!row || row.deleted) return false;
        stmt('UPDATE items SET deleted = 1, rev = ? WHERE id = ?').run(nextRev(), id);
        return true;
      }),
    listItems(cursor: string, n: number): Page<ItemRecord> {
      const rows = stmt('SELECT * FROM items WHERE id > ? AND deleted = 0 ORDER BY id LIMIT ?').all(cursor, n) as ItemRow[];
      return { rows: rows.map(itemOf), cursor: rows.length === n ? rows[rows.length - 1].id : '' };
    },
    itemsChangedSince(rev: number): ItemRevision[] {
      const rows = stmt('SELECT * FROM items WHERE rev > ? ORDER BY rev').all(rev) as ItemRow[];
      return rows.map((r) => ({ rev: r.rev, item: itemOf(r), deleted: r.deleted !== 0 }));
    },
    insertVote: (v: HumanVote): boolean =>
      writeTx(
        () =>
          stmt(`INSERT INTO arena_votes(voter, user_id, a, b, choice, left_system, time) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(voter, user_id, a, b) DO NOTHING`).run(
            v.voter,
            v.user,
            v.a,
            v.b,
            v.choice,
            v.left,
            v.time,
          ).changes === 1,
      ),
    listVotes: (): HumanVote[] =>
      stmt('SELECT voter, user_id AS user, a, b, choice, left_system AS "left", time FROM arena_votes ORDER BY seq').all() as HumanVote[],
    ping(): void {
      // Commit a probe row: a read would pass on a read-only file or a full disk.
      writeTx(() => stmt(`INSERT INTO meta(key, value) VALUES ('ping', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(Date.now()));
    },
    debug(command: DebugCommand): unknown {
      if ('query' in command) return db.prepare(command.query).all(...(command.params ?? []));
      if ('exec' in command) return void db.exec(command.exec);
      if ('prune' in command) return writeTx(() => prune(Date.now() / 1000));
      process.exit(70); // crash: ends this thread only, with no reply to anyone
    },
  };
  /** Operations that write: pending feedback is committed first, so writes apply in the order sent. */
  const writes = new Set<Op>(['deleteFeedback', 'upsertUsers', 'deleteUser', 'upsertItems', 'insertMissingItems', 'deleteItem', 'insertVote', 'ping', 'debug']);

  port.on('message', (req: WorkerRequest) => {
    if (req.op === 'insertFeedback') {
      const [events, mode, key] = req.args as [FeedbackEvent[], WriteMode, IdempotencyKey | undefined];
      pending.push({ id: req.id, events, mode, key });
      if (!flushScheduled) {
        flushScheduled = true;
        // Messages already queued on the port are delivered before this runs: they join the commit.
        setImmediate(flush);
      }
      return;
    }
    if (writes.has(req.op) || req.op === 'close') flush();
    if (req.op === 'close') {
      db.close();
      port.postMessage({ id: req.id, ok: true, value: undefined } satisfies WorkerReply);
      port.close();
      return;
    }
    let reply: WorkerReply;
    try {
      reply = { id: req.id, ok: true, value: (ops[req.op] as (...args: unknown[]) => unknown)(...req.args) };
    } catch (e) {
      reply = { id: req.id, ok: false, error: wire(e) };
    }
    port.postMessage(reply);
  });
  port.postMessage({ id: 0, ok: true, value: undefined } satisfies WorkerReply);
}
