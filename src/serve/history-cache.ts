/**
 * Users' recent feedback kept in this process's memory, in front of the store, so that a
 * recommendation does not cross to the store (SQLite's worker thread, PostgreSQL's socket) for a
 * history that has not changed. Measured on ML-1M EASE: the per-request `userFeedback` round trip
 * left the event loop idle a third of the time under load.
 *
 * Correct only when every write to the store goes through this object or one of its peers: one
 * `reclab serve` process over SQLite, or the workers of one `--workers n` cluster over SQLite,
 * whose caches tell each other of every write before it starts and after it ends (the
 * {@link HistoryPeers} of cluster-history.ts). With writers outside (PostgreSQL replicas on other
 * hosts) another process's write would not invalidate our copy, so the server does not use it there.
 *
 * How it stays exact: a user's entry is the store's own answer (the newest `cap` events of every
 * type, in the store's order), and any write that touches the user drops it — when the write
 * starts and again when it ends, so a read cannot keep a copy from before a commit. A read that
 * overlapped any write is answered but not remembered (a global epoch tells), which keeps the
 * rule simple and is rare outside feedback-heavy moments. Narrower reads (some types only,
 * a limit) are answered from a complete entry, or from the newest `limit` of any entry when no
 * type filter is asked; otherwise they go to the store.
 */
import type { FeedbackEvent, FeedbackFilter, FeedbackWrite, IdempotencyKey, Store, WriteMode } from './store.ts';

/**
 * The other processes' caches over the same store (cluster workers). A write here tells them
 * before it starts — and waits until each has dropped the users and stopped remembering reads —
 * and again when it has ended, so that no process serves a history from before a write that was
 * acknowledged anywhere.
 */
export interface HistoryPeers {
  /** The write of `users` is about to start; resolves once every peer has taken {@link HistoryCache.peerBegin}. */
  begin(users: readonly string[]): Promise<number>;
  /** The write begun under `token` has ended (committed or not). */
  end(token: number): void;
}

/** Bounds of a {@link HistoryCache}. */
export interface HistoryCacheOptions {
  /** Newest events kept per user (the engine's `historyLimit`: what a recommendation reads). */
  cap: number;
  /** Users kept (least recently read forgotten first). */
  maxUsers: number;
  /** Events kept over all users (least recently read users forgotten first). */
  maxEvents: number;
}

interface Entry {
  /** The store's answer for (user, every type, limit = cap), oldest first. */
  events: FeedbackEvent[];
  /** Fewer than `cap` came back: this is the user's whole history. */
  complete: boolean;
}

