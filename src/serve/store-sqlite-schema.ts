/**
 * The SQLite store's schema: the version in `meta`, version 1 as first released, and the
 * migrations after it. The worker thread (store-sqlite-worker.ts) receives them through its
 * `WorkerConfig` (it is eval'd source and imports nothing), so they are a module of their own, as
 * the PostgreSQL store's are (store-postgres-schema.ts).
 */
/** Schema version stored in the `meta` table; bump with a migration when the layout changes. */
export const SCHEMA_VERSION = 4;

/** Version 1, as first released (kept verbatim: a fresh file is built as v1 and then migrated). */
export const SCHEMA_V1 = `
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

/**
 * `MIGRATIONS[v - 1]` takes the schema from version v to v + 1 (run under BEGIN IMMEDIATE).
 *
 * 1 → 2: popularity counters and idempotency keys.
 * - `item_type_counts` holds the number of events per (item, type), kept by triggers in the
 *   transaction of every insert, delete or re-keying update of `feedback` — whatever path writes
 *   it — so `itemCounts()` reads items × types rows instead of grouping the whole event log
 *   (700–750 ms at 2M events). An upsert that only changes value and time fires none of them.
 *   Rows that reach zero are deleted, so the table never lists an item without events.
 * - `idempotency` remembers each key's request fingerprint and row count.
 *
 * 2 → 3: `arena_votes`, people's votes on the dashboard's Arena page; the unique key allows one
 * vote per voter and pair (user, a, b). Additive: nothing else changes.
 *
 * 3 → 4: drops `feedback_user` (user, time, seq). Every event landed at a random place of it and
 * of `feedback_key` (user, item, type); once both have more leaf pages than a group commit has
 * events, each event dirties a page of each, and ingest fell to 15,200 events/s by 1.5 M events
 * over 10,000 users, against 30,700 with `feedback_key` alone (`npm run bench -- serve-store`).
 * A user's history is now read through `feedback_key`'s `user_id` prefix and sorted by time: the
 * same cost for ordinary users, more for heavy ones (a 1,000-event read: 0.2 ms at 165 events,
 * 1.8 ms at 2,314, 28 ms at 100,000, against 0.2–1.5 ms before) — paid on a history-cache
 * miss, where the old index cost every write.
 */
export const MIGRATIONS: readonly string[] = [
  `
CREATE TABLE IF NOT EXISTS item_type_counts (
  item_id TEXT NOT NULL,
  type TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (item_id, type)
) WITHOUT ROWID;
DELETE FROM item_type_counts;
INSERT INTO item_type_counts(item_id, type, n) SELECT item_id, type, count(*) FROM feedback GROUP BY item_id, type;
CREATE TRIGGER IF NOT EXISTS feedback_count_insert AFTER INSERT ON feedback BEGIN
  INSERT INTO item_type_counts(item_id, type, n) VALUES (new.item_id, new.type, 1)
    ON CONFLICT(item_id, type) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS feedback_count_delete AFTER DELETE ON feedback BEGIN
  UPDATE item_type_counts SET n = n - 1 WHERE item_id = old.item_id AND type = old.type;
  DELETE FROM item_type_counts WHERE item_id = old.item_id AND type = old.type AND n <= 0;
END;
CREATE TRIGGER IF NOT EXISTS feedback_count_rekey AFTER UPDATE OF item_id, type ON feedback BEGIN
  UPDATE item_type_counts SET n = n - 1 WHERE item_id = old.item_id AND type = old.type;
  DELETE FROM item_type_counts WHERE item_id = old.item_id AND type = old.type AND n <= 0;
  INSERT INTO item_type_counts(item_id, type, n) VALUES (new.item_id, new.type, 1)
    ON CONFLICT(item_id, type) DO UPDATE SET n = n + 1;
END;
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  rows INTEGER NOT NULL,
  created REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency(created);
`,
  `
CREATE TABLE IF NOT EXISTS arena_votes (
  seq INTEGER PRIMARY KEY,
  voter TEXT NOT NULL,
  user_id INTEGER NOT NULL,
  a TEXT NOT NULL,
  b TEXT NOT NULL,
  choice TEXT NOT NULL,
  left_system TEXT NOT NULL,
  time REAL NOT NULL,
  UNIQUE (voter, user_id, a, b)
);
`,
  `
DROP INDEX IF EXISTS feedback_user;
`,
];
