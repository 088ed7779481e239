/**
 * Issue 19, must-show 2 (and 5 for Redis): two `reclab serve` replicas over one PostgreSQL and
 * one Redis. Feedback posted to A shows in B's recommendations within 1 s; a swap asked once
 * reaches both under load with no failed request; a replica that loses Redis reconnects and
 * catches up with a swap made while it was away. Needs RECLAB_TEST_PG_URL and a Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from './harness.ts';
import { freshDatabase, readyModel, replicaChecks, startReplicas, stopReplicas } from './replica-flow.ts';

const pgUrl = process.env.RECLAB_TEST_PG_URL;
let redis: TestRedis | { skip: string };
let db: { url: string; drop: () => Promise<void> } | undefined;
let replicas: Awaited<ReturnType<typeof startReplicas>> | undefined;

beforeAll(async () => {
  redis = await testRedis({ own: true });
  if ('skip' in redis) console.warn(`replicas: skipped: ${redis.skip}`);
  if (!pgUrl) console.warn('replicas: skipped: RECLAB_TEST_PG_URL is not set (see test/serve/pg-start.sh)');
  if ('skip' in redis || !pgUrl) return;
  db = await freshDatabase(pgUrl);
  replicas = await startReplicas(db.url, redis.url);
}, 180_000);

afterAll(async () => {
  if (replicas) await stopReplicas(replicas.children);
  await db?.drop();
  if (redis && !('skip' in redis)) await redis.stop();
}, 60_000);

describe('replicated serving', () => {
  it('shows feedback across replicas within 1 s and swaps both under load with 0 failed requests', async (ctx) => {
    if (!replicas) return ctx.skip();
    const before = await Promise.all(replicas.urls.map(readyModel));
    expect(before.every((v) => v.startsWith('m1@'))).toBe(true);
    const r = await replicaChecks(replicas.urls);
    console.log(`replicas: ${JSON.stringify(r)}`);
    expect(r.feedbackVisibleMs).toBeLessThan(1000);
    expect(r.swap.requests).toBeGreaterThan(0);
    expect(r.swap.failed).toBe(0);
    expect(r.swap.versions.every((v) => v.startsWith('m2@'))).toBe(true);
  }, 120_000);

  it('a replica that loses Redis reconnects and catches up with a swap made meanwhile', async (ctx) => {
    if (!replicas || 'skip' in redis || !redis.restart) return ctx.skip();
    const [a, b] = replicas.urls;
    await redis.restart(); // every connection drops; pub/sub messages sent while away are lost
    // A swaps back to m1 as soon as Redis answers again; B must end on m1 too.
    const deadline = Date.now() + 60_000;
    let put: Response | undefined;
    while (Date.now() < deadline) {
      put = await fetch(`${a}/api/model`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Name: 'm1' }) });
      if (put.status === 200) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(put?.status).toBe(200);
    let vb = '';
    while (Date.now() < deadline && !vb.startsWith('m1@')) {
      vb = await readyModel(b);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(vb.startsWith('m1@')).toBe(true);
  }, 120_000);
});
