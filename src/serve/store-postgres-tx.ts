/**
 * PostgreSQL failures classified — unavailable (503 + Retry-After), a lost connection (safe to
 * retry: nothing committed), a conflict (deadlock or serialization: run again) — and one
 * transaction attempt on a checked-out client, with a COMMIT whose answer was lost reported as
 * unavailability, never as success. The store (store-postgres.ts) retries attempts with these.
 */
import type pg from 'pg';
import { StoreUnavailableError } from './store.ts';

/** Attempts of a transaction that failed with a deadlock or serialization error (40P01, 40001). */
export const TX_ATTEMPTS = 4;

/** Node socket errors meaning the database is unreachable or the connection broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * SQLSTATEs (beyond classes 08 and 53) meaning "not now": administrator or crash shutdown,
 * starting up, read-only transaction (a standby, or default_transaction_read_only), statement
 * timeout or cancel, lock timeout.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '25006', '57014', '55P03']);
/** node-postgres's own messages for a broken or timed-out connection (they carry no code). */
const UNAVAILABLE_MESSAGE = /Connection terminated|not queryable|timeout expired|timeout exceeded when trying to connect|Query read timeout/;
/** Errors after which the connection is gone but nothing was committed: one more try on a fresh connection is safe. */
const LOST_STATES = new Set(['57P01', '57P02', 'ECONNRESET', 'EPIPE']);
const LOST_MESSAGE = /Connection terminated unexpectedly|not queryable/;

/** The SQLSTATE or Node error code of `e` ('' when it has none). */
export function codeOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** The message of `e`, whatever was thrown. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** True when `e` says the database cannot serve now (as opposed to a bug or a bad request). */
export function isUnavailable(e: unknown): boolean {
  if (e instanceof StoreUnavailableError) return true;
  const code = codeOf(e);
  if (code.startsWith('08') || code.startsWith('53') || UNAVAILABLE_STATES.has(code) || SOCKET_CODES.has(code)) return true;
  return UNAVAILABLE_MESSAGE.test(messageOf(e));
}

/** True when the connection broke under a statement (nothing of its open transaction can have committed). */
export function isConnectionLost(e: unknown): boolean {
  const code = codeOf(e);
  return code.startsWith('08') || LOST_STATES.has(code) || LOST_MESSAGE.test(messageOf(e));
}

/** Deadlock or serialization failure: the transaction was rolled back and may simply run again. */
export function isRetryableConflict(e: unknown): boolean {
  const code = codeOf(e);
  return code === '40P01' || code === '40001';
}

/** `e` as the store reports it: unavailability as {@link StoreUnavailableError}, anything else unchanged. */
export function storeError(e: unknown): unknown {
  // Still conflicting after every retry: contention, which passes like an outage.
  if (isRetryableConflict(e)) return new StoreUnavailableError(`write conflict persisted after ${TX_ATTEMPTS} attempts: ${messageOf(e)}`);
  if (e instanceof StoreUnavailableError || !isUnavailable(e)) return e;
  // Out of memory, disk or connections (class 53) take longer to clear than a restart.
  const retryAfter = codeOf(e).startsWith('53') ? 5 : 1;
  return new StoreUnavailableError(`database unavailable: ${messageOf(e)}`, retryAfter);
}

/** A transaction whose connection broke before its COMMIT was sent: rolled back, safe to run again. */
export class ConnectionLost extends Error {}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A checked-out connection's health: set once it failed and must not go back to the pool. */
export interface Connection {
  failure?: unknown;
}

/** BEGIN and `fn`; on failure rolls back, or throws {@link ConnectionLost} when the connection broke. */
export async function body<T>(c: pg.PoolClient, conn: Connection, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    await c.query('BEGIN');
    return await fn(c);
  } catch (e) {
    if (conn.failure !== undefined || isConnectionLost(e)) {
      conn.failure ??= e;
      throw new ConnectionLost(messageOf(e));
    }
    // A client-side timeout leaves the statement running on the server: drop the connection.
    if (isUnavailable(e)) conn.failure = e;
    else await c.query('ROLLBACK').catch((err: unknown) => (conn.failure = err));
    throw e;
  }
}

/**
 * COMMIT. When its answer is lost the transaction may or may not have committed: that is
 * reported as unavailability, never as success (acknowledged means committed).
 */
export async function commit(c: pg.PoolClient, conn: Connection): Promise<void> {
  try {
    await c.query('COMMIT');
  } catch (e) {
    if (conn.failure === undefined && !isUnavailable(e)) throw e; // the server refused the COMMIT and rolled back
    conn.failure ??= e;
    throw new StoreUnavailableError(
      `connection lost during COMMIT (${messageOf(e)}): the write may or may not be stored; retry it with the same Idempotency-Key`,
    );
  }
}
