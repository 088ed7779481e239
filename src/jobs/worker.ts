/**
 * A worker process's loop: take jobs from the queue, run them by kind, put each result in the
 * results store under the job's content key, report progress.
 *
 * Failure handling, all by BullMQ: a job holds a lock renewed while it runs; a worker killed with
 * `kill -9` stops renewing, so after `lockMs` another worker's stalled-job check puts the job back
 * in the queue and it runs again (a job stalled more than `maxStalled` times fails). A job that
 * throws is retried up to its `attempts`, then lands in the failed list with its error.
 *
 * Idempotence: before running, a worker looks the key up in the store and skips a job whose
 * result is already there (a duplicate, or a job whose worker died after storing but before
 * acknowledging); after running, the store's unique key refuses a second write. Either way a
 * result is stored exactly once.
 */
import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import { redisOptions } from '../serve/redis.ts';
import { jobKind } from './kinds.ts';
import type { ResultStore } from './results.ts';
import { DEFAULT_QUEUE } from './queue.ts';

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  queue?: string;
  /** Jobs run at once by this process (default 1: a training job uses the whole core engine). */
  concurrency?: number;
  /** Lock time of a running job: how long a killed worker's job waits before it is retried (default 15 s). */
  lockMs?: number;
  /** Times a job may stall (its worker died) before it fails (default 2). */
  maxStalled?: number;
  /** Directory for artifacts every worker sees. */
  artifacts?: string;
  log?: (line: string) => void;
}

/** A running worker. */
export interface RunningWorker {
  name: string;
  /** Resolves once the worker's Redis connection is up. */
  ready(): Promise<void>;
  /** Finishes the running job(s), then stops. */
  close(): Promise<void>;
}

/** Starts taking jobs from the queue at `url`, storing results in `store`. */
export function startWorker(url: string, store: ResultStore, options: WorkerOptions = {}): RunningWorker {
  const name = `${hostname()}:${process.pid}`;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lockMs = options.lockMs ?? 15_000;
  const processor = async (job: Job) => {
    const kind = jobKind(job.name);
    const data = kind.check(job.data);
    const key = kind.key(data);
    if (await store.get(key)) {
      log(`worker ${name}: ${job.name} ${key} already stored, skipped`);
      return { key, outcome: 'already-stored' };
    }
    log(`worker ${name}: ${job.name} ${key} started (attempt ${job.attemptsMade + 1})`);
    const result = await kind.run(data, { worker: name, artifacts: options.artifacts, progress: (p) => job.updateProgress(p), log: (l) => log(`  ${l}`) });
    const outcome = await store.put(key, job.name, result, name, kind.identity?.(result) ?? result);
    log(`worker ${name}: ${job.name} ${key} ${outcome}`);
    return { key, outcome };
  };
  const worker = new Worker(options.queue ?? DEFAULT_QUEUE, processor, {
    connection: redisOptions(url),
    concurrency: options.concurrency ?? 1,
    lockDuration: lockMs,
    stalledInterval: Math.max(1000, Math.floor(lockMs / 2)),
    maxStalledCount: options.maxStalled ?? 2,
  });
  worker.on('failed', (job, err) => log(`worker ${name}: ${job?.name ?? '?'} ${job?.id ?? ''} failed: ${err.message}`));
  worker.on('error', (err) => log(`worker ${name}: ${err.message} (reconnecting)`));
  return { name, ready: async () => void (await worker.waitUntilReady()), close: () => worker.close() };
}
