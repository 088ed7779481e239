/**
 * Must-show 1 of issue 19 as one function, shared by the test and `npm run bench -- scale
 * sweep-kill`: a tiny 8-point law sweep run once in one process (`reclab law sweep`) and once
 * through the queue by worker processes, one of which is killed with SIGKILL in the middle of a
 * job; then the store is read back and the two fits compared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSweepFile } from '../../src/laws/spec.ts';
import { readFinishedPoints, type SweepPoint } from '../../src/laws/sweep.ts';
import { fitLaw, type LawFit } from '../../src/laws/fit.ts';
import { recordToPoint } from '../../src/laws/records.ts';
import { sweepJobs, sweepPrefix } from '../../src/jobs/kinds.ts';
import { openResults } from '../../src/jobs/results.ts';
import { followJobs, submitJobs } from '../../src/jobs/queue.ts';
import { storedSweepPoints } from '../../src/jobs/sweep.ts';
import { reclab, stopChild, writeTinySequences, writeTinySweep, type Child } from './harness.ts';

/** What the run measured. */
export interface SweepKillResult {
  points: number;
  stored: number;
  /** Keys stored more than once (the store's unique key makes this 0 unless it is broken). */
  duplicates: number;
  /** Writes the store refused (a job run twice that reached the write twice). */
  refused: { duplicate: number; conflict: number };
  /** The job the killed worker was running when it died. */
  killedJob: string;
  /** Points whose metrics differ from the one-process sweep's. */
  mismatched: string[];
  single: LawFit;
  queued: LawFit;
  failed: number;
  seconds: number;
  workers: number;
  storeKind: 'postgres' | 'sqlite';
}

/** Fits the law to points in a fixed order (by key), as both sides must. */
export function fitPoints(points: SweepPoint[]): LawFit {
  const sorted = [...points].sort((a, b) => (a.key < b.key ? -1 : 1));
  return fitLaw(sorted.map((p, i) => recordToPoint(p, 'ndcg@10', { file: 'points', line: i + 1 })));
}

/** Runs the comparison. `results` is the store URL (PostgreSQL or SQLite); `kill` picks whether to kill a worker. */
export async function sweepKill(opts: { redis: string; results?: string; workers?: number; kill?: boolean; epochs?: number; log?: (s: string) => void }): Promise<SweepKillResult> {
  const log = opts.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'reclab-sweep-kill-'));
  const children: Child[] = [];
  try {
    writeTinySequences(join(dir, 'seq.txt'));
    const specPath = writeTinySweep(dir, join(dir, 'seq.txt'), opts.epochs ?? 2);
    const spec = loadSweepFile(specPath);
    const single = reclab(['law', 'sweep', specPath, '--no-fit']);
    if ((await single.exited) !== 0) throw new Error(`reclab law sweep failed:\n${single.stderr().slice(-2000)}`);
    const singlePoints = readFinishedPoints(spec.out);
    log(`one-process sweep: ${singlePoints.length} points`);

    const results = opts.results ?? `sqlite:${join(dir, 'jobs.db')}`;
    // A queue of its own, so runs never see each other's jobs; a store prefix of its own too
    // (a sweep's key prefix is its content hash, the same every run: PostgreSQL keeps old runs).
    const queue = `sweepkill${process.pid}x${Date.now()}`;
    const store = await openResults(results);
    const prefix = sweepPrefix(spec);
    if (results.startsWith('postgres')) {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: results });
      await c.connect();
      await c.query("DELETE FROM reclab_job_results WHERE key LIKE $1 || '%'", [prefix]);
      await c.query("DELETE FROM reclab_job_refused WHERE key LIKE $1 || '%'", [prefix]);
      await c.end();
    }
    const t0 = performance.now();
    const jobs = sweepJobs(spec);
    const ids = await submitJobs(opts.redis, jobs, { queue, attempts: 3 });
    const nWorkers = opts.workers ?? 2;
    for (let w = 0; w < nWorkers; w++) children.push(reclab(['worker', '--queue', opts.redis, '--queue-name', queue, '--results', results, '--lock-seconds', '3']));
    let killedJob = '';
    if (opts.kill ?? true) {
      const victim = children[0];
      const m = await victim.waitFor(/: law-point (\S+) started/);
      // In the middle of the job: "started" is logged before the data is loaded and the model
      // trained, so a kill shortly after it lands inside the job on any machine.
      await new Promise((r) => setTimeout(r, 150));
      killedJob = m[1];
      victim.proc.kill('SIGKILL');
      await victim.exited;
      if (new RegExp(`${killedJob.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} stored`).test(victim.stderr())) log('note: the victim had already stored its job when the kill landed');
      log(`killed worker pid ${victim.proc.pid} during ${killedJob}`);
    }
    const followed = await followJobs(opts.redis, ids.map((x) => x.id), { queue, timeoutMs: 600_000 });
    const seconds = (performance.now() - t0) / 1000;
    const stored = await store.list(prefix);
    const refused = await store.refused(prefix);
    const queuedPoints = await storedSweepPoints(store, spec);
    await store.close();
    const keys = stored.map((r) => r.key);
    const byKey = new Map(singlePoints.map((p) => [p.key, p]));
    const mismatched = queuedPoints.filter((p) => JSON.stringify(p.metrics) !== JSON.stringify(byKey.get(p.key)?.metrics)).map((p) => p.key);
    return {
      points: jobs.length,
      stored: stored.length,
      duplicates: keys.length - new Set(keys).size,
      refused,
      killedJob,
      mismatched,
      single: fitPoints(singlePoints),
      queued: fitPoints(queuedPoints),
      failed: followed.failed.length,
      seconds,
      workers: nWorkers,
      storeKind: results.startsWith('postgres') ? 'postgres' : 'sqlite',
    };
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
    rmSync(dir, { recursive: true, force: true });
  }
}
