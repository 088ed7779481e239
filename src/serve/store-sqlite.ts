/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode with `synchronous = FULL`, with
 * the connection on a worker thread (store-sqlite-worker.ts) so that no query, commit or stalled
 * disk ever blocks the HTTP event loop.
 *
 * Why FULL: in WAL mode, NORMAL survives a crash of the process (the WAL is in the OS page cache)
 * but may lose the last commits on power loss; FULL fsyncs the WAL at every commit, so a
 * transaction that returned is on disk. The server acknowledges feedback only after that commit,
 * hence "acknowledged means durable".
 *
 * Group commit keeps FULL fast: feedback writes that reach the worker together (many concurrent
 * requests, or requests queued while the previous commit was fsyncing) are committed in one
 * transaction — one fsync for all of them — and every request is answered after that commit.
 *
 * Failures: SQLite errors meaning "not now" (disk full, I/O error, read-only file, lock held past
 * the busy timeout, cannot open) reject with {@link StoreUnavailableError}, which the HTTP layer
 * turns into 503 + Retry-After. If the worker thread dies, every request in flight rejects the
 * same way and the next request starts a new worker (a `:memory:` store cannot come back: its data
 * died with the thread, so it stays unavailable). Nothing hangs and the process never crashes.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import {
  IDEMPOTENCY_TTL_S,
  IdempotencyConflictError,
  StoreUnavailableError,
  type FeedbackEvent,
  type FeedbackFilter,
  type FeedbackWrite,
  type IdempotencyKey,
  type ItemRecord,
  type ItemRevision,
  type Page,
  type Store,
  type VoteStore,
  type UserRecord,
  type WriteMode,
} from './store.ts';
import { MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION } from './store-sqlite-schema.ts';
import {
  UNAVAILABLE_CODES,
  sqliteWorkerMain,
  type DebugCommand,
  type Op,
  type WireError,
  type WorkerConfig,
  type WorkerReply,
  type WorkerRequest,
} from './store-sqlite-worker.ts';
import type { HumanVote } from '../judge/human.ts';

export { SCHEMA_VERSION } from './store-sqlite-schema.ts';
export type { DebugCommand } from './store-sqlite-worker.ts';

/**
 * The worker's source. `__name` is the helper esbuild (under tsx) wraps named inner functions
 * with; an eval'd worker does not have it, and names are not needed there.
 */
const WORKER_SOURCE = `'use strict';\nvar __name = (fn) => fn;\n(${sqliteWorkerMain.toString()})();\n`;

const unavailableCode = new RegExp(UNAVAILABLE_CODES);

/** Options of {@link SqliteStore.open} (the defaults suit the service). */
export interface SqliteOptions {
  /** Milliseconds a statement waits for a lock held by another process (default 10 s). */
  busyTimeoutMs?: number;
  /** Milliseconds opening keeps retrying while other processes set up the same file (default 30 s). */
  openTimeoutMs?: number;
  /** Page cache of the connection in MiB (default 64; it grows to this as pages are used). */
  cacheMb?: number;
}

interface Call {
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
}

/** The error a worker's {@link WireError} stands for, on this side of the thread boundary. */
function errorOf(w: WireError): Error {
  if (w.conflict !== undefined) return new IdempotencyConflictError(w.conflict);
  const code = w.code ?? '';
  const message = w.message.startsWith('sqlite:') ? w.message : `sqlite: ${w.message}`;
  // A busy lock frees up quickly; a full disk or a read-only file needs someone to act.
  const e = unavailableCode.test(code) ? new StoreUnavailableError(message, code.startsWith('SQLITE_BUSY') ? 1 : 5) : new Error(message);
  return code ? Object.assign(e, { code }) : e;
}

/**
 * The worker thread and the requests in flight to it: starts the worker, restarts it after it
 * died, and settles every request exactly once (a reply, or an error when the thread is gone).
 */
class WorkerClient {
  private worker: Worker | undefined;
  /** The worker being started (open in progress). */
  private starting: Promise<Worker> | undefined;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Set when the store cannot come back (a `:memory:` database whose worker died). */
  private lost: Error | undefined;

