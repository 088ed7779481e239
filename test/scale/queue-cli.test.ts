/**
 * The queue's verbs end to end: `reclab submit --no-wait` queues a sweep, `reclab jobs` lists it,
 * a worker that lost Redis (restarted under it) reconnects and runs the jobs, `reclab submit`
 * again follows the (deduplicated) jobs and fits the law from the store; a job that fails every
 * attempt lands in the failed list with its error.
 *
 * The verbs run in this process (runCli) and the worker is the library's (startWorker, what
 * `reclab worker` runs): nothing here is about processes — worker processes and kill -9 are
 * test/scale/sweep-kill.test.ts's — and spawning each verb cost most of this test's time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testRedis, writeTinySequences, writeTinySweep, type TestRedis } from './harness.ts';
import { runCli } from '../../src/cli/testutil.ts';
import { startWorker, type RunningWorker } from '../../src/jobs/worker.ts';
import { openResults, type ResultStore } from '../../src/jobs/results.ts';

let redis: TestRedis | { skip: string };
const dir = mkdtempSync(join(tmpdir(), 'reclab-queue-cli-'));
let worker: RunningWorker | undefined;
let store: ResultStore | undefined;

beforeAll(async () => {
  redis = await testRedis({ own: true });
  if ('skip' in redis) console.warn(`queue-cli: skipped: ${redis.skip}`);
}, 30_000);
afterAll(async () => {
  await worker?.close();
  await store?.close();
  if (redis && !('skip' in redis)) await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a reclab verb in this process to its end; returns exit code, stdout and stderr. */
async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const r = await runCli(args);
  return { code: r.code, out: r.out, err: r.err };
}

describe('reclab submit / jobs / worker', () => {
  it('queues, lists, survives a Redis restart under the worker, follows and fits', async (ctx) => {
    if ('skip' in redis || !redis.restart) return ctx.skip();
    writeTinySequences(join(dir, 'seq.txt'));
    const spec = writeTinySweep(dir, join(dir, 'seq.txt'), 1);
    const results = `sqlite:${join(dir, 'jobs.db')}`;
    const q = ['--queue', redis.url, '--queue-name', 'clitest'];

    store = await openResults(results);
    worker = startWorker(redis.url, store, { queue: 'clitest', lockMs: 3000, log: () => {} });
    await worker.ready();
    await redis.restart(); // the worker's connections drop; it must reconnect by itself

    const sub = await run(['submit', spec, ...q, '--results', results, '--no-wait']);
    expect(sub.code).toBe(0);
    expect(sub.err).toMatch(/8 law-point jobs queued/);
    const listed = await run(['jobs', ...q, '--json']);
    expect(listed.code).toBe(0);
    const state = JSON.parse(listed.out) as { counts: Record<string, number> };
    expect(Object.values(state.counts).reduce((a, b) => a + b, 0)).toBe(8);

    // Submitting again queues nothing new (same job ids) and follows the jobs to the end.
    const again = await run(['submit', spec, ...q, '--results', results]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out.trim().split('\n').pop()!)).toEqual({ points: 8, stored: 8, failed: 0 });
    expect(existsSync(join(dir, 'fit', 'fit.json'))).toBe(true);
    const done = JSON.parse((await run(['jobs', ...q, '--json'])).out) as { counts: Record<string, number> };
    expect(done.counts.completed).toBe(8);
  }, 600_000);

  it('lists a job that failed every attempt with its error', async (ctx) => {
    if ('skip' in redis || !worker) return ctx.skip();
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `dataset: { path: ${JSON.stringify(join(dir, 'missing.txt'))}, format: sasrec }\nmodel: sasrec\ngrid: { layers: [1], hidden: [8] }\nout: ${JSON.stringify(join(dir, 'bad.jsonl'))}\n`);
    const q = ['--queue', redis.url, '--queue-name', 'clitest'];
    const sub = await run(['submit', bad, ...q, '--results', `sqlite:${join(dir, 'jobs.db')}`, '--attempts', '2']);
    expect(sub.code).toBe(1);
    const state = JSON.parse((await run(['jobs', ...q, '--json'])).out) as { failed: { attempts: number; error: string }[] };
    expect(state.failed.length).toBe(1);
    expect(state.failed[0].attempts).toBe(2);
    expect(state.failed[0].error).toMatch(/missing\.txt/);
  }, 300_000);
});
