/**
 * `reclab submit <sweep.yaml> --queue redis://…`: queues every grid point of a law sweep as a job,
 * follows them with a progress bar, and (with `fit:` in the file) fits the law to the stored
 * points when all are in. See docs/scale.md.
 */
import type { Command } from 'commander';
import { loadSweepFile } from '../../laws/spec.ts';
import { submitJobs, followJobs, DEFAULT_QUEUE } from '../../jobs/queue.ts';
import { sweepJobs } from '../../jobs/kinds.ts';
import { openResults } from '../../jobs/results.ts';
import { storedSweepPoints } from '../../jobs/sweep.ts';
import { buildFitReport, writeFitReport } from '../../laws/report.ts';
import { recordToPoint } from '../../laws/records.ts';
import { splitOverrides } from './overrides.ts';

/** Registers `reclab submit`. */
export function register(program: Command): void {
  program
    .command('submit')
    .description('queue a law sweep (one job per grid point) for `reclab worker`s; follow it; fit the law from the stored points')
    .argument('<spec>', 'sweep YAML (examples/law-*.yaml)')
    .argument('[overrides...]', 'overrides as --key=value (dotted keys, YAML values)')
    .requiredOption('--queue <url>', 'the queue: redis://host:port[/db]')
    .option('--queue-name <name>', 'queue name', DEFAULT_QUEUE)
    .option('--results <url>', 'results store the workers write (to fit from)', 'sqlite:reclab-jobs.db')
    .option('--attempts <n>', 'tries per job before it is listed as failed', '3')
    .option('--no-wait', 'queue and return; follow later with `reclab jobs`')
    .allowUnknownOption(true)
    .action(async (file: string, overrides: string[], o: { queue: string; queueName: string; results: string; attempts: string; wait: boolean }) => {
      const spec = loadSweepFile(file, splitOverrides(overrides));
      const attempts = Number(o.attempts);
      if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`--attempts: expected a positive integer, got "${o.attempts}"`);
      const jobs = sweepJobs(spec);
      const ids = await submitJobs(o.queue, jobs, { queue: o.queueName, attempts });
      process.stderr.write(`reclab submit: ${ids.length} law-point jobs queued on ${o.queueName}\n`);
      if (!o.wait) return;
      const followed = await followJobs(o.queue, ids.map((x) => x.id), { queue: o.queueName });
      for (const f of followed.failed) process.stderr.write(`  failed ${f.id}: ${f.error}\n`);
      const store = await openResults(o.results);
      try {
        const points = await storedSweepPoints(store, spec);
        process.stdout.write(`${JSON.stringify({ points: jobs.length, stored: points.length, failed: followed.failed.length })}\n`);
        if (spec.fit && points.length === jobs.length) {
          const fitPoints = points.map((p, i) => recordToPoint(p, spec.fit!.metric, { file: o.results, line: i + 1 }));
          const report = buildFitReport(fitPoints, { metric: spec.fit.metric, source: `${o.results} (${o.queueName})`, loco: spec.fit.loco });
          for (const path of writeFitReport(report, spec.fit.outDir)) process.stderr.write(`  wrote ${path}\n`);
        }
      } finally {
        await store.close();
      }
      if (followed.failed.length > 0) process.exitCode = 1;
    });
}
