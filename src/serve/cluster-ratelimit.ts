/**
 * One rate limit for the whole cluster: the counters live in the primary, and each worker's
 * `@fastify/rate-limit` store asks the primary to count every request. With counters in each
 * worker's memory, N workers would let N × the limit through. The requests a worker parses in one
 * turn of its event loop go to the primary as one message (counted in order, so the count stays
 * exact), so a busy worker sends fewer messages than it serves requests. The round trip still
 * costs: on the shared 2-core machine the cheapest route (/api/popular, cached) served ≈ 6,400
 * req/s with counts in the primary against ≈ 8,000 with counts in each worker and ≈ 9,600 with no
 * limit (medians of 3 interleaved 6 s runs at load 8–12, so rough). Heavier routes pay the same
 * absolute cost, a smaller share.
 *
 * When the primary does not answer in time (2 s) the store **fails open to a per-worker count**:
 * it counts in the worker's own memory for a few seconds before trying the primary again. Failing
 * closed would turn a slow primary into an outage of every route; failing fully open would drop
 * the protection exactly when something is wrong. The price is that while degraded a client can
 * get up to N × the limit through (N workers), and the counts made locally are not merged back.
 * A worker whose primary is gone altogether exits (see cluster.ts), so this only covers a slow or
 * briefly blocked primary.
 */
import type { Rpc } from './cluster-rpc.ts';

/** A client's state in the current window, as `@fastify/rate-limit` expects it. */
export interface Hit {
  /** Requests counted in the window (including this one for `incr`). */
  current: number;
  /** Milliseconds until the window ends. */
  ttl: number;
}

/** How a counter reacts to a client over the limit (the plugin's options of the same names). */
export interface ExceedMode {
  /** Every request over the limit restarts the window. */
  continueExceeding?: boolean;
  /** Every request over the limit doubles the window. */
  exponentialBackoff?: boolean;
}

interface Entry {
  current: number;
  ttl: number;
  start: number;
}

/**
 * Fixed-window request counters with the semantics of `@fastify/rate-limit`'s LocalStore, bounded
 * to `capacity` keys (least recently counted dropped first, as the LocalStore's LRU does).
 */
export class WindowCounter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity = 100_000) {}

  /** Counts one request of `key` and returns its state. */
  incr(key: string, timeWindow: number, max: number, mode: ExceedMode = {}, now = Date.now()): Hit {
    let e = this.entries.get(key);
    if (e) this.entries.delete(key); // re-inserted below: Map order is the LRU order
    if (!e) {
      e = { current: 1, ttl: timeWindow, start: now };
    } else if (e.start + timeWindow <= now) {
      e.current = 1;
      e.ttl = timeWindow;
      e.start = now;
    } else {
      e.current++;
      if (mode.continueExceeding && e.current > max) {
        e.ttl = timeWindow;
        e.start = now;
      } else if (mode.exponentialBackoff && e.current > max) {
        const ttl = timeWindow * 2 ** (e.current - max - 1);
        e.ttl = Number.isSafeInteger(ttl) ? ttl : Number.MAX_SAFE_INTEGER;
        e.start = now;
      } else {
        e.ttl = timeWindow - (now - e.start);
      }
    }
    this.entries.set(key, e);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return { current: e.current, ttl: e.ttl };
  }

  /** The state of `key` without counting (a clean state once its window has passed). */
  read(key: string, timeWindow: number, now = Date.now()): Hit {
    const e = this.entries.get(key);
    if (!e || e.start + timeWindow <= now) return { current: 0, ttl: 0 };
    return { current: e.current, ttl: timeWindow - (now - e.start) };
  }
}

/** What a worker sends to count one request. */
interface CountRequest extends ExceedMode {
  key: string;
  timeWindow: number;
  max: number;
}

/** One count in a worker's batch: `incr` counts the request, `read` only looks. */
interface BatchedCount extends CountRequest {
  read?: boolean;
}

