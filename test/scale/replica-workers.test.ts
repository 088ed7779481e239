/**
 * `reclab serve --replicas … --workers 2` (issue 19): each worker of a cluster is a replica of
 * its own on the Redis channel. Replica A is a 2-worker cluster, replica B one process, both over
 * one PostgreSQL. A swap asked of B reaches both of A's workers (each logs the swap it received,
 * by pid, and A's readiness names the new model on every answer); a swap asked of A (whichever
 * worker takes it) is acknowledged by the 2 other replicas (A's other worker and B) and reaches
 * B. Needs RECLAB_TEST_PG_URL and a Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reclab, stopChild, testRedis, type Child, type TestRedis } from './harness.ts';
import { freshDatabase, readyModel } from './replica-flow.ts';
import { tempDir, writeWideBundle } from '../serve/fixtures.ts';

const pgUrl = process.env.RECLAB_TEST_PG_URL;
let redis: TestRedis | { skip: string };
let db: { url: string; drop: () => Promise<void> } | undefined;
const children: Child[] = [];

beforeAll(async () => {
  redis = await testRedis();
  if ('skip' in redis) console.warn(`replica-workers: skipped: ${redis.skip}`);
  if (!pgUrl) console.warn('replica-workers: skipped: RECLAB_TEST_PG_URL is not set (see test/serve/pg-start.sh)');
  if (!('skip' in redis) && pgUrl) db = await freshDatabase(pgUrl);
}, 60_000);
afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  await db?.drop();
  if (redis && !('skip' in redis)) await redis.stop();
}, 60_000);

/** The model version in a readiness answer, on a new connection each time (so the cluster spreads them over its workers). */
function readyOnce(url: string): Promise<string> {
  return new Promise((ok, fail) => {
    get(`${url}/health/ready`, { agent: false }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString()));
      res.on('end', () => ok((JSON.parse(body) as { model: string }).model));
    }).on('error', fail);
  });
}

async function put(url: string, name: string): Promise<void> {
  const r = await fetch(`${url}/api/model`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Name: name }) });
  expect(r.status, await r.text()).toBe(200);
}

describe('replicas with --workers', () => {
  it('every worker of a cluster replica takes swaps from the channel, and gives them to it', async (ctx) => {
    if (!db || 'skip' in redis) return ctx.skip();
    const models = tempDir('reclab-replica-workers-');
    for (const name of ['m1', 'm2']) {
      mkdirSync(join(models, name), { recursive: true });
      await writeWideBundle(join(models, name), 200);
    }
    writeFileSync(join(models, 'CURRENT'), 'm1\n');
    const channel = `reclab:test-workers:${process.pid}`;
    const common = ['--models', models, '--db', db.url, '--port', '0', '--host', '127.0.0.1', '--rate-limit', '0', '--replicas', redis.url, '--replica-channel', channel];
    const a = reclab(['serve', ...common, '--workers', '2']);
    children.push(a);
    const listening = await a.waitFor(/listening on (http:\/\/[\d.]+:\d+) \(primary pid \d+, workers (\d+),(\d+)/);
    const [aUrl, w1, w2] = [listening[1], listening[2], listening[3]];
    const b = reclab(['serve', ...common]);
    children.push(b);
    const bUrl = (await b.waitFor(/listening on (http:\/\/[\d.]+:\d+)/))[1];

    // Asked of B: both of A's workers receive it on the bus.
    await put(bUrl, 'm2');
    for (const pid of [w1, w2]) await a.waitFor(new RegExp(`replica [^ ]+:${pid}:[0-9a-f]+: swap [^ ]+ from [^ ]+: serving m2@`), 10_000);
    const seen = new Set(await Promise.all(Array.from({ length: 12 }, () => readyOnce(aUrl))));
    expect([...seen].every((v) => v.startsWith('m2@'))).toBe(true);

    // Asked of A: the worker that took it waits for the 2 other replicas, and B follows.
    await put(aUrl, 'm1');
    await a.waitFor(/: swap [^ ]+ to m1@[^ ]+: 2\/2 other replicas acknowledged/, 10_000);
    expect((await readyModel(bUrl)).startsWith('m1@')).toBe(true);
    const after = new Set(await Promise.all(Array.from({ length: 12 }, () => readyOnce(aUrl))));
    expect([...after].every((v) => v.startsWith('m1@'))).toBe(true);
  }, 180_000);
});