  /** The first start: {@link SqliteStore.ready} reports it. */
  readonly opened: Promise<void>;

  constructor(private readonly config: WorkerConfig) {
    this.opened = this.start().then(() => undefined);
    this.opened.catch(() => {}); // reported by ready() and by every call, never unhandled
  }

  /** Starts a worker and resolves once it has the database open (rejects with its open error). */
  start(): Promise<Worker> {
    this.starting ??= new Promise<Worker>((resolve, reject) => {
      // No inherited execArgv: `--input-type=module` would make the eval source an ES module
      // (without `require`), and the worker needs no `--import tsx` (it is plain JavaScript).
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.config, execArgv: [] });
      let opened = false;
      let failure: Error | undefined;
      worker.on('message', (reply: WorkerReply) => {
        if (reply.id !== 0) return this.settle(reply);
        this.starting = undefined;
        if (!reply.ok) {
          // The worker ends by itself. A file that is not ours to open (a newer schema, not a
          // database) will not get better by retrying: every later call gets the same answer.
          const e = errorOf(reply.error);
          if (!(e instanceof StoreUnavailableError)) this.lost = e;
          return reject(e);
        }
        opened = true;
        this.worker = worker;
        // Idle, the worker must not keep the process alive; requests in flight ref it.
        if (this.calls.size === 0) worker.unref();
        resolve(worker);
      });
      worker.on('error', (e) => (failure = e));
      worker.on('exit', (code) => {
        if (!opened) {
          this.starting = undefined;
          return reject(failure ?? new StoreUnavailableError(`sqlite:${this.config.path}: worker exited (${code}) while opening`, 5));
        }
        if (this.worker === worker) this.worker = undefined;
        if (this.closed) return this.failAll(new Error('store is closed'));
        const why = failure ? failure.message : `exit code ${code}`;
        if (this.config.path === ':memory:') this.lost = new StoreUnavailableError('sqlite: the in-memory database was lost with its thread', 60);
        this.failAll(new StoreUnavailableError(`sqlite: the database thread stopped (${why}); requests in flight were not committed`, 1));
      });
    });
    return this.starting;
  }

  private settle(reply: WorkerReply): void {
    const call = this.calls.get(reply.id);
    if (!call) return;
    this.calls.delete(reply.id);
    if (this.calls.size === 0) this.worker?.unref();
    if (reply.ok) call.resolve(reply.value);
    else call.reject(errorOf(reply.error));
  }

  private failAll(e: Error): void {
    const calls = [...this.calls.values()];
    this.calls.clear();
    for (const c of calls) c.reject(e);
  }

  /** Sends one request to the worker (starting a new one if the last died) and awaits the reply. */
  async call<T>(op: Op, ...args: unknown[]): Promise<T> {
    if (this.closed) throw new Error('store is closed');
    if (this.lost) throw this.lost;
    let worker = this.worker;
    if (!worker) {
      // The first open still running, or a restart after the worker died.
      worker = await this.start();
      if (this.closed) throw new Error('store is closed');
    }
    return this.send(worker, op, args);
  }

  private send<T>(worker: Worker, op: Op, args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      // Posted first: a value that cannot cross threads throws here and rejects, leaving no
      // call behind (the reply cannot arrive before this function returns).
      worker.postMessage({ id, op, args } satisfies WorkerRequest);
      if (this.calls.size === 0) worker.ref();
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** See {@link SqliteStore.close}. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      const worker = this.worker ?? (this.starting ? await this.starting.catch(() => undefined) : undefined);
      if (!worker) return;
      const exited = new Promise((r) => worker.once('exit', r));
      try {
        await this.send(worker, 'close', []);
      } catch {
        // The worker died meanwhile: nothing is left to flush.
      }
      worker.ref(); // the caller awaits the exit: keep the process alive until it comes
      await exited;
    })();
    return this.closing;
  }
}

/** {@link Store} over one SQLite file, served by a worker thread. */
export class SqliteStore implements Store, VoteStore {
  readonly kind = 'sqlite';

  private constructor(private readonly client: WorkerClient) {}

