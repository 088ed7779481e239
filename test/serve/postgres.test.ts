/**
 * The end-to-end scenario over PostgreSQL, against a real server: `.ci/run` starts a throw-away
 * cluster (test/serve/pg-start.sh) and exports RECLAB_TEST_PG_URL. Without it the suite skips.
 */
import { afterAll, describe } from 'vitest';
import pg from 'pg';
import { endToEndSuite } from './e2e-suite.ts';

const url = process.env.RECLAB_TEST_PG_URL;
if (!url) console.warn('[skip] RECLAB_TEST_PG_URL is not set: PostgreSQL store tests are skipped (see test/serve/pg-start.sh)');

const created: string[] = [];

/** A fresh database on the test server for each run. */
async function freshDatabase(): Promise<string> {
  const name = `reclab_test_${process.pid}_${Date.now()}_${created.length}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  created.push(name);
  const u = new URL(url!);
  u.pathname = `/${name}`;
  return u.toString();
}

describe.skipIf(!url)('serve end to end (PostgreSQL)', () => {
  endToEndSuite(freshDatabase);
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
});
