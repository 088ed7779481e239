/**
 * Where jobs put their results: one table keyed by the job's content key, so a retried or
 * duplicated job writes nothing twice. The insert is `ON CONFLICT DO NOTHING` on the key: of two
 * workers that finish the same job, one stores its result and the other is told it was a
 * duplicate (counted in the attempts table, so a run can show how many writes were refused).
 *
 * PostgreSQL when several machines share the results (`postgres://…`); an SQLite file (the
 * single-machine default, `sqlite:<path>` or a plain path) otherwise. Every payload is stored
 * with the SHA-256 of its canonical JSON, so a re-run that produced a different result (a
 * non-deterministic job) can be told apart from a true duplicate.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** One stored result. */
export interface StoredResult {
  key: string;
  kind: string;
  hash: string;
  payload: unknown;
  worker: string;
  storedAt: string;
}

/** What became of a write. */
export type PutOutcome = 'stored' | 'duplicate' | 'conflict';

/** The results store used by workers and by the submitting side. */
export interface ResultStore {
  readonly url: string;
  /**
   * Stores `payload` under `key` unless a result is there already. `identity` (default: the
   * payload) is what is hashed: the part of a result that a faithful re-run reproduces (times
   * excluded), so a refused write is told apart as a duplicate or a conflict.
   */
  put(key: string, kind: string, payload: unknown, worker: string, identity?: unknown): Promise<PutOutcome>;
  /** The stored result of `key`, if any. */
  get(key: string): Promise<StoredResult | undefined>;
  /** Every stored result whose key starts with `prefix` (all when empty), by key. */
  list(prefix?: string): Promise<StoredResult[]>;
  /** Refused writes per outcome (duplicate, conflict) for keys starting with `prefix`. */
  refused(prefix?: string): Promise<{ duplicate: number; conflict: number }>;
  close(): Promise<void>;
}

/** JSON with object keys sorted (the hash must not depend on key order). */
export function canonicalJson(value: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canon) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(canon(value));
}

/** SHA-256 (hex) of the canonical JSON of `value`. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

const TABLE = `CREATE TABLE IF NOT EXISTS reclab_job_results (
  key TEXT PRIMARY KEY, kind TEXT NOT NULL, hash TEXT NOT NULL, payload TEXT NOT NULL, worker TEXT NOT NULL, stored_at TEXT NOT NULL)`;
const ATTEMPTS = `CREATE TABLE IF NOT EXISTS reclab_job_refused (
  key TEXT NOT NULL, outcome TEXT NOT NULL, hash TEXT NOT NULL, worker TEXT NOT NULL, at TEXT NOT NULL)`;

type Row = { key: string; kind: string; hash: string; payload: string; worker: string; stored_at: string };
const fromRow = (r: Row): StoredResult => ({ key: r.key, kind: r.kind, hash: r.hash, payload: JSON.parse(r.payload), worker: r.worker, storedAt: r.stored_at });
/** LIKE pattern matching keys that start with `prefix` (wildcards escaped). */
const likePrefix = (prefix: string) => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The shared store on PostgreSQL. */
class PostgresResults implements ResultStore {
  private constructor(
    readonly url: string,
    private readonly pool: import('pg').Pool,
  ) {}