  /**
   * Opens (creating or migrating if needed) the database at `path` (`:memory:` for a throw-away
   * store). Returns at once: the worker thread opens the file meanwhile, and calls wait for it.
   * Await {@link ready} to learn whether opening worked; if it failed, every call rejects with
   * the same error (a newer schema, not a database), or with {@link StoreUnavailableError} and
   * a new attempt at the next call when the failure may pass (cannot open, busy). Safe when
   * several processes open the same fresh file at once.
   */
  static open(path: string, options: SqliteOptions = {}): SqliteStore {
    return new SqliteStore(
      new WorkerClient({
        path,
        sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
        version: SCHEMA_VERSION,
        schemaV1: SCHEMA_V1,
        migrations: MIGRATIONS,
        unavailable: UNAVAILABLE_CODES,
        idempotencyTtl: IDEMPOTENCY_TTL_S,
        busyTimeoutMs: options.busyTimeoutMs ?? 10_000,
        openTimeoutMs: options.openTimeoutMs ?? 30_000,
        cacheMb: options.cacheMb ?? 64,
      }),
    );
  }

  /** Resolves with the store once its database is open; rejects with the reason it could not be. */
  async ready(): Promise<this> {
    await this.client.opened;
    return this;
  }

  insertFeedback(events: readonly FeedbackEvent[], mode: WriteMode, idempotency?: IdempotencyKey): Promise<FeedbackWrite> {
    return this.client.call('insertFeedback', events, mode, idempotency);
  }

  userFeedback(user: string, types?: readonly string[], limit = 1_000_000): Promise<FeedbackEvent[]> {
    return this.client.call('userFeedback', user, types, limit);
  }

  listFeedback(filter: FeedbackFilter, cursor: string, n: number): Promise<Page<FeedbackEvent>> {
    return this.client.call('listFeedback', filter, cursor, n);
  }

  deleteFeedback(filter: FeedbackFilter & { user: string; item: string }): Promise<number> {
    return this.client.call('deleteFeedback', filter);
  }

  countFeedback(): Promise<number> {
    return this.client.call('countFeedback');
  }

  /** Without `since`: the maintained counters. With `since` (even -Infinity): a scan of the event log. */
  itemCounts(types?: readonly string[], since?: number): Promise<Map<string, number>> {
    return this.client.call('itemCounts', types, since);
  }

  upsertUsers(users: readonly UserRecord[]): Promise<void> {
    return this.client.call('upsertUsers', users);
  }

  getUser(id: string): Promise<UserRecord | undefined> {
    return this.client.call('getUser', id);
  }

  deleteUser(id: string): Promise<boolean> {
    return this.client.call('deleteUser', id);
  }

  listUsers(cursor: string, n: number): Promise<Page<UserRecord>> {
    return this.client.call('listUsers', cursor, n);
  }

  upsertItems(items: readonly ItemRecord[]): Promise<void> {
    return this.client.call('upsertItems', items);
  }

  insertMissingItems(items: readonly ItemRecord[]): Promise<number> {
    return this.client.call('insertMissingItems', items);
  }

  getItem(id: string): Promise<ItemRecord | undefined> {
    return this.client.call('getItem', id);
  }

  deleteItem(id: string): Promise<boolean> {
    return this.client.call('deleteItem', id);
  }

  listItems(cursor: string, n: number): Promise<Page<ItemRecord>> {
    return this.client.call('listItems', cursor, n);
  }

  insertVote(vote: HumanVote): Promise<boolean> {
    return this.client.call('insertVote', vote);
  }

  listVotes(): Promise<HumanVote[]> {
    return this.client.call('listVotes');
  }

  itemsChangedSince(rev: number): Promise<ItemRevision[]> {
    return this.client.call('itemsChangedSince', rev);
  }

  ping(): Promise<void> {
    return this.client.call('ping');
  }

  /**
   * Test and bench hooks, not part of {@link Store}: run SQL on the worker's connection, prune
   * idempotency keys now, or crash the worker thread.
   */
  debug(command: DebugCommand): Promise<unknown> {
    return this.client.call('debug', command);
  }

  /**
   * Commits pending feedback, closes the database and ends the worker. Requests sent before
   * are answered first (the worker serves in order); requests after reject.
   */
  close(): Promise<void> {
    return this.client.close();
  }
}
