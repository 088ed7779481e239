/**
 * Redis connections for the replicas' channel (replica.ts) and the job queue (src/jobs): one URL (`redis://host:port[/db]`)
 * turned into ioredis options that BullMQ accepts, and that reconnect by themselves.
 *
 * A worker or replica that loses Redis keeps retrying with a capped backoff (50 ms doubling up to
 * 2 s) for as long as it runs; commands issued meanwhile wait (`maxRetriesPerRequest: null`, which
 * BullMQ requires for its blocking connections) instead of failing, so a Redis restart costs
 * latency, not jobs.
 */
import { Redis } from 'ioredis';

/** Connection options ioredis and BullMQ both take. */
export interface RedisConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: object;
  maxRetriesPerRequest: null;
  enableOfflineQueue: boolean;
  retryStrategy: (times: number) => number;
}

/** ioredis options for `url`, with reconnection. Throws a clear error on a malformed URL. */
export function redisOptions(url: string): RedisConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`"${url}": expected redis://host:port[/db]`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`"${url}": expected a redis:// URL, got protocol "${u.protocol}"`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`"${url}": database "${u.pathname.slice(1)}" is not a number`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
  };
}

/** A new connection to `url` (the caller closes it with `quit()`). */
export function connectRedis(url: string): Redis {
  return new Redis(redisOptions(url));
}
