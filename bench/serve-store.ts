/**
 * The SQLite store's event log, layout against layout: schema version 3 (two user-keyed indexes
 * on `feedback`) and version 4 (`feedback_key` alone), built from the store's own schema and
 * migrations, written with the statements and pragmas of its worker (WAL, synchronous FULL,
 * 64 MiB cache) but without HTTP or the worker thread, so only the layout differs.
 *
 *   npm run bench -- serve-store [--events 1500000] [--users 10000] [--batch 3200]
 *
 * Cases:
 * - `ingest`: group commits of `--batch` events (32 connections × 100 events, the HTTP bench's
 *   load) round-robin over `--users` users; events/s per 100,000 events as the log grows;
 * - `history`: a user's newest 1,000 events (the engine's history read) for users holding 165
 *   (ML-1M's mean), 2,314 (its largest), 20,000 and 100,000 events, ms per read.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, flag } from './_util.ts';
import { MIGRATIONS, SCHEMA_V1 } from '../src/serve/store-sqlite-schema.ts';

const events = Number(flag('events', '1500000'));
const users = Number(flag('users', '10000'));
const batch = Number(flag('batch', '3200'));
const CHUNK = 100_000;
const HISTORY_SIZES = [165, 2314, 20_000, 100_000];
const dir = mkdtempSync(join(tmpdir(), 'reclab-bench-store-'));

/** A file at schema `version`, as the store builds it (version 1, then the migrations). */
function openAt(version: number, name: string): Database.Database {
  const d = new Database(join(dir, name));
  d.pragma('journal_mode = WAL');
  d.pragma('synchronous = FULL');
  d.pragma('cache_size = -65536');
  d.exec(SCHEMA_V1);
  for (const m of MIGRATIONS.slice(0, version - 1)) d.exec(m);
  return d;
}

/** The worker's insert path for `POST /api/feedback` (mode insert): the event, then its user. */
function inserter(d: Database.Database): (type: string, user: string, item: string, time: number) => void {
  const insert = d.prepare('INSERT INTO feedback(type, user_id, item_id, value, time) VALUES (?, ?, ?, 1, ?)');
  const addUser = d.prepare(`INSERT OR IGNORE INTO users(id, labels, comment) VALUES (?, '[]', '')`);
  return (type, user, item, time) => {
    insert.run(type, user, item, time);
    addUser.run(user);
  };
}

try {
  for (const version of [3, 4]) {
    const d = openAt(version, `ingest-v${version}.db`);
    const put = inserter(d);
    let k = 0;
    const commit = d.transaction((n: number) => {
      for (let i = 0; i < n; i++, k++) put('click', `bench-${k % users}`, String(1 + (k % 3706)), Date.now() / 1000);
    });
    const rates: number[] = [];
    let t0 = performance.now();
    while (k < events) {
      commit(batch);
      if (k % CHUNK < batch) {
        const t1 = performance.now();
        rates.push(Math.round(CHUNK / ((t1 - t0) / 1000)));
        t0 = t1;
        process.stderr.write(`serve-store v${version}: ${k} events, ${rates[rates.length - 1]} events/s\n`);
      }
    }
    d.close();
    emit('serve-store', 'ingest', { schema: version, events, users, batch, events_per_s_per_100k: rates, last: rates[rates.length - 1] });
  }

  for (const version of [3, 4]) {
    const d = openAt(version, `history-v${version}.db`);
    const put = inserter(d);
    d.transaction(() => {
      for (const n of HISTORY_SIZES) for (let i = 0; i < n; i++) put('click', `u${n}`, `i${i % 3706}`, 1e9 + i);
    })();
    // The worker's userFeedback query with no type filter and the engine's limit.
    const read = d.prepare('SELECT type, user_id AS user, item_id AS item, value, time FROM feedback WHERE user_id = ? ORDER BY time DESC, seq DESC LIMIT ?');
    const ms: Record<string, number> = {};
    for (const n of HISTORY_SIZES) {
      for (let w = 0; w < 3; w++) read.all(`u${n}`, 1000);
      const reps = 20;
      const t = performance.now();
      for (let r = 0; r < reps; r++) read.all(`u${n}`, 1000);
      ms[String(n)] = Number(((performance.now() - t) / reps).toFixed(3));
    }
    d.close();
    emit('serve-store', 'history', { schema: version, limit: 1000, ms_per_read_by_user_events: ms });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
