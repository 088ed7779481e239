/**
 * PostgreSQL store under concurrency and faults (issue 15):
 * (a) concurrent upserts of one new key leave one row;
 * (b) terminated backends and cluster restarts under write load: no crash, outage writes reject
 *     with StoreUnavailableError (HTTP 503), no acknowledged event lost — in process and against
 *     a real `reclab serve`; a network partition fails fast instead of hanging;
 * (c) idempotency keys: replay, races, conflicts, pruning;
 * (d) item counters equal a GROUP BY scan after a random mix of writes, and the schema-1 migration.
 *
 * The file starts its OWN throw-away cluster (test/serve/pg-start.sh) because it restarts it; the
 * shared one of RECLAB_TEST_PG_URL serves other files. Needs root and PostgreSQL, else skips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { IDEMPOTENCY_TTL_S, IdempotencyConflictError, StoreUnavailableError, type FeedbackEvent } from '../../src/serve/store.ts';
import { PostgresStore, type PostgresOptions } from '../../src/serve/store-postgres.ts';
import { tempDir, writeFixtureBundle } from './fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pgBin = existsSync('/usr/lib/postgresql')
  ? readdirSync('/usr/lib/postgresql')
      .map((v) => join('/usr/lib/postgresql', v, 'bin'))
      .filter((d) => existsSync(join(d, 'pg_ctl')))
      .sort()
      .pop()
  : undefined;
const isRoot = process.getuid?.() === 0;
const enabled = isRoot && pgBin !== undefined;
if (!enabled) console.warn(`[skip] PostgreSQL fault tests need root and PostgreSQL (root: ${isRoot}, pg_ctl: ${pgBin ?? 'missing'})`);

let cluster: { url: string; dir: string } | undefined;
let databases = 0;

/** A fresh database on this file's cluster; resolves with its URL. */
async function freshDatabase(): Promise<string> {
  const name = `reclab_faults_${process.pid}_${databases++}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(cluster!.url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs `fn` on a short-lived superuser connection to the cluster's `postgres` database. */
async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: cluster!.url });
  c.on('error', () => {}); // restarts kill this connection too
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** pg_terminate_backend on every client backend of `url`'s database; resolves with how many. */
async function terminateBackends(url: string): Promise<number> {
  const db = new URL(url).pathname.slice(1);
  const r = await admin((c) =>
    c.query(`SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`, [db]),
  );
  return Number(r.rows[0].n);
}

/** `pg_ctl restart -m <mode>` on this file's cluster (asynchronously: the load keeps running meanwhile). */
async function restartCluster(mode: 'fast' | 'immediate'): Promise<void> {
  const dir = cluster!.dir;
  await run('runuser', ['-u', 'postgres', '--', join(pgBin!, 'pg_ctl'), '-D', dir, '-l', join(dir, 'log'), '-m', mode, '-w', 'restart']);
}

/** Opens a store on `url` with short timeouts (outages fail fast in tests). */
function openStore(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
  // Generous waits: on a loaded 2-core CI machine 320 concurrent writers queue for the pool
  // (its connection timeout also bounds the wait for a free client). Fault tests set their own.
  return PostgresStore.open(url, { connectionTimeoutMs: 20_000, statementTimeoutMs: 20_000, ...options });
}

/** Rows of `sql` on `url`'s database through a connection of its own. */
async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end().catch(() => {});
  }
}

/** Uncaught exceptions and unhandled rejections while `fn` runs (an unhandled 'error' event is one). */
async function recordingCrashes(fn: () => Promise<void>): Promise<unknown[]> {
  const crashes: unknown[] = [];
  const record = (e: unknown) => crashes.push(e);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  try {
    await fn();
    await sleep(200); // late 'error' events of discarded connections
  } finally {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  }
  return crashes;
}

const ev = (user: string, item: string, time: number, type = 'click', value = 1): FeedbackEvent => ({ type, user, item, value, time });

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy of `xs` (Fisher–Yates). */
function shuffle<T>(xs: readonly T[], rnd: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe.skipIf(!enabled)('PostgreSQL store: concurrency and faults', () => {
  beforeAll(async () => {
    const { stdout } = await run('bash', [join(ROOT, 'test/serve/pg-start.sh')], { cwd: ROOT });
    const url = /RECLAB_TEST_PG_URL=(\S+)/.exec(stdout)?.[1];
    const dir = /RECLAB_TEST_PG_DIR=(\S+)/.exec(stdout)?.[1];
    if (!url || !dir) throw new Error(`pg-start.sh printed no URL: ${stdout}`);
    cluster = { url, dir };
  });
  afterAll(async () => {
    if (cluster) await run('bash', [join(ROOT, 'test/serve/pg-start.sh'), 'stop', cluster.dir]);
  });

  // ---- (a) upsert under concurrency

  it('(a) 16 concurrent upserts of each of 20 new keys leave exactly 20 rows, each one of the written values', async () => {
    const url = await freshDatabase();
    const s = await openStore(url);
    try {
      const writes: Promise<unknown>[] = [];
      for (let w = 0; w < 16; w++) {
        for (let k = 0; k < 20; k++) writes.push(s.insertFeedback([ev(`u${k % 4}`, `item${k}`, 1000 + w, 'like', w)], 'upsert'));
      }
      await Promise.all(writes);
      const rows = await query<{ user_id: string; item_id: string; value: number; time: number }>(url, `SELECT user_id, item_id, value, time FROM feedback`);
      const perKey = new Map<string, number>();
      for (const r of rows) perKey.set(`${r.user_id}/${r.item_id}`, (perKey.get(`${r.user_id}/${r.item_id}`) ?? 0) + 1);
      console.log(`upsert race: ${writes.length} writes of 20 new keys left ${rows.length} rows (max ${Math.max(...perKey.values())} per key)`);
      expect(rows.length).toBe(20);
      expect([...perKey.values()].every((n) => n === 1)).toBe(true);
      // Each row is one write's event, whole: value w goes with time 1000 + w.
      for (const r of rows) expect(r.time).toBe(1000 + r.value);
      expect(Object.fromEntries(await s.itemCounts())).toEqual(Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`item${k}`, 1])));
    } finally {
      await s.close();
    }
  });

  it('(a) batches upserting overlapping keys in different orders neither deadlock nor duplicate; a repeated key in one batch counts once', async () => {
    const url = await freshDatabase();
    const s = await openStore(url);
    try {
      const rnd = random(7);
      const keys = Array.from({ length: 12 }, (_, k) => ev(`u${k % 3}`, `i${k}`, 0));
      const writes = Array.from({ length: 48 }, (_, w) => {
        const batch = shuffle(keys, rnd).slice(0, 6);
        return s.insertFeedback(batch.map((e) => ({ ...e, value: w, time: w })), 'upsert');
      });
      await Promise.all(writes);
      expect(await s.countFeedback()).toBe(12);
      // Upsert in one batch applies in order: the last occurrence wins, one row.
      await s.insertFeedback([ev('z', 'new', 1, 'click', 1), ev('z', 'new', 2, 'click', 2)], 'upsert');
      expect((await s.userFeedback('z')).map((e) => [e.value, e.time])).toEqual([[2, 2]]);
    } finally {
      await s.close();
    }
  });

  it('(a) 16 concurrent HTTP PUTs of each of 10 new keys leave exactly 10 rows', async () => {
    const url = await freshDatabase();
    const server = await serve(url);
    try {
      const puts: Promise<number>[] = [];
      for (let w = 0; w < 16; w++) {
        for (let k = 0; k < 10; k++) {
          const body = JSON.stringify([{ FeedbackType: 'star', UserId: 'hu', ItemId: `put${k}`, Value: w, Timestamp: new Date((1000 + w) * 1000).toISOString() }]);
          puts.push(fetch(`${server.url}/api/feedback`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body }).then((r) => r.status));
        }
      }
      expect(new Set(await Promise.all(puts))).toEqual(new Set([200]));
      const rows = await query<{ item_id: string; value: number; time: number }>(url, `SELECT item_id, value, time FROM feedback WHERE user_id = 'hu'`);
      expect(rows.length).toBe(10);
      expect(new Set(rows.map((r) => r.item_id)).size).toBe(10);
      for (const r of rows) expect(r.time).toBe(1000 + r.value);
    } finally {
      await stopServer(server.child);
    }
  });

  // ---- (c) idempotency

  it('(c) the same idempotency key twice writes once and replays; another body under the key is refused', async () => {
    const url = await freshDatabase();
    const s = await openStore(url);
    try {
      const batch = [ev('u', 'a', 1), ev('u', 'b', 2)];
      const key = { key: 'k-1', fingerprint: 'f-1' };
      expect(await s.insertFeedback(batch, 'insert', key)).toEqual({ rows: 2, replayed: false });
      expect(await s.insertFeedback(batch, 'insert', key)).toEqual({ rows: 2, replayed: true });
      expect(await s.countFeedback()).toBe(2);
      await expect(s.insertFeedback([ev('u', 'c', 3)], 'insert', { key: 'k-1', fingerprint: 'f-other' })).rejects.toBeInstanceOf(IdempotencyConflictError);
      expect(await s.countFeedback()).toBe(2);
      expect(Object.fromEntries(await s.itemCounts())).toEqual({ a: 1, b: 1 });
    } finally {
      await s.close();
    }
  });

  it('(c) 16 concurrent writes with one key: exactly one writes, the others replay; racing other bodies are refused', async () => {
    const url = await freshDatabase();
    const s = await openStore(url);
    try {
      const batch = [ev('r', 'x', 1), ev('r', 'y', 1), ev('r', 'z', 1)];
      const same = await Promise.all(Array.from({ length: 16 }, () => s.insertFeedback(batch, 'insert', { key: 'race', fingerprint: 'fp' })));
      expect(same.filter((w) => !w.replayed)).toEqual([{ rows: 3, replayed: false }]);
      expect(same.filter((w) => w.replayed).length).toBe(15);
      expect(same.every((w) => w.rows === 3)).toBe(true);
      expect(await s.countFeedback()).toBe(3);

      // Two bodies race for a new key: the winner's body replays, the other's is refused.
      const mixed = await Promise.allSettled(
        Array.from({ length: 16 }, (_, w) => s.insertFeedback([ev('m', `w${w % 2}`, 1)], 'insert', { key: 'mixed', fingerprint: `fp${w % 2}` })),
      );
      const written = mixed.filter((r) => r.status === 'fulfilled' && !r.value.replayed).length;
      const replayed = mixed.filter((r) => r.status === 'fulfilled' && r.value.replayed).length;
      const refused = mixed.filter((r) => r.status === 'rejected' && r.reason instanceof IdempotencyConflictError).length;
      console.log(`idempotency race: 16 same-key writes → 1 written, ${same.length - 1} replayed; mixed bodies → ${written} written, ${replayed} replayed, ${refused} refused`);
      expect([written, replayed, refused]).toEqual([1, 7, 8]);
      expect((await s.userFeedback('m')).length).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('(c) keys older than IDEMPOTENCY_TTL_S are pruned, younger ones kept', async () => {
    const url = await freshDatabase();
    const s = await openStore(url);
    try {
      await s.insertFeedback([ev('p', 'a', 1)], 'insert', { key: 'young', fingerprint: 'f' });
      await s.insertFeedback([ev('p', 'b', 1)], 'insert', { key: 'old', fingerprint: 'f' });
      await query(url, `UPDATE idempotency_keys SET created = created - $1 - 60 WHERE key = 'old'`, [IDEMPOTENCY_TTL_S]);
      expect(await s.pruneIdempotencyKeys()).toBe(1);
      expect((await query<{ key: string }>(url, 'SELECT key FROM idempotency_keys')).map((r) => r.key)).toEqual(['young']);
      expect((await s.insertFeedback([ev('p', 'a', 1)], 'insert', { key: 'young', fingerprint: 'f' })).replayed).toBe(true);
    } finally {
      await s.close();
    }
  });

  // ---- (d) item counters

  it('(d) itemCounts from counters equals a GROUP BY scan after a random concurrent mix of inserts, upserts and user deletions', async () => {
    const url = await freshDatabase();
    const s = await openStore(url);
    try {
      const rnd = random(15);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
      const users = Array.from({ length: 8 }, (_, u) => `u${u}`);
      const items = Array.from({ length: 15 }, (_, i) => `i${i}`);
      const types = ['click', 'like', 'buy'];
      const ops = { insert: 0, upsert: 0, deleteUser: 0 };
      for (let round = 0; round < 30; round++) {
        // Each round runs a handful of operations concurrently.
        const round_: Promise<unknown>[] = [];
        for (let k = 0; k < 8; k++) {
          const r = rnd();
          if (r < 0.1) {
            ops.deleteUser++;
            round_.push(s.deleteUser(pick(users)));
          } else {
            const mode = r < 0.55 ? 'insert' : 'upsert';
            ops[mode]++;
            const batch = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => ev(pick(users), pick(items), round, pick(types), round));
            round_.push(s.insertFeedback(batch, mode));
          }
        }
        await Promise.all(round_);
      }
      const scan = async (typeList?: string[]) =>
        Object.fromEntries(
          (
            await query<{ item_id: string; n: string }>(
              url,
              `SELECT item_id, count(*) AS n FROM feedback WHERE $1::text[] IS NULL OR type = ANY($1) GROUP BY item_id`,
              [typeList ?? null],
            )
          ).map((r) => [r.item_id, Number(r.n)]),
        );
      const total = await s.countFeedback();
      console.log(`counters: ${ops.insert} inserts, ${ops.upsert} upserts, ${ops.deleteUser} user deletions → ${total} events`);
      expect(total).toBeGreaterThan(50);
      expect(Object.fromEntries(await s.itemCounts())).toEqual(await scan());
      expect(Object.fromEntries(await s.itemCounts(['like', 'buy']))).toEqual(await scan(['like', 'buy']));
      // With `since` the event log is scanned: the same answer from the other implementation.
      expect(Object.fromEntries(await s.itemCounts(['click'], -1e12))).toEqual(await scan(['click']));
    } finally {
      await s.close();
    }
  });

  it('(d) a schema-1 database is migrated once: counters backfilled from the event log', async () => {
    const url = await freshDatabase();
    const s1 = await openStore(url);
    await s1.insertFeedback([ev('a', 'x', 1), ev('a', 'x', 2), ev('b', 'x', 3, 'like'), ev('b', 'y', 4)], 'insert');
    await s1.close();
    // What reclab 1 left: no counter table, schema 1.
    await query(url, `DROP TABLE item_type_counts; UPDATE reclab_meta SET value = 1 WHERE key = 'schema'`);
    const [s2, s3] = await Promise.all([openStore(url), openStore(url)]); // two replicas upgrading at once
    try {
      expect(Object.fromEntries(await s2.itemCounts())).toEqual({ x: 3, y: 1 });
      expect(Object.fromEntries(await s3.itemCounts(['like']))).toEqual({ x: 1 });
      expect(await query(url, `SELECT value FROM reclab_meta WHERE key = 'schema'`)).toEqual([{ value: '3' }]);
      await s2.insertFeedback([ev('c', 'y', 5)], 'insert');
      expect(Object.fromEntries(await s3.itemCounts())).toEqual({ x: 3, y: 2 });
    } finally {
      await s2.close();
      await s3.close();
    }
    await query(url, `UPDATE reclab_meta SET value = 99 WHERE key = 'schema'`);
    await expect(openStore(url)).rejects.toThrow(/schema version 99 is newer/);
  });

  // ---- ping and timeouts

  it('ping fails with StoreUnavailableError on a read-only database, and writes reject the same way', async () => {
    const url = await freshDatabase();
    const s = await openStore(url);
    try {
      await s.ping();
      const db = new URL(url).pathname.slice(1);
      await admin((c) => c.query(`ALTER DATABASE ${db} SET default_transaction_read_only = on`));
      await terminateBackends(url); // the pool's next connections start read-only
      await expect(s.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(s.insertFeedback([ev('u', 'a', 1)], 'insert')).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await s.getUser('u')).toBeUndefined(); // reads still work
      await admin((c) => c.query(`ALTER DATABASE ${db} RESET default_transaction_read_only`));
      await terminateBackends(url);
      await s.ping();
    } finally {
      await s.close();
    }
  });

  it('a network partition fails reads, writes and ping within the timeouts, and the pool recovers after it', async () => {
    const url = await freshDatabase();
    const proxy = await partitionProxy(new URL(url));
    const via = new URL(url);
    via.port = String(proxy.port);
    const s = await openStore(via.toString(), { connectionTimeoutMs: 500, statementTimeoutMs: 300, queryTimeoutMs: 800, poolSize: 2 });
    try {
      await s.insertFeedback([ev('n', 'a', 1)], 'insert');
      proxy.freeze();
      const t0 = Date.now();
      const outcomes = await Promise.allSettled([s.insertFeedback([ev('n', 'b', 2)], 'insert'), s.countFeedback(), s.ping(), s.userFeedback('n')]);
      const seconds = (Date.now() - t0) / 1000;
      console.log(`partition: ${outcomes.length} operations failed after ${seconds.toFixed(1)} s`);
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
      }
      expect(seconds).toBeLessThan(5);
      proxy.thaw();
      await s.insertFeedback([ev('n', 'c', 3)], 'insert');
      // 'b' is absent: its COMMIT was never sent.
      expect((await s.userFeedback('n')).map((e) => e.item)).toEqual(['a', 'c']);
    } finally {
      await s.close();
      await proxy.close();
    }
  });

  it('a COMMIT whose answer is lost is not reported as success; the retry with its idempotency key replays it', async () => {
    const url = await freshDatabase();
    const proxy = await partitionProxy(new URL(url));
    const via = new URL(url);
    via.port = String(proxy.port);
    const s = await openStore(via.toString());
    try {
      const key = { key: 'lost-commit', fingerprint: 'f' };
      proxy.cutAtNextCommit();
      const first = await s.insertFeedback([ev('lc', 'a', 1), ev('lc', 'b', 1)], 'insert', key).catch((e: unknown) => e);
      expect(first).toBeInstanceOf(StoreUnavailableError);
      expect((first as Error).message).toMatch(/during COMMIT/);
      // It did commit: the client's retry gets the first write's answer and writes nothing more.
      expect(await s.insertFeedback([ev('lc', 'a', 1), ev('lc', 'b', 1)], 'insert', key)).toEqual({ rows: 2, replayed: true });
      expect(await s.countFeedback()).toBe(2);
      expect(Object.fromEntries(await s.itemCounts())).toEqual({ a: 1, b: 1 });
    } finally {
      await s.close();
      await proxy.close();
    }
  });

  // ---- (b) faults under load

  it('(b) 10 terminated backends and 5 cluster restarts under write load: no crash, StoreUnavailableError only, no acknowledged event lost', async () => {
    const url = await freshDatabase();
    const s = await openStore(url);
    const acked = new Set<string>();
    const sent = new Set<string>();
    const rejected = new Map<string, number>();
    let stop = false;
    const writer = async (w: number) => {
      for (let k = 0; !stop; k++) {
        const batch = Array.from({ length: 4 }, (_, e) => ev(`load-${w}`, `ev-${w}-${k}-${e}`, k, k % 3 === 0 ? 'like' : 'click'));
        batch.forEach((e) => sent.add(e.item));
        try {
          await s.insertFeedback(batch, k % 5 === 0 ? 'upsert' : 'insert');
          batch.forEach((e) => acked.add(e.item));
        } catch (e) {
          const name = e instanceof StoreUnavailableError ? 'StoreUnavailableError' : `${(e as Error).name}: ${(e as Error).message}`;
          rejected.set(name, (rejected.get(name) ?? 0) + 1);
          await sleep(20);
        }
      }
    };
    const until = async (n: number) => {
      const target = acked.size + n;
      while (acked.size < target) await sleep(5);
    };
    let terminated = 0;
    const crashes = await recordingCrashes(async () => {
      const load = Array.from({ length: 8 }, (_, w) => writer(w));
      try {
        for (let k = 0; k < 10; k++) {
          await until(200);
          terminated += await terminateBackends(url);
        }
        for (const mode of ['fast', 'fast', 'fast', 'fast', 'immediate'] as const) {
          await until(200);
          await restartCluster(mode);
        }
        await until(200);
      } finally {
        stop = true;
        await Promise.all(load);
      }
    });
    try {
      const stored = new Set((await query<{ item_id: string }>(url, `SELECT item_id FROM feedback`)).map((r) => r.item_id));
      const lost = [...acked].filter((id) => !stored.has(id));
      const unavailable = rejected.get('StoreUnavailableError') ?? 0;
      console.log(
        `faults in process: ${terminated} backends terminated, 5 restarts; sent ${sent.size}, acknowledged ${acked.size}, stored ${stored.size}, ` +
          `lost acknowledged ${lost.length}, rejected ${JSON.stringify(Object.fromEntries(rejected))}, crashes ${crashes.length}`,
      );
      expect(crashes).toEqual([]);
      expect(lost).toEqual([]);
      expect([...rejected.keys()].filter((k) => k !== 'StoreUnavailableError')).toEqual([]);
      expect(unavailable).toBeGreaterThan(0); // the restarts were noticed
      for (const id of stored) expect(sent.has(id)).toBe(true);
      // Counters stayed exact through the faults.
      const scan = await query<{ item_id: string; n: string }>(url, `SELECT item_id, count(*) AS n FROM feedback GROUP BY item_id`);
      expect(Object.fromEntries(await s.itemCounts())).toEqual(Object.fromEntries(scan.map((r) => [r.item_id, Number(r.n)])));
      await s.ping();
    } finally {
      await s.close();
    }
  });

  it('(b) the same faults against `reclab serve` over HTTP: the server stays up, answers only 200 or 503, loses no acknowledged event', async () => {
    const url = await freshDatabase();
    const server = await serve(url);
    const acked = new Set<string>();
    const statuses = new Map<number | string, number>();
    let retryAfter = 0;
    let stop = false;
    const client = async (c: number) => {
      for (let k = 0; !stop; k++) {
        const batch = Array.from({ length: 4 }, (_, e) => ({ FeedbackType: 'click', UserId: `h${c}`, ItemId: `h-${c}-${k}-${e}` }));
        let status: number | string;
        try {
          const res = await fetch(`${server.url}/api/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
          await res.text();
          status = res.status;
          if (status === 200) batch.forEach((b) => acked.add(b.ItemId));
          if (status === 503 && res.headers.get('retry-after')) retryAfter++;
        } catch (e) {
          status = `fetch failed: ${(e as Error).message}`;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status !== 200) await sleep(20);
      }
    };
    const until = async (n: number) => {
      const target = acked.size + n;
      while (acked.size < target) {
        if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`server died: ${server.stderr()}`);
        await sleep(5);
      }
    };
    const load = Array.from({ length: 6 }, (_, c) => client(c));
    let terminated = 0;
    try {
      for (let k = 0; k < 10; k++) {
        await until(100);
        terminated += await terminateBackends(url);
      }
      for (const mode of ['fast', 'fast', 'fast', 'fast', 'immediate'] as const) {
        await until(100);
        await restartCluster(mode);
      }
      await until(100);
    } finally {
      stop = true;
      await Promise.all(load);
    }
    const alive = server.child.exitCode === null && server.child.signalCode === null;
    const ready = alive ? (await fetch(`${server.url}/health/ready`)).status : 0;
    await stopServer(server.child);
    const stored = new Set((await query<{ item_id: string }>(url, `SELECT item_id FROM feedback`)).map((r) => r.item_id));
    const lost = [...acked].filter((id) => !stored.has(id));
    console.log(
      `faults over HTTP: ${terminated} backends terminated, 5 restarts; statuses ${JSON.stringify(Object.fromEntries(statuses))}, ` +
        `503 with Retry-After ${retryAfter}, acknowledged ${acked.size}, lost acknowledged ${lost.length}, server alive ${alive}, ready ${ready}`,
    );
    expect(alive).toBe(true);
    expect(ready).toBe(200);
    expect([...statuses.keys()].filter((k) => k !== 200 && k !== 503)).toEqual([]);
    expect(lost).toEqual([]);
  });
});