/** The calls of a {@link Store} that read or change users' feedback, with users' recent feedback remembered. */
export class HistoryCache {
  readonly options: HistoryCacheOptions;
  private readonly entries = new Map<string, Entry>();
  private events = 0;
  /** Incremented when any write starts or ends. */
  private epoch = 0;
  /** Writes in flight. */
  private writing = 0;
  /** Reads answered from memory and from the store, since start (for /metrics and tests). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(
    /** The store every call goes to (and the one to close). */
    readonly inner: Store,
    options: Partial<HistoryCacheOptions> = {},
    /** Caches of other processes writing the same store, told of every write here. */
    private readonly peers?: HistoryPeers,
  ) {
    this.options = { cap: 1000, maxUsers: 200_000, maxEvents: 5_000_000, ...options };
    if (!(this.options.cap >= 1)) throw new Error(`history cache: cap must be ≥ 1 (got ${this.options.cap})`);
  }

  /** Users held now. */
  get size(): number {
    return this.entries.size;
  }

  async userFeedback(user: string, types?: readonly string[], limit = 1_000_000): Promise<FeedbackEvent[]> {
    const entry = this.entries.get(user);
    if (entry && (entry.complete || (types === undefined && limit <= entry.events.length))) {
      this.stats.hits++;
      this.entries.delete(user); // re-insert: most recently read last
      this.entries.set(user, entry);
      return answer(entry.events, types, limit);
    }
    this.stats.misses++;
    if (types !== undefined || limit > this.options.cap) return this.inner.userFeedback(user, types, limit);
    const epoch = this.epoch;
    const quiet = this.writing === 0;
    const events = await this.inner.userFeedback(user, undefined, this.options.cap);
    if (quiet && this.epoch === epoch) this.remember(user, { events, complete: events.length < this.options.cap });
    return answer(events, undefined, limit);
  }

  insertFeedback(events: readonly FeedbackEvent[], mode: WriteMode, idempotency?: IdempotencyKey): Promise<FeedbackWrite> {
    return this.write(new Set(events.map((e) => e.user)), () => this.inner.insertFeedback(events, mode, idempotency));
  }

  deleteFeedback(filter: FeedbackFilter & { user: string; item: string }): Promise<number> {
    return this.write([filter.user], () => this.inner.deleteFeedback(filter));
  }

  deleteUser(id: string): Promise<boolean> {
    return this.write([id], () => this.inner.deleteUser(id));
  }

  close(): Promise<void> {
    this.entries.clear();
    this.events = 0;
    return this.inner.close();
  }

  /**
   * Another process is about to write `users`: the same as the start of a write here (their
   * entries dropped, no read remembered until {@link peerEnd}).
   */
  peerBegin(users: readonly string[]): void {
    this.writing++;
    this.epoch++;
    for (const u of users) this.forget(u);
  }

  /** The other process's write of `users` (announced by {@link peerBegin}) has ended. */
  peerEnd(users: readonly string[]): void {
    this.writing--;
    this.epoch++;
    for (const u of users) this.forget(u);
  }

  /**
   * Runs a write, dropping the users' entries when it starts and again when it ends (committed or
   * not), here and — before the write starts — in every peer. A peer that cannot be told fails
   * the write before it starts (the peers' rule keeps a peer that stopped answering from serving).
   */
  private async write<T>(users: Iterable<string>, op: () => Promise<T>): Promise<T> {
    const touched = [...users];
    this.peerBegin(touched);
    try {
      const token = this.peers ? await this.peers.begin(touched) : undefined;
      try {
        return await op();
      } finally {
        if (token !== undefined) this.peers!.end(token);
      }
    } finally {
      this.peerEnd(touched);
    }
  }

  private remember(user: string, entry: Entry): void {
    this.forget(user);
    const { maxUsers, maxEvents } = this.options;
    if (entry.events.length > maxEvents) return;
    while (this.entries.size > 0 && (this.entries.size >= maxUsers || this.events + entry.events.length > maxEvents)) {
      this.forget(this.entries.keys().next().value!);
    }
    this.entries.set(user, entry);
    this.events += entry.events.length;
  }

  private forget(user: string): void {
    const old = this.entries.get(user);
    if (!old) return;
    this.entries.delete(user);
    this.events -= old.events.length;
  }
}

/** The newest `limit` of `events` (oldest first), only of `types` when given; always a new array. */
function answer(events: readonly FeedbackEvent[], types: readonly string[] | undefined, limit: number): FeedbackEvent[] {
  const kept = types === undefined ? events : events.filter((e) => types.includes(e.type));
  return kept.slice(Math.max(0, kept.length - Math.max(0, limit)));
}

/** The store methods {@link HistoryCache} takes over; every other call goes to the store as it is. */
const OWN = new Set<PropertyKey>(['userFeedback', 'insertFeedback', 'deleteFeedback', 'deleteUser', 'close']);

/**
 * `inner` with users' recent feedback kept in memory: a {@link Store} whose feedback reads and
 * writes go through a {@link HistoryCache} and every other member is the inner store's own
 * (forwarded, so methods added to the Store interface later need nothing here).
 */
export function withHistoryCache(inner: Store, options: Partial<HistoryCacheOptions> = {}, peers?: HistoryPeers): { store: Store; cache: HistoryCache } {
  const cache = new HistoryCache(inner, options, peers);
  const bound = new Map<PropertyKey, unknown>();
  const store = new Proxy(inner, {
    get(target, prop) {
      const from: object = OWN.has(prop) ? cache : target;
      let value = bound.get(prop);
      if (value === undefined) {
        const raw = Reflect.get(from, prop, from) as unknown;
        if (typeof raw !== 'function') return raw;
        value = (raw as (...args: unknown[]) => unknown).bind(from);
        bound.set(prop, value);
      }
      return value;
    },
  });
  return { store, cache };
}
