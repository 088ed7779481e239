/**
 * One rate limit for the whole cluster: the counters live in the primary, and each worker's
 * `@fastify/rate-limit` store asks the primary to count every request (one IPC round trip, a few
 * tens of microseconds). With counters in each worker's memory, N workers would let N × the limit
 * through.
 *
 * When the primary does not answer in time the store **fails open to a per-worker count**: it
 * counts in the worker's own memory for a few seconds before trying the primary again. Failing
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

/** Makes the primary count for a worker: registers the handlers on that worker's channel. */
export function serveRateLimit(rpc: Rpc, counter: WindowCounter): void {
  rpc.handle<CountRequest>('ratelimit.incr', (r) => counter.incr(r.key, r.timeWindow, r.max, r));
  rpc.handle<CountRequest>('ratelimit.read', (r) => counter.read(r.key, r.timeWindow));
}

/** The store contract of `@fastify/rate-limit` (types/index.d.ts), with the optional `read`. */
export interface RateLimitStore {
  incr(key: string, callback: (error: Error | null, result?: Hit) => void, timeWindow: number, max: number): void;
  read(key: string, callback: (error: Error | null, result?: Hit) => void, timeWindow: number, max: number): void;
  child(routeOptions: ExceedMode & { routeInfo?: { url?: string; method?: string | string[] } }): RateLimitStore;
}

/** Settings of {@link clusterRateLimitStore}. */
export interface ClusterRateLimitOptions {
  /** How long to wait for the primary's count, in ms. */
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
  const timeoutMs = options.timeoutMs ?? 250;
  const retryMs = options.retryMs ?? 5_000;
  const local = new WindowCounter();
  let degradedUntil = 0;

  const count = (method: 'incr' | 'read', request: CountRequest, callback: (error: Error | null, result?: Hit) => void) => {
    const fallback = () => (method === 'incr' ? local.incr(request.key, request.timeWindow, request.max, request) : local.read(request.key, request.timeWindow));
    if (Date.now() < degradedUntil) return callback(null, fallback());
    rpc.request<Hit>(`ratelimit.${method}`, request, timeoutMs).then(
      (hit) => callback(null, hit),
      (e: Error) => {
        if (Date.now() >= degradedUntil) options.onDegraded?.(e.message);
        degradedUntil = Date.now() + retryMs;
        callback(null, fallback());
      },
    );
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
      count('incr', { key: this.prefix + key, timeWindow, max, continueExceeding: this.mode.continueExceeding, exponentialBackoff: this.mode.exponentialBackoff }, callback);
    }

    read(key: string, callback: (error: Error | null, result?: Hit) => void, timeWindow: number, max: number): void {
      count('read', { key: this.prefix + key, timeWindow, max }, callback);
    }

    child(routeOptions: ExceedMode & { routeInfo?: { url?: string; method?: string | string[] } }): RateLimitStore {
      const route = routeOptions.routeInfo ? `${String(routeOptions.routeInfo.method ?? '')} ${routeOptions.routeInfo.url ?? ''}` : '';
      return new ClusterRateLimitStore(routeOptions, `${this.prefix}${++children}:${route}|`);
    }
  }
  return ClusterRateLimitStore;
}
