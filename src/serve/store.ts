/**
 * The storage adapter of the recommendation service: everything the server keeps between
 * requests (feedback events, users, items) goes through this interface, so the same routes run
 * over SQLite (one process, the default) or PostgreSQL (several stateless replicas).
 *
 * Semantics every implementation keeps:
 * - a promise returned by {@link Store.insertFeedback} resolves only after the events are
 *   committed durably (the HTTP layer acknowledges after it), and rejects if they are not;
 * - writes of one call are atomic: all rows or none;
 * - times are seconds since the Unix epoch (as in `Interactions.times`).
 */
import type { HumanVote } from '../judge/human.ts';

/** One feedback event: user `user` did `type` on `item` at `time`. */
export interface FeedbackEvent {
  type: string;
  user: string;
  item: string;
  /** Weight or rating of the event (1 when the client gives none). */
  value: number;
  /** Seconds since the Unix epoch. */
  time: number;
  /** Position in the store's log (arrival order), on events read by {@link Store.listFeedback}. */
  seq?: number;
}

/** A user record. */
export interface UserRecord {
  id: string;
  labels: string[];
  comment: string;
}

/** An item record. */
export interface ItemRecord {
  id: string;
  /** Hidden items are never recommended (but their feedback is kept). */
  hidden: boolean;
  categories: string[];
  labels: string[];
  /** Publication time, seconds since the Unix epoch (drives `/api/latest`). */
  time: number;
  comment: string;
}

/** An item record with its change revision (for catalogue caches in every replica). */
export interface ItemRevision {
  /** Monotonic revision of the last change; deletions leave a tombstone (`deleted`). */
  rev: number;
  item: ItemRecord;
  deleted: boolean;
}

/** How {@link Store.insertFeedback} treats an event whose (type, user, item) already exists. */
export type WriteMode = 'insert' | 'upsert';

/**
 * An idempotency key sent with a feedback write (`Idempotency-Key` header). The key is stored in
 * the same transaction as the events, so a client that retries a write whose acknowledgement it
 * never saw (a kill, a reset connection) gets the first write's answer and no duplicate rows.
 */
export interface IdempotencyKey {
  /** The client's key (unique per logical write). */
  key: string;
  /** Hash of the request (method, mode and body): the same key with another body is refused. */
  fingerprint: string;
}

/** What a feedback write did. */
export interface FeedbackWrite {
  /** Events written (or, for a replayed key, written by the first request). */
  rows: number;
  /** True when the idempotency key was already committed and nothing was written now. */
  replayed: boolean;
}

/**
 * The store cannot serve the operation right now (connection lost, database restarting, disk
 * full, read-only): the HTTP layer answers 503 with `Retry-After`, nothing is half-written, and
 * the same request may be retried.
 */