// ---- helpers: a `reclab serve` child and a partition proxy

interface Child {
  child: ChildProcess;
  url: string;
  stderr(): string;
}

let bundle: string | undefined;

/** Starts `reclab serve` over `db` on a free port; resolves once it listens. */
async function serve(db: string): Promise<Child> {
  if (!bundle) {
    bundle = join(tempDir(), 'model');
    await writeFixtureBundle(bundle, 'pop');
  }
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'reclab.js'), 'serve', '--models', bundle, '--db', db, '--port', '0', '--rate-limit', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  return new Promise((ok, fail) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(err);
      if (m) ok({ child, url: m[1], stderr: () => err });
    });
    child.once('exit', (code) => fail(new Error(`server exited (${code}) before listening: ${err}`)));
  });
}

/** SIGTERM and wait for the exit. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * A TCP proxy to PostgreSQL that can be frozen: while frozen it drops every byte both ways and
 * never closes a connection — a network partition, where no reset ever arrives. It can also cut
 * the client's connection right after passing a COMMIT on, so that the server commits and the
 * client never hears of it.
 */
async function partitionProxy(
  target: URL,
): Promise<{ port: number; freeze(): void; thaw(): void; cutAtNextCommit(): void; close(): Promise<void> }> {
  let frozen = false;
  let cut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    const up = connect(Number(target.port), target.hostname);
    for (const [from, to] of [
      [down, up],
      [up, down],
    ] as const) {
      sockets.add(from);
      from.on('data', (d: Buffer) => {
        if (frozen) return;
        // A simple-protocol Query message carrying COMMIT: the server gets it, the client loses the answer.
        if (cut && from === down && d[0] === 0x51 && d.includes('COMMIT\u0000')) {
          cut = false;
          to.end(d);
          down.destroy();
          return;
        }
        to.write(d);
      });
      from.on('error', () => {});
      from.on('close', () => {
        sockets.delete(from);
        to.end(); // not destroy: bytes already written still reach the other side
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => (frozen = true),
    thaw: () => (frozen = false),
    cutAtNextCommit: () => (cut = true),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