  static async open(url: string): Promise<PostgresResults> {
    const { default: pg } = await import('pg');
    // The pool replaces broken connections by itself: a PostgreSQL restart fails the queries in
    // flight (the job is retried by the queue), later ones connect afresh.
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => {}); // an idle client's lost connection: dropped, the next query reconnects
    await pool.query(TABLE);
    await pool.query(ATTEMPTS);
    return new PostgresResults(url, pool);
  }

  async put(key: string, kind: string, payload: unknown, worker: string, identity: unknown = payload): Promise<PutOutcome> {
    const hash = contentHash(identity);
    const now = new Date().toISOString();
    const r = await this.pool.query('INSERT INTO reclab_job_results (key, kind, hash, payload, worker, stored_at) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (key) DO NOTHING', [key, kind, hash, JSON.stringify(payload), worker, now]);
    if (r.rowCount === 1) return 'stored';
    const old = await this.get(key);
    const outcome: PutOutcome = old?.hash === hash ? 'duplicate' : 'conflict';
    await this.pool.query('INSERT INTO reclab_job_refused (key, outcome, hash, worker, at) VALUES ($1,$2,$3,$4,$5)', [key, outcome, hash, worker, now]);
    return outcome;
  }

  async get(key: string): Promise<StoredResult | undefined> {
    const r = await this.pool.query<Row>('SELECT * FROM reclab_job_results WHERE key = $1', [key]);
    return r.rows[0] ? fromRow(r.rows[0]) : undefined;
  }

  async list(prefix = ''): Promise<StoredResult[]> {
    const r = await this.pool.query<Row>("SELECT * FROM reclab_job_results WHERE key LIKE $1 ESCAPE '\\' ORDER BY key", [likePrefix(prefix)]);
    return r.rows.map(fromRow);
  }

  async refused(prefix = ''): Promise<{ duplicate: number; conflict: number }> {
    const r = await this.pool.query<{ outcome: string; n: string }>("SELECT outcome, count(*) AS n FROM reclab_job_refused WHERE key LIKE $1 ESCAPE '\\' GROUP BY outcome", [likePrefix(prefix)]);
    const get = (o: string) => Number(r.rows.find((x) => x.outcome === o)?.n ?? 0);
    return { duplicate: get('duplicate'), conflict: get('conflict') };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The single-machine store in an SQLite file (WAL: several worker processes may share it). */
class SqliteResults implements ResultStore {
  private constructor(
    readonly url: string,
    private readonly db: import('better-sqlite3').Database,
  ) {}

  static async open(url: string, path: string): Promise<SqliteResults> {
    const { default: Database } = await import('better-sqlite3');
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 10000');
    db.exec(TABLE);
    db.exec(ATTEMPTS);
    return new SqliteResults(url, db);
  }

  async put(key: string, kind: string, payload: unknown, worker: string, identity: unknown = payload): Promise<PutOutcome> {
    const hash = contentHash(identity);
    const now = new Date().toISOString();
    const r = this.db.prepare('INSERT INTO reclab_job_results (key, kind, hash, payload, worker, stored_at) VALUES (?,?,?,?,?,?) ON CONFLICT (key) DO NOTHING').run(key, kind, hash, JSON.stringify(payload), worker, now);
    if (r.changes === 1) return 'stored';
    const old = await this.get(key);
    const outcome: PutOutcome = old?.hash === hash ? 'duplicate' : 'conflict';
    this.db.prepare('INSERT INTO reclab_job_refused (key, outcome, hash, worker, at) VALUES (?,?,?,?,?)').run(key, outcome, hash, worker, now);
    return outcome;
  }

  async get(key: string): Promise<StoredResult | undefined> {
    const r = this.db.prepare('SELECT * FROM reclab_job_results WHERE key = ?').get(key) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  async list(prefix = ''): Promise<StoredResult[]> {
    return (this.db.prepare("SELECT * FROM reclab_job_results WHERE key LIKE ? ESCAPE '\\' ORDER BY key").all(likePrefix(prefix)) as Row[]).map(fromRow);
  }

  async refused(prefix = ''): Promise<{ duplicate: number; conflict: number }> {
    const rows = this.db.prepare("SELECT outcome, count(*) AS n FROM reclab_job_refused WHERE key LIKE ? ESCAPE '\\' GROUP BY outcome").all(likePrefix(prefix)) as { outcome: string; n: number }[];
    const get = (o: string) => rows.find((x) => x.outcome === o)?.n ?? 0;
    return { duplicate: get('duplicate'), conflict: get('conflict') };
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Opens the results store at `url`: `postgres://…`, `sqlite:<path>` or a file path. */
export async function openResults(url: string): Promise<ResultStore> {
  if (/^postgres(ql)?:\/\//.test(url)) return PostgresResults.open(url);
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (!path) throw new Error(`--results "${url}": expected postgres://… or sqlite:<path>`);
  return SqliteResults.open(url, path);
}