export class StoreUnavailableError extends Error {
  readonly statusCode = 503;
  constructor(
    message: string,
    /** Seconds after which a retry is sensible. */
    readonly retryAfter = 1,
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/** The idempotency key was used before with a different request (HTTP 422). */
export class IdempotencyConflictError extends Error {
  readonly statusCode = 422;
  constructor(key: string) {
    super(`Idempotency-Key "${key}" was already used with a different request`);
    this.name = 'IdempotencyConflictError';
  }
}

/**
 * Which feedback events a query or delete selects: every field given must match. Gorse's
 * feedback routes select by type, user, item and their combinations.
 */
export interface FeedbackFilter {
  type?: string;
  user?: string;
  item?: string;
}

/** A page of a listing: rows and the cursor of the next page (empty string at the end). */
export interface Page<T> {
  rows: T[];
  cursor: string;
}

/** The storage adapter. */
export interface Store {
  /** `sqlite` or `postgres`, for /health and logs. */
  readonly kind: string;

  /**
   * Writes feedback events in one transaction and resolves once they are durable.
   * `insert` appends every event (an event log: repeated plays are kept, as sequential models
   * need); `upsert` replaces value and time of the latest existing (type, user, item) event, or
   * appends when there is none. Users named by the events are created if missing (items are not:
   * feedback on an item the model does not know is kept, but cannot be scored until a retrain).
   *
   * With `idempotency`, the key is committed with the events: a second write with the same key
   * and fingerprint writes nothing and resolves `{ replayed: true }` with the first write's row
   * count (also when the two race); with another fingerprint it rejects with
   * {@link IdempotencyConflictError}. Keys are kept at least {@link IDEMPOTENCY_TTL_S} seconds.
   * Rejects with {@link StoreUnavailableError} when the database cannot commit now.
   */
  insertFeedback(events: readonly FeedbackEvent[], mode: WriteMode, idempotency?: IdempotencyKey): Promise<FeedbackWrite>;
  /** The user's events in time order (oldest first), optionally only of `types`, at most the `limit` newest. */
  userFeedback(user: string, types?: readonly string[], limit?: number): Promise<FeedbackEvent[]>;
  /**
   * Events matching `filter` in the order they were written, after `cursor` (the empty string,
   * or the cursor of the previous page: an opaque decimal string). The page's cursor is empty
   * at the end.
   */
  listFeedback(filter: FeedbackFilter, cursor: string, n: number): Promise<Page<FeedbackEvent>>;
  /** Deletes the events of `user` on `item` (of `type` when given) in one transaction; resolves the count. */
  deleteFeedback(filter: FeedbackFilter & { user: string; item: string }): Promise<number>;
  /** Number of feedback events stored (all users). */
  countFeedback(): Promise<number>;
  /**
   * Event count per item (optionally only events of `types` at or after `since`). Without
   * `since` this reads counters maintained with every write (items × types rows, not a scan of
   * the event log), so it stays cheap at millions of events.
   */
  itemCounts(types?: readonly string[], since?: number): Promise<Map<string, number>>;

  /** Inserts or replaces users. */
  upsertUsers(users: readonly UserRecord[]): Promise<void>;
  /** One user, or undefined. */
  getUser(id: string): Promise<UserRecord | undefined>;
  /** Deletes a user and their feedback; false when the user did not exist. */
  deleteUser(id: string): Promise<boolean>;
  /** Users ordered by id, after `cursor`. */
  listUsers(cursor: string, n: number): Promise<Page<UserRecord>>;

  /** Inserts or replaces items. */
  upsertItems(items: readonly ItemRecord[]): Promise<void>;
  /** Inserts items that do not exist yet, leaving existing ones untouched (seeding from a model). */
  insertMissingItems(items: readonly ItemRecord[]): Promise<number>;
  /** One item, or undefined. */
  getItem(id: string): Promise<ItemRecord | undefined>;
  /** Deletes an item (its feedback stays); false when it did not exist. */
  deleteItem(id: string): Promise<boolean>;
  /** Items ordered by id, after `cursor`. */
  listItems(cursor: string, n: number): Promise<Page<ItemRecord>>;
  /** Item changes with revision greater than `rev`, oldest first. */
  itemsChangedSince(rev: number): Promise<ItemRevision[]>;

  /**
   * Readiness probe: resolves only when a write can commit now (it commits a tiny probe row),
   * so a read-only database, a full disk or a lost connection fail it.
   */
  ping(): Promise<void>;
  /** Flushes pending work and closes connections. */
  close(): Promise<void>;
}

/**
 * The dashboard's human Arena votes, kept in the same database (table `arena_votes`, schema 3).
 * Both adapters implement it; it is apart from {@link Store} so wrappers of a store (caches) need
 * not forward it.
 */
export interface VoteStore {
  /**
   * Stores a person's vote. One vote per voter and pair (user, a, b), held by a unique key:
   * resolves false, writing nothing, when this voter already voted on the pair.
   */
  insertVote(vote: HumanVote): Promise<boolean>;
  /** Every stored vote, oldest first. */
  listVotes(): Promise<HumanVote[]>;
}

/** Seconds an idempotency key is remembered (Stripe's window: a day). */
export const IDEMPOTENCY_TTL_S = 24 * 3600;

/**
 * Opens the store named by a URL: `sqlite:<path>` (or a bare path ending in .db/.sqlite),
 * `sqlite::memory:`, or `postgres://…` / `postgresql://…`.
 */
export async function openStore(url: string): Promise<Store & VoteStore> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PostgresStore } = await import('./store-postgres.ts');
    return PostgresStore.open(url);
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (!path) throw new Error(`--db "${url}": expected sqlite:<path> or postgres://…`);
  const { SqliteStore } = await import('./store-sqlite.ts');
  // Open errors (a newer schema, an unopenable file) surface at start-up, not at the first request.
  return SqliteStore.open(path).ready();
}
