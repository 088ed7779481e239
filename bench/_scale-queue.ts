/**
 * Queue, sweep and replica cases of `npm run bench -- scale` (docs/scale.md). Redis: as the tests
 * find it (RECLAB_TEST_REDIS_URL, else a throw-away redis-server); PostgreSQL from
 * RECLAB_TEST_PG_URL (results store and replicas' store; without it the results go to SQLite and
 * the replica case is skipped, saying so).
 *
 * - queue-empty: --jobs (1000) `noop` jobs through 2 worker processes, from submission to the last
 *   completion (workers started and connected before the clock starts): jobs_per_s;
 * - queue-1epoch: the tiny 8-point SASRec sweep at 1 epoch per point, with 1 worker and with 2:
 *   jobs_per_s of each, and `sweep-speedup` = time(1 worker) / time(2 workers);
 * - sweep-kill: must-show 1 (test/scale/sweep-flow.ts): 8 points, 2 workers, one killed -9
 *   mid-job: points, stored, duplicates, refused writes, and whether the fit equals the
 *   one-process sweep's;
 * - replicas-rps: 2 replicas on one PostgreSQL, autocannon on each at once for --seconds (10):
 *   aggregate rps, and one replica alone for comparison.
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { emit, flag } from './_util.ts';
import { reclab, stopChild, testRedis, writeTinySequences, writeTinySweep, type Child, type TestRedis } from '../test/scale/harness.ts';
import { sweepKill } from '../test/scale/sweep-flow.ts';
import { freshDatabase, startReplicas, stopReplicas } from '../test/scale/replica-flow.ts';
import { submitJobs } from '../src/jobs/queue.ts';
import { sweepJobs } from '../src/jobs/kinds.ts';
import { loadSweepFile } from '../src/laws/spec.ts';
import { redisOptions } from '../src/serve/redis.ts';

const log = (s: string) => process.stderr.write(`scale: ${s}\n`);
const pgUrl = process.env.RECLAB_TEST_PG_URL;

/** The bench's Redis (started once, stopped at exit). */
let redisHandle: Promise<TestRedis> | undefined;
function redis(): Promise<TestRedis> {
  redisHandle ??= testRedis().then((r) => {
    if ('skip' in r) throw new Error(`bench scale: ${r.skip}`);
    return r;
  });
  return redisHandle;
}

/** Starts `n` workers on `queue` and waits until each has connected. */
async function workers(url: string, queue: string, results: string, n: number): Promise<Child[]> {
  const cs = Array.from({ length: n }, () => reclab(['worker', '--queue', url, '--queue-name', queue, '--results', results]));
  await Promise.all(cs.map((c) => c.waitFor(/taking jobs from/)));
  return cs;
}

