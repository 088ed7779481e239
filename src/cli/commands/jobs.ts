/**
 * `reclab jobs --queue redis://…`: the queue's state — counts by state, running jobs with their
 * progress, failed jobs with their errors.
 */
import type { Command } from 'commander';
import { queueState, DEFAULT_QUEUE } from '../../jobs/queue.ts';

/** Registers `reclab jobs`. */
export function register(program: Command): void {
  program
    .command('jobs')
    .description('show the job queue: counts, running jobs, failed jobs and their errors')
    .requiredOption('--queue <url>', 'the queue: redis://host:port[/db]')
    .option('--queue-name <name>', 'queue name', DEFAULT_QUEUE)
    .option('--json', 'print the state as one JSON object')
    .action(async (o: { queue: string; queueName: string; json?: boolean }) => {
      const s = await queueState(o.queue, o.queueName);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(s)}\n`);
        return;
      }
      const lines = [`queue ${s.queue}: ${Object.entries(s.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`];
      for (const a of s.active) lines.push(`  running ${a.id} (${a.kind}) progress ${JSON.stringify(a.progress)}`);
      for (const f of s.failed) lines.push(`  failed  ${f.id} (${f.kind}) after ${f.attempts} attempts: ${f.error}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
