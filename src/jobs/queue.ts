/**
 * The job queue (BullMQ on Redis): submitting jobs, reading the queue's state, and following
 * jobs from the submitting terminal.
 *
 * A job's queue id is a hash of its content key, so submitting the same grid twice (or from two
 * terminals) queues each job once while the first is still known to the queue; past that, the
 * results store's unique key still keeps every result single. Failed jobs are retried
 * (`attempts`, exponential backoff from 1 s); one that fails every attempt stays in the failed
 * list with its error (`reclab jobs --failed`).
 */
import { createHash } from 'node:crypto';
import { Job, Queue } from 'bullmq';
import { redisOptions } from '../serve/redis.ts';
import { jobKind } from './kinds.ts';
import { progress } from '../util/progress.ts';

/** The queue's name unless told otherwise. */
export const DEFAULT_QUEUE = 'reclab';

/** A job to submit. */
export interface JobRequest {
  kind: string;
  data: unknown;
}

/** Options of {@link submitJobs}. */
export interface SubmitOptions {
  queue?: string;
  /** Tries per job before it lands in the failed list (default 3). */
  attempts?: number;
}

/** The queue id of a job of `kind` with content key `key` (BullMQ ids may not contain ':'). */
export function queueJobId(kind: string, key: string): string {
  return `${kind}-${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
}

/** Opens the queue `name` on Redis at `url` (close it when done). */
export function openQueue(url: string, name = DEFAULT_QUEUE): Queue {
  return new Queue(name, { connection: redisOptions(url) });
}

/** Adds `jobs` to the queue; returns their queue ids and content keys, in order. */
export async function submitJobs(url: string, jobs: readonly JobRequest[], options: SubmitOptions = {}): Promise<{ id: string; key: string }[]> {
  const ids = jobs.map((j) => {
    const kind = jobKind(j.kind);
    const key = kind.key(kind.check(j.data));
    return { id: queueJobId(j.kind, key), key };
  });
  const queue = openQueue(url, options.queue);
  try {
    await queue.addBulk(
      jobs.map((j, i) => ({
        name: j.kind,
        data: j.data,
        opts: {
          jobId: ids[i].id,
          attempts: options.attempts ?? 3,
          backoff: { type: 'exponential', delay: 1000 },
          // Finished jobs stay listed for a while (`reclab jobs`, following); results live in the store.
          removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
          removeOnFail: { age: 30 * 24 * 3600 },
        },
      })),
    );
  } finally {
    await queue.close();
  }
  return ids;
}

/** What `reclab jobs` shows. */
export interface QueueState {
  queue: string;
  counts: Record<string, number>;
  failed: { id: string; kind: string; attempts: number; error: string }[];
  active: { id: string; kind: string; progress: unknown }[];
}

/** The queue's counts, its active jobs and its failed jobs with their errors. */
export async function queueState(url: string, name = DEFAULT_QUEUE, maxListed = 50): Promise<QueueState> {
  const queue = openQueue(url, name);
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized');
    const failed = (await queue.getFailed(0, maxListed - 1)).map((j) => ({ id: j.id ?? '?', kind: j.name, attempts: j.attemptsMade, error: j.failedReason ?? '' }));
    const active = (await queue.getActive(0, maxListed - 1)).map((j) => ({ id: j.id ?? '?', kind: j.name, progress: j.progress }));
    return { queue: name, counts, failed, active };
  } finally {
    await queue.close();
  }
}

/** How a followed job ended. */
export interface Followed {
  completed: string[];
  failed: { id: string; error: string }[];
}

/**
 * Waits until every job in `ids` has completed or failed for good, drawing a progress bar of
 * finished jobs (with the active ones' own progress) on a terminal. Polls the queue every
 * `pollMs` (robust to reconnects, unlike an event stream that can miss events while away).
 */
export async function followJobs(url: string, ids: readonly string[], options: { queue?: string; pollMs?: number; timeoutMs?: number; progress?: boolean } = {}): Promise<Followed> {
  const queue = openQueue(url, options.queue);
  const bar = progress('jobs', ids.length, { enabled: options.progress, unit: 'jobs' });
  const deadline = Date.now() + (options.timeoutMs ?? Infinity);
  const done = new Map<string, { ok: boolean; error: string }>();
  try {
    while (done.size < ids.length) {
      const running: string[] = [];
      for (const id of ids) {
        if (done.has(id)) continue;
        const job = await Job.fromId(queue, id);
        if (!job) continue; // not yet visible, or removed: keep waiting (the deadline bounds it)
        const state = await job.getState();
        if (state === 'completed' || state === 'failed') {
          done.set(id, { ok: state === 'completed', error: job.failedReason ?? '' });
          bar.tick(1);
        } else if (state === 'active') running.push(`${job.name} ${typeof job.progress === 'number' ? `${job.progress}%` : ''}`.trim());
      }
      if (running.length > 0) bar.tick(0, running.slice(0, 3).join(', '));
      if (done.size === ids.length) break;
      if (Date.now() > deadline) throw new Error(`jobs: ${ids.length - done.size} of ${ids.length} jobs not finished within ${options.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  } finally {
    bar.stop();
    await queue.close();
  }
  return {
    completed: ids.filter((id) => done.get(id)?.ok),
    failed: ids.filter((id) => done.get(id) && !done.get(id)!.ok).map((id) => ({ id, error: done.get(id)!.error })),
  };
}