/** Makes the primary count for a worker: registers the handler on that worker's channel. */
export function serveRateLimit(rpc: Rpc, counter: WindowCounter): void {
  rpc.handle<BatchedCount[]>('ratelimit.count', (batch) => batch.map((r) => (r.read ? counter.read(r.key, r.timeWindow) : counter.incr(r.key, r.timeWindow, r.max, r))));
}

/** The store contract of `@fastify/rate-limit` (types/index.d.ts), with the optional `read`. */
export interface RateLimitStore {
  incr(key: string, callback: (error: Error | null, result?: Hit) => void, timeWindow: number, max: number): void;
  read(key: string, callback: (error: Error | null, result?: Hit) => void, timeWindow: number, max: number): void;
  child(routeOptions: ExceedMode & { routeInfo?: { url?: string; method?: string | string[] } }): RateLimitStore;
}

/** Settings of {@link clusterRateLimitStore}. */
export interface ClusterRateLimitOptions {
  /**
   * How long to wait for the primary's count, in ms (default 2 s). Generous on purpose: on a busy
   * machine the primary can be off the CPU for a few hundred ms (250 ms let 36 of 60 through a
   * limit of 20 at load 11 on 2 cores), and a flood is exactly when the limit must hold.
   */
  timeoutMs?: number;
  /** How long to count locally after a timeout before asking the primary again, in ms. */
  retryMs?: number;
  /** Told once each time the store falls back to counting locally. */
  onDegraded?: (reason: string) => void;
}

/**
 * The store class to pass as `rateLimitStore` in a cluster worker: counts in the primary over
 * `rpc`, and in this worker's memory while the primary does not answer (see the file comment).
 */
export function clusterRateLimitStore(rpc: Rpc, options: ClusterRateLimitOptions = {}): new (params: ExceedMode) => RateLimitStore {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const retryMs = options.retryMs ?? 5_000;
  const local = new WindowCounter();
  let degradedUntil = 0;

  type Callback = (error: Error | null, result?: Hit) => void;
  const locally = (r: BatchedCount) => (r.read ? local.read(r.key, r.timeWindow) : local.incr(r.key, r.timeWindow, r.max, r));
  let batch: { request: BatchedCount; callback: Callback }[] = [];
  const flush = () => {
    const sent = batch;
    batch = [];
    rpc.request<Hit[]>('ratelimit.count', sent.map((b) => b.request), timeoutMs).then(
      (hits) => sent.forEach((b, i) => b.callback(null, hits[i])),
      (e: Error) => {
        if (Date.now() >= degradedUntil) options.onDegraded?.(e.message);
        degradedUntil = Date.now() + retryMs;
        for (const b of sent) b.callback(null, locally(b.request));
      },
    );
  };
  const count = (request: BatchedCount, callback: Callback) => {
    if (Date.now() < degradedUntil) return callback(null, locally(request));
    // Everything parsed in this poll phase goes out together, right after it (the check phase).
    if (batch.length === 0) setImmediate(flush);
    batch.push({ request, callback });
  };

  let children = 0;
  class ClusterRateLimitStore implements RateLimitStore {
    constructor(
      private readonly mode: ExceedMode,
      // Routes with their own limits count apart from the global one, as LocalStore's children do.
      // Workers build the same app in the same order, so the same route gets the same prefix in each.
      private readonly prefix = '',
    ) {}

    incr(key: string, callback: (error: Error | null, result?: Hit) => void, timeWindow: number, max: number): void {
      count({ key: this.prefix + key, timeWindow, max, continueExceeding: this.mode.continueExceeding, exponentialBackoff: this.mode.exponentialBackoff }, callback);
    }

    read(key: string, callback: (error: Error | null, result?: Hit) => void, timeWindow: number, max: number): void {
      count({ key: this.prefix + key, timeWindow, max, read: true }, callback);
    }

    child(routeOptions: ExceedMode & { routeInfo?: { url?: string; method?: string | string[] } }): RateLimitStore {
      const route = routeOptions.routeInfo ? `${String(routeOptions.routeInfo.method ?? '')} ${routeOptions.routeInfo.url ?? ''}` : '';
      return new ClusterRateLimitStore(routeOptions, `${this.prefix}${++children}:${route}|`);
    }
  }
  return ClusterRateLimitStore;
}
