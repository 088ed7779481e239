/**
 * Issue 19, must-show 1: a law sweep of 8 points through the queue with 2 worker processes, one
 * killed with kill -9 in the middle of a job. Every grid point ends in the store exactly once
 * (PostgreSQL when RECLAB_TEST_PG_URL is set, else SQLite), each point's metrics equal the
 * one-process sweep's, and so does the fitted law.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from './harness.ts';
import { sweepKill } from './sweep-flow.ts';

let redis: TestRedis | { skip: string };
beforeAll(async () => {
  redis = await testRedis();
  if ('skip' in redis) console.warn(`sweep-kill: skipped: ${redis.skip}`);
}, 30_000);
afterAll(async () => {
  if (redis && !('skip' in redis)) await redis.stop();
});

describe('law sweep through the queue', () => {
  it('stores every point exactly once after a worker is killed mid-job, and fits the same law', async (ctx) => {
    if ('skip' in redis) return ctx.skip();
    const r = await sweepKill({ redis: redis.url, results: process.env.RECLAB_TEST_PG_URL, log: (s) => console.log(`sweep-kill: ${s}`) });
    console.log(`sweep-kill: ${JSON.stringify({ ...r, single: r.single.params, queued: r.queued.params })}`);
    expect(r.killedJob).not.toBe('');
    expect(r.failed).toBe(0);
    expect(r.points).toBe(8);
    expect(r.stored).toBe(8);
    expect(r.duplicates).toBe(0);
    expect(r.refused.conflict).toBe(0);
    expect(r.mismatched).toEqual([]);
    // The same points in the same order give the same fit, to the last bit.
    expect(r.queued.params).toEqual(r.single.params);
    expect(r.queued.groupD).toEqual(r.single.groupD);
  }, 900_000);
});
