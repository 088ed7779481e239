/**
 * Issue 19, must-show 2 (and 5 for Redis): two `reclab serve` replicas over one PostgreSQL and
 * one Redis. Feedback posted to A shows in B's recommendations within 1 s; a swap asked once
 * reaches both under load with no failed request; a replica that loses Redis reconnects and
 * catches up with a swap made while it was away. Needs RECLAB_TEST_PG_URL and a Redis.
 */
import { describe, expect, it } from 'vitest';
import { readyModel, replicaChecks } from './replica-flow.ts';
import { useReplicas } from './replica-suite.ts';

const suite = useReplicas('replicas', true);

describe('replicated serving', () => {
  it('shows feedback across replicas within 1 s and swaps both under load with 0 failed requests', async (ctx) => {
    const set = suite();
    if (!set) return ctx.skip();
    const { replicas } = set;
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
    const set = suite();
    if (!set?.redis.restart) return ctx.skip();
    const [a, b] = set.replicas.urls;
    await set.redis.restart(); // every connection drops; pub/sub messages sent while away are lost
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