/** Waits until `queue` has `n` completed jobs (polling its counts); returns seconds since `t0`. */
async function completed(url: string, queue: string, n: number, t0: number): Promise<number> {
  const q = new Queue(queue, { connection: redisOptions(url) });
  try {
    for (;;) {
      const c = await q.getJobCounts('completed', 'failed');
      if ((c.completed ?? 0) + (c.failed ?? 0) >= n) {
        if (c.failed) throw new Error(`${c.failed} jobs failed on ${queue}`);
        return (performance.now() - t0) / 1000;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await q.close();
  }
}

/** Stops the bench's own Redis, if one was started. */
export async function stopBenchRedis(): Promise<void> {
  if (redisHandle) await (await redisHandle).stop();
}

function resultsUrl(dir: string): string {
  return pgUrl ?? `sqlite:${join(dir, 'jobs.db')}`;
}

/** queue-empty. */
export async function queueEmptyCase(): Promise<void> {
  const r = await redis();
  const dir = mkdtempSync(join(tmpdir(), 'reclab-bench-queue-'));
  const n = Number(flag('jobs', '1000'));
  const queue = `benchempty${process.pid}x${Date.now()}`;
  const cs = await workers(r.url, queue, resultsUrl(dir), 2);
  try {
    const t0 = performance.now();
    await submitJobs(r.url, Array.from({ length: n }, (_, i) => ({ kind: 'noop', data: { id: `${queue}-${i}` } })), { queue });
    const seconds = await completed(r.url, queue, n, t0);
    emit('scale', 'queue-empty', { jobs: n, workers: 2, seconds: Number(seconds.toFixed(2)), jobs_per_s: Math.round(n / seconds), store: pgUrl ? 'postgres' : 'sqlite' });
  } finally {
    await Promise.all(cs.map((c) => stopChild(c)));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** queue-1epoch with 1 and 2 workers, and the speed-up. */
export async function queueEpochCase(): Promise<void> {
  const r = await redis();
  const seconds: Record<number, number> = {};
  for (const nWorkers of [1, 2]) {
    const dir = mkdtempSync(join(tmpdir(), 'reclab-bench-queue-'));
    try {
      writeTinySequences(join(dir, 'seq.txt'));
      const spec = loadSweepFile(writeTinySweep(dir, join(dir, 'seq.txt'), 1));
      const queue = `benchepoch${process.pid}x${Date.now()}`;
      // SQLite per run: the sweep's keys are the same each run, and a stored point is skipped.
      const cs = await workers(r.url, queue, `sqlite:${join(dir, 'jobs.db')}`, nWorkers);
      try {
        const jobs = sweepJobs(spec);
        const t0 = performance.now();
        await submitJobs(r.url, jobs, { queue });
        seconds[nWorkers] = await completed(r.url, queue, jobs.length, t0);
        emit('scale', 'queue-1epoch', { jobs: jobs.length, workers: nWorkers, seconds: Number(seconds[nWorkers].toFixed(2)), jobs_per_s: Number((jobs.length / seconds[nWorkers]).toFixed(3)), cores: 2 });
      } finally {
        await Promise.all(cs.map((c) => stopChild(c)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  emit('scale', 'sweep-speedup', { points: 8, epochs: 1, seconds_1_worker: Number(seconds[1].toFixed(2)), seconds_2_workers: Number(seconds[2].toFixed(2)), speedup: Number((seconds[1] / seconds[2]).toFixed(2)), cores: 2, note: 'each worker process uses the kernel engine threads too; on 2 shared cores the ceiling is below 2×' });
}

/** sweep-kill. */
export async function sweepKillCase(): Promise<void> {
  const r = await redis();
  const res = await sweepKill({ redis: r.url, results: pgUrl, log });
  emit('scale', 'sweep-kill', {
    points: res.points,
    stored: res.stored,
    duplicates: res.duplicates,
    refused_duplicate: res.refused.duplicate,
    refused_conflict: res.refused.conflict,
    failed: res.failed,
    killed_job: res.killedJob,
    metrics_mismatched: res.mismatched.length,
    fit_equal: JSON.stringify(res.single.params) === JSON.stringify(res.queued.params),
    seconds: Number(res.seconds.toFixed(1)),
    store: res.storeKind,
  });
}

/** autocannon on `url` for `seconds`: requests per second and failures. */
async function load(url: string, seconds: number): Promise<{ rps: number; errors: number; p99_ms: number }> {
  const res = await autocannon({ url: `${url}/api/recommend/heavy?n=10`, connections: 16, duration: seconds, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/api/recommend/u${Math.floor(Math.random() * 200)}?n=10` }) }] });
  return { rps: res.requests.average, errors: res.errors + res.non2xx, p99_ms: res.latency.p99 };
}

/** replicas-rps. */
export async function replicasCase(): Promise<void> {
  if (!pgUrl) {
    log('replicas-rps skipped: RECLAB_TEST_PG_URL is not set (eval "$(bash test/serve/pg-start.sh)")');
    return;
  }
  const r = await redis();
  const seconds = Number(flag('seconds', '10'));
  const db = await freshDatabase(pgUrl);
  const reps = await startReplicas(db.url, r.url);
  try {
    await load(reps.urls[0], 2); // warm-up
    const one = await load(reps.urls[0], seconds);
    const both = await Promise.all(reps.urls.map((u) => load(u, seconds)));
    emit('scale', 'replicas-rps', {
      replicas: 2,
      rps: Math.round(both.reduce((s, x) => s + x.rps, 0)),
      errors: both.reduce((s, x) => s + x.errors, 0),
      p99_ms: Math.max(...both.map((x) => x.p99_ms)),
      one_replica_rps: Math.round(one.rps),
      seconds,
      cores: 2,
      model: 'popularity over 200 items (the replication cost, not the model, is measured)',
    });
  } finally {
    await stopReplicas(reps.children);
    await db.drop();
  }
}
