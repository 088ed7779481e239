/**
 * Several processes on one SQLite file, as in cluster mode (`reclab serve --workers N`): N child
 * processes open the same *fresh* file at the same moment, 20 times over, and each at once seeds
 * items, writes feedback and deletes an item — the read-then-write paths that failed with
 * "database is locked" before every write transaction was BEGIN IMMEDIATE and opening retried.
 * Not one error is allowed, and every file ends up whole.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir } from './fixtures.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const STORE = join(ROOT, 'src', 'serve', 'store-sqlite.ts');
const PROCESSES = 4;
const ROUNDS = 20;
/** Milliseconds between rounds: every process opens round r's file at t0 + r × GAP. */
const GAP = 400;

/**
 * One child: prints `ready` once loaded, reads the common start time t0 from stdin, then at
 * t0 + r × GAP opens `round-r.db` and writes; prints its errors as one JSON line at the end.
 */
const CHILD = `
import { SqliteStore } from ${JSON.stringify(STORE)};
import { createInterface } from 'node:readline';
import { join } from 'node:path';
const [dir, who, rounds, gap] = [process.env.RACE_DIR, process.env.RACE_WHO, Number(process.env.RACE_ROUNDS), Number(process.env.RACE_GAP)];
const item = (id) => ({ id, hidden: false, categories: [], labels: [], time: 0, comment: '' });
process.stdout.write('ready\\n');
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const t0 = Number((await lines.next()).value);
const errors = [];
for (let r = 0; r < rounds; r++) {
  const wait = t0 + r * gap - Date.now();
  if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
  let s;
  try {
    s = SqliteStore.open(join(dir, 'round-' + r + '.db'));
    await s.ready();
    await s.insertMissingItems([item('shared'), item('own-' + who)]);
    await s.insertFeedback([{ type: 'click', user: 'w' + who, item: 'shared', value: 1, time: r }], 'insert');
    await s.deleteItem('own-' + who);
  } catch (e) {
    errors.push(r + ': ' + (e.code ?? '') + ' ' + e.message);
  }
  await s?.close();
}
process.stdout.write(JSON.stringify({ who, errors }) + '\\n');
process.stdin.destroy();
`;

describe('SQLite store: several processes on one fresh file', () => {
  it(`opens and writes from ${PROCESSES} processes at once, ${ROUNDS} times, without one SQLITE_BUSY`, async () => {
    const dir = tempDir();
    const children = Array.from({ length: PROCESSES }, (_, who) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
        cwd: ROOT,
        env: { ...process.env, RACE_DIR: dir, RACE_WHO: String(who), RACE_ROUNDS: String(ROUNDS), RACE_GAP: String(GAP) },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      return { child, lines, exited };
    });
    // Start together: once every child is loaded, all get the same start time.
    for (const c of children) expect((await c.lines.next()).value).toBe('ready');
    const t0 = Date.now() + 300;
    for (const c of children) c.child.stdin!.write(`${t0}\n`);
    const reports = await Promise.all(
      children.map(async (c) => {
        const line = (await c.lines.next()).value as string | undefined;
        return line ? (JSON.parse(line) as { who: string; errors: string[] }) : { who: '?', errors: [`a child exited (${await c.exited}) without its report`] };
      }),
    );
    expect(await Promise.all(children.map((c) => c.exited))).toEqual(new Array(PROCESSES).fill(0));
    expect(reports.flatMap((r) => r.errors)).toEqual([]);

    for (let r = 0; r < ROUNDS; r++) {
      const db = new Database(join(dir, `round-${r}.db`), { readonly: true });
      try {
        expect(db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get()).toEqual({ value: 4 });
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(db.prepare('SELECT count(*) AS n FROM feedback').get()).toEqual({ n: PROCESSES });
        expect(db.prepare('SELECT item_id, type, n FROM item_type_counts').all()).toEqual([{ item_id: 'shared', type: 'click', n: PROCESSES }]);
        // 'shared' created once, each own item created and deleted: 1 + 2N revisions, none taken twice.
        const items = db.prepare('SELECT id, rev, deleted FROM items ORDER BY id').all() as { id: string; rev: number; deleted: number }[];
        expect(items.map((i) => [i.id, i.deleted])).toEqual([...Array.from({ length: PROCESSES }, (_, w) => [`own-${w}`, 1]), ['shared', 0]]);
        expect(db.prepare(`SELECT value FROM meta WHERE key = 'item_rev'`).get()).toEqual({ value: 1 + 2 * PROCESSES });
        expect(new Set(items.map((i) => i.rev)).size).toBe(items.length);
      } finally {
        db.close();
      }
    }
  }, 120_000);
});
