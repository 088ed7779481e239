/**
 * The PostgreSQL store's schema (store-postgres.ts): the tables, and creating or migrating them
 * once per database — replicas opening at once queue on an advisory lock, and an older layout is
 * brought to {@link SCHEMA_VERSION} inside the same transaction.
 */
import pg from 'pg';

/** Schema version kept in `reclab_meta`; bump with a migration in {@link migrate} when the layout changes. */
const SCHEMA_VERSION = 3;

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
CREATE TABLE IF NOT EXISTS item_type_counts (item_id TEXT NOT NULL, type TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (item_id, type));
CREATE TABLE IF NOT EXISTS idempotency_keys (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, rows INT NOT NULL, created DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys(created);
CREATE TABLE IF NOT EXISTS arena_votes (
  seq BIGSERIAL PRIMARY KEY,
  voter TEXT NOT NULL,
  user_id BIGINT NOT NULL,
  a TEXT NOT NULL,
  b TEXT NOT NULL,
  choice TEXT NOT NULL,
  left_system TEXT NOT NULL,
  time DOUBLE PRECISION NOT NULL,
  UNIQUE (voter, user_id, a, b)
);
`;

/** Advisory lock key of schema changes (an arbitrary constant private to reclab; the store's others are in store-postgres.ts). */
const LOCK_SCHEMA = 74210001;

/**
 * Creates or migrates the schema on a connection of its own, without the pool's time limits:
 * waiting for another replica's migration, or backfilling counters from a large event log, may
 * take longer than any request should. Replicas opening at once queue on an advisory lock.
 */
export async function prepareSchema(url: string, connectionTimeoutMs: number): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectionTimeoutMs });
  c.on('error', () => {}); // a lost connection also fails the statement in flight, which reports it
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_SCHEMA]);
    await c.query(SCHEMA);
    await migrate(c);
    await c.query('COMMIT');
  } finally {
    // Without COMMIT, closing the connection rolls the transaction back.
    await c.end().catch(() => {});
  }
}

/**
 * Brings the schema to {@link SCHEMA_VERSION} (the caller holds the schema lock).
 * 1 → 2: item counters, backfilled from the event log once; writers wait meanwhile (SHARE lock),
 * so no event is counted twice or missed.
 * 2 → 3: `arena_votes` (the dashboard's human Arena votes), created empty by {@link SCHEMA}'s
 * `CREATE TABLE IF NOT EXISTS`; nothing to backfill.
 */
async function migrate(c: pg.ClientBase): Promise<void> {
  const r = await c.query(`SELECT value FROM reclab_meta WHERE key = 'schema'`);
  const version = r.rows.length > 0 ? Number((r.rows[0] as { value: string }).value) : undefined;
  if (version === undefined) {
    // A new database: the tables were just created empty, at the current version.
    await c.query(`INSERT INTO reclab_meta(key, value) VALUES ('schema', $1)`, [SCHEMA_VERSION]);
    return;
  }
  if (version > SCHEMA_VERSION) throw new Error(`schema version ${version} is newer than this reclab supports (${SCHEMA_VERSION})`);
  if (version < 2) {
    await c.query('LOCK TABLE feedback IN SHARE MODE');
    await c.query(
      `INSERT INTO item_type_counts(item_id, type, n) SELECT item_id, type, count(*) FROM feedback GROUP BY item_id, type
       ON CONFLICT (item_id, type) DO UPDATE SET n = EXCLUDED.n`,
    );
  }
  if (version < SCHEMA_VERSION) await c.query(`UPDATE reclab_meta SET value = $1 WHERE key = 'schema'`, [SCHEMA_VERSION]);
}
