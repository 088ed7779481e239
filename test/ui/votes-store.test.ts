/**
 * Arena votes in the serve store (schema 3): one vote per voter and pair held by the unique key,
 * votes listed in arrival order, and a version-2 file migrated to add the table. SQLite always;
 * PostgreSQL too when RECLAB_TEST_PG_URL is set.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore, type Store, type VoteStore } from '../../src/serve/store.ts';
import type { HumanVote } from '../../src/judge/human.ts';

const vote = (voter: string, user: number, choice: HumanVote['choice'], a = 'ease', b = 'pop'): HumanVote => ({ voter, user, a, b, choice, left: b, time: 1000 + user });

function voteSuite(open: () => Promise<Store & VoteStore>): void {
  it('stores one vote per voter and pair and lists them oldest first', async () => {
    const s = await open();
    try {
      const before = (await s.listVotes()).length;
      expect(await s.insertVote(vote('ann', 1, 'a'))).toBe(true);
      expect(await s.insertVote(vote('ann', 2, 'tie'))).toBe(true);
      // Same voter, same pair, another choice: refused, the first vote stays.
      expect(await s.insertVote(vote('ann', 1, 'b'))).toBe(false);
      // Another voter on the same pair, or the same voter on another pair of systems: stored.
      expect(await s.insertVote(vote('bob', 1, 'b'))).toBe(true);
      expect(await s.insertVote(vote('ann', 1, 'skip', 'ease', 'sasrec'))).toBe(true);
      const votes = (await s.listVotes()).slice(before);
      expect(votes).toEqual([vote('ann', 1, 'a'), vote('ann', 2, 'tie'), vote('bob', 1, 'b'), vote('ann', 1, 'skip', 'ease', 'sasrec')]);
    } finally {
      await s.close();
    }
  });
}

describe('Arena votes: SQLite store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reclab-votes-'));
  let n = 0;
  voteSuite(() => openStore(`sqlite:${join(dir, `v${n++}.db`)}`));

  it('migrates a schema-2 file: adds the votes table, keeps the rest', async () => {
    const path = join(dir, 'v2.db');
    // A schema-2 file as the previous release leaves it: open at the current version, then strip back to 2.
    await (await openStore(`sqlite:${path}`)).close();
    const db = new Database(path);
    db.exec(`DROP TABLE arena_votes; UPDATE meta SET value = 2 WHERE key = 'schema'`);
    db.close();
    const s = await openStore(`sqlite:${path}`);
    try {
      expect(await s.insertVote(vote('ann', 7, 'a'))).toBe(true);
      expect(await s.listVotes()).toEqual([vote('ann', 7, 'a')]);
    } finally {
      await s.close();
    }
    const after = new Database(path, { readonly: true });
    expect(after.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get()).toEqual({ value: 4 });
    after.close();
  });
});

const pgUrl = process.env.RECLAB_TEST_PG_URL;
if (!pgUrl) console.warn('[skip] Arena votes on PostgreSQL: set RECLAB_TEST_PG_URL to run them');
describe.skipIf(!pgUrl)('Arena votes: PostgreSQL store', () => {
  voteSuite(async () => {
    const s = await openStore(pgUrl!);
    // Each run uses its own voters' names, so earlier runs' rows do not collide.
    const tag = `${process.pid}-${Date.now()}-`;
    const insertVote = s.insertVote.bind(s);
    const listVotes = s.listVotes.bind(s);
    return Object.assign(Object.create(s) as Store & VoteStore, {
      insertVote: (v: HumanVote) => insertVote({ ...v, voter: tag + v.voter }),
      listVotes: async () => (await listVotes()).filter((v) => v.voter.startsWith(tag)).map((v) => ({ ...v, voter: v.voter.slice(tag.length) })),
      close: () => s.close(),
    });
  });
});
