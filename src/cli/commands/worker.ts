/**
 * `reclab worker --queue redis://host:6379 [--results postgres://…]`: runs jobs from the queue
 * until stopped (SIGTERM/SIGINT finish the running job first). See docs/scale.md.
 */
import type { Command } from 'commander';
import { openResults } from '../../jobs/results.ts';
import { startWorker } from '../../jobs/worker.ts';
import { DEFAULT_QUEUE } from '../../jobs/queue.ts';

/** A positive integer flag, named on error. */
function positive(flag: string): (value: string) => number {
  return (value: string) => {
    const x = Number(value);
    if (!Number.isInteger(x) || x < 1) throw new Error(`--${flag}: expected a positive integer, got "${value}"`);
    return x;
  };
}

/** Registers `reclab worker`. */
export function register(program: Command): void {
  program
    .command('worker')
    .description('run jobs from a queue (law-sweep points, …): results to the store, exactly once per job')
    .requiredOption('--queue <url>', 'the queue: redis://host:port[/db]')
    .option('--queue-name <name>', 'queue name', DEFAULT_QUEUE)
    .option('--results <url>', 'results store: postgres://… (shared by machines) or sqlite:<path> (one machine)', 'sqlite:reclab-jobs.db')
    .option('--artifacts <dir>', 'directory every worker sees, for artifacts named by content hash')
    .option('--concurrency <n>', 'jobs at once in this process', positive('concurrency'), 1)
    .option('--lock-seconds <s>', "how long a dead worker's job waits before another takes it", positive('lock-seconds'), 15)
    .action(async (o: { queue: string; queueName: string; results: string; artifacts?: string; concurrency: number; lockSeconds: number }) => {
      const store = await openResults(o.results);
      const worker = startWorker(o.queue, store, { queue: o.queueName, concurrency: o.concurrency, lockMs: o.lockSeconds * 1000, artifacts: o.artifacts });
      process.stderr.write(`reclab worker ${worker.name}: taking jobs from ${o.queueName} at ${o.queue}, results to ${o.results}\n`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (sig: string) => {
          if (stopping) return;
          stopping = true;
          process.stderr.write(`reclab worker: ${sig}, finishing the running job…\n`);
          void worker
            .close()
            .then(() => store.close())
            .then(resolve);
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      });
    });
}
